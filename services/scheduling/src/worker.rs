//! Fires timers. Each round claims the due timers with `FOR UPDATE SKIP LOCKED` (so any
//! number of workers, in any number of processes, take different rows), appends one
//! `ReminderDue` event per timer — each to a stream of its own, so a second firing would
//! collide — and marks the rows fired, all in one transaction. A crash before the commit
//! leaves the timers pending for the next round; after it, they are fired for good. A row
//! that cannot make a reminder is parked with the reason (`state = 'parked'`), so it never
//! holds up the timers due after it.
//!
//! Catch-up: timers found due late (the worker was down, or the database) are decided by
//! [`catch_up`]: each person hears only the latest of a due date's reminders that are due,
//! and only words still true; the rest are skipped with the reason (`state = 'skipped'`).
//! What is sent goes at once, not spread out.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use waymark_domain::ids::{ActorId, CorrelationId};
use waymark_domain::scheduling::calendar::DEFAULT_TIME_ZONE;
use waymark_domain::scheduling::reminders::{
    CatchUp, REMINDER_CATEGORY, ReminderDue, ReminderEvent, ReminderKind, SubjectKind, catch_up,
};
use waymark_domain::{EventId, EventMetadata, SchoolId, StaffId, StreamId, Text, TrustId};
use waymark_event_store::NewEvent;
use waymark_runtime::Platform;

#[derive(Debug, Clone, Copy)]
pub struct WorkerOptions {
    /// Timers claimed per transaction.
    pub batch: i64,
    /// How often to look for due timers when nothing wakes the worker sooner.
    pub poll: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            batch: 500,
            poll: Duration::from_millis(200),
        }
    }
}

/// The scheduler itself, as the actor of the events it appends.
pub fn scheduler_actor() -> ActorId {
    ActorId::from_uuid(Uuid::new_v5(&Uuid::nil(), b"waymark-scheduling"))
}

pub fn spawn(
    platform: Arc<Platform>,
    options: WorkerOptions,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut failures = 0u32;
        while !shutdown.is_cancelled() {
            match fire_due(&platform, options.batch).await {
                Ok(fired) if fired as i64 >= options.batch => {
                    failures = 0;
                    continue;
                }
                Ok(_) => failures = 0,
                Err(error) => {
                    failures += 1;
                    tracing::warn!(%error, failures, "firing timers failed; retrying");
                }
            }
            let pause = if failures > 0 {
                Duration::from_secs(u64::from(failures.min(10)))
            } else {
                options.poll
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = wake.notified() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    })
}

#[derive(Debug, thiserror::Error)]
pub enum FireError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("event store: {0}")]
    Append(#[from] waymark_event_store::AppendError),
}

/// Fires up to `batch` due timers; returns how many.
pub async fn fire_due(platform: &Platform, batch: i64) -> Result<usize, FireError> {
    let now = platform.clock.now();
    let mut tx = platform.pool.begin().await?;
    // With each timer, the later reminders of the same due date to the same person that are
    // due by now as well (pending, or fired by another worker meanwhile).
    let due = sqlx::query!(
        r#"SELECT t.timer_id, t.trust_id, t.school_id, t.subject_kind, t.subject_id, t.title, t.reminder,
                  t.recipient_id, t.due_date, t.local_date, t.fire_at,
                  ARRAY(SELECT l.reminder FROM scheduling.timers l
                        WHERE l.trust_id = t.trust_id AND l.subject_id = t.subject_id
                          AND l.recipient_id = t.recipient_id AND l.due_date = t.due_date
                          AND l.state IN ('pending', 'fired') AND l.fire_at > t.fire_at AND l.fire_at <= $1) AS "later!"
           FROM scheduling.timers t WHERE t.state = 'pending' AND t.fire_at <= $1
           ORDER BY t.fire_at LIMIT $2 FOR UPDATE OF t SKIP LOCKED"#,
        now,
        batch
    )
    .fetch_all(&mut *tx)
    .await?;
    // How late this round's most overdue timer is (0 when none is due): reminders late.
    let late = due
        .iter()
        .map(|timer| (now - timer.fire_at).num_milliseconds())
        .max()
        .unwrap_or(0);
    metrics::gauge!("waymark_timers_late_seconds").set(late.max(0) as f64 / 1000.0);
    if due.is_empty() {
        return Ok(0);
    }
    // Each school's day today, for the catch-up rules: in its calendar's time zone, or the
    // default one for a school that has no calendar.
    let (trusts, schools): (Vec<Uuid>, Vec<Uuid>) = due
        .iter()
        .map(|timer| (timer.trust_id, timer.school_id))
        .unzip();
    let zones: std::collections::HashMap<(Uuid, Uuid), String> = sqlx::query!(
        r#"SELECT c.trust_id, c.school_id, c.doc->>'time_zone' AS "zone!"
           FROM scheduling.calendars c
           JOIN (SELECT DISTINCT * FROM unnest($1::uuid[], $2::uuid[])) AS s(trust_id, school_id)
             ON c.trust_id = s.trust_id AND c.school_id = s.school_id
           WHERE c.doc ? 'time_zone'"#,
        &trusts,
        &schools
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|row| ((row.trust_id, row.school_id), row.zone))
    .collect();
    let today = |trust: Uuid, school: Uuid| {
        let zone = zones
            .get(&(trust, school))
            .and_then(|zone| zone.parse::<chrono_tz::Tz>().ok())
            .unwrap_or(DEFAULT_TIME_ZONE);
        now.with_timezone(&zone).date_naive()
    };
    // A row that does not make a reminder is parked with the reason, not retried ahead of
    // every other timer for ever.
    let mut fire = Vec::with_capacity(due.len());
    let mut parked: Vec<(Uuid, String)> = Vec::new();
    let mut skipped: Vec<(Uuid, String)> = Vec::new();
    for timer in &due {
        let Some(kind) = ReminderKind::parse(&timer.reminder) else {
            parked.push((
                timer.timer_id,
                format!("unknown reminder `{}`", timer.reminder),
            ));
            continue;
        };
        let today = today(timer.trust_id, timer.school_id);
        let later: Vec<ReminderKind> = timer
            .later
            .iter()
            .filter_map(|key| ReminderKind::parse(key))
            .collect();
        if let CatchUp::Skip(reason) = catch_up(kind, timer.due_date, today, &later) {
            skipped.push((timer.timer_id, reason));
            continue;
        }
        let event = SubjectKind::parse(&timer.subject_kind)
            .ok_or_else(|| format!("unknown subject kind `{}`", timer.subject_kind))
            .and_then(|subject_kind| {
                Ok(ReminderEvent::ReminderDue(ReminderDue {
                    timer_id: timer.timer_id,
                    school_id: SchoolId::from_uuid(timer.school_id),
                    subject_kind,
                    subject_id: timer.subject_id,
                    title: Text::parse(&timer.title).map_err(|e| format!("title: {e}"))?,
                    reminder: timer.reminder.clone(),
                    recipient_id: StaffId::from_uuid(timer.recipient_id),
                    due_date: timer.due_date,
                    local_date: timer.local_date,
                    sent_on: (today != timer.local_date).then_some(today),
                }))
            })
            // The event id follows from the timer's: the same timer can only ever make one.
            .and_then(|event| {
                let event_id = EventId::from_uuid(Uuid::new_v5(&timer.timer_id, b"fired"));
                NewEvent::from_domain(event_id, &event).map_err(|e| e.to_string())
            });
        match event {
            Ok(new) => fire.push((
                timer.timer_id,
                (
                    TrustId::from_uuid(timer.trust_id),
                    StreamId::new(REMINDER_CATEGORY, timer.timer_id),
                    new,
                ),
            )),
            Err(reason) => parked.push((timer.timer_id, reason)),
        }
    }
    // A timer whose reminder is stored already fired (its row was not marked, say after a
    // restore): it is marked now, and the others are not held up by it.
    let stream_ids: Vec<String> = fire
        .iter()
        .map(|(_, (_, stream, _))| stream.to_string())
        .collect();
    let stored: Vec<String> = sqlx::query_scalar!(
        "SELECT stream_id FROM event_store.events WHERE stream_id = ANY($1) AND stream_version = 1",
        &stream_ids
    )
    .fetch_all(&mut *tx)
    .await?;
    let (already, fresh): (Vec<_>, Vec<_>) = fire
        .into_iter()
        .partition(|(_, (_, stream, _))| stored.contains(&stream.to_string()));
    let streams: Vec<_> = fresh.iter().map(|(_, stream)| stream.clone()).collect();
    let metadata = EventMetadata {
        actor: scheduler_actor(),
        causation_id: None,
        correlation_id: CorrelationId::from_uuid(Uuid::now_v7()),
        command_id: None,
    };
    platform
        .store
        .start_streams_in(&mut tx, &metadata, &streams)
        .await?;
    let (ids, event_ids): (Vec<Uuid>, Vec<Uuid>) = fresh
        .iter()
        .chain(&already)
        .map(|(timer, (.., event))| (*timer, event.event_id.into_uuid()))
        .unzip();
    sqlx::query!(
        "UPDATE scheduling.timers t SET state = 'fired', fired_at = $3, event_id = f.event_id \
         FROM unnest($1::uuid[], $2::uuid[]) AS f(timer_id, event_id) WHERE t.timer_id = f.timer_id",
        &ids,
        &event_ids,
        now
    )
    .execute(&mut *tx)
    .await?;
    for (timer, reason) in &parked {
        tracing::error!(%timer, %reason, "timer parked: it cannot make a reminder");
    }
    for (state, set) in [("parked", &parked), ("skipped", &skipped)] {
        let (ids, reasons): (Vec<Uuid>, Vec<String>) = set.iter().cloned().unzip();
        sqlx::query!(
            "UPDATE scheduling.timers t SET state = $3, reason = r.reason \
             FROM unnest($1::uuid[], $2::text[]) AS r(timer_id, reason) WHERE t.timer_id = r.timer_id",
            &ids,
            &reasons,
            state
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    metrics::counter!("waymark_timers_fired_total").increment(fresh.len() as u64);
    metrics::counter!("waymark_timers_parked_total").increment(parked.len() as u64);
    metrics::counter!("waymark_timers_skipped_total").increment(skipped.len() as u64);
    Ok(due.len())
}
