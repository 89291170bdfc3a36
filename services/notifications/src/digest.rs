//! Digests. On Monday morning (the digest hour, school time) each person gets a weekly digest:
//! what is due this week, what is overdue, what awaits their agreement, and the notices they
//! chose to have gathered. People who chose a daily digest get one every working morning with
//! their gathered notices and anything overdue. A digest is recorded by person and period, so
//! none is sent twice; an empty one is not sent at all.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, Days, NaiveDate, Timelike, Utc, Weekday};
use serde_json::json;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use waymark_domain::ids::ActorId;
use waymark_domain::school_year::long_date;
use waymark_domain::{SchoolId, StaffId, TrustId};
use waymark_proto::action_tracking::v1 as at;
use waymark_proto::action_tracking::v1::action_tracking_client::ActionTrackingClient;
use waymark_proto::review_dialogue::v1 as rd;
use waymark_proto::review_dialogue::v1::review_dialogue_client::ReviewDialogueClient;
use waymark_runtime::Platform;
use waymark_runtime::auth::Caller;

use crate::notices::{calendar, preferences, queue};

pub struct Digests {
    pub platform: Arc<Platform>,
    pub hour: u32,
    pub action_tracking: Channel,
    pub review_dialogue: Channel,
    pub wake: Arc<tokio::sync::Notify>,
}

pub fn spawn(digests: Arc<Digests>, poll: Duration, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        while !shutdown.is_cancelled() {
            if let Err(error) = digests.round().await {
                tracing::warn!(%error, "digest round failed; trying again later");
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(poll) => {}
            }
        }
    })
}

struct Person {
    trust: TrustId,
    staff: StaffId,
    school: Option<SchoolId>,
}

impl Digests {
    /// Sends every digest that is due now. Returns how many were queued.
    pub async fn round(&self) -> anyhow::Result<usize> {
        let now = self.platform.clock.now();
        let people =
            sqlx::query!("SELECT trust_id, staff_id, school_id FROM notifications.contacts")
                .fetch_all(&self.platform.pool)
                .await?;
        let mut queued = 0;
        for row in people {
            let person = Person {
                trust: TrustId::from_uuid(row.trust_id),
                staff: StaffId::from_uuid(row.staff_id),
                school: row.school_id.map(SchoolId::from_uuid),
            };
            // One person's digest failing (a service down) does not hold up everyone else's;
            // theirs is tried again next round.
            match self.digest_for(&person, now).await {
                Ok(true) => queued += 1,
                Ok(false) => {}
                Err(error) => tracing::warn!(staff = %person.staff, %error, "digest not built yet"),
            }
        }
        if queued > 0 {
            self.wake.notify_one();
        }
        Ok(queued)
    }

    async fn digest_for(&self, person: &Person, now: DateTime<Utc>) -> anyhow::Result<bool> {
        let mut conn = self.platform.pool.acquire().await?;
        let calendar = calendar(&mut conn, person.trust, person.school).await?;
        let local = now.with_timezone(&calendar.time_zone).naive_local();
        let today = local.date();
        if local.time().hour() < self.hour || !calendar.is_working_day(today) {
            return Ok(false);
        }
        let preferences = preferences(&mut conn, person.trust, person.staff).await?;
        drop(conn);
        let weekly = today.weekday() == Weekday::Mon
            && (preferences.weekly_digest || preferences.mode == "weekly");
        let daily = preferences.mode == "daily";
        if !weekly && !daily {
            return Ok(false);
        }
        let period = if weekly {
            let week = today.iso_week();
            format!("weekly:{}-W{:02}", week.year(), week.week())
        } else {
            format!("daily:{today}")
        };
        let done = sqlx::query_scalar!(
            "SELECT 1 AS \"one!\" FROM notifications.digests WHERE trust_id = $1 AND staff_id = $2 AND period = $3",
            person.trust.into_uuid(),
            person.staff.into_uuid(),
            period
        )
        .fetch_optional(&self.platform.pool)
        .await?;
        if done.is_some() {
            return Ok(false);
        }
        let sunday = today
            .checked_add_days(Days::new(u64::from(
                6 - today.weekday().num_days_from_monday(),
            )))
            .unwrap_or(today);
        let (due, overdue) = self.actions(person, today, sunday).await?;
        let awaiting = if weekly {
            self.awaiting(person).await?
        } else {
            Vec::new()
        };

        let mut tx = self.platform.pool.begin().await?;
        let gathered = sqlx::query!(
            "UPDATE notifications.notices SET digest = 'sent' WHERE trust_id = $1 AND recipient_id = $2 AND digest = 'pending' \
             RETURNING title, created_at",
            person.trust.into_uuid(),
            person.staff.into_uuid()
        )
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query!(
            "INSERT INTO notifications.digests (trust_id, staff_id, period) VALUES ($1, $2, $3)",
            person.trust.into_uuid(),
            person.staff.into_uuid(),
            period
        )
        .execute(&mut *tx)
        .await?;
        let mut sections = Vec::new();
        let mut section = |heading: &str, lines: Vec<String>| {
            if !lines.is_empty() {
                sections.push(format!(
                    "{heading}\n{}",
                    lines
                        .iter()
                        .map(|l| format!("- {l}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                ));
            }
        };
        section("Overdue", overdue);
        if weekly {
            section("Due this week", due);
            section("Waiting for your agreement", awaiting);
        }
        let mut gathered: Vec<_> = gathered.into_iter().collect();
        gathered.sort_by_key(|n| n.created_at);
        section(
            "Since your last digest",
            gathered.into_iter().map(|n| n.title).collect(),
        );
        let sent = !sections.is_empty();
        if sent {
            let subject = if weekly {
                format!("Your week in Waymark: {}", long_date(today))
            } else {
                format!("Your day in Waymark: {}", long_date(today))
            };
            let message = json!({ "subject": subject, "text": sections.join("\n\n"), "link": waymark_domain::pages::HOME });
            let key = format!("digest:{period}:{}", person.staff);
            queue(
                &mut tx,
                &key,
                person.trust,
                person.staff,
                "email",
                message,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(sent)
    }

    fn caller(person: &Person) -> Caller {
        Caller {
            trust: person.trust,
            actor: ActorId::from_uuid(person.staff.into_uuid()),
        }
    }

    /// (Due this week, overdue) for the person, as action tracking has them.
    async fn actions(
        &self,
        person: &Person,
        today: NaiveDate,
        sunday: NaiveDate,
    ) -> anyhow::Result<(Vec<String>, Vec<String>)> {
        let interceptor = self.platform.call_as(Self::caller(person));
        let mut client = ActionTrackingClient::new(InterceptedService::new(
            self.action_tracking.clone(),
            interceptor,
        ));
        let actions = client
            .list_actions(at::ListActionsRequest {
                person_ids: vec![person.staff.to_string()],
                include_supported: true,
                due_on_or_before: sunday.to_string(),
                today: today.to_string(),
                ..Default::default()
            })
            .await?
            .into_inner()
            .actions;
        let describe = |a: &at::Action| {
            let due = NaiveDate::parse_from_str(&a.due_date, "%Y-%m-%d")
                .map(long_date)
                .unwrap_or_else(|_| a.due_date.clone());
            format!("{} (due {due})", a.description)
        };
        let overdue = actions.iter().filter(|a| a.overdue).map(describe).collect();
        let due = actions
            .iter()
            .filter(|a| !a.overdue)
            .map(describe)
            .collect();
        Ok((due, overdue))
    }

    async fn awaiting(&self, person: &Person) -> anyhow::Result<Vec<String>> {
        let interceptor = self.platform.call_as(Self::caller(person));
        let mut client = ReviewDialogueClient::new(InterceptedService::new(
            self.review_dialogue.clone(),
            interceptor,
        ));
        let reply = client
            .awaiting_agreement(rd::AwaitingAgreementRequest {
                person_id: person.staff.to_string(),
            })
            .await?
            .into_inner();
        Ok(reply
            .reviews
            .iter()
            .map(|r| format!("Progress review record: {}", r.year_group))
            .chain(
                reply
                    .visits
                    .iter()
                    .map(|v| format!("Visit record: {}", v.date)),
            )
            .collect())
    }
}
