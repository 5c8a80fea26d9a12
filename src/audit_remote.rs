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

/// Tree heads in text copied from a room: on each line, a 64-digit hex root and the last number
/// before it as the size (whatever the language and the marks around them).
pub fn parse_witnesses(text: &str) -> Vec<KnownHead> {
    text.lines()
        .filter_map(|line| {
            let tokens: Vec<&str> = line
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|t| !t.is_empty())
                .collect();
            let at = tokens
                .iter()
                .position(|t| t.len() == 64 && t.chars().all(|c| c.is_ascii_hexdigit()))?;
            let root = parse_hash(tokens[at])?;
            let size = tokens[..at]
                .iter()
                .rev()
                .find_map(|t| t.parse::<i64>().ok())?;
            Some(KnownHead {
                tree_size: size,
                root,
            })
        })
        .collect()
}

pub async fn run(
    url: &str,
    org: &str,
    token: &str,
    witness_files: &[PathBuf],
    state: Option<PathBuf>,
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
        witnesses.extend(parse_witnesses(&text));
    }
    let report =
        transparency::check(&src, memory.public_key.as_deref(), last_seen, &witnesses).await?;

    println!(
        "{org}: org key ed25519 {}{}",
        report.public_key,
        match (&memory.public_key, report.key_changed) {
            (_, true) => " (CHANGED since you pinned it)",
            (Some(_), false) => " (as pinned)",
            (None, _) => " (pinned now)",
        }
    );
    println!(
        "{} tree heads: {} signatures checked, {} consistency proofs checked",
        report.heads, report.signatures, report.consistency_proofs
    );
    if let Some(seen) = last_seen {
        println!(
            "the last head you saw (size {}) is extended",
            seen.tree_size
        );
    }
    if !witnesses.is_empty() {
        println!("{} witness heads checked", report.witnesses);
    }
    println!(
        "{} of your entries are included in the latest head{}; {} not sealed yet",
        report.entries_included,
        report
            .latest
            .map(|h| format!(" (size {}, root {})", h.tree_size, hex::encode(h.root)))
            .unwrap_or_default(),
        report.entries_not_sealed_yet
    );
    if report.key_changed {
        println!("KEY CHANGED: the org's key is not the one you pinned");
    }
    if let Some(bad) = &report.first_bad {
        println!("INCONSISTENT tree head {}: {}", bad.tree_size, bad.reason);
        anyhow::bail!("{org}'s tree head {} is inconsistent", bad.tree_size);
    }
    if report.key_changed {
        anyhow::bail!("{org}'s key changed");
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
        "ok: the published history is consistent; remembered in {}",
        file.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn witness_lines_are_read_whatever_the_words_around_them() {
        let root = "ab".repeat(32);
        let text = format!(
            "Signed history of Demo: tree head \u{2068}1234\u{2069} entries, root \u{2068}{root}\u{2069}\n\
             noise\nBaumkopf 7 Einträge, Wurzel {root}\n"
        );
        let heads = parse_witnesses(&text);
        assert_eq!(
            heads.iter().map(|h| h.tree_size).collect::<Vec<_>>(),
            vec![1234, 7]
        );
        assert_eq!(heads[0].root, [0xab; 32]);
    }
}
