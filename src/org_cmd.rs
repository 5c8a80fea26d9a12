//! `coinsence org create|list|connect-code|export|import`.

use coinsence_api::Core;
use coinsence_api::domain::identity::{self, Email};
use coinsence_api::domain::orgs::{NewOrg, parse_org_name};
use coinsence_api::domain::tenancy::OrgSlug;

use crate::cli::{OrgArgs, OrgCommand};
use crate::say::tr;

pub async fn run(args: OrgArgs) -> anyhow::Result<()> {
    let db = args.db.clone();
    crate::database::with(&db, |url| run_on(args, url)).await
}

async fn run_on(args: OrgArgs, url: String) -> anyhow::Result<()> {
    let pool = coinsence_api::cluster::connect(&url, 4).await?;
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
                language: Default::default(),
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
                        .ok_or_else(|| anyhow::anyhow!(tr!("cli-org-not-created")))?;
                    (tenant, done.token)
                }
            };
            println!(
                "{}",
                tr!(
                    "cli-org-created",
                    org = tenant.slug,
                    schema = tenant.schema()
                )
            );
            println!("{}", tr!("cli-org-owner-token", token = token.expose()));
        }
        OrgCommand::ConnectCode { org } => {
            let code = core.create_connect_code_for(&OrgSlug::parse(&org)?).await?;
            println!("{}", code.code);
            eprintln!("{}", tr!("cli-org-connect-hint", code = code.code));
        }
        OrgCommand::Export { slug, out } => {
            let slug = OrgSlug::parse(&slug)?;
            let done = core.export_org(&slug, &out).await?;
            let rows: u64 = done.parts.iter().map(|p| p.rows).sum();
            println!(
                "{}",
                tr!(
                    "cli-org-exported",
                    org = slug,
                    file = out.display(),
                    parts = done.parts.len(),
                    rows = rows,
                    bytes = done.bytes
                )
            );
        }
        OrgCommand::Import { file, slug } => {
            let slug = slug.as_deref().map(OrgSlug::parse).transpose()?;
            let done = core.import_org(&file, slug).await?;
            println!(
                "{}",
                tr!(
                    "cli-org-imported",
                    org = done.slug,
                    schema = format!("org_{}", done.tenant),
                    rows = done.rows,
                    matched = done.users_matched,
                    created = done.users_created,
                    identities = done.identities_skipped,
                    rooms = done.rooms_skipped
                )
            );
        }
        OrgCommand::List => {
            for t in core.tenants().await? {
                println!(
                    "{:<24} {:<12} {:<8} {}",
                    t.slug,
                    t.status,
                    if t.open {
                        tr!("cli-org-open")
                    } else {
                        tr!("cli-org-closed")
                    },
                    t.name
                );
            }
        }
    }
    Ok(())
}
