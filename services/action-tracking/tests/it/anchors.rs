//! The chain's anchors outside the database: what someone with the database alone can do to
//! the trail — rewrite an event and recompute every later link, cut the tail, slip in a
//! forged anchor — is found, against a local directory and a real S3-compatible server.

use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use uuid::Uuid;
use waymark_action_tracking::anchors::{AnchorError, Anchored, Anchoring, Anchors, AuditSettings};
use waymark_action_tracking::chain::{self, Chain};
use waymark_domain::{EventId, TrustId};
use waymark_testkit::objects::S3Server;
use waymark_testkit::services::TestPlatform;

use crate::audit::{chained_event, some_history, tamper, verify};

/// A platform whose action tracking anchors with a new key into `store`, with nine events
/// in the trust's chain, all anchored; and the anchors as the test can use them.
async fn anchored_history(store: &[(String, String)]) -> History {
    let (signing, _) = waymark_action_tracking::anchors::new_key();
    let mut values = vec![
        ("audit.signing_key".to_owned(), signing),
        ("audit.anchor_interval_s".to_owned(), "3600".to_owned()),
    ];
    values.extend_from_slice(store);
    let values: Vec<(&str, &str)> = values
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut platform =
        TestPlatform::start_configured(None, Arc::new(waymark_testkit::time::clock()), &values)
            .await;
    let address = platform.serve(waymark_action_tracking::run).await;
    let (mut client, _) = some_history(&platform, address).await;
    let anchors = Anchors::from_config(&platform.platform.config, platform.platform.clock.clone())
        .unwrap()
        .unwrap();
    let trust = chain::trusts(&platform.db.pool, Chain::Actions)
        .await
        .unwrap()[0];
    let outcomes = anchors
        .anchor_all(&platform.db.pool, &platform.platform.store)
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].chain, Chain::Actions);
    assert_eq!(*outcomes[0].outcome.as_ref().unwrap(), 9);
    // Nothing new: nothing more to anchor.
    assert!(
        anchors
            .anchor_all(&platform.db.pool, &platform.platform.store)
            .await
            .unwrap()
            .is_empty()
    );
    let report = verify(&mut client).await;
    assert!(report.intact, "{:?}", report.problem);
    assert_eq!(report.anchored_through, 9);
    assert!(
        report.anchored_at.starts_with("2026-11-17T10:0"),
        "signed on the service's clock: {}",
        report.anchored_at
    );
    History {
        platform,
        address,
        client,
        anchors,
        trust,
    }
}

struct History {
    platform: TestPlatform,
    address: std::net::SocketAddr,
    client: crate::support::Client,
    anchors: Anchors,
    trust: TrustId,
}

/// The anchors' store itself, as the service's configuration opens it.
fn store_of(platform: &TestPlatform) -> Arc<object_store::DynObjectStore> {
    let settings: AuditSettings = platform.platform.config.section("audit").unwrap();
    waymark_runtime::objects::open(&settings.anchors, true).unwrap()
}

/// Recomputes every link from `from` on, as someone who edited an event would to hide it.
async fn recompute_chain(platform: &TestPlatform, from: i64) {
    let rows: Vec<(i64, Uuid, Vec<u8>)> =
        sqlx::query_as("SELECT seq, event_id, hash FROM action_tracking.audit_chain ORDER BY seq")
            .fetch_all(&platform.db.pool)
            .await
            .unwrap();
    let ids: Vec<EventId> = rows.iter().map(|r| EventId::from_uuid(r.1)).collect();
    let events = platform.platform.store.read_by_ids(&ids).await.unwrap();
    // The link before `from` stays as it is.
    let mut previous: [u8; 32] = rows[(from - 2) as usize].2.clone().try_into().unwrap();
    for (seq, event_id, _) in rows.iter().filter(|r| r.0 >= from) {
        let event = events
            .iter()
            .find(|e| e.event_id.into_uuid() == *event_id)
            .unwrap();
        let hash = chain::link(&previous, event);
        sqlx::query(
            "UPDATE action_tracking.audit_chain SET prev_hash = $1, hash = $2 WHERE seq = $3",
        )
        .bind(&previous[..])
        .bind(&hash[..])
        .bind(seq)
        .execute(&platform.db.pool)
        .await
        .unwrap();
        previous = hash;
    }
}

/// The chain alone, without its anchors.
async fn chain_alone(platform: &TestPlatform, trust: TrustId) -> chain::Report {
    chain::verify(
        &platform.db.pool,
        &platform.platform.store,
        Chain::Actions,
        trust,
        &Anchored::default(),
    )
    .await
    .unwrap()
}

const FORGE: &str = "UPDATE event_store.events SET payload = jsonb_set(payload, '{impact}', '\"Forged impact\"') WHERE event_id = $1";

/// Every case, against the store `store()` configures (a fresh place each call).
async fn tampering_is_found(store: impl Fn() -> Vec<(String, String)>) {
    // An event rewritten and every later link recomputed: the chain agrees with itself, the
    // anchor names the event.
    let History {
        platform,
        mut client,
        trust,
        ..
    } = anchored_history(&store()).await;
    let victim = chained_event(&platform, 6).await;
    tamper(&platform, FORGE, victim).await;
    recompute_chain(&platform, 6).await;
    assert!(chain_alone(&platform, trust).await.problem.is_none());
    let report = verify(&mut client).await;
    let problem = report.problem.unwrap();
    assert_eq!((problem.seq, problem.kind.as_str()), (6, "rewritten"));
    assert_eq!(problem.event_id, victim.to_string());
    assert_eq!(report.events_checked, 5);
    platform.stop().await;

    // An event deleted and the chain renumbered and recomputed: the anchor names the event
    // that is gone.
    let History {
        platform,
        mut client,
        ..
    } = anchored_history(&store()).await;
    let victim = chained_event(&platform, 4).await;
    tamper(
        &platform,
        "DELETE FROM event_store.events WHERE event_id = $1",
        victim,
    )
    .await;
    sqlx::query("DELETE FROM action_tracking.audit_chain WHERE seq = 4")
        .execute(&platform.db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE action_tracking.audit_chain SET seq = seq - 1 WHERE seq > 4")
        .execute(&platform.db.pool)
        .await
        .unwrap();
    recompute_chain(&platform, 4).await;
    let problem = verify(&mut client).await.problem.unwrap();
    assert_eq!((problem.seq, problem.kind.as_str()), (4, "rewritten"));
    assert_eq!(problem.event_id, victim.to_string());
    platform.stop().await;

    // The tail cut off, event and link: the chain alone cannot tell.
    let History {
        platform,
        mut client,
        trust,
        ..
    } = anchored_history(&store()).await;
    for seq in [9, 8] {
        let victim = chained_event(&platform, seq).await;
        tamper(
            &platform,
            "DELETE FROM event_store.events WHERE event_id = $1",
            victim,
        )
        .await;
        sqlx::query("DELETE FROM action_tracking.audit_chain WHERE seq = $1")
            .bind(seq)
            .execute(&platform.db.pool)
            .await
            .unwrap();
    }
    assert!(chain_alone(&platform, trust).await.problem.is_none());
    let problem = verify(&mut client).await.problem.unwrap();
    assert_eq!((problem.seq, problem.kind.as_str()), (8, "truncated"));
    assert!(
        problem.detail.contains("links up to 9 were anchored"),
        "{problem:?}"
    );
    platform.stop().await;

    // An anchor edited, or one signed by another key, is refused and said so; a new event
    // tampered with before it was anchored is not signed.
    let History {
        platform,
        address,
        mut client,
        anchors,
        trust,
    } = anchored_history(&store()).await;
    let objects = store_of(&platform);
    let path = Path::from(format!("{}/actions/000000000009.json", trust.into_uuid()));
    let real = objects.get(&path).await.unwrap().bytes().await.unwrap();
    let edited =
        String::from_utf8(real.to_vec())
            .unwrap()
            .replacen("\\\"seq\\\":1,", "\\\"seq\\\":2,", 1);
    assert_ne!(edited.as_bytes(), &real[..], "the edit changed the anchor");
    objects
        .put(&path, PutPayload::from(edited.into_bytes()))
        .await
        .unwrap();
    let problem = verify(&mut client).await.problem.unwrap();
    assert_eq!(problem.kind, "bad-anchor");
    assert!(
        problem.detail.contains("not signed by this installation"),
        "{problem:?}"
    );
    objects.put(&path, PutPayload::from(real)).await.unwrap();
    assert!(verify(&mut client).await.intact);

    // A second trust's history, tampered with before its first anchor: not signed, and the
    // first trust's anchors are untouched.
    some_history(&platform, address).await;
    let victim: Uuid = sqlx::query_scalar(
        "SELECT event_id FROM action_tracking.audit_chain WHERE trust_id <> $1 AND seq = 3",
    )
    .bind(trust.into_uuid())
    .fetch_one(&platform.db.pool)
    .await
    .unwrap();
    tamper(&platform, FORGE, victim).await;
    let outcomes = anchors
        .anchor_all(&platform.db.pool, &platform.platform.store)
        .await
        .unwrap();
    match &outcomes[..] {
        [
            Anchoring {
                trust: other,
                outcome: Err(AnchorError::Tampered { seq: 3, .. }),
                ..
            },
        ] if *other != trust => {}
        other => panic!("a tampered chain was anchored: {other:?}"),
    }
    let mut listed = objects.list(None);
    let mut names = Vec::new();
    while let Some(object) = futures::StreamExt::next(&mut listed).await {
        names.push(object.unwrap().location.to_string());
    }
    assert_eq!(
        names,
        [path.to_string()],
        "nothing of the second trust stored"
    );
    assert_eq!(verify(&mut client).await.anchored_through, 9);
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anchors_in_a_local_directory_catch_rewrites_cuts_and_forgeries() {
    let dir = tempfile::tempdir().unwrap();
    tampering_is_found(|| {
        let place = dir.path().join(Uuid::new_v4().to_string());
        vec![(
            "audit.anchors.url".to_owned(),
            format!("file://{}", place.display()),
        )]
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anchors_in_an_s3_bucket_catch_rewrites_cuts_and_forgeries() {
    let s3 = S3Server::start().await;
    s3.bucket("anchors").await;
    tampering_is_found(|| s3.config("audit.anchors", "anchors", &Uuid::new_v4().to_string())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_anchors_new_links_on_its_interval() {
    let dir = tempfile::tempdir().unwrap();
    let (signing, _) = waymark_action_tracking::anchors::new_key();
    let place = format!("file://{}", dir.path().display());
    let mut platform = TestPlatform::start_configured(
        None,
        Arc::new(waymark_testkit::time::clock()),
        &[
            ("audit.signing_key", &signing),
            ("audit.anchor_interval_s", "1"),
            ("audit.anchors.url", &place),
        ],
    )
    .await;
    let address = platform.serve(waymark_action_tracking::run).await;
    let (client, _) = some_history(&platform, address).await;
    waymark_testkit::eventually(
        std::time::Duration::from_secs(10),
        "the nine links anchored",
        || {
            let mut client = client.clone();
            async move { verify(&mut client).await.anchored_through == 9 }
        },
    )
    .await;
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "one trust"
    );
    platform.stop().await;
}
