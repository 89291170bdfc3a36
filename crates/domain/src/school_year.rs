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
}
