//! PostgreSQL crashes under a steady load of commands: a server of the test's own
//! (`initdb`, its own port) is stopped with `pg_ctl stop -m immediate` — every session cut, no
//! checkpoint — left down, and started again. Every command either succeeds or answers
//! UNAVAILABLE, and sent again with its command id succeeds once; every committed event
//! reaches the projection, the relay, JetStream and the other service's consumer, once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_nats::jetstream;
use tonic::Code;
use uuid::Uuid;
use waymark_proto::action_tracking::v1 as pb;
use waymark_proto::action_tracking::v1::action_tracking_client::ActionTrackingClient;
use waymark_testkit::postgres::PrivateCluster;
use waymark_testkit::services::TestPlatform;
use waymark_testkit::{NatsServer, TestDatabase, eventually};

use crate::support::{actions_and_scheduling, new_action};

type Client = ActionTrackingClient<
    tonic::service::interceptor::InterceptedService<
        tonic::transport::Channel,
        waymark_runtime::auth::CallAs,
    >,
>;

const PATIENCE: Duration = Duration::from_secs(60);

async fn count(platform: &TestPlatform, sql: &'static str, trust: Uuid) -> i64 {
    sqlx::query_scalar(sql)
        .bind(trust)
        .fetch_one(&platform.db.pool)
        .await
        .unwrap_or(-1)
}

/// Sends `request` until it succeeds, again with the same command id after each UNAVAILABLE
/// answer (counted in `unavailable`); any other answer fails the test. Returns the action.
async fn create_until_done(
    client: &mut Client,
    request: pb::CreateActionRequest,
    unavailable: &AtomicUsize,
) -> String {
    loop {
        match client.create_action(request.clone()).await {
            Ok(reply) => return reply.into_inner().action_id,
            Err(status) if status.code() == Code::Unavailable => {
                unavailable.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(status) => panic!("a command failed other than UNAVAILABLE: {status:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_crash_under_load_loses_nothing_and_applies_nothing_twice() {
    let cluster = PrivateCluster::start();
    let nats = NatsServer::start().await;
    let db = TestDatabase::create_on(&cluster.url()).await;
    let mut platform = TestPlatform::start_on(
        db,
        Some(nats.url()),
        Arc::new(waymark_testkit::time::clock()),
        // A command finding the database down answers after half a second, not ten.
        &[("database.acquire_timeout_ms", "500")],
    )
    .await;
    let (address, leader, teacher, school) = actions_and_scheduling(&mut platform).await;
    let trust = leader.trust.into_uuid();

    // Two writers create actions without pause; an UNAVAILABLE answer is retried with the
    // same command id, anything else fails the test.
    let stop = Arc::new(AtomicBool::new(false));
    let unavailable = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for writer in 0..2 {
        let mut client = ActionTrackingClient::new(platform.client(address, leader));
        let (stop, unavailable) = (stop.clone(), unavailable.clone());
        writers.push(tokio::spawn(async move {
            let mut created = Vec::new();
            for n in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let request = new_action(school, teacher, &format!("Action {writer}-{n}"));
                created.push(create_until_done(&mut client, request, &unavailable).await);
            }
            created
        }));
    }
    eventually(PATIENCE, "the first actions", || async {
        count(
            &platform,
            "SELECT count(*) FROM action_tracking.actions WHERE trust_id = $1",
            trust,
        )
        .await
            > 20
    })
    .await;
    let cluster = Arc::new(cluster);
    let crashed = cluster.clone();
    tokio::task::spawn_blocking(move || crashed.crash())
        .await
        .unwrap();
    // While it is down, a command answers UNAVAILABLE (within the half-second wait for a
    // connection), and changes nothing.
    let mut client = ActionTrackingClient::new(platform.client(address, leader));
    let probe = new_action(school, teacher, "Sent while the database was down");
    let refused = client.create_action(probe.clone()).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let restarted = cluster.clone();
    tokio::task::spawn_blocking(move || restarted.start_again())
        .await
        .unwrap();
    // Sent again with its command id once the database is back: done, once.
    let probe_id = create_until_done(&mut client, probe, &AtomicUsize::new(0)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let mut created = vec![probe_id];
    for writer in writers {
        created.extend(writer.await.unwrap());
    }
    let commands = created.len() as i64;
    let retried = unavailable.load(Ordering::Relaxed);
    eprintln!(
        "{commands} actions created; the writers had {retried} UNAVAILABLE answers, each sent again"
    );
    created.sort();
    created.dedup();
    assert_eq!(
        created.len() as i64,
        commands,
        "each command made its own action"
    );

    // Each command made one action, and one event, in the store.
    assert_eq!(
        count(
            &platform,
            "SELECT count(*) FROM event_store.events WHERE trust_id = $1 AND event_type = 'ActionCreated'",
            trust
        )
        .await,
        commands
    );
    // Every one reaches action tracking's read model and scheduling's planner (over
    // JetStream), once: five timers each, every timer once.
    eventually(PATIENCE, "every action projected and planned", || async {
        count(
            &platform,
            "SELECT count(*) FROM action_tracking.actions WHERE trust_id = $1",
            trust,
        )
        .await
            == commands
            && count(
                &platform,
                "SELECT count(*) FROM scheduling.subjects WHERE trust_id = $1",
                trust,
            )
            .await
                == commands
    })
    .await;
    eventually(PATIENCE, "every action's timers", || async {
        count(
            &platform,
            "SELECT count(*) FROM scheduling.timers WHERE trust_id = $1",
            trust,
        )
        .await
            == 5 * commands
    })
    .await;
    assert_eq!(
        count(
            &platform,
            "SELECT count(*) FROM action_tracking.actions WHERE trust_id = $1 AND version <> 1",
            trust
        )
        .await,
        0,
        "an event applied twice would move a version"
    );
    // JetStream holds each stored event once.
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM event_store.events")
        .fetch_one(&platform.db.pool)
        .await
        .unwrap();
    let js = jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    eventually(PATIENCE, "every event on JetStream", || {
        let js = js.clone();
        async move {
            let Ok(mut stream) = js.get_stream("WAYMARK_EVENTS").await else {
                return false;
            };
            stream
                .info()
                .await
                .map(|info| info.state.messages)
                .unwrap_or(0) as i64
                >= events
        }
    })
    .await;
    let mut stream = js.get_stream("WAYMARK_EVENTS").await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages as i64, events);
    platform.stop().await;
}
