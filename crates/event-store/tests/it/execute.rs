//! `execute`: a command through a decider, against the real store.

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use waymark_domain::ids::{ActorId, CommandId, CorrelationId};
use waymark_domain::{Decider, DomainEvent, Rejection, RejectionKind, StreamId, TrustId};
use waymark_event_store::{CommandContext, EventStore, ExecuteError, execute};

use crate::support::*;

/// A tally that refuses to add nothing.
struct Tally;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
enum TallyEvent {
    Added { amount: u32 },
}

impl DomainEvent for TallyEvent {
    fn event_type(&self) -> &'static str {
        "Added"
    }
}

#[derive(Debug, PartialEq, thiserror::Error)]
#[error("nothing to add")]
struct NothingToAdd;

impl Rejection for NothingToAdd {
    fn kind(&self) -> RejectionKind {
        RejectionKind::InvalidArgument
    }
    fn code(&self) -> &'static str {
        "tally.nothing_to_add"
    }
}

impl Decider for Tally {
    const CATEGORY: &'static str = "tally";
    type State = u32;
    type Command = u32;
    type Event = TallyEvent;
    type Rejection = NothingToAdd;

    fn decide(_: &u32, amount: &u32) -> Result<Vec<TallyEvent>, NothingToAdd> {
        if *amount == 0 {
            return Err(NothingToAdd);
        }
        Ok(vec![TallyEvent::Added { amount: *amount }])
    }

    fn evolve(state: u32, event: &TallyEvent) -> u32 {
        match event {
            TallyEvent::Added { amount } => state + amount,
        }
    }
}

fn context(trust: TrustId) -> CommandContext {
    CommandContext {
        trust,
        actor: ActorId::from_uuid(Uuid::new_v4()),
        command_id: CommandId::from_uuid(Uuid::new_v4()),
        correlation_id: CorrelationId::from_uuid(Uuid::new_v4()),
        causation_id: None,
    }
}

#[tokio::test]
async fn runs_commands_and_answers_a_retry_with_the_original_result() {
    let (_db, store) = store().await;
    let trust = trust();
    let stream = StreamId::new(Tally::CATEGORY, Uuid::new_v4());
    let first = context(trust);
    let done = execute::<Tally, _>(&store, &first, &stream, &5)
        .await
        .unwrap();
    assert_eq!((done.state, done.version, done.replayed), (5, 1, false));
    let next = execute::<Tally, _>(&store, &context(trust), &stream, &2)
        .await
        .unwrap();
    assert_eq!((next.state, next.version), (7, 2));

    // The first command again (the client never saw its answer): same result, no new event.
    let retry = execute::<Tally, _>(&store, &first, &stream, &5)
        .await
        .unwrap();
    assert!(retry.replayed);
    assert_eq!((retry.state, retry.version), (5, 1));
    assert_eq!(retry.events, done.events);
    assert_eq!(retry.checkpoint, done.checkpoint);
    assert_eq!(store.read_stream(trust, &stream, 1).await.unwrap().len(), 2);

    // The stored metadata names the command and its actor.
    let stored = store.find_command(trust, first.command_id).await.unwrap();
    assert_eq!(stored[0].metadata.command_id, Some(first.command_id));
    assert_eq!(stored[0].metadata.actor, first.actor);
}

#[tokio::test]
async fn a_rejection_is_not_a_store_failure_and_stores_nothing() {
    let (_db, store) = store().await;
    let trust = trust();
    let stream = StreamId::new(Tally::CATEGORY, Uuid::new_v4());
    let refused = execute::<Tally, _>(&store, &context(trust), &stream, &0).await;
    assert!(matches!(refused, Err(ExecuteError::Rejected(NothingToAdd))));
    assert!(
        store
            .read_stream(trust, &stream, 1)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_command_id_cannot_be_reused_for_another_stream() {
    let (_db, store) = store().await;
    let ctx = context(trust());
    let one = StreamId::new(Tally::CATEGORY, Uuid::new_v4());
    let other = StreamId::new(Tally::CATEGORY, Uuid::new_v4());
    execute::<Tally, _>(&store, &ctx, &one, &1).await.unwrap();
    let reused = execute::<Tally, _>(&store, &ctx, &other, &1).await;
    assert!(matches!(reused, Err(ExecuteError::CommandReused(id)) if id == ctx.command_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_commands_on_one_aggregate_all_land() {
    let (_db, store) = store().await;
    let trust = trust();
    let stream = StreamId::new(Tally::CATEGORY, Uuid::new_v4());
    let tasks: Vec<_> = (1..=8u32)
        .map(|amount| {
            let (store, stream) = (store.clone(), stream.clone());
            tokio::spawn(async move {
                execute::<Tally, _>(&store, &context(trust), &stream, &amount)
                    .await
                    .map(|e| e.version)
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let done = execute::<Tally, _>(&store, &context(trust), &stream, &100)
        .await
        .unwrap();
    assert_eq!(done.state, 136);
    assert_eq!(done.version, 9);
}
