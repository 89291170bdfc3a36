//! Actions agreed elsewhere arrive as events: exactly one action per agreed item.

use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use waymark_domain::agreed::agreed_action_id;
use waymark_domain::ids::CorrelationId;
use waymark_domain::{EventId, EventMetadata, StreamId};
use waymark_event_store::{Checkpoint, EventStore, ExpectedVersion, Filter, NewEvent};
use waymark_proto::action_tracking::v1 as pb;
use waymark_runtime::auth::Caller;
use waymark_testkit::services::{TestPlatform, colleague, new_caller};
use waymark_testkit::{NatsServer, eventually};

use crate::support::*;

const PATIENCE: Duration = Duration::from_secs(60);

/// Appends, as review dialogue would, a meeting event agreeing `items` actions.
async fn agree(
    platform: &TestPlatform,
    caller: Caller,
    meeting: Uuid,
    school: Uuid,
    owner: Uuid,
    items: u32,
) {
    let actions: Vec<_> = (1..=items)
        .map(|item| {
            json!({ "item": item, "description": format!("Agreed action {item}"), "owner_id": owner, "due_date": "2027-01-15" })
        })
        .collect();
    let payload = json!({
        "type": "ActionsAgreed", "origin_kind": "progress_meeting", "origin_id": meeting,
        "school_id": school, "actions": actions,
    });
    append(platform, caller, meeting, "ActionsAgreed", payload).await;
}

async fn append(
    platform: &TestPlatform,
    caller: Caller,
    meeting: Uuid,
    event_type: &str,
    payload: serde_json::Value,
) {
    let event = NewEvent {
        event_id: EventId::from_uuid(Uuid::new_v4()),
        event_type: event_type.into(),
        schema_version: 1,
        payload,
    };
    let metadata = EventMetadata {
        actor: caller.actor,
        causation_id: None,
        correlation_id: CorrelationId::from_uuid(Uuid::new_v4()),
        command_id: None,
    };
    platform
        .platform
        .store
        .append(
            caller.trust,
            &StreamId::new("meeting", meeting),
            ExpectedVersion::Any,
            &metadata,
            &[event],
        )
        .await
        .unwrap();
}

async fn actions_of(client: &mut Client, meeting: Uuid) -> Vec<pb::Action> {
    client
        .list_actions(pb::ListActionsRequest {
            origin_id: meeting.to_string(),
            statuses: vec![
                "open".into(),
                "in_progress".into(),
                "done".into(),
                "carried_forward".into(),
                "dropped".into(),
            ],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .actions
}

async fn created_events(platform: &TestPlatform) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM event_store.events WHERE event_type = 'ActionCreated'")
        .fetch_one(&platform.db.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_agreed_item_becomes_one_action_even_when_delivered_twice() {
    let nats = NatsServer::start().await;
    let mut platform = TestPlatform::start(Some(nats.url())).await;
    let address = platform.serve(waymark_action_tracking::run).await;
    let leader = new_caller();
    let (_, teacher) = colleague(leader);
    let (meeting, school) = (Uuid::new_v4(), Uuid::new_v4());
    crate::support::school(&platform, leader, school, &[teacher]).await;
    let mut client = client(&platform, address, leader);
    agree(&platform, leader, meeting, school, teacher.into_uuid(), 3).await;

    eventually(PATIENCE, "three actions", || {
        let mut client = client.clone();
        async move { actions_of(&mut client, meeting).await.len() == 3 }
    })
    .await;
    let actions = actions_of(&mut client, meeting).await;
    for (n, action) in actions.iter().enumerate() {
        assert_eq!(
            action.action_id,
            agreed_action_id(meeting, n as u32 + 1).to_string()
        );
        assert_eq!(action.origin_kind, "progress_meeting");
        assert_eq!(action.owner_id, teacher.to_string());
    }

    // JetStream delivers the agreement again (published anew, so no dedup can drop it).
    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    let stored = platform
        .platform
        .store
        .read_all(Checkpoint::START, 100, &Filter::categories(["meeting"]))
        .await
        .unwrap();
    let agreement = &stored.events[0];
    js.publish(
        format!(
            "waymark.events.{}.meeting.ActionsAgreed",
            agreement.trust_id
        ),
        serde_json::to_vec(agreement).unwrap().into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    eventually(PATIENCE, "the second delivery to be acknowledged", || {
        let js = js.clone();
        async move {
            let stream = js.get_stream("WAYMARK_EVENTS").await.unwrap();
            let info = stream
                .consumer_info("action-tracking_agreements")
                .await
                .unwrap()
                .clone();
            info.num_pending == 0
                && info.num_ack_pending == 0
                && info.delivered.stream_sequence >= 2
        }
    })
    .await;
    assert_eq!(actions_of(&mut client, meeting).await.len(), 3);
    assert_eq!(created_events(&platform).await, 3);
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_creates_every_action_once() {
    let nats = NatsServer::start().await;
    let platform = TestPlatform::start(Some(nats.url())).await;
    let leader = new_caller();
    let (_, teacher) = colleague(leader);
    let school = Uuid::new_v4();
    let meetings: Vec<Uuid> = (0..30).map(|_| Uuid::new_v4()).collect();
    for meeting in &meetings {
        agree(&platform, leader, *meeting, school, teacher.into_uuid(), 5).await;
    }

    let first = CancellationToken::new();
    let (_, running) = platform
        .serve_until(waymark_action_tracking::run, first.clone())
        .await;
    eventually(PATIENCE, "some actions created", || async {
        created_events(&platform).await >= 20
    })
    .await;
    first.cancel();
    running.await.unwrap();
    let part_way = created_events(&platform).await;
    assert!(
        part_way < 150,
        "the restart should come part way through ({part_way})"
    );

    let second = CancellationToken::new();
    let (address, running) = platform
        .serve_until(waymark_action_tracking::run, second.clone())
        .await;
    eventually(PATIENCE, "all 150 actions", || async {
        created_events(&platform).await >= 150
    })
    .await;
    crate::support::school(&platform, leader, school, &[teacher]).await;
    let mut client = client(&platform, address, leader);
    for meeting in &meetings {
        assert_eq!(actions_of(&mut client, *meeting).await.len(), 5);
    }
    // Let the consumer settle, then make sure nothing was created twice.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(created_events(&platform).await, 150);
    second.cancel();
    running.await.unwrap();
    platform.stop().await;
}

#[tokio::test]
async fn outcomes_agreed_at_the_next_meeting_close_the_actions() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_action_tracking::run).await;
    let leader = new_caller();
    let (_, teacher) = colleague(leader);
    let (first, second, school) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    crate::support::school(&platform, leader, school, &[teacher]).await;
    let mut client = client(&platform, address, leader);
    agree(&platform, leader, first, school, teacher.into_uuid(), 3).await;
    eventually(PATIENCE, "three actions", || {
        let mut client = client.clone();
        async move { actions_of(&mut client, first).await.len() == 3 }
    })
    .await;
    let [done, carried, dropped] = [1, 2, 3].map(|item| agreed_action_id(first, item));
    append(&platform, leader, second, "ActionOutcomesAgreed", json!({
        "type": "ActionOutcomesAgreed", "origin_kind": "progress_meeting", "origin_id": second,
        "outcomes": [
            { "action_id": done, "outcome": "done", "impact": "Reading ages up by six months" },
            { "action_id": carried, "outcome": "carried_forward", "due_date": "2027-03-19" },
            { "action_id": dropped, "outcome": "dropped", "reason": "The group has been re-set" },
        ],
    }))
    .await;
    eventually(PATIENCE, "the outcomes applied", || {
        let mut client = client.clone();
        async move {
            actions_of(&mut client, first)
                .await
                .iter()
                .all(|a| a.status != "open")
        }
    })
    .await;
    let statuses: Vec<(String, String)> = actions_of(&mut client, first)
        .await
        .into_iter()
        .map(|a| (a.action_id, a.status))
        .collect();
    assert!(statuses.contains(&(done.to_string(), "done".into())));
    assert!(statuses.contains(&(carried.to_string(), "carried_forward".into())));
    assert!(statuses.contains(&(dropped.to_string(), "dropped".into())));
    // The carried-forward work now belongs to the second meeting, to be reviewed at the third.
    let successors = actions_of(&mut client, second).await;
    assert_eq!(successors.len(), 1);
    assert_eq!(successors[0].carried_forward_from, carried.to_string());
    assert_eq!(successors[0].due_date, "2027-03-19");
    assert_eq!(
        get(&mut client, &done.to_string()).await.impact,
        "Reading ages up by six months"
    );
    platform.stop().await;
}
