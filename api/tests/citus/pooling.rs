//! PgBouncer in session mode in front of the coordinator: the supported pooling (the transfer
//! lanes keep an org's `search_path` for their session, and sqlx keeps named prepared
//! statements; transaction mode loses both, see docs/scale-out.md). Skips without PgBouncer,
//! except under `CI=true`.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::Arc;

use axum::http::StatusCode;
use coinsence_api::citus;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::helpers::{Org, TestApp, rand_key};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payments_go_through_pgbouncer_in_session_mode() {
    if Command::new("pgbouncer").arg("--version").output().is_err() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "PgBouncer is not installed (CI=true): run .ci/deps"
        );
        eprintln!("SKIPPED: PgBouncer is not installed (apt-get install pgbouncer)");
        return;
    }
    let Some((setup, _url)) = citus::test_database().await.expect("Citus test database") else {
        return;
    };
    let cluster = citus::test_cluster()
        .await
        .unwrap()
        .expect("a Citus database without a Citus cluster");
    let (db,): (String,) = sqlx::query_as("SELECT current_database()")
        .fetch_one(&setup)
        .await
        .unwrap();
    setup.close().await;

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let dir = cluster.coordinator.dir().join(format!("pgbouncer-{db}"));
    std::fs::create_dir_all(&dir).unwrap();
    let ini = format!(
        "[databases]\n{db} = host=127.0.0.1 port={coordinator} dbname={db} user=postgres\n\
         [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
         auth_type = trust\nauth_file = {dir}/users.txt\npool_mode = session\n\
         max_client_conn = 200\ndefault_pool_size = 60\n\
         ignore_startup_parameters = extra_float_digits,options\n\
         logfile = {dir}/pgbouncer.log\npidfile = {dir}/pgbouncer.pid\n",
        coordinator = cluster.coordinator.port(),
        dir = dir.display(),
    );
    std::fs::write(dir.join("pgbouncer.ini"), ini).unwrap();
    std::fs::write(dir.join("users.txt"), "\"postgres\" \"\"\n").unwrap();
    let mut cmd = Command::new("pgbouncer");
    cmd.arg(dir.join("pgbouncer.ini"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // PgBouncer, like PostgreSQL, refuses to run as root.
    if let Some((uid, gid)) = coinsence_api::cluster::server_user().unwrap() {
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).unwrap();
        cmd.uid(uid).gid(gid);
    }
    let mut bouncer = cmd.spawn().expect("pgbouncer");

    let url = format!("postgresql://postgres@127.0.0.1:{port}/{db}?sslmode=disable");
    let mut pool = None;
    for _ in 0..50 {
        let options = PgConnectOptions::from_str(&url).unwrap();
        match PgPoolOptions::new()
            .max_connections(16)
            .connect_with(options)
            .await
        {
            Ok(p) => {
                pool = Some(p);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    let pool = pool.unwrap_or_else(|| panic!("PgBouncer did not answer on {port}"));
    let app = Arc::new(TestApp::with_pool(pool));

    let org = app.org("pooled").await;
    let mut members = Vec::new();
    for i in 0..4 {
        let (token, id) = app.member(&org, &format!("m{i}")).await;
        assert_eq!(
            app.issue(&org, id, "10.00").await.status,
            StatusCode::CREATED
        );
        members.push((token, id));
    }
    let (members, org) = (Arc::new(members), Arc::new(org));
    let mut tasks = Vec::new();
    for payer in 0..4 {
        let (app, org, members): (Arc<TestApp>, Arc<Org>, _) =
            (app.clone(), org.clone(), members.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                let payee = members[(payer + 1) % 4].1;
                let r = app
                    .pay(&org, &members[payer].0, payee, "0.50", &rand_key())
                    .await;
                assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for (token, id) in members.iter() {
        assert_eq!(app.balance(&org, token, *id).await, "10.00");
    }
    assert_eq!(app.verify(&org).await["ok"], true);
    let _ = bouncer.kill();
    let _ = bouncer.wait();
}
