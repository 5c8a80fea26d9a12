//! `coinsence chaos` in CI, with modest settings: every promise of the ledger checked after
//! crashes (the command exits non-zero on any violation and prints what it saw).

// Test code: helpers may unwrap and expect too (clippy.toml allows it in test functions only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn chaos(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_coinsence"))
        .args(["--log", "warn", "chaos"])
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .expect("running coinsence chaos");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    assert!(
        out.status.success(),
        "coinsence chaos {args:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// 32 clients paying with keys; `coinsence serve` killed twice and PostgreSQL restarted in
/// immediate mode once: every acknowledged payment once in the journal, no refused one, the
/// books balanced and sealed.
#[test]
fn payments_survive_server_kills_and_a_database_crash() {
    chaos(&[
        "--scenario",
        "payments",
        "--clients",
        "32",
        "--seconds",
        "16",
        "--accounts",
        "40",
    ]);
}

/// Weeks of scheduled issuance, its runner killed mid-period and cut off by a database crash:
/// every member paid exactly once per period.
#[test]
fn scheduled_issuance_pays_each_member_once_per_period_across_crashes() {
    chaos(&["--scenario", "issuance"]);
}

/// Due proposals closed by a closer killed mid-run: each passed proposal executed exactly once.
#[test]
fn closing_votes_executes_each_passed_proposal_once_across_crashes() {
    chaos(&["--scenario", "votes"]);
}

/// The payments run on a local Citus cluster: the service talks to the coordinator, is killed
/// twice, and the worker holding the org crashes (immediate mode) and comes back. Skips, loudly,
/// without Citus, except under `CI=true`.
#[test]
fn payments_survive_server_kills_and_a_worker_crash_on_citus() {
    if !coinsence_api::citus::installed() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "Citus is not installed (CI=true): run .ci/deps"
        );
        eprintln!("SKIPPED: Citus is not installed; run ../shared/citus/install.sh");
        return;
    }
    chaos(&[
        "--citus",
        "--scenario",
        "payments",
        "--clients",
        "16",
        "--seconds",
        "16",
        "--accounts",
        "40",
    ]);
}
