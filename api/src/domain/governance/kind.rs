//! What a proposal is about: a leaf that rules, proposals and actions all name, so none of them
//! imports another for it.

use crate::domain::text_enum::text_enum;

text_enum!(
    /// What a proposal is about.
    ProposalKind {
        IssueForPledge => "issue_for_pledge",
        IssueToAccount => "issue_to_account",
        FundProject => "fund_project",
        ChangeRules => "change_rules",
        ChangeIssuance => "change_issuance",
        AdmitMember => "admit_member",
        RemoveMember => "remove_member",
        SetRole => "set_role",
        FreeText => "free_text",
        /// A new euro top-up rate (issue 16).
        ChangeTopupRate => "change_topup_rate",
        // The exchange (issue 17).
        ListOnExchange => "list_on_exchange",
        DelistFromExchange => "delist_from_exchange",
        /// A cash-out at or above the org's threshold (issue 16).
        Cashout => "cashout",
    }
);
