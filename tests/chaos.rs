//! `coinsence chaos` in CI, with modest settings: a durable private cluster, `coinsence serve`
//! killed twice and PostgreSQL restarted in immediate mode once under 32 paying clients; every
//! promise of the ledger checked afterwards (the command exits non-zero on any violation).

use std::process::Command;

#[test]
fn payments_survive_server_kills_and_a_database_crash() {
    let out = Command::new(env!("CARGO_BIN_EXE_coinsence"))
        .args(["chaos", "--scenario", "payments"])
        .args(["--clients", "32", "--seconds", "16", "--accounts", "40"])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap_or_else(|e| panic!("running coinsence chaos: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    assert!(
        out.status.success(),
        "coinsence chaos failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("acknowledged"), "{stdout}");
}
