//! `coinsence audit verify --org <slug>`: recomputes an org's journal seals from its journal and
//! reports the first mismatch (exit status 1), so anyone running it learns whether history was
//! rewritten.

use coinsence_api::Core;

use crate::cli::{AuditArgs, AuditCommand};

pub async fn run(args: AuditArgs) -> anyhow::Result<()> {
    let pool = coinsence_api::cluster::connect(&args.db.database_url, 2).await?;
    let core = Core::new(pool);
    match args.command {
        AuditCommand::Verify { org } => {
            let tenant = core.tenant(&org).await?;
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
                    std::process::exit(1);
                }
            }
        }
    }
}
