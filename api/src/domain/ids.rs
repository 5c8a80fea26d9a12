//! Identifiers as types, so a user id is never passed where an account id belongs.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
            sqlx::Type, ToSchema,
        )]
        #[sqlx(transparent)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// An organization (tenant) in the control plane.
    TenantId
);
id_type!(
    /// A person with a login (or, later, a chat identity) in the control plane.
    UserId
);
id_type!(
    /// A person's API token (never the secret itself).
    TokenId
);
id_type!(
    /// A currency of one org.
    CurrencyId
);
id_type!(
    /// An account of one org.
    AccountId
);
id_type!(
    /// A journal entry (transfer) of one org.
    TransferId
);
id_type!(
    /// A proposal of one org.
    ProposalId
);
id_type!(
    /// A member's pledge of work in one org.
    PledgeId
);
id_type!(
    /// A project raising money in one org.
    ProjectId
);
id_type!(
    /// An investment in a project.
    InvestmentId
);
id_type!(
    /// A market listing (offer or need) of one org.
    ListingId
);
id_type!(
    /// A purchase of a market offer.
    PurchaseId
);
id_type!(
    /// A post in an org's feed.
    PostId
);
id_type!(
    /// A comment on a post.
    CommentId
);
id_type!(
    /// An event in an org's outbox.
    OutboxId
);
