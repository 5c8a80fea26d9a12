//! `coinsence audit verify --org <slug>`: recomputes an org's journal seals from its journal and
//! reports the first mismatch (exit status 1), so anyone running it learns whether history was
//! rewritten.

use coinsence_api::Core;

use crate::cli::{AuditArgs, AuditCommand};

pub async fn run(args: AuditArgs) -> anyhow::Result<()> {
    crate::database::with(&args.db, |url| verify(&args, url)).await
}

async fn verify(args: &AuditArgs, url: String) -> anyhow::Result<()> {
    let pool = coinsence_api::cluster::connect(&url, 2).await?;
    let core = Core::new(pool);
    match &args.command {
        AuditCommand::Verify { org } => {
            let tenant = core.tenant(org).await?;
            let audit = core.audit_seals(&tenant).await?;
            println!(
                "{org}: {} seals over {} entries; {} entries not sealed yet",
                audit.seals, audit.sealed_entries, audit.unsealed_entries
            );
            match audit.first_mismatch {
                None => {
                    println!("ok: the journal matches every published seal");
                    Ok(())
                }
                Some(m) => {
                    println!("MISMATCH at seal {}: {}", m.seq, m.reason);
                    println!("  published  {}", m.published);
                    println!("  recomputed {}", m.recomputed);
                    // Exit status 1, once a cluster started for this check is stopped.
                    anyhow::bail!("{org}'s journal does not match seal {}", m.seq);
                }
            }
        }
    }
}
