//! Value types of the school year.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A date as people read it: "24 November 2026".
pub fn long_date(date: NaiveDate) -> String {
    date.format("%-d %B %Y").to_string()
}

/// An academic year, written `2026-27`: it starts in the first year (August/September).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AcademicYear {
    start: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an academic year (expected e.g. 2026-27)")]
pub struct AcademicYearError(String);

impl AcademicYear {
    pub fn starting(start: i32) -> Self {
        Self { start }
    }

    pub fn parse(value: &str) -> Result<Self, AcademicYearError> {
        let error = || AcademicYearError(value.chars().take(20).collect());
        let (first, second) = value.trim().split_once('-').ok_or_else(error)?;
        let start: i32 = first.parse().map_err(|_| error())?;
        let end: i32 = second.parse().map_err(|_| error())?;
        if !(2000..=2200).contains(&start) || second.len() != 2 || end != (start + 1) % 100 {
            return Err(error());
        }
        Ok(Self { start })
    }

    /// The academic year a date falls in, for schools whose year starts on 1 August.
    pub fn containing(date: NaiveDate) -> Self {
        let start = if date.month() >= 8 {
            date.year()
        } else {
            date.year() - 1
        };
        Self { start }
    }

    pub fn start_year(&self) -> i32 {
        self.start
    }
}

impl fmt::Display for AcademicYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:02}", self.start, (self.start + 1) % 100)
    }
}

impl TryFrom<String> for AcademicYear {
    type Error = AcademicYearError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<AcademicYear> for String {
    fn from(value: AcademicYear) -> Self {
        value.to_string()
    }
}

/// A span of days, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DateWindow {
    pub opens: NaiveDate,
    pub closes: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the window closes ({closes}) before it opens ({opens})")]
pub struct DateWindowError {
    pub opens: NaiveDate,
    pub closes: NaiveDate,
}

impl DateWindow {
    pub fn new(opens: NaiveDate, closes: NaiveDate) -> Result<Self, DateWindowError> {
        if closes < opens {
            return Err(DateWindowError { opens, closes });
        }
        Ok(Self { opens, closes })
    }

    pub fn contains(&self, date: NaiveDate) -> bool {
        self.opens <= date && date <= self.closes
    }
}

/// The dates a record may be planned for, seen from a day: from 1 August of the academic
/// year before the current one to 31 July of the third academic year after it. A date
/// outside is a slip of the keyboard (1900, 2206) far more often than a plan, and would
/// fire reminders at once or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanningRange {
    pub earliest: NaiveDate,
    pub latest: NaiveDate,
}

/// How many academic years after the current one a date may fall in.
pub const YEARS_AHEAD: i32 = 3;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} is not between {} and {} (from the academic year before this one to {YEARS_AHEAD} years ahead)", long_date(*date), long_date(range.earliest), long_date(range.latest))]
pub struct DateOutOfRange {
    pub date: NaiveDate,
    pub range: PlanningRange,
}

impl PlanningRange {
    pub fn around(today: NaiveDate) -> Self {
        let current = AcademicYear::containing(today).start_year();
        let first = |year: i32, month: u32, day: u32| {
            NaiveDate::from_ymd_opt(year, month, day).unwrap_or(today)
        };
        Self {
            earliest: first(current - 1, 8, 1),
            latest: first(current + YEARS_AHEAD + 1, 7, 31),
        }
    }

    pub fn check(&self, date: NaiveDate) -> Result<NaiveDate, DateOutOfRange> {
        if (self.earliest..=self.latest).contains(&date) {
            Ok(date)
        } else {
            Err(DateOutOfRange { date, range: *self })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn academic_years_parse_and_print() {
        let year = AcademicYear::parse("2026-27").unwrap();
        assert_eq!(year.to_string(), "2026-27");
        assert_eq!(
            AcademicYear::parse("2099-00").unwrap().to_string(),
            "2099-00"
        );
        for bad in ["2026-28", "2026", "26-27", "2026-2027", "x-y"] {
            assert!(AcademicYear::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_date_belongs_to_the_year_starting_the_august_before() {
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(
            AcademicYear::containing(date(2026, 11, 23)).to_string(),
            "2026-27"
        );
        assert_eq!(
            AcademicYear::containing(date(2027, 7, 31)).to_string(),
            "2026-27"
        );
        assert_eq!(
            AcademicYear::containing(date(2027, 8, 1)).to_string(),
            "2027-28"
        );
    }

    #[test]
    fn dates_read_naturally() {
        assert_eq!(
            long_date(NaiveDate::from_ymd_opt(2026, 11, 4).unwrap()),
            "4 November 2026"
        );
    }

    #[test]
    fn a_window_cannot_close_before_it_opens() {
        let d = |day| NaiveDate::from_ymd_opt(2026, 11, day).unwrap();
        assert!(DateWindow::new(d(10), d(9)).is_err());
        assert!(DateWindow::new(d(9), d(9)).unwrap().contains(d(9)));
    }

    #[test]
    fn planned_dates_stay_near_the_present() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        let range = PlanningRange::around(d(2026, 11, 17));
        assert_eq!(range.earliest, d(2025, 8, 1), "the year before this one");
        assert_eq!(range.latest, d(2030, 7, 31), "three years after this one");
        assert!(range.check(d(2025, 8, 1)).is_ok());
        assert!(range.check(d(2030, 7, 31)).is_ok());
        let error = range.check(d(1900, 1, 1)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "1 January 1900 is not between 1 August 2025 and 31 July 2030 (from the academic year before this one to 3 years ahead)"
        );
        assert!(range.check(d(2030, 8, 1)).is_err());
        assert!(range.check(d(2025, 7, 31)).is_err());
        // In July the current year is still the one that began the August before.
        let july = PlanningRange::around(d(2027, 7, 20));
        assert_eq!(july.earliest, d(2025, 8, 1));
    }
}
