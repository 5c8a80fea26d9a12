//! `coinsence bench pay --overload`: payments offered at a steady rate (open loop: a new one
//! every tick, whether or not the earlier ones were answered), so the server sees more than it
//! can do and must shed the rest. What matters is that what it accepts stays fast and what it
//! refuses is refused at once (503), instead of everything getting slower together.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rand::Rng;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use tokio::sync::Semaphore;

use super::cli::PayBenchArgs;
use super::pay::Seeded;

pub struct Overload {
    pub sent: u64,
    pub elapsed: Duration,
    /// Latency of the payments made (201), microseconds.
    pub accepted: Histogram<u64>,
    /// Latency of the 503 answers, microseconds.
    pub shed: Histogram<u64>,
    /// Anything else (other statuses, connection errors, requests the client gave up on).
    pub failed: u64,
}

/// Requests in flight at most on the client side (each is a connection): at the offered rate,
/// a server that sheds quickly never has this many open. Past it, payments are counted as
/// failed instead of sent: the generator (on the same cores) would otherwise take the CPU the
/// server needs, opening ever more connections.
const MAX_IN_FLIGHT: usize = 512;

enum Outcome {
    Accepted(u64),
    Shed(u64),
    Failed,
}

pub async fn run(
    base: &str,
    seeded: &Seeded,
    per_second: f64,
    args: &PayBenchArgs,
) -> anyhow::Result<Overload> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(4096)
        .timeout(Duration::from_secs(30))
        .build()?;
    let people: Arc<Vec<(HeaderValue, i64)>> = Arc::new(
        seeded
            .people
            .iter()
            .map(|(token, id)| Ok((HeaderValue::from_str(&format!("Bearer {token}"))?, *id)))
            .collect::<anyhow::Result<_>>()?,
    );
    let url: reqwest::Url = format!("{base}/v1/orgs/{}/transfers", seeded.slug).parse()?;
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Outcome>();
    let start = Instant::now();
    let run_for = Duration::from_secs(args.seconds);
    let mut sent = 0u64;
    let mut failed = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while start.elapsed() < run_for {
        tick.tick().await;
        // However late this tick is, the payments owed by now go out.
        let owed = (start.elapsed().as_secs_f64() * per_second) as u64;
        while sent < owed {
            sent += 1;
            let Ok(permit) = in_flight.clone().try_acquire_owned() else {
                failed += 1;
                continue;
            };
            let (payer, payee) = pick(people.len(), args.hot);
            let request = client
                .post(url.clone())
                .header(AUTHORIZATION, people[payer].0.clone())
                .header("idempotency-key", format!("over-{sent}"))
                .header(CONTENT_TYPE, "application/json")
                .body(format!(
                    r#"{{"currency":"BENCH","to_member":{},"amount":"0.01"}}"#,
                    people[payee].1
                ));
            let tx = tx.clone();
            tokio::spawn(async move {
                let began = Instant::now();
                let response = request.send().await;
                let micros = u64::try_from(began.elapsed().as_micros())
                    .unwrap_or(u64::MAX)
                    .max(1);
                let outcome = match response.map(|r| r.status()) {
                    Ok(StatusCode::CREATED) => Outcome::Accepted(micros),
                    Ok(StatusCode::SERVICE_UNAVAILABLE) => Outcome::Shed(micros),
                    _ => Outcome::Failed,
                };
                let _ = tx.send(outcome);
                drop(permit);
            });
        }
    }
    let elapsed = start.elapsed();
    drop(tx);
    let mut accepted = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut shed = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    while let Some(outcome) = rx.recv().await {
        match outcome {
            Outcome::Accepted(micros) => accepted.record(micros)?,
            Outcome::Shed(micros) => shed.record(micros)?,
            Outcome::Failed => failed += 1,
        }
    }
    Ok(Overload {
        sent,
        elapsed,
        accepted,
        shed,
        failed,
    })
}

/// A payer and a different payee (the payer is always the first account when `hot`).
fn pick(n: usize, hot: bool) -> (usize, usize) {
    let mut rng = rand::rng();
    let payer = if hot { 0 } else { rng.random_range(0..n) };
    let mut payee = rng.random_range(0..n - 1);
    if payee >= payer {
        payee += 1;
    }
    (payer, payee)
}
