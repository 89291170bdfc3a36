//! Projects the `action` streams into the read models (actions, notes) and appends each event
//! to its trust's audit chain, all in the feed's transaction. A rebuild ([`ReadModel`]) makes
//! the read models again, a batch of events at a time, and leaves the chain as it is.
//!
//! What an event does to its action's row is said once, in [`fold`], over the row in memory;
//! the live projection loads the row, folds one event and saves it, the rebuild loads every
//! row a batch touches, folds the whole batch and saves the rows in one statement.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;
use waymark_bus::{EventHandler, HandlerError, Projection};
use waymark_domain::Decider;
use waymark_domain::action_tracking::action::{Action, ActionEvent, ActionStatus};
use waymark_domain::agreed::OriginKind;
use waymark_event_store::{RecordedEvent, decode};

use crate::chain;

pub const NAME: &str = "action-tracking.actions.v1";

pub struct Actions;

impl EventHandler for Actions {
    fn name(&self) -> &str {
        NAME
    }

    fn categories(&self) -> &[&'static str] {
        &[Action::CATEGORY]
    }

    async fn handle(
        &self,
        tx: &mut PgConnection,
        event: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        let action = decode::<ActionEvent>(event)?;
        let key = (event.trust_id.into_uuid(), action.action_id());
        let mut rows = load(tx, &[key]).await?;
        let mut notes = Vec::new();
        apply(tx, &mut rows, &mut notes, event, &action).await?;
        let school = rows.get(&key).map(|row| row.school_id).ok_or_else(|| {
            HandlerError::Permanent(format!("{} for an action never created", event.event_type))
        })?;
        save(tx, rows.values(), &notes).await?;
        chain::append(tx, chain::Chain::Actions, event, key.1, Some(school)).await?;
        Ok(())
    }
}

/// The same projection without the audit chain, for `waymark projections rebuild`: the
/// chain holds every event already and is never built again (its links are what
/// `verify-audit` checks).
pub struct ReadModel;

impl EventHandler for ReadModel {
    fn name(&self) -> &str {
        NAME
    }

    fn categories(&self) -> &[&'static str] {
        &[Action::CATEGORY]
    }

    async fn handle(
        &self,
        tx: &mut PgConnection,
        event: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        self.handle_batch(tx, std::slice::from_ref(event))
            .await
            .map_err(|(_, error)| error)
    }
}

impl Projection for ReadModel {
    fn tables(&self) -> &[&'static str] {
        // The evidence index is left: applying its events again changes nothing, and it
        // also records which files the sweep has deleted.
        &["action_tracking.actions", "action_tracking.action_notes"]
    }

    async fn handle_batch(
        &self,
        tx: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), (Option<usize>, HandlerError)> {
        let mut decoded = Vec::with_capacity(events.len());
        for (i, event) in events.iter().enumerate() {
            decoded.push(decode::<ActionEvent>(event).map_err(|e| (Some(i), e.into()))?);
        }
        let mut keys: Vec<(Uuid, Uuid)> = events
            .iter()
            .zip(&decoded)
            .map(|(event, action)| (event.trust_id.into_uuid(), action.action_id()))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let mut rows = load(tx, &keys).await.map_err(|e| (None, e.into()))?;
        let mut notes = Vec::new();
        for (i, (event, action)) in events.iter().zip(&decoded).enumerate() {
            apply(tx, &mut rows, &mut notes, event, action)
                .await
                .map_err(|e| (Some(i), e))?;
        }
        save(tx, rows.values(), &notes)
            .await
            .map_err(|e| (None, e.into()))
    }
}

/// An action as its read-model row holds it.
#[derive(Debug, Clone)]
struct Row {
    trust_id: Uuid,
    action_id: Uuid,
    school_id: Uuid,
    origin_kind: String,
    origin_id: Option<Uuid>,
    description: String,
    owner_id: Uuid,
    supporter_ids: Vec<Uuid>,
    due_date: NaiveDate,
    success_criteria: Option<String>,
    status: String,
    impact: Option<String>,
    carried_forward_from: Option<Uuid>,
    carried_forward_to: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    version: i64,
    agreed_by: Option<Uuid>,
}

/// A progress note or evidence of impact, in `action_tracking.action_notes`.
struct Note {
    event_id: Uuid,
    trust_id: Uuid,
    action_id: Uuid,
    kind: &'static str,
    body: String,
    author_id: Uuid,
    recorded_at: DateTime<Utc>,
}

type Rows = HashMap<(Uuid, Uuid), Row>;

/// Folds one event into the rows (and notes) in memory; the evidence index, which a few
/// events change, is written at once.
async fn apply(
    tx: &mut PgConnection,
    rows: &mut Rows,
    notes: &mut Vec<Note>,
    recorded: &RecordedEvent,
    event: &ActionEvent,
) -> Result<(), HandlerError> {
    if matches!(
        event,
        ActionEvent::EvidenceAttached { .. } | ActionEvent::EvidenceRemoved { .. }
    ) {
        waymark_runtime::evidence::index(tx, crate::EVIDENCE_TABLE, recorded).await?;
    }
    let key = (recorded.trust_id.into_uuid(), event.action_id());
    if let Some(row) = fold(rows.remove(&key), recorded, event, notes) {
        rows.insert(key, row);
    }
    Ok(())
}

/// What `event` does to its action's row (`None` before the action is created), and the
/// note it adds.
fn fold(
    row: Option<Row>,
    recorded: &RecordedEvent,
    event: &ActionEvent,
    notes: &mut Vec<Note>,
) -> Option<Row> {
    use ActionEvent as E;
    let mut note = |kind, body: &str| {
        notes.push(Note {
            event_id: recorded.event_id.into_uuid(),
            trust_id: recorded.trust_id.into_uuid(),
            action_id: event.action_id(),
            kind,
            body: body.to_owned(),
            author_id: recorded.metadata.actor.into_uuid(),
            recorded_at: recorded.recorded_at,
        })
    };
    if let E::ActionCreated {
        action_id,
        school_id,
        origin,
        description,
        owner_id,
        supporter_ids,
        due_date,
        success_criteria,
        carried_forward_from,
    } = event
    {
        // Created once: a second creation (a replayed event) changes nothing.
        if row.is_some() {
            return row;
        }
        // Who agreed or set it, for the policies: whoever created it, except an owner
        // whose agreement to a record created it (they do not steer it alone).
        let actor = recorded.metadata.actor.into_uuid();
        let agreed_by =
            (origin.kind == OriginKind::Direct || actor != owner_id.into_uuid()).then_some(actor);
        return Some(Row {
            trust_id: recorded.trust_id.into_uuid(),
            action_id: *action_id,
            school_id: school_id.into_uuid(),
            origin_kind: origin.kind.as_str().to_owned(),
            origin_id: origin.id,
            description: description.as_str().to_owned(),
            owner_id: owner_id.into_uuid(),
            supporter_ids: supporter_ids.iter().map(|id| id.into_uuid()).collect(),
            due_date: *due_date,
            success_criteria: success_criteria.as_ref().map(|t| t.as_str().to_owned()),
            status: ActionStatus::Open.as_str().to_owned(),
            impact: None,
            carried_forward_from: *carried_forward_from,
            carried_forward_to: None,
            created_at: recorded.recorded_at,
            updated_at: recorded.recorded_at,
            version: recorded.stream_version,
            agreed_by,
        });
    }
    match event {
        E::ProgressNoted { note: text, .. } => note("progress", text.as_str()),
        E::EvidenceRecorded { evidence, .. } => note("evidence", evidence.as_str()),
        _ => {}
    }
    // Every other event changes an action that exists; for one that does not, nothing.
    let mut row = row?;
    let status = |status: ActionStatus| status.as_str().to_owned();
    match event {
        E::ActionCreated { .. }
        | E::ProgressNoted { .. }
        | E::EvidenceRecorded { .. }
        | E::EvidenceAttached { .. }
        | E::EvidenceRemoved { .. } => {}
        E::ActionStarted { .. } | E::ActionReopened { .. } => {
            row.status = status(ActionStatus::InProgress)
        }
        E::DueDateChanged { to, .. } => row.due_date = *to,
        E::ActionReassigned { to_owner_id, .. } => row.owner_id = to_owner_id.into_uuid(),
        E::ActionCompleted { impact, .. } => {
            row.status = status(ActionStatus::Done);
            row.impact = Some(impact.as_str().to_owned());
        }
        E::ActionCarriedForward { next_action_id, .. } => {
            row.status = status(ActionStatus::CarriedForward);
            row.carried_forward_to = Some(*next_action_id);
        }
        E::ActionDropped { .. } => row.status = status(ActionStatus::Dropped),
    }
    row.updated_at = recorded.recorded_at;
    row.version = recorded.stream_version;
    Some(row)
}

/// The rows of these actions (trust, action) that exist.
async fn load(tx: &mut PgConnection, keys: &[(Uuid, Uuid)]) -> Result<Rows, sqlx::Error> {
    let (trusts, ids): (Vec<Uuid>, Vec<Uuid>) = keys.iter().copied().unzip();
    let rows = sqlx::query_as!(
        Row,
        "SELECT trust_id, action_id, school_id, origin_kind, origin_id, description, owner_id, \
         supporter_ids, due_date, success_criteria, status, impact, carried_forward_from, \
         carried_forward_to, created_at, updated_at, version, agreed_by \
         FROM action_tracking.actions \
         WHERE (trust_id, action_id) IN (SELECT * FROM UNNEST($1::uuid[], $2::uuid[]))",
        &trusts,
        &ids
    )
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| ((row.trust_id, row.action_id), row))
        .collect())
}

/// Writes `rows` (new or changed) and `notes`, each in one statement.
async fn save(
    tx: &mut PgConnection,
    rows: impl Iterator<Item = &Row>,
    notes: &[Note],
) -> Result<(), sqlx::Error> {
    let rows: Vec<&Row> = rows.collect();
    if !rows.is_empty() {
        let column = |f: fn(&Row) -> Uuid| rows.iter().map(|r| f(r)).collect::<Vec<_>>();
        // An array of arrays cannot be unnested row by row: each action's supporters go as
        // one array literal.
        let supporters: Vec<String> = rows
            .iter()
            .map(|r| {
                let ids: Vec<String> = r.supporter_ids.iter().map(Uuid::to_string).collect();
                format!("{{{}}}", ids.join(","))
            })
            .collect();
        sqlx::query!(
            "INSERT INTO action_tracking.actions (trust_id, action_id, school_id, origin_kind, \
             origin_id, description, owner_id, supporter_ids, due_date, success_criteria, status, \
             impact, carried_forward_from, carried_forward_to, created_at, updated_at, version, agreed_by) \
             SELECT t, a, s, ok, oi, d, o, sup::uuid[], dd, sc, st, i, cf, ct, ca, ua, v, ab \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::uuid[], $6::text[], \
                  $7::uuid[], $8::text[], $9::date[], $10::text[], $11::text[], $12::text[], \
                  $13::uuid[], $14::uuid[], $15::timestamptz[], $16::timestamptz[], $17::int8[], $18::uuid[]) \
               AS r(t, a, s, ok, oi, d, o, sup, dd, sc, st, i, cf, ct, ca, ua, v, ab) \
             ON CONFLICT (trust_id, action_id) DO UPDATE SET owner_id = EXCLUDED.owner_id, \
               due_date = EXCLUDED.due_date, status = EXCLUDED.status, impact = EXCLUDED.impact, \
               carried_forward_to = EXCLUDED.carried_forward_to, updated_at = EXCLUDED.updated_at, \
               version = EXCLUDED.version",
            &column(|r| r.trust_id),
            &column(|r| r.action_id),
            &column(|r| r.school_id),
            &rows.iter().map(|r| r.origin_kind.clone()).collect::<Vec<_>>(),
            &rows.iter().map(|r| r.origin_id).collect::<Vec<_>>() as &[Option<Uuid>],
            &rows.iter().map(|r| r.description.clone()).collect::<Vec<_>>(),
            &column(|r| r.owner_id),
            &supporters,
            &rows.iter().map(|r| r.due_date).collect::<Vec<_>>(),
            &rows.iter().map(|r| r.success_criteria.clone()).collect::<Vec<_>>() as &[Option<String>],
            &rows.iter().map(|r| r.status.clone()).collect::<Vec<_>>(),
            &rows.iter().map(|r| r.impact.clone()).collect::<Vec<_>>() as &[Option<String>],
            &rows.iter().map(|r| r.carried_forward_from).collect::<Vec<_>>() as &[Option<Uuid>],
            &rows.iter().map(|r| r.carried_forward_to).collect::<Vec<_>>() as &[Option<Uuid>],
            &rows.iter().map(|r| r.created_at).collect::<Vec<_>>(),
            &rows.iter().map(|r| r.updated_at).collect::<Vec<_>>(),
            &rows.iter().map(|r| r.version).collect::<Vec<_>>(),
            &rows.iter().map(|r| r.agreed_by).collect::<Vec<_>>() as &[Option<Uuid>],
        )
        .execute(&mut *tx)
        .await?;
    }
    if !notes.is_empty() {
        sqlx::query!(
            "INSERT INTO action_tracking.action_notes (event_id, trust_id, action_id, kind, body, author_id, recorded_at) \
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::uuid[], $7::timestamptz[]) \
             ON CONFLICT DO NOTHING",
            &notes.iter().map(|n| n.event_id).collect::<Vec<_>>(),
            &notes.iter().map(|n| n.trust_id).collect::<Vec<_>>(),
            &notes.iter().map(|n| n.action_id).collect::<Vec<_>>(),
            &notes.iter().map(|n| n.kind.to_owned()).collect::<Vec<_>>(),
            &notes.iter().map(|n| n.body.clone()).collect::<Vec<_>>(),
            &notes.iter().map(|n| n.author_id).collect::<Vec<_>>(),
            &notes.iter().map(|n| n.recorded_at).collect::<Vec<_>>(),
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
