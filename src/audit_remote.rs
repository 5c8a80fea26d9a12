//! `coinsence audit verify --url https://host --org slug --token …`: a member checks the org's
//! published history from their own machine, trusting neither the server nor its database
//! (`coinsence_api::domain::ledger::transparency` does the checking; this file fetches).
//!
//! Remembered between runs, per server and org, in `<state dir>/heads/<host>-<org>.json`: the
//! org's public key (pinned at the first run: a later key is reported) and the last tree head
//! seen (every later head must extend it). Only a clean check updates the memory.

use std::path::{Path, PathBuf};

use coinsence_api::domain::ledger::transparency::{self, KnownHead, ProofSource};
use coinsence_api::domain::ledger::tree_heads::{
    ConsistencyProof, InclusionProof, OrgKey, TreeHead,
};
use coinsence_api::i18n::{Args, Lang, message};
use serde::{Deserialize, Serialize};
use serde_json::Value;

struct Http {
    client: reqwest::Client,
    /// `<url>/v1/orgs/<org>`
    base: String,
    token: String,
}

impl Http {
    async fn get(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        Ok(self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await?)
    }

    async fn json<T: serde::de::DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let r = self.get(path).await?;
        let status = r.status();
        if !status.is_success() {
            let body = r.text().await.unwrap_or_default();
            anyhow::bail!("GET {path}: {status}: {body}");
        }
        Ok(r.json().await?)
    }
}

impl ProofSource for Http {
    async fn key(&self) -> anyhow::Result<OrgKey> {
        self.json("/ledger/key").await
    }
    async fn heads(&self) -> anyhow::Result<Vec<TreeHead>> {
        self.json("/ledger/tree-heads").await
    }
    async fn own_entries(&self) -> anyhow::Result<Vec<i64>> {
        let mut ids = Vec::new();
        let mut before: Option<i64> = None;
        loop {
            let page: Value = self
                .json(&match before {
                    Some(b) => format!("/transfers?limit=200&before={b}"),
                    None => "/transfers?limit=200".to_owned(),
                })
                .await?;
            let transfers = page["transfers"].as_array().cloned().unwrap_or_default();
            ids.extend(transfers.iter().filter_map(|t| t["id"].as_i64()));
            match page["next_before"].as_i64() {
                Some(b) if !transfers.is_empty() => before = Some(b),
                _ => break,
            }
        }
        ids.sort_unstable();
        Ok(ids)
    }
    async fn inclusion(
        &self,
        transfer: i64,
        tree_size: i64,
    ) -> anyhow::Result<Option<InclusionProof>> {
        let path = format!("/ledger/proofs/inclusion?transfer={transfer}&tree_size={tree_size}");
        let r = self.get(&path).await?;
        if r.status() == reqwest::StatusCode::CONFLICT {
            return Ok(None);
        }
        if !r.status().is_success() {
            anyhow::bail!("GET {path}: {}", r.status());
        }
        Ok(Some(r.json().await?))
    }
    async fn consistency(&self, first: i64, second: i64) -> anyhow::Result<ConsistencyProof> {
        self.json(&format!(
            "/ledger/proofs/consistency?first={first}&second={second}"
        ))
        .await
    }
}

/// What a member's machine remembers about one org.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Memory {
    public_key: Option<String>,
    tree_size: Option<i64>,
    root: Option<String>,
}

fn state_dir(given: Option<PathBuf>) -> PathBuf {
    given
        .or_else(|| std::env::var_os("XDG_STATE_HOME").map(|d| PathBuf::from(d).join("coinsence")))
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state/coinsence"))
        })
        .unwrap_or_else(|| PathBuf::from(".coinsence-state"))
}

fn memory_file(dir: &Path, url: &str, org: &str) -> PathBuf {
    let host: String = url
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join("heads").join(format!("{host}-{org}.json"))
}

fn parse_hash(hex_text: &str) -> Option<[u8; 32]> {
    hex::decode(hex_text)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
}

pub async fn run(
    url: &str,
    org: &str,
    token: &str,
    witness_files: &[PathBuf],
    state: Option<PathBuf>,
    lang: Lang,
) -> anyhow::Result<()> {
    let src = Http {
        client: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?,
        base: format!("{}/v1/orgs/{org}", url.trim_end_matches('/')),
        token: token.to_owned(),
    };
    let file = memory_file(&state_dir(state), url, org);
    let memory: Memory = match std::fs::read(&file) {
        Ok(bytes) => serde_json::from_slice(&bytes)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Memory::default(),
        Err(e) => return Err(anyhow::anyhow!("{}: {e}", file.display())),
    };
    let last_seen = match (
        memory.tree_size,
        memory.root.as_deref().and_then(parse_hash),
    ) {
        (Some(tree_size), Some(root)) => Some(KnownHead { tree_size, root }),
        _ => None,
    };
    let mut witnesses = Vec::new();
    for f in witness_files {
        let text =
            std::fs::read_to_string(f).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
        witnesses.extend(transparency::parse_witnesses(&text));
    }
    let report =
        transparency::check(&src, memory.public_key.as_deref(), last_seen, &witnesses).await?;

    for line in report_lines(&report, org, &memory, last_seen, witnesses.len(), lang) {
        println!("{line}");
    }
    if let Some(bad) = &report.first_bad {
        let args = Args::new().text("org", org).count("size", bad.tree_size);
        anyhow::bail!(message(lang, "cli-audit-failed-head", &args));
    }
    if report.key_changed {
        anyhow::bail!(message(
            lang,
            "cli-audit-failed-key",
            &Args::new().text("org", org)
        ));
    }
    let remembered = Memory {
        public_key: Some(report.public_key.clone()),
        tree_size: report.latest.map(|h| h.tree_size).or(memory.tree_size),
        root: report.latest.map(|h| hex::encode(h.root)).or(memory.root),
    };
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&file, serde_json::to_vec_pretty(&remembered)?)?;
    println!(
        "{}",
        message(
            lang,
            "cli-audit-remote-ok",
            &Args::new().text("file", file.display().to_string())
        )
    );
    Ok(())
}

/// What the check checked, one line each, from the catalog (the verdict lines included).
fn report_lines(
    report: &transparency::Report,
    org: &str,
    memory: &Memory,
    last_seen: Option<KnownHead>,
    witnesses: usize,
    lang: Lang,
) -> Vec<String> {
    let mut lines = Vec::new();
    let key_line = match (&memory.public_key, report.key_changed) {
        (_, true) => "cli-audit-key-changed",
        (Some(_), false) => "cli-audit-key-as-pinned",
        (None, _) => "cli-audit-key-pinned-now",
    };
    let key = Args::new()
        .text("org", org)
        .text("key", report.public_key.clone());
    lines.push(message(lang, key_line, &key));
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    lines.push(message(
        lang,
        "cli-audit-heads-checked",
        &Args::new()
            .count("heads", count(report.heads))
            .count("signatures", count(report.signatures))
            .count("proofs", count(report.consistency_proofs)),
    ));
    if let (Some(seen), None) = (last_seen, &report.first_bad) {
        lines.push(message(
            lang,
            "cli-audit-last-seen-extended",
            &Args::new().count("size", seen.tree_size),
        ));
    }
    if witnesses > 0 {
        lines.push(message(
            lang,
            "cli-audit-witnesses-checked",
            &Args::new().count("count", count(report.witnesses)),
        ));
    }
    let unsealed = count(report.entries_not_sealed_yet);
    lines.push(match report.latest {
        Some(h) => message(
            lang,
            "cli-audit-entries-included",
            &Args::new()
                .count("included", count(report.entries_included))
                .count("size", h.tree_size)
                .text("root", hex::encode(h.root))
                .count("unsealed", unsealed),
        ),
        None => message(
            lang,
            "cli-audit-nothing-sealed",
            &Args::new().count("unsealed", unsealed),
        ),
    });
    if report.key_changed {
        lines.push(message(lang, "cli-audit-key-changed-warning", &Args::new()));
    }
    if let Some(bad) = &report.first_bad {
        lines.push(message(
            lang,
            "cli-audit-remote-inconsistent",
            &Args::new()
                .count("size", bad.tree_size)
                .text("reason", bad.reason.message(lang)),
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use coinsence_api::domain::ledger::transparency::{BadHead, HeadProblem, Report};

    use super::*;

    /// The lines come from the catalog in the reader's language, the inconsistent head named
    /// with its reason.
    #[test]
    fn the_report_is_printed_in_the_readers_language() {
        let report = Report {
            public_key: "ab".repeat(32),
            heads: 3,
            signatures: 3,
            consistency_proofs: 2,
            entries_included: 4,
            latest: Some(KnownHead {
                tree_size: 9,
                root: [0xcd; 32],
            }),
            first_bad: Some(BadHead {
                tree_size: 6,
                reason: HeadProblem::DoesNotExtend { earlier: 4 },
            }),
            ..Report::default()
        };
        let de = report_lines(&report, "demo", &Memory::default(), None, 0, Lang::De);
        assert_eq!(
            de.last().map(String::as_str),
            Some("WIDERSPRÜCHLICHER Baumkopf 6: er setzt den Baumkopf der Größe 4 nicht fort")
        );
        assert!(
            de[1].starts_with("3 Baumköpfe: 3 Signaturen geprüft"),
            "{de:?}"
        );
        let en = report_lines(&report, "demo", &Memory::default(), None, 0, Lang::En);
        assert_eq!(
            en.last().map(String::as_str),
            Some("INCONSISTENT tree head 6: it does not extend the head of size 4")
        );
    }
}
