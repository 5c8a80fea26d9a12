//! `coinsence org create|list`.

use coinsence_api::Core;
use coinsence_api::domain::identity::{self, Email};
use coinsence_api::domain::orgs::{NewOrg, parse_org_name};
use coinsence_api::domain::tenancy::OrgSlug;

use crate::cli::{OrgArgs, OrgCommand};

pub async fn run(args: OrgArgs) -> anyhow::Result<()> {
    let pool = coinsence_api::cluster::connect(&args.db.database_url, 4).await?;
    coinsence_api::migrate::migrate_control(&pool).await?;
    let core = Core::new(pool);
    match args.command {
        OrgCommand::Create {
            slug,
            name,
            owner_email,
            owner_name,
            closed,
        } => {
            let org = NewOrg {
                slug: OrgSlug::parse(&slug)?,
                name: parse_org_name(&name)?,
                open: !closed,
            };
            let email = Email::parse(&owner_email)?;
            let existing = core.user_by_email(&email).await.ok();
            let (tenant, token) = match existing {
                Some(owner) => {
                    let tenant = core.create_org(&owner, org).await?;
                    (tenant, core.issue_token(owner.id, "org create").await?)
                }
                None => {
                    // A new owner gets a random password (reset by logging in with the token
                    // and changing it, once that exists) and a token to start with.
                    let password = identity::ApiToken::generate().expose().to_owned();
                    let done = core
                        .signup(email.as_str(), password, &owner_name, Some(org))
                        .await?;
                    let tenant = done
                        .org
                        .ok_or_else(|| anyhow::anyhow!("org was not created"))?;
                    (tenant, done.token)
                }
            };
            println!("created org {} (schema {})", tenant.slug, tenant.schema());
            println!("owner token (shown once): {}", token.expose());
        }
        OrgCommand::ConnectCode { org } => {
            let code = core.create_connect_code_for(&OrgSlug::parse(&org)?).await?;
            println!("{}", code.code);
            eprintln!(
                "type /connect {} in the room (where the bot is) within 24 hours; it works once",
                code.code
            );
        }
        OrgCommand::List => {
            for t in core.tenants().await? {
                println!(
                    "{:<24} {:<12} {:<8} {}",
                    t.slug,
                    t.status,
                    if t.open { "open" } else { "closed" },
                    t.name
                );
            }
        }
    }
    Ok(())
}
