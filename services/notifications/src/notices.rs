//! Turning something worth telling someone into an inbox notice and, per the person's
//! preferences, queued deliveries: now, after their quiet hours, on the next working day (no
//! reminders in school holidays unless urgent), or gathered into their digest.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use serde_json::json;
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;
use waymark_domain::scheduling::calendar::SchoolCalendar;
use waymark_domain::{SchoolId, StaffId, TrustId};

impl Notice {
    /// The same for every delivery of its event: one notice per event, person and kind.
    pub fn id(&self) -> Uuid {
        Uuid::new_v5(
            &self.event_id,
            format!("{}/{}", self.recipient, self.kind).as_bytes(),
        )
    }
}

/// One thing to tell one person.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Notice {
    pub trust: TrustId,
    pub recipient: StaffId,
    pub school: Option<SchoolId>,
    /// What kind of notice, e.g. `reminder.overdue`, `action.assigned`.
    pub kind: String,
    pub title: String,
    pub body: String,
    /// The path of the page it is about (`waymark_domain::pages`), never an address.
    pub link: String,
    /// Urgent notices ignore quiet hours, holidays and digests (overdue escalations).
    pub urgent: bool,
    /// What the delivery log should say besides success or failure (e.g. that an
    /// escalation went to the owner because no line manager is recorded).
    pub note: Option<String>,
    /// The event it came from: with the recipient and channel, the delivery's key.
    pub event_id: Uuid,
    /// What a reminder is about (an action, review, visit or meeting): once it is closed,
    /// deliveries still waiting are dropped (`delivery`).
    pub subject: Option<Uuid>,
    /// The last day, where the school is, on which the reminder still makes sense ("due
    /// today", "in 7 days"); deliveries still waiting after it are dropped.
    pub stale_after: Option<NaiveDate>,
    /// A meeting whose previous meeting's actions the body should end with: the notice is
    /// recorded once review dialogue has listed them (`crate::agenda`).
    #[serde(default)]
    pub agenda: Option<Uuid>,
}

#[derive(Debug, Clone)]
pub struct Preferences {
    pub email: bool,
    pub webhook: bool,
    pub mode: String,
    pub weekly_digest: bool,
    pub quiet_from: Option<NaiveTime>,
    pub quiet_to: Option<NaiveTime>,
}

impl Default for Preferences {
    fn default() -> Self {
        Self {
            email: true,
            webhook: false,
            mode: "immediate".to_owned(),
            weekly_digest: true,
            quiet_from: None,
            quiet_to: None,
        }
    }
}

pub async fn preferences(
    conn: &mut PgConnection,
    trust: TrustId,
    person: StaffId,
) -> Result<Preferences, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT email, webhook, mode, weekly_digest, quiet_from, quiet_to FROM notifications.preferences \
         WHERE trust_id = $1 AND staff_id = $2",
        trust.into_uuid(),
        person.into_uuid()
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map_or_else(Preferences::default, |row| Preferences {
        email: row.email,
        webhook: row.webhook,
        mode: row.mode,
        weekly_digest: row.weekly_digest,
        quiet_from: row.quiet_from,
        quiet_to: row.quiet_to,
    }))
}

/// The school's calendar as scheduling last published it (the default without one).
pub async fn calendar(
    conn: &mut PgConnection,
    trust: TrustId,
    school: Option<SchoolId>,
) -> Result<SchoolCalendar, sqlx::Error> {
    let Some(school) = school else {
        return Ok(SchoolCalendar::default());
    };
    let row = sqlx::query!(
        r#"SELECT doc AS "doc: Json<SchoolCalendar>" FROM notifications.calendars WHERE trust_id = $1 AND school_id = $2"#,
        trust.into_uuid(),
        school.into_uuid()
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|row| row.doc.0).unwrap_or_default())
}

/// When a non-urgent notice may go out: not in the person's quiet hours, not on a day the
/// school is closed (weekend or holiday: then 08:00 on the next working day).
pub fn deliver_at(
    now: DateTime<Utc>,
    preferences: &Preferences,
    calendar: &SchoolCalendar,
    urgent: bool,
) -> DateTime<Utc> {
    if urgent {
        return now;
    }
    let zone = calendar.time_zone;
    let mut local = now.with_timezone(&zone).naive_local();
    if let (Some(from), Some(to)) = (preferences.quiet_from, preferences.quiet_to) {
        let time = local.time();
        let quiet = if from <= to {
            from <= time && time < to
        } else {
            time >= from || time < to
        };
        if quiet {
            let mut end = local.date().and_time(to);
            if end <= local {
                end += Duration::days(1);
            }
            local = end;
        }
    }
    if !calendar.is_working_day(local.date()) {
        let day = calendar.working_day_on_or_after(local.date());
        local = day.and_time(NaiveTime::from_hms_opt(8, 0, 0).unwrap_or(NaiveTime::MIN));
    }
    zone.from_local_datetime(&local)
        .earliest()
        .map_or(now, |at| at.with_timezone(&Utc))
        .max(now)
}

/// Records the notice in the inbox and queues its deliveries. Doing it twice for the same
/// event and recipient changes nothing.
pub async fn record(
    tx: &mut PgConnection,
    notice: &Notice,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let notice_id = notice.id();
    let preferences = preferences(tx, notice.trust, notice.recipient).await?;
    let gathered = !notice.urgent && preferences.mode != "immediate";
    let inserted = sqlx::query_scalar!(
        "INSERT INTO notifications.notices (notice_id, trust_id, recipient_id, school_id, kind, title, body, link, urgent, \
         event_id, created_at, digest) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT DO NOTHING RETURNING notice_id",
        notice_id,
        notice.trust.into_uuid(),
        notice.recipient.into_uuid(),
        notice.school.map(SchoolId::into_uuid),
        notice.kind,
        notice.title,
        notice.body,
        notice.link,
        notice.urgent,
        notice.event_id,
        now,
        if gathered { "pending" } else { "none" },
    )
    .fetch_optional(&mut *tx)
    .await?;
    if inserted.is_none() || gathered {
        return Ok(());
    }
    let calendar = calendar(tx, notice.trust, notice.school).await?;
    let at = deliver_at(now, &preferences, &calendar, notice.urgent);
    // The moment the school's day after `stale_after` begins.
    let stale_at = notice.stale_after.and_then(|day| {
        let next = day.succ_opt()?.and_time(NaiveTime::MIN);
        calendar
            .time_zone
            .from_local_datetime(&next)
            .earliest()
            .map(|at| at.with_timezone(&Utc))
    });
    let key = |channel: &str| format!("{}:{}:{}", notice.event_id, notice.recipient, channel);
    if preferences.email {
        let message = json!({ "subject": notice.title, "text": notice.body, "link": notice.link, "note": notice.note,
            "about": notice.subject, "stale_at": stale_at });
        queue(
            tx,
            &key("email"),
            notice.trust,
            notice.recipient,
            "email",
            message,
            at,
        )
        .await?;
    }
    if preferences.webhook {
        let school = notice.school.map(SchoolId::into_uuid);
        let url = sqlx::query_scalar!(
            "SELECT webhook_url FROM notifications.schools WHERE trust_id = $1 AND school_id = $2",
            notice.trust.into_uuid(),
            school
        )
        .fetch_optional(&mut *tx)
        .await?
        .flatten();
        if let Some(url) = url {
            // Sent to the school's webhook as it is when sent (`school`), signed with its secret.
            let message = json!({ "url": url, "school": school, "text": format!("{}\n{}", notice.title, notice.body), "link": notice.link, "note": notice.note,
                "about": notice.subject, "stale_at": stale_at });
            queue(
                tx,
                &key("webhook"),
                notice.trust,
                notice.recipient,
                "webhook",
                message,
                at,
            )
            .await?;
        }
    }
    Ok(())
}

/// Queues one delivery unless one with the same key exists.
pub async fn queue(
    tx: &mut PgConnection,
    key: &str,
    trust: TrustId,
    recipient: StaffId,
    channel: &str,
    message: serde_json::Value,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "INSERT INTO notifications.deliveries (delivery_id, key, trust_id, recipient_id, channel, next_attempt_at, message) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (key) DO NOTHING",
        Uuid::new_v5(&Uuid::nil(), key.as_bytes()),
        key,
        trust.into_uuid(),
        recipient.into_uuid(),
        channel,
        at,
        message
    )
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    #[test]
    fn quiet_hours_hold_a_notice_until_they_end() {
        let preferences = Preferences {
            quiet_from: NaiveTime::from_hms_opt(18, 0, 0),
            quiet_to: NaiveTime::from_hms_opt(7, 30, 0),
            ..Preferences::default()
        };
        let calendar = SchoolCalendar::default();
        // 21:00 on a Tuesday in November (London is UTC): held until 07:30 Wednesday.
        assert_eq!(
            deliver_at(at(2026, 11, 24, 21, 0), &preferences, &calendar, false),
            at(2026, 11, 25, 7, 30)
        );
        assert_eq!(
            deliver_at(at(2026, 11, 24, 12, 0), &preferences, &calendar, false),
            at(2026, 11, 24, 12, 0)
        );
        assert_eq!(
            deliver_at(at(2026, 11, 24, 21, 0), &preferences, &calendar, true),
            at(2026, 11, 24, 21, 0),
            "urgent"
        );
    }

    #[test]
    fn a_weekend_notice_waits_for_monday_morning() {
        let calendar = SchoolCalendar::default();
        let saturday = at(2026, 11, 21, 10, 0);
        assert_eq!(
            deliver_at(saturday, &Preferences::default(), &calendar, false),
            at(2026, 11, 23, 8, 0)
        );
        assert!(calendar.is_working_day(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()));
    }
}
