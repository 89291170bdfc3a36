use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use tokio_util::sync::CancellationToken;
use waymark_bus::jetstream::{ConsumerOptions, StreamOptions, ensure_stream, run_consumer};
use waymark_bus::relay::{self, RelayOptions};
use waymark_event_store::{Checkpoint, EventStore, Filter};
use waymark_testkit::{NatsServer, eventually};

use crate::support::*;

async fn connect(nats: &NatsServer) -> jetstream::Context {
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(nats.url())
        .await
        .unwrap();
    jetstream::new(client)
}

/// The relay publishing the store to `js`, and a recorder named `name` consuming it.
fn relay_and_consumer(
    db: &waymark_testkit::TestDatabase,
    store: &waymark_event_store::PgEventStore,
    js: &jetstream::Context,
    name: &str,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<()>,
    tokio::task::JoinHandle<()>,
) {
    let shutdown = CancellationToken::new();
    let relay = tokio::spawn(relay::run(
        store.clone(),
        js.clone(),
        RelayOptions::default(),
        shutdown.clone(),
    ));
    let consumer = tokio::spawn(run_consumer(
        db.pool.clone(),
        js.clone(),
        ConsumerOptions::default(),
        Arc::new(Recorder::new(name)),
        shutdown.clone(),
    ));
    (shutdown, relay, consumer)
}

async fn stream_messages(js: &jetstream::Context) -> u64 {
    let mut stream = ensure_stream(js, &StreamOptions::default()).await.unwrap();
    stream.info().await.unwrap().state.messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_event_arrives_once_in_effect_across_a_nats_crash() {
    let stored = across_a_nats_crash(StreamOptions::default(), Duration::from_millis(500)).await;
    assert_eq!(
        stored, 3000,
        "what the relay published again within the window was dropped as a repeat"
    );
}

/// NATS is down longer than JetStream remembers message ids, so what the relay publishes again
/// afterwards is not dropped as a repeat: it may be stored twice, and is still applied once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_event_arrives_once_in_effect_when_nats_is_down_longer_than_the_duplicate_window() {
    let stream = StreamOptions {
        stream: "SHORT_MEMORY".to_owned(),
        duplicate_window: Duration::from_secs(1),
        ..StreamOptions::default()
    };
    let stored = across_a_nats_crash(stream, Duration::from_secs(3)).await;
    assert!(stored >= 3000, "JetStream holds every event: {stored}");
}

/// Writers append 3,000 events while the relay publishes and a consumer applies them; NATS is
/// killed part way and started again after `down`. Every event is applied exactly once.
/// Returns how many messages JetStream holds.
async fn across_a_nats_crash(stream: StreamOptions, down: Duration) -> u64 {
    const TOTAL: u64 = 3000;
    let (db, store) = setup().await;
    let mut nats = NatsServer::start().await;
    let js = connect(&nats).await;
    let shutdown = CancellationToken::new();
    let relay = tokio::spawn(relay::run(
        store.clone(),
        js.clone(),
        RelayOptions {
            stream: stream.clone(),
            ..RelayOptions::default()
        },
        shutdown.clone(),
    ));
    let consumer = tokio::spawn(run_consumer(
        db.pool.clone(),
        js.clone(),
        ConsumerOptions {
            stream: stream.clone(),
            ..ConsumerOptions::default()
        },
        Arc::new(Recorder::new("js.test")),
        shutdown.clone(),
    ));

    let writing = tokio::spawn({
        let store = store.clone();
        async move { append_many(&store, TOTAL, 5, 30).await }
    });
    eventually(PATIENCE, "the first events consumed", || async {
        effects(&db.pool, "js.test").await.0 > 200
    })
    .await;
    // Crash NATS while the relay is publishing; the writers carry on into PostgreSQL.
    nats.kill().await;
    tokio::time::sleep(down).await;
    nats.restart().await;

    writing.await.unwrap();
    eventually(PATIENCE, "all events consumed", || async {
        effects(&db.pool, "js.test").await.0 == TOTAL as i64
    })
    .await;
    let (count, most) = effects(&db.pool, "js.test").await;
    assert_eq!(
        (count, most),
        (TOTAL as i64, 1),
        "an event was applied twice"
    );
    let processed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM bus.processed WHERE consumer = 'js.test'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(processed, TOTAL as i64);
    let stored = ensure_stream(&js, &stream)
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .messages;
    shutdown.cancel();
    relay.await.unwrap();
    consumer.await.unwrap();
    stored
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_event_is_acknowledged_but_not_applied_again() {
    let (db, store) = setup().await;
    let nats = NatsServer::start().await;
    let js = connect(&nats).await;
    let (shutdown, relay, consumer) = relay_and_consumer(&db, &store, &js, "dup-test");
    append_many(&store, 20, 4, 2).await;
    eventually(PATIENCE, "20 events consumed", || async {
        effects(&db.pool, "dup-test").await.0 == 20
    })
    .await;

    // Publish every event again without a message id, so JetStream cannot drop them: the
    // consumer receives each a second time.
    let options = StreamOptions::default();
    let stored = store
        .read_all(Checkpoint::START, 100, &Filter::all())
        .await
        .unwrap();
    for event in &stored.events {
        js.publish(
            options.subject(event),
            serde_json::to_vec(event).unwrap().into(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    }
    assert_eq!(stream_messages(&js).await, 40);
    eventually(PATIENCE, "the redeliveries acknowledged", || async {
        let info = js
            .get_stream("WAYMARK_EVENTS")
            .await
            .unwrap()
            .consumer_info("dup-test")
            .await
            .unwrap();
        info.num_ack_pending == 0 && info.num_pending == 0 && info.ack_floor.stream_sequence == 40
    })
    .await;
    assert_eq!(effects(&db.pool, "dup-test").await, (20, 1));
    shutdown.cancel();
    relay.await.unwrap();
    consumer.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_one_relay_publishes_and_a_standby_takes_over() {
    let (db, store) = setup().await;
    let nats = NatsServer::start().await;
    let js = connect(&nats).await;
    let options = RelayOptions {
        standby_poll: Duration::from_millis(100),
        ..RelayOptions::default()
    };
    let (stop_a, stop_b) = (CancellationToken::new(), CancellationToken::new());
    let a = tokio::spawn(relay::run(
        store.clone(),
        js.clone(),
        options.clone(),
        stop_a.clone(),
    ));
    let b = tokio::spawn(relay::run(
        store.clone(),
        js.clone(),
        options.clone(),
        stop_b.clone(),
    ));
    let relay_locks = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
             WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap()
    };

    append_many(&store, 500, 10, 5).await;
    eventually(PATIENCE, "500 events on JetStream", || async {
        stream_messages(&js).await == 500
    })
    .await;
    assert_eq!(relay_locks().await, 1, "exactly one relay holds the lock");

    // Stop one of them (whichever): the other is or becomes the active relay.
    stop_a.cancel();
    a.await.unwrap();
    append_many(&store, 500, 10, 5).await;
    eventually(PATIENCE, "1000 events on JetStream", || async {
        stream_messages(&js).await == 1000
    })
    .await;
    assert_eq!(relay_locks().await, 1);
    // Nothing was published twice: the stream holds exactly the stored events.
    assert_eq!(stream_messages(&js).await, 1000);
    stop_b.cancel();
    b.await.unwrap();
}

/// The active relay's path to the database goes silent (a black hole: nothing arrives,
/// nothing is refused, no connection closes). The standby notices the stopped heartbeat, ends
/// that connection on the server and publishes within a bound; JetStream ends up with exactly
/// the stored events. Then the new active relay's connection is ended by the server
/// (`pg_terminate_backend`), and the first relay's replacement takes over at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_takes_over_from_a_relay_whose_connection_went_silent_or_was_ended() {
    let (db, store) = setup().await;
    let nats = NatsServer::start().await;
    let js = connect(&nats).await;
    let options = RelayOptions {
        standby_poll: Duration::from_millis(100),
        takeover_after: Duration::from_secs(2),
        ..RelayOptions::default()
    };
    // The first relay reaches the database through the proxy.
    let direct: sqlx::postgres::PgConnectOptions = db.url.parse().unwrap();
    let server: std::net::SocketAddr = format!("127.0.0.1:{}", direct.get_port()).parse().unwrap();
    let proxy = Blackhole::start(server).await;
    let proxied = sqlx::postgres::PgPoolOptions::new()
        .max_connections(3)
        .connect_with(direct.clone().host("127.0.0.1").port(proxy.port))
        .await
        .unwrap();
    let behind_proxy = waymark_event_store::PgEventStore::new(proxied);
    let stop_a = CancellationToken::new();
    let a = tokio::spawn(relay::run(
        behind_proxy,
        js.clone(),
        options.clone(),
        stop_a.clone(),
    ));
    append_many(&store, 200, 10, 5).await;
    eventually(PATIENCE, "200 events on JetStream", || async {
        stream_messages(&js).await == 200
    })
    .await;
    let stop_b = CancellationToken::new();
    let b = tokio::spawn(relay::run(
        store.clone(),
        js.clone(),
        options.clone(),
        stop_b.clone(),
    ));

    proxy.cut();
    let cut_at = std::time::Instant::now();
    append_many(&store, 200, 10, 5).await;
    eventually(PATIENCE, "400 events on JetStream", || async {
        stream_messages(&js).await == 400
    })
    .await;
    let takeover = cut_at.elapsed();
    println!("relay takeover after a silent connection: {takeover:?}");
    assert!(
        takeover < Duration::from_secs(20),
        "the standby took over within a bound ({takeover:?})"
    );
    // The silent relay cannot finish anything: its connection is gone on the server.
    a.abort();
    let _ = a.await;
    stop_a.cancel();

    // The server ends the new active relay's connection: a fresh standby takes over.
    let stop_c = CancellationToken::new();
    let c = tokio::spawn(relay::run(
        store.clone(),
        js.clone(),
        options.clone(),
        stop_c.clone(),
    ));
    let ended: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM bus.relay_leases) t",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(ended, 1);
    append_many(&store, 200, 10, 5).await;
    eventually(PATIENCE, "600 events on JetStream", || async {
        stream_messages(&js).await == 600
    })
    .await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM event_store.events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        stream_messages(&js).await,
        stored as u64,
        "nothing lost, nothing twice"
    );
    stop_b.cancel();
    stop_c.cancel();
    b.await.unwrap();
    c.await.unwrap();
}

/// Two replicas of one consumer take messages in parallel, each handler taking a few
/// milliseconds, so one is often handed a stream's next event while the other still works on
/// the one before. Every stream's events are still applied in version order, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_of_a_consumer_apply_each_streams_events_in_order() {
    const TOTAL: u64 = 300;
    let (db, store) = setup().await;
    let nats = NatsServer::start().await;
    let js = connect(&nats).await;
    append_many(&store, TOTAL, 1, 3).await;
    let shutdown = CancellationToken::new();
    let relay = tokio::spawn(relay::run(
        store.clone(),
        js.clone(),
        RelayOptions::default(),
        shutdown.clone(),
    ));
    eventually(PATIENCE, "every event on JetStream", || async {
        stream_messages(&js).await == TOTAL
    })
    .await;
    let options = ConsumerOptions {
        // Small pulls, so that both replicas hold part of each stream.
        max_ack_pending: 20,
        ..ConsumerOptions::default()
    };
    let handler = Arc::new(Recorder {
        name: "ordered".to_owned(),
        poison: None,
        slow: true,
    });
    let replicas: Vec<_> = (0..2)
        .map(|_| {
            tokio::spawn(run_consumer(
                db.pool.clone(),
                js.clone(),
                options.clone(),
                handler.clone(),
                shutdown.clone(),
            ))
        })
        .collect();
    eventually(PATIENCE, "every event applied", || async {
        effects(&db.pool, "ordered").await.0 == TOTAL as i64
    })
    .await;
    assert_eq!(effects(&db.pool, "ordered").await, (TOTAL as i64, 1));
    let out_of_order: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT version, lag(version) OVER (PARTITION BY stream_id ORDER BY turn) AS before \
         FROM test_effects WHERE handler = 'ordered') t WHERE before IS NOT NULL AND version <> before + 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        out_of_order, 0,
        "a stream's events were applied out of order"
    );
    shutdown.cancel();
    relay.await.unwrap();
    for replica in replicas {
        replica.await.unwrap();
    }
}

#[tokio::test]
async fn the_stream_is_made_with_the_configured_age_and_copies() {
    let nats = NatsServer::start().await;
    let js = connect(&nats).await;
    let week = std::time::Duration::from_secs(7 * 24 * 3600);
    let options = StreamOptions {
        stream: "CONFIGURED".to_owned(),
        subject_prefix: "configured".to_owned(),
        max_age: week,
        replicas: 1,
        ..StreamOptions::default()
    };
    let mut stream = ensure_stream(&js, &options).await.unwrap();
    let config = stream.info().await.unwrap().config.clone();
    assert_eq!((config.max_age, config.num_replicas), (week, 1));
    // Three copies need three servers: this single one refuses, and says so.
    let three = StreamOptions {
        stream: "THREE".to_owned(),
        subject_prefix: "three".to_owned(),
        replicas: 3,
        ..options
    };
    let refused = ensure_stream(&js, &three).await.unwrap_err();
    assert!(refused.to_string().contains("replica"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_from_the_in_process_feed_to_nats_applies_no_event_twice() {
    let (db, store) = setup().await;
    // Without NATS, the consumer runs as an in-process feed.
    let without_nats = CancellationToken::new();
    let (_, feed) = waymark_bus::spawn_feed(
        store.clone(),
        Arc::new(Recorder::new("switch")),
        without_nats.clone(),
    );
    append_many(&store, 30, 3, 10).await;
    eventually(PATIENCE, "the feed applying all 30", || async {
        effects(&db.pool, "switch").await.0 == 30
    })
    .await;
    without_nats.cancel();
    feed.await.unwrap();

    // NATS configured: the relay publishes the whole history, the consumer reads it all.
    let nats = NatsServer::start().await;
    let js = connect(&nats).await;
    let (shutdown, relay, consumer) = relay_and_consumer(&db, &store, &js, "switch");
    append_many(&store, 10, 2, 5).await;
    eventually(PATIENCE, "all 40 read and acknowledged", || async {
        let Ok(stream) = js.get_stream("WAYMARK_EVENTS").await else {
            return false;
        };
        stream.consumer_info("switch").await.is_ok_and(|info| {
            info.num_ack_pending == 0
                && info.num_pending == 0
                && info.ack_floor.stream_sequence == 40
        })
    })
    .await;
    assert_eq!(
        effects(&db.pool, "switch").await,
        (40, 1),
        "the new events applied once, the history not again"
    );
    shutdown.cancel();
    relay.await.unwrap();
    consumer.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_store_does_not_hold_applies_nothing() {
    let (db, store) = setup().await;
    let nats = NatsServer::start().await;
    let js = connect(&nats).await;
    let (shutdown, relay, consumer) = relay_and_consumer(&db, &store, &js, "forged");
    append_many(&store, 5, 1, 1).await;
    eventually(PATIENCE, "the five stored events applied", || async {
        effects(&db.pool, "forged").await.0 == 5
    })
    .await;

    // Whoever can publish to NATS: an event the store never held, and a stored event with
    // its payload changed.
    let stored = store
        .read_all(Checkpoint::START, 100, &Filter::all())
        .await
        .unwrap()
        .events;
    let raw = |text: &str| serde_json::value::RawValue::from_string(text.to_owned()).unwrap();
    let mut invented = stored[0].clone();
    invented.event_id = waymark_domain::EventId::from_uuid(uuid::Uuid::new_v4());
    invented.payload = raw(r#"{"n": 999}"#);
    let mut altered = stored[1].clone();
    altered.payload = raw(r#"{"n": 777}"#);
    let options = StreamOptions::default();
    for forged in [&invented, &altered] {
        js.publish(
            options.subject(forged),
            serde_json::to_vec(forged).unwrap().into(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    }
    eventually(PATIENCE, "both forgeries read", || async {
        let Ok(stream) = js.get_stream("WAYMARK_EVENTS").await else {
            return false;
        };
        stream.consumer_info("forged").await.is_ok_and(|info| {
            info.num_ack_pending == 0
                && info.num_pending == 0
                && info.ack_floor.stream_sequence == 7
        })
    })
    .await;
    assert_eq!(
        effects(&db.pool, "forged").await,
        (5, 1),
        "nothing more applied"
    );
    let forged_values: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM test_effects WHERE handler = 'forged' AND n IN (999, 777)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(forged_values, 0);
    let dead: Vec<String> = sqlx::query_scalar(
        "SELECT error FROM bus.dead_letters WHERE consumer = 'forged' AND event_id = $1",
    )
    .bind(invented.event_id.into_uuid())
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(dead.len(), 1);
    assert!(dead[0].contains("holds no event with this id"), "{dead:?}");
    shutdown.cancel();
    relay.await.unwrap();
    consumer.await.unwrap();
}
