//! `coinsence audit verify --org <slug>`: recomputes an org's journal seals and its Merkle log
//! from its journal and reports the first mismatch (exit status 1), so anyone running it learns
//! whether history was rewritten.
//!
//! With `--url`, a member's check from their own machine (issue 20): no database, only what the
//! server publishes and a local memory (`audit_remote`).

use coinsence_api::Core;

use crate::cli::{AuditArgs, AuditCommand};
use crate::say::tr;

pub async fn run(args: AuditArgs) -> anyhow::Result<()> {
    let AuditCommand::Verify {
        org,
        url: Some(url),
        token,
        witness,
        state_dir,
    } = &args.command
    else {
        return crate::database::with(&args.db, |url| verify(&args, url)).await;
    };
    let token = token
        .clone()
        .ok_or_else(|| anyhow::anyhow!(tr!("cli-audit-needs-token")))?;
    // The global `--lang`, else the shell's locale, as every sentence of the binary.
    let lang = crate::say::lang();
    crate::audit_remote::run(url, org, &token, witness, state_dir.clone(), lang).await
}

async fn verify(args: &AuditArgs, url: String) -> anyhow::Result<()> {
    let pool = coinsence_api::cluster::connect(&url, 2).await?;
    let core = Core::new(pool);
    let AuditCommand::Verify { org, .. } = &args.command;
    let tenant = core.tenant(org).await?;
    let audit = core.audit_seals(&tenant).await?;
    println!(
        "{}",
        tr!(
            "cli-audit-seals",
            org = org,
            seals = audit.seals,
            entries = audit.sealed_entries,
            unsealed = audit.unsealed_entries
        )
    );
    let tree = core.audit_tree(&tenant).await?;
    println!(
        "{}",
        tr!(
            "cli-audit-tree",
            org = org,
            heads = tree.heads,
            leaves = tree.leaves
        )
    );
    if let Some(m) = audit.first_mismatch {
        println!(
            "{}",
            tr!("cli-audit-mismatch", seq = m.seq, reason = m.reason)
        );
        println!("{}", tr!("cli-audit-published", hash = m.published));
        println!("{}", tr!("cli-audit-recomputed", hash = m.recomputed));
        if let Some(t) = &tree.first_mismatch {
            println!(
                "{}",
                tr!(
                    "cli-audit-inconsistent",
                    size = t.tree_size,
                    reason = t.reason.message(crate::say::lang())
                )
            );
        }
        // Exit status 1, once a cluster started for this check is stopped.
        anyhow::bail!(tr!("cli-audit-seal-failed", org = org, seq = m.seq));
    }
    if let Some(t) = tree.first_mismatch {
        println!(
            "{}",
            tr!(
                "cli-audit-inconsistent",
                size = t.tree_size,
                reason = t.reason.message(crate::say::lang())
            )
        );
        anyhow::bail!(tr!("cli-audit-tree-failed", org = org, size = t.tree_size));
    }
    println!("{}", tr!("cli-audit-ok"));
    Ok(())
}
