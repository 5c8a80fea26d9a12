//! The demo org that `coinsence up` creates on its first run: an owner and two members with
//! balances in the DEMO currency, and a joining grant of 20.00 DEMO for everyone who joins later.

use coinsence_api::Core;
use coinsence_api::domain::chat::{ChatIdentity, ChatPlatform};
use coinsence_api::domain::identity::{ApiToken, Email, Role, User};
use coinsence_api::domain::ledger::AccountRef;
use coinsence_api::domain::ledger::ops::{IdempotencyKey, MoveRequest, NewCurrency};
use coinsence_api::domain::orgs::NewOrg;
use coinsence_api::domain::tenancy::OrgSlug;

use crate::say::tr;

pub const SLUG: &str = "demo";
pub const CURRENCY: &str = "DEMO";
pub const ADMIN_EMAIL: &str = "ada@demo.coinsence.test";
const PASSWORD: &str = "coinsence-demo";
/// What each newcomer to the demo org is given when they join.
pub const JOINING_GRANT: &str = "20.00";

/// The demo people, by their console names.
pub const PEOPLE: [&str; 3] = ["Ada", "Ben", "Cleo"];

/// Creates the demo org unless it exists; returns its admin and a fresh token for them. Either
/// way the console chat is ready: the org's console room is bound and the demo people are known
/// by their names there (`coinsence chat --org demo --as Ben` is the Ben who has 50 DEMO).
pub async fn ensure(core: &Core) -> anyhow::Result<(User, ApiToken)> {
    let (admin, token) = ensure_org(core).await?;
    let tenant = core.tenant(SLUG).await?;
    core.bind_room(
        ChatPlatform::Console,
        &coinsence_bots::console::room_for_org(SLUG),
        &tenant,
    )
    .await?;
    for name in PEOPLE {
        let email = Email::parse(&format!("{}@demo.coinsence.test", name.to_lowercase()))?;
        let user = core.user_by_email(&email).await?;
        let who = ChatIdentity::new(ChatPlatform::Console, &name.to_lowercase())?;
        core.link_chat_identity(&who, user.id).await?;
    }
    Ok((admin, token))
}

async fn ensure_org(core: &Core) -> anyhow::Result<(User, ApiToken)> {
    if core.tenant(SLUG).await.is_ok() {
        let admin = core.user_by_email(&Email::parse(ADMIN_EMAIL)?).await?;
        let token = core.issue_token(admin.id, "coinsence up").await?;
        return Ok((admin, token));
    }
    let org = NewOrg {
        slug: OrgSlug::parse(SLUG)?,
        name: tr!("cli-demo-org-name"),
        open: true,
        // The demo speaks the language of the terminal that created it (chat, notices).
        language: crate::say::lang(),
    };
    let ada = core
        .signup(ADMIN_EMAIL, PASSWORD.to_owned(), "Ada", Some(org))
        .await?;
    let admin = core.member_for_token(&ada.token, SLUG).await?;
    core.create_currency(
        &admin,
        NewCurrency {
            code: CURRENCY.to_owned(),
            name: tr!("cli-demo-coin-name"),
            scale: 2,
            credit_limit: None,
        },
    )
    .await?;
    let mut people = vec![(ada.user.clone(), "100")];
    for (name, amount) in [("Ben", "50"), ("Cleo", "25")] {
        let email = format!("{}@demo.coinsence.test", name.to_lowercase());
        let user = core
            .signup(&email, PASSWORD.to_owned(), name, None)
            .await?
            .user;
        core.add_member(&admin, &email, Role::Member).await?;
        people.push((user, amount));
    }
    for (user, amount) in people {
        let request = MoveRequest {
            currency: CURRENCY.to_owned(),
            to: AccountRef::Member(user.id),
            amount: amount.to_owned(),
            memo: tr!("cli-demo-welcome"),
        };
        let key = IdempotencyKey::scoped("demo", "welcome", &user.id.to_string())?;
        core.issue(&admin, request, key).await?;
    }
    // Whoever joins from now on (from chat, say) can pay at once; the demo people were funded
    // above, so the grant is set after them.
    core.set_joining_grant(&admin, JOINING_GRANT).await?;
    Ok((ada.user, ada.token))
}
