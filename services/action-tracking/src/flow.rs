//! Actions opened and closed month by month, for the trend charts: counted from the chained
//! events of the school's actions (their type and when they were recorded), so the figures
//! are those of the audit trail.

use chrono::{Datelike, NaiveDate};
use waymark_domain::{SchoolId, TrustId};
use waymark_proto::action_tracking::v1 as pb;
use waymark_runtime::{ServiceError, parse};

/// The longest span one request counts.
const MOST_DAYS: i64 = 731;

/// What a request asks for, parsed: the school, the first and last days, the time zone.
pub struct Span {
    pub school: SchoolId,
    from: NaiveDate,
    to: NaiveDate,
    zone: chrono_tz::Tz,
}

impl Span {
    pub fn parse(request: &pb::CountActionsByMonthRequest) -> Result<Self, ServiceError> {
        let from = parse::date("from", &request.from)?;
        let to = parse::date("to", &request.to)?;
        if to < from || (to - from).num_days() > MOST_DAYS {
            return Err(ServiceError::invalid(
                "to",
                "must be on or after `from` and at most two years later",
            ));
        }
        let zone = request.time_zone.trim().parse().map_err(|_| {
            ServiceError::invalid("time_zone", "is not a time zone name (e.g. Europe/London)")
        })?;
        Ok(Self {
            school: parse::id("school_id", &request.school_id)?,
            from,
            to,
            zone,
        })
    }

    /// Every month the span touches, first to last: "2026-09".
    fn months(&self) -> Vec<String> {
        let mut months = Vec::new();
        let mut at = self.from.with_day(1).unwrap_or(self.from);
        while at <= self.to {
            months.push(at.format("%Y-%m").to_string());
            at = at
                .checked_add_months(chrono::Months::new(1))
                .unwrap_or(NaiveDate::MAX);
        }
        months
    }
}

/// The counts per month, months with nothing included.
pub async fn count(
    pool: &sqlx::PgPool,
    trust: TrustId,
    span: &Span,
) -> Result<pb::ActionsByMonth, ServiceError> {
    let counted: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT to_char(e.recorded_at AT TIME ZONE $3, 'YYYY-MM'), \
                count(*) FILTER (WHERE e.event_type = 'ActionCreated'), \
                count(*) FILTER (WHERE e.event_type IN ('ActionCompleted', 'ActionDropped', 'ActionCarriedForward')) \
           FROM action_tracking.audit_chain c \
           JOIN event_store.events e ON e.event_id = c.event_id \
          WHERE c.trust_id = $1 AND c.school_id = $2 \
            AND (e.recorded_at AT TIME ZONE $3)::date BETWEEN $4 AND $5 \
          GROUP BY 1",
    )
    .bind(trust.into_uuid())
    .bind(span.school.into_uuid())
    .bind(span.zone.name())
    .bind(span.from)
    .bind(span.to)
    .fetch_all(pool)
    .await?;
    let months = span
        .months()
        .into_iter()
        .map(|month| {
            let (opened, closed) = counted
                .iter()
                .find(|(m, _, _)| *m == month)
                .map_or((0, 0), |(_, o, c)| (*o, *c));
            pb::MonthOfActions {
                month,
                opened: u32::try_from(opened).unwrap_or(u32::MAX),
                closed: u32::try_from(closed).unwrap_or(u32::MAX),
            }
        })
        .collect();
    Ok(pb::ActionsByMonth { months })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(from: &str, to: &str, zone: &str) -> pb::CountActionsByMonthRequest {
        pb::CountActionsByMonthRequest {
            school_id: uuid::Uuid::from_u128(7).to_string(),
            from: from.into(),
            to: to.into(),
            time_zone: zone.into(),
        }
    }

    #[test]
    fn a_span_lists_every_month_it_touches_and_refuses_what_makes_no_sense() {
        let span = Span::parse(&request("2026-08-15", "2027-01-02", "Europe/London")).unwrap();
        assert_eq!(
            span.months(),
            [
                "2026-08", "2026-09", "2026-10", "2026-11", "2026-12", "2027-01"
            ]
        );
        for (from, to, zone) in [
            ("2026-09-01", "2026-08-31", "Europe/London"),
            ("2026-09-01", "2028-09-02", "Europe/London"),
            ("2026-09-01", "2026-10-01", "Mars/Olympus"),
            ("yesterday", "2026-10-01", "Europe/London"),
        ] {
            assert!(
                Span::parse(&request(from, to, zone)).is_err(),
                "{from} {to} {zone}"
            );
        }
    }
}
