//! Backup and restore: a `pg_dump` of a trust's database, restored with `pg_restore` into a
//! fresh PostgreSQL cluster of the test's own (another server, with its own transaction ids),
//! carries on: the service starts on it, the read model is there, the audit chain verifies
//! with the same head, and work goes on — an existing action changes, a new one is made and
//! shown, and the chain takes both in.

use std::process::Command;

use waymark_proto::action_tracking::v1 as pb;
use waymark_testkit::TestDatabase;
use waymark_testkit::postgres::PrivateCluster;
use waymark_testkit::services::{TestPlatform, staff};

use crate::audit::{History, history, verify};
use crate::support::*;

fn run(command: &mut Command) {
    // The PostgreSQL tools keep the real clock when the tests run under libfaketime.
    let out = command
        .env_remove("LD_PRELOAD")
        .env_remove("FAKETIME")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn action(client: &mut Client, id: &str) -> pb::Action {
    client
        .get_action(pb::GetActionRequest {
            action_id: id.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .action
        .unwrap()
}

/// A database url as the PostgreSQL tools read it (without the driver's own parameters).
fn plain(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dump_restored_into_a_fresh_cluster_verifies_and_carries_on() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_action_tracking::run).await;
    let History {
        leader,
        teacher,
        school,
        ids,
    } = history(&platform, address).await;
    let before = verify(&mut client(&platform, address, leader)).await;
    assert!(before.intact && before.events_checked == 9, "{before:?}");

    let dump = std::env::temp_dir().join(format!("{}.dump", platform.db.name));
    run(Command::new("pg_dump")
        .args(["--format=custom", "--file"])
        .arg(&dump)
        .arg(plain(&platform.db.url)));
    platform.stop().await;

    let cluster = PrivateCluster::start();
    let restored = TestDatabase::create_on(&cluster.url()).await;
    run(Command::new("pg_restore")
        .args([
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--dbname",
        ])
        .arg(plain(&restored.url))
        .arg(&dump));
    std::fs::remove_file(&dump).unwrap();
    let mut platform = TestPlatform::start_on(
        restored,
        None,
        std::sync::Arc::new(waymark_testkit::time::clock()),
        &[],
    )
    .await;
    let address = platform.serve(waymark_action_tracking::run).await;
    let mut leading = client(&platform, address, leader);
    let after = verify(&mut leading).await;
    assert!(after.intact, "{after:?}");
    assert_eq!(
        (after.events_checked, after.head_hash.as_str()),
        (before.events_checked, before.head_hash.as_str()),
        "the same chain"
    );
    for id in &ids {
        assert_eq!(action(&mut leading, id).await.status, "done");
    }

    // Work carries on: an event on an existing action's stream, and a new action.
    let mut teaching = client(&platform, address, teacher);
    let reopened = teaching
        .reopen_action(text(&ids[0], "Slipped after half term"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reopened.action_id, ids[0]);
    let new = teaching
        .create_action(create(
            school,
            &staff(teacher).to_string(),
            "2027-01-15",
            "Action after the restore",
        ))
        .await
        .unwrap()
        .into_inner()
        .action_id;
    assert_eq!(
        action(&mut leading, &new).await.description,
        "Action after the restore"
    );
    assert_ne!(action(&mut leading, &ids[0]).await.status, "done");
    waymark_testkit::eventually(
        std::time::Duration::from_secs(30),
        "the chain to take both in",
        || {
            let mut leading = leading.clone();
            async move { verify(&mut leading).await.events_checked == 11 }
        },
    )
    .await;
    assert!(verify(&mut leading).await.intact);
    platform.stop().await;
    drop(cluster);
}
