//! A school's calendar: its time zone and, per academic year, terms, holidays, in-service
//! days and summative assessment points. Working days are derived from it: weekdays in term
//! time that are not holidays (in-service days count: staff are at work).

use chrono::{Datelike, Days, NaiveDate, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::decider::{Decider, DomainEvent};
use crate::ids::SchoolId;
use crate::rejection::{Rejection, RejectionKind};
use crate::school_year::AcademicYear;
use crate::text::Text;

pub struct Calendar;

/// The time zone a school starts with.
pub const DEFAULT_TIME_ZONE: Tz = chrono_tz::Europe::London;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Term {
    pub name: Text,
    pub starts: NaiveDate,
    pub ends: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holiday {
    pub name: Text,
    pub starts: NaiveDate,
    pub ends: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssessmentPoint {
    pub name: Text,
    pub date: NaiveDate,
}

/// One academic year of a school's calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct YearCalendar {
    pub academic_year: AcademicYear,
    pub terms: Vec<Term>,
    #[serde(default)]
    pub holidays: Vec<Holiday>,
    #[serde(default)]
    pub inset_days: Vec<NaiveDate>,
    #[serde(default)]
    pub assessment_points: Vec<AssessmentPoint>,
}

impl YearCalendar {
    /// The span an academic year may occupy: 1 August to 31 July.
    pub fn bounds(year: AcademicYear) -> (NaiveDate, NaiveDate) {
        let start = year.start_year();
        (
            NaiveDate::from_ymd_opt(start, 8, 1).unwrap_or(NaiveDate::MIN),
            NaiveDate::from_ymd_opt(start + 1, 7, 31).unwrap_or(NaiveDate::MAX),
        )
    }

    pub fn first_day(&self) -> Option<NaiveDate> {
        self.terms.iter().map(|t| t.starts).min()
    }

    pub fn last_day(&self) -> Option<NaiveDate> {
        self.terms.iter().map(|t| t.ends).max()
    }

    fn covers(&self, date: NaiveDate) -> bool {
        let (from, to) = Self::bounds(self.academic_year);
        from <= date && date <= to
    }

    pub fn term_of(&self, date: NaiveDate) -> Option<&Term> {
        self.terms
            .iter()
            .find(|t| t.starts <= date && date <= t.ends)
    }

    pub fn holiday_on(&self, date: NaiveDate) -> Option<&Holiday> {
        self.holidays
            .iter()
            .find(|h| h.starts <= date && date <= h.ends)
    }

    fn check(&self) -> Result<(), CalendarRejection> {
        let (from, to) = Self::bounds(self.academic_year);
        let within = |date: NaiveDate| from <= date && date <= to;
        if self.terms.is_empty() {
            return Err(CalendarRejection::NoTerms);
        }
        let mut terms: Vec<&Term> = self.terms.iter().collect();
        terms.sort_by_key(|t| t.starts);
        for (n, term) in terms.iter().enumerate() {
            if term.ends < term.starts || !within(term.starts) || !within(term.ends) {
                return Err(CalendarRejection::OutsideYear(term.name.to_string()));
            }
            if n > 0 && terms[n - 1].ends >= term.starts {
                return Err(CalendarRejection::Overlap(
                    terms[n - 1].name.to_string(),
                    term.name.to_string(),
                ));
            }
        }
        for holiday in &self.holidays {
            if holiday.ends < holiday.starts || !within(holiday.starts) || !within(holiday.ends) {
                return Err(CalendarRejection::OutsideYear(holiday.name.to_string()));
            }
        }
        for day in &self.inset_days {
            if self.term_of(*day).is_none() {
                return Err(CalendarRejection::OutsideTerm(format!(
                    "in-service day {day}"
                )));
            }
        }
        for point in &self.assessment_points {
            if self.term_of(point.date).is_none() {
                return Err(CalendarRejection::OutsideTerm(point.name.to_string()));
            }
            if let Some(holiday) = self
                .holidays
                .iter()
                .find(|h| h.starts <= point.date && point.date <= h.ends)
            {
                return Err(CalendarRejection::InHoliday(
                    point.name.to_string(),
                    holiday.name.to_string(),
                ));
            }
        }
        Ok(())
    }
}

/// A school's whole calendar: the decider's state, and what working-day questions ask.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SchoolCalendar {
    pub school_id: Option<SchoolId>,
    pub time_zone: Tz,
    pub years: Vec<YearCalendar>,
}

impl Default for SchoolCalendar {
    fn default() -> Self {
        Self {
            school_id: None,
            time_zone: DEFAULT_TIME_ZONE,
            years: Vec::new(),
        }
    }
}

/// How far the working-day searches look before giving up (a summer holiday is ~6 weeks).
const SEARCH_DAYS: u64 = 120;

impl SchoolCalendar {
    pub fn year(&self, year: AcademicYear) -> Option<&YearCalendar> {
        self.years.iter().find(|y| y.academic_year == year)
    }

    fn year_of(&self, date: NaiveDate) -> Option<&YearCalendar> {
        self.years.iter().find(|y| y.covers(date))
    }

    /// A weekday in term time that is not a holiday. Without a calendar for that year, any
    /// weekday counts.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            return false;
        }
        match self.year_of(date) {
            Some(year) => year.term_of(date).is_some() && year.holiday_on(date).is_none(),
            None => true,
        }
    }

    /// The first working day on or after `date`.
    pub fn working_day_on_or_after(&self, date: NaiveDate) -> NaiveDate {
        (0..SEARCH_DAYS)
            .filter_map(|n| date.checked_add_days(Days::new(n)))
            .find(|day| self.is_working_day(*day))
            .unwrap_or(date)
    }

    /// The last working day on or before `date`.
    pub fn working_day_on_or_before(&self, date: NaiveDate) -> NaiveDate {
        (0..SEARCH_DAYS)
            .filter_map(|n| date.checked_sub_days(Days::new(n)))
            .find(|day| self.is_working_day(*day))
            .unwrap_or(date)
    }

    /// The `n`-th working day after `date` (`n` = 0: `date` itself if working, else the next).
    pub fn add_working_days(&self, date: NaiveDate, n: u32) -> NaiveDate {
        let mut day = self.working_day_on_or_after(date);
        for _ in 0..n {
            day = self.working_day_on_or_after(day.succ_opt().unwrap_or(day));
        }
        day
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum CalendarCommand {
    SetTimeZone {
        school_id: SchoolId,
        time_zone: Tz,
    },
    SetYear {
        school_id: SchoolId,
        calendar: YearCalendar,
    },
    RemoveYear {
        school_id: SchoolId,
        academic_year: AcademicYear,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum CalendarEvent {
    TimeZoneSet {
        school_id: SchoolId,
        time_zone: Tz,
    },
    YearCalendarSet {
        school_id: SchoolId,
        calendar: YearCalendar,
    },
    YearCalendarRemoved {
        school_id: SchoolId,
        academic_year: AcademicYear,
    },
}

impl DomainEvent for CalendarEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::TimeZoneSet { .. } => "TimeZoneSet",
            Self::YearCalendarSet { .. } => "YearCalendarSet",
            Self::YearCalendarRemoved { .. } => "YearCalendarRemoved",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarRejection {
    #[error("a year needs at least one term")]
    NoTerms,
    #[error("{0} falls outside the academic year (1 August to 31 July) or ends before it starts")]
    OutsideYear(String),
    #[error("{0} and {1} overlap")]
    Overlap(String, String),
    #[error("{0} is not in term time")]
    OutsideTerm(String),
    #[error("{0} falls in {1}: move it to a day the school is open")]
    InHoliday(String, String),
    #[error("no calendar for that year")]
    NoSuchYear,
}

impl Rejection for CalendarRejection {
    fn kind(&self) -> RejectionKind {
        match self {
            Self::NoSuchYear => RejectionKind::NotFound,
            _ => RejectionKind::InvalidArgument,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NoTerms => "calendar.no_terms",
            Self::OutsideYear(_) => "calendar.outside_year",
            Self::Overlap(..) => "calendar.overlap",
            Self::OutsideTerm(_) => "calendar.outside_term",
            Self::InHoliday(..) => "calendar.in_holiday",
            Self::NoSuchYear => "calendar.no_such_year",
        }
    }
}

impl Decider for Calendar {
    const CATEGORY: &'static str = "calendar";
    type State = SchoolCalendar;
    type Command = CalendarCommand;
    type Event = CalendarEvent;
    type Rejection = CalendarRejection;

    fn decide(
        state: &SchoolCalendar,
        command: &CalendarCommand,
    ) -> Result<Vec<CalendarEvent>, CalendarRejection> {
        match command {
            CalendarCommand::SetTimeZone {
                school_id,
                time_zone,
            } => Ok(
                if state.time_zone == *time_zone && state.school_id.is_some() {
                    vec![]
                } else {
                    vec![CalendarEvent::TimeZoneSet {
                        school_id: *school_id,
                        time_zone: *time_zone,
                    }]
                },
            ),
            CalendarCommand::SetYear {
                school_id,
                calendar,
            } => {
                calendar.check()?;
                if state.year(calendar.academic_year) == Some(calendar) {
                    return Ok(vec![]);
                }
                Ok(vec![CalendarEvent::YearCalendarSet {
                    school_id: *school_id,
                    calendar: calendar.clone(),
                }])
            }
            CalendarCommand::RemoveYear {
                school_id,
                academic_year,
            } => {
                if state.year(*academic_year).is_none() {
                    return Err(CalendarRejection::NoSuchYear);
                }
                Ok(vec![CalendarEvent::YearCalendarRemoved {
                    school_id: *school_id,
                    academic_year: *academic_year,
                }])
            }
        }
    }

    fn evolve(mut state: SchoolCalendar, event: &CalendarEvent) -> SchoolCalendar {
        match event {
            CalendarEvent::TimeZoneSet {
                school_id,
                time_zone,
            } => {
                state.school_id = Some(*school_id);
                state.time_zone = *time_zone;
            }
            CalendarEvent::YearCalendarSet {
                school_id,
                calendar,
            } => {
                state.school_id = Some(*school_id);
                state
                    .years
                    .retain(|y| y.academic_year != calendar.academic_year);
                state.years.push(calendar.clone());
                state.years.sort_by_key(|y| y.academic_year);
            }
            CalendarEvent::YearCalendarRemoved { academic_year, .. } => {
                state.years.retain(|y| y.academic_year != *academic_year);
            }
        }
        state
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::testing::given;
    use uuid::Uuid;

    pub fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn text(value: &str) -> Text {
        Text::parse(value).unwrap()
    }

    /// A typical English school year.
    pub fn year() -> YearCalendar {
        YearCalendar {
            academic_year: AcademicYear::parse("2026-27").unwrap(),
            terms: vec![
                Term {
                    name: text("Autumn"),
                    starts: d(2026, 9, 2),
                    ends: d(2026, 12, 18),
                },
                Term {
                    name: text("Spring"),
                    starts: d(2027, 1, 5),
                    ends: d(2027, 3, 26),
                },
                Term {
                    name: text("Summer"),
                    starts: d(2027, 4, 12),
                    ends: d(2027, 7, 21),
                },
            ],
            holidays: vec![
                Holiday {
                    name: text("Autumn half term"),
                    starts: d(2026, 10, 26),
                    ends: d(2026, 10, 30),
                },
                Holiday {
                    name: text("Spring half term"),
                    starts: d(2027, 2, 15),
                    ends: d(2027, 2, 19),
                },
                Holiday {
                    name: text("Summer half term"),
                    starts: d(2027, 5, 31),
                    ends: d(2027, 6, 4),
                },
            ],
            inset_days: vec![d(2026, 9, 2)],
            assessment_points: vec![
                AssessmentPoint {
                    name: text("Autumn assessment"),
                    date: d(2026, 12, 4),
                },
                AssessmentPoint {
                    name: text("Spring assessment"),
                    date: d(2027, 3, 12),
                },
                AssessmentPoint {
                    name: text("Summer assessment"),
                    date: d(2027, 6, 25),
                },
            ],
        }
    }

    pub fn calendar() -> SchoolCalendar {
        SchoolCalendar {
            school_id: Some(SchoolId::from_uuid(Uuid::nil())),
            time_zone: DEFAULT_TIME_ZONE,
            years: vec![year()],
        }
    }

    #[test]
    fn working_days_are_term_weekdays_outside_holidays() {
        let c = calendar();
        assert!(c.is_working_day(d(2026, 11, 23)), "a Monday in term");
        assert!(!c.is_working_day(d(2026, 11, 21)), "a Saturday");
        assert!(!c.is_working_day(d(2026, 10, 28)), "half term");
        assert!(!c.is_working_day(d(2026, 12, 23)), "Christmas holidays");
        assert!(
            c.is_working_day(d(2026, 9, 2)),
            "an in-service day is a working day"
        );
        assert!(
            c.is_working_day(d(2028, 3, 1)),
            "without a calendar, weekdays count"
        );
    }

    #[test]
    fn working_day_arithmetic_skips_weekends_and_holidays() {
        let c = calendar();
        assert_eq!(
            c.working_day_on_or_after(d(2026, 10, 24)),
            d(2026, 11, 2),
            "past half term"
        );
        assert_eq!(c.working_day_on_or_before(d(2026, 10, 28)), d(2026, 10, 23));
        assert_eq!(
            c.add_working_days(d(2026, 12, 17), 2),
            d(2027, 1, 5),
            "over Christmas"
        );
        assert_eq!(c.add_working_days(d(2026, 11, 20), 1), d(2026, 11, 23));
    }

    #[test]
    fn a_year_is_checked_before_it_is_kept() {
        let school = SchoolId::from_uuid(Uuid::nil());
        let mut overlapping = year();
        overlapping.terms[1].starts = d(2026, 12, 1);
        given::<Calendar>([])
            .when(CalendarCommand::SetYear {
                school_id: school,
                calendar: overlapping,
            })
            .then_rejected(CalendarRejection::Overlap("Autumn".into(), "Spring".into()));
        let mut outside = year();
        outside.assessment_points[0].date = d(2026, 12, 24);
        given::<Calendar>([])
            .when(CalendarCommand::SetYear {
                school_id: school,
                calendar: outside,
            })
            .then_rejected(CalendarRejection::OutsideTerm("Autumn assessment".into()));
        let mut in_half_term = year();
        in_half_term.assessment_points[1].date = d(2027, 2, 17);
        given::<Calendar>([])
            .when(CalendarCommand::SetYear {
                school_id: school,
                calendar: in_half_term,
            })
            .then_rejected(CalendarRejection::InHoliday(
                "Spring assessment".into(),
                "Spring half term".into(),
            ));
        let state = given::<Calendar>([])
            .when(CalendarCommand::SetYear {
                school_id: school,
                calendar: year(),
            })
            .then([CalendarEvent::YearCalendarSet {
                school_id: school,
                calendar: year(),
            }]);
        given::<Calendar>([CalendarEvent::YearCalendarSet {
            school_id: school,
            calendar: year(),
        }])
        .when(CalendarCommand::SetYear {
            school_id: school,
            calendar: year(),
        })
        .then([]);
        assert_eq!(state.year(year().academic_year), Some(&year()));
    }
}
