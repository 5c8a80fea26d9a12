//! `coinsence bench chat`: chat command to reply through the engine, the console path, in
//! process: parse, resolve room and speaker, run the domain operation (durably: fsync on),
//! render the reply. Sequential, so each figure is one command's latency.
//!
//! The mix is what a room does most: payments (a third), balances, history, open proposals and
//! the help.

use std::time::Instant;

use anyhow::Context;
use coinsence_api::Core;
use coinsence_api::domain::chat::{ChatIdentity, ChatPlatform};
use coinsence_api::domain::ledger::AccountRef;
use coinsence_api::domain::ledger::ops::{IdempotencyKey, MoveRequest};
use coinsence_bots::console::{self, ConsoleSession};
use coinsence_bots::reply::Tone;
use coinsence_bots::{Engine, EngineConfig};
use hdrhistogram::Histogram;

use super::cli::ChatBenchArgs;

const WARM_UP: usize = 100;

pub async fn run(args: ChatBenchArgs) -> anyhow::Result<()> {
    // The cluster (when private) stops with the process.
    let (main, _) = coinsence_api::config::split_pool(args.pool_size);
    let (pool, _, _cluster) = super::worker::database(args.database_url.as_deref(), main).await?;
    let core = Core::with_config(pool, args.core.config(args.pool_size));
    let (slug, admin) = super::worker::bench_org(&core, "chat", "CHAT").await?;
    core.bind_room(
        ChatPlatform::Console,
        &console::room_for_org(&slug),
        &admin.tenant,
    )
    .await?;
    let ada = ChatIdentity::new(ChatPlatform::Console, "ada")?;
    let ada_member = core.chat_member(&admin.tenant, &ada, "Ada").await?;
    let ben = ChatIdentity::new(ChatPlatform::Console, "ben")?;
    core.chat_member(&admin.tenant, &ben, "Ben").await?;
    core.issue(
        &admin,
        MoveRequest {
            currency: "CHAT".to_owned(),
            to: AccountRef::Member(ada_member.user.id),
            amount: "1000000".to_owned(),
            memo: "bench".to_owned(),
        },
        IdempotencyKey::scoped("bench", "chat", "fund")?,
    )
    .await?;
    let engine = Engine::new(
        core,
        EngineConfig {
            platform: ChatPlatform::Console,
            public_url: "http://127.0.0.1:8080".to_owned(),
        },
    );
    let session = ConsoleSession::for_org(&slug, "Ada");
    let mix = [
        "/pay @ben 0.01 for bench",
        "/balance",
        "/history",
        "/pay @ben 0.02",
        "/proposals",
        "/help",
    ];
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut errors = 0usize;
    let started = Instant::now();
    for i in 0..WARM_UP + args.commands {
        let line = mix[i % mix.len()];
        let t = Instant::now();
        let reply = console::answer(&engine, &session, line)
            .await
            .context("no reply")?;
        let rendered = console::render(&reply);
        let micros = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
        if reply.tone == Tone::Error {
            errors += 1;
            eprintln!("error reply to {line:?}: {rendered}");
        }
        if i >= WARM_UP {
            hist.record(micros.max(1))?;
        }
    }
    let total = started.elapsed();
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "chat command to reply (console path, in process, fsync on): {} commands, mix {:?}",
        args.commands, mix
    );
    println!(
        "p50 {:.2} ms   p99 {:.2} ms   max {:.2} ms   ({} error replies, {:.1} s with warm-up)",
        ms(0.50),
        ms(0.99),
        hist.max() as f64 / 1000.0,
        errors,
        total.as_secs_f64()
    );
    println!(
        "target p99 <= 10 ms: {}",
        if ms(0.99) <= 10.0 { "met" } else { "NOT met" }
    );
    Ok(())
}
