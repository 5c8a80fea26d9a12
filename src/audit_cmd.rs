//! `coinsence audit verify --org <slug>`: recomputes an org's journal seals and its Merkle log
//! from its journal and reports the first mismatch (exit status 1), so anyone running it learns
//! whether history was rewritten.
//!
//! With `--url`, a member's check from their own machine (issue 20): no database, only what the
//! server publishes and a local memory (`audit_remote`).

use coinsence_api::Core;

use crate::cli::{AuditArgs, AuditCommand};

pub async fn run(args: AuditArgs) -> anyhow::Result<()> {
    let AuditCommand::Verify {
        org,
        url: Some(url),
        token,
        witness,
        state_dir,
        lang,
    } = &args.command
    else {
        return crate::database::with(&args.db, |url| verify(&args, url)).await;
    };
    let token = token
        .clone()
        .ok_or_else(|| anyhow::anyhow!("--url needs the member's --token (or COINSENCE_TOKEN)"))?;
    let lang = crate::audit_remote::language(lang.as_deref());
    crate::audit_remote::run(url, org, &token, witness, state_dir.clone(), lang).await
}

async fn verify(args: &AuditArgs, url: String) -> anyhow::Result<()> {
    let pool = coinsence_api::cluster::connect(&url, 2).await?;
    let core = Core::new(pool);
    let AuditCommand::Verify { org, .. } = &args.command;
    let tenant = core.tenant(org).await?;
    let audit = core.audit_seals(&tenant).await?;
    println!(
        "{org}: {} seals over {} entries; {} entries not sealed yet",
        audit.seals, audit.sealed_entries, audit.unsealed_entries
    );
    let tree = core.audit_tree(&tenant).await?;
    println!(
        "{org}: {} signed tree heads over {} leaves",
        tree.heads, tree.leaves
    );
    if let Some(m) = audit.first_mismatch {
        println!("MISMATCH at seal {}: {}", m.seq, m.reason);
        println!("  published  {}", m.published);
        println!("  recomputed {}", m.recomputed);
        if let Some(t) = &tree.first_mismatch {
            println!("INCONSISTENT tree head {}: {}", t.tree_size, t.reason);
        }
        // Exit status 1, once a cluster started for this check is stopped.
        anyhow::bail!("{org}'s journal does not match seal {}", m.seq);
    }
    if let Some(t) = tree.first_mismatch {
        println!("INCONSISTENT tree head {}: {}", t.tree_size, t.reason);
        anyhow::bail!("{org}'s journal does not match tree head {}", t.tree_size);
    }
    println!("ok: the journal matches every published seal and tree head");
    Ok(())
}
