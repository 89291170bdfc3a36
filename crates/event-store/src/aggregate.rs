//! Running one command against one aggregate: load, decide, append; retry when another
//! writer got there first; answer a retried command with its original result.

use waymark_domain::decider::Decider;
use waymark_domain::ids::{ActorId, CommandId, CorrelationId};
use waymark_domain::{EventId, EventMetadata, StreamId, TrustId};

use crate::EventStore;
use crate::error::{AppendError, StoreError, VersionConflict};
use crate::types::{Checkpoint, ExpectedVersion, NewEvent, RecordedEvent, decode};

/// How many times a command is re-decided after losing a race for the stream.
const MAX_ATTEMPTS: u32 = 10;

/// A short random pause before trying again, so racing writers spread out instead of
/// colliding in lockstep.
async fn jitter(attempt: u32) {
    let ceiling_ms = 2u64 << attempt.min(6);
    let millis = (uuid::Uuid::new_v4().as_u128() % u128::from(ceiling_ms)) as u64;
    tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
}

/// Who sends a command, for which trust, and under which id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandContext {
    pub trust: TrustId,
    pub actor: ActorId,
    pub command_id: CommandId,
    pub correlation_id: CorrelationId,
    pub causation_id: Option<EventId>,
}

impl CommandContext {
    pub fn metadata(&self) -> EventMetadata {
        EventMetadata {
            actor: self.actor,
            causation_id: self.causation_id,
            correlation_id: self.correlation_id,
            command_id: Some(self.command_id),
        }
    }
}

/// What a command did.
#[derive(Debug)]
pub struct Executed<D: Decider> {
    /// The events the command produced (none if it changed nothing).
    pub events: Vec<D::Event>,
    /// The aggregate's state after them.
    pub state: D::State,
    /// The stream's version after them.
    pub version: i64,
    /// Where a reader stands once it has read them; projections report when they pass it.
    pub checkpoint: Option<Checkpoint>,
    /// True when the command had run before and this is its original result.
    pub replayed: bool,
}

/// Why a command did not run. The domain refusing and the store failing stay apart.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError<R: std::error::Error + 'static> {
    #[error(transparent)]
    Rejected(R),
    /// Still losing the race after several attempts.
    #[error(transparent)]
    Conflict(VersionConflict),
    /// What the command would record is too large to be an event.
    #[error(transparent)]
    TooLarge(AppendError),
    /// The command id was used before for a different aggregate.
    #[error("command {0} was already used for another record")]
    CommandReused(CommandId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl<R: std::error::Error + 'static> From<AppendError> for ExecuteError<R> {
    fn from(error: AppendError) -> Self {
        match error {
            AppendError::Conflict(conflict) => Self::Conflict(conflict),
            AppendError::Store(error) => Self::Store(error),
            too_large @ AppendError::TooLarge { .. } => Self::TooLarge(too_large),
            other => Self::Store(StoreError::Corrupt(other.to_string())),
        }
    }
}

/// Runs `command` against the aggregate stored in `stream`.
pub async fn execute<D: Decider, S: EventStore>(
    store: &S,
    context: &CommandContext,
    stream: &StreamId,
    command: &D::Command,
) -> Result<Executed<D>, ExecuteError<D::Rejection>> {
    let earlier = store
        .find_command(context.trust, context.command_id)
        .await?;
    if let Some(first) = earlier.first() {
        if first.stream_id != *stream {
            return Err(ExecuteError::CommandReused(context.command_id));
        }
        return replay::<D, S>(store, context, stream, &earlier).await;
    }

    let mut attempt = 0;
    loop {
        attempt += 1;
        let history = store.read_stream(context.trust, stream, 1).await?;
        let (state, version) = fold::<D>(&history)?;
        let events = D::decide(&state, command).map_err(ExecuteError::Rejected)?;
        if events.is_empty() {
            return Ok(Executed {
                events,
                state,
                version,
                checkpoint: None,
                replayed: false,
            });
        }
        let new_events = events
            .iter()
            .enumerate()
            .map(|(index, event)| {
                NewEvent::from_domain(EventId::for_command(context.command_id, index), event)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| StoreError::Corrupt(format!("event does not serialise: {error}")))?;
        let appended = store
            .append(
                context.trust,
                stream,
                ExpectedVersion::from_version(version),
                &context.metadata(),
                &new_events,
            )
            .await;
        match appended {
            Ok(outcome) if outcome.replayed => {
                // A concurrent attempt of the same command won: report its result.
                let earlier = store
                    .find_command(context.trust, context.command_id)
                    .await?;
                return replay::<D, S>(store, context, stream, &earlier).await;
            }
            Ok(outcome) => {
                let state = events
                    .iter()
                    .fold(state, |state, event| D::evolve(state, event));
                return Ok(Executed {
                    events,
                    state,
                    version: outcome.version,
                    checkpoint: Some(outcome.checkpoint),
                    replayed: false,
                });
            }
            Err(AppendError::Conflict(conflict)) if attempt >= MAX_ATTEMPTS => {
                return Err(ExecuteError::Conflict(conflict));
            }
            Err(AppendError::Conflict(_)) => jitter(attempt).await,
            Err(error) => return Err(error.into()),
        }
    }
}

async fn replay<D: Decider, S: EventStore>(
    store: &S,
    context: &CommandContext,
    stream: &StreamId,
    earlier: &[RecordedEvent],
) -> Result<Executed<D>, ExecuteError<D::Rejection>> {
    let events = earlier
        .iter()
        .map(decode::<D::Event>)
        .collect::<Result<Vec<_>, _>>()
        .map_err(StoreError::from)?;
    let last = earlier.last();
    let history = store.read_stream(context.trust, stream, 1).await?;
    let upto = last.map_or(0, |event| event.stream_version);
    let (state, _) = fold::<D>(history.iter().take_while(|e| e.stream_version <= upto))?;
    Ok(Executed {
        events,
        state,
        version: upto,
        checkpoint: last.map(Checkpoint::of),
        replayed: true,
    })
}

fn fold<'a, D: Decider>(
    history: impl IntoIterator<Item = &'a RecordedEvent>,
) -> Result<(D::State, i64), StoreError> {
    let mut state = D::State::default();
    let mut version = 0;
    for recorded in history {
        let event = decode::<D::Event>(recorded)?;
        state = D::evolve(state, &event);
        version = recorded.stream_version;
    }
    Ok((state, version))
}
