//! Turning wire strings into domain values, with an `InvalidArgument` naming the field.

use chrono::NaiveDate;
use waymark_domain::ids::IdParseError;
use waymark_domain::school_year::PlanningRange;
use waymark_domain::{Text, TextError};

use crate::error::ServiceError;

/// A required id.
pub fn id<T>(field: &str, value: &str) -> Result<T, ServiceError>
where
    T: std::str::FromStr<Err = IdParseError>,
{
    if value.trim().is_empty() {
        return Err(ServiceError::invalid(field, "is required"));
    }
    value
        .parse()
        .map_err(|error: IdParseError| ServiceError::invalid(field, error))
}

/// An optional id: blank means none.
pub fn optional_id<T>(field: &str, value: &str) -> Result<Option<T>, ServiceError>
where
    T: std::str::FromStr<Err = IdParseError>,
{
    if value.trim().is_empty() {
        Ok(None)
    } else {
        id(field, value).map(Some)
    }
}

/// An optional id of another service's record (a bare UUID): blank means none.
pub fn optional_uuid(field: &str, value: &str) -> Result<Option<uuid::Uuid>, ServiceError> {
    match value.trim() {
        "" => Ok(None),
        value => uuid::Uuid::parse_str(value)
            .map(Some)
            .map_err(|_| ServiceError::invalid(field, "is not a valid id")),
    }
}

/// A required ISO date (YYYY-MM-DD).
pub fn date(field: &str, value: &str) -> Result<NaiveDate, ServiceError> {
    if value.trim().is_empty() {
        return Err(ServiceError::invalid(field, "is required"));
    }
    NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d").map_err(|_| {
        ServiceError::invalid(
            field,
            format!("`{}` is not a date (YYYY-MM-DD)", truncate(value)),
        )
    })
}

/// A required ISO date that plans something (a due date, a meeting, a review window): it
/// must fall in the [`PlanningRange`] around `today`.
pub fn planned_date(field: &str, value: &str, today: NaiveDate) -> Result<NaiveDate, ServiceError> {
    PlanningRange::around(today)
        .check(date(field, value)?)
        .map_err(|error| ServiceError::invalid(field, error))
}

/// An optional ISO date: blank means none.
pub fn optional_date(field: &str, value: &str) -> Result<Option<NaiveDate>, ServiceError> {
    if value.trim().is_empty() {
        Ok(None)
    } else {
        date(field, value).map(Some)
    }
}

/// Required free text.
pub fn text(field: &str, value: &str) -> Result<Text, ServiceError> {
    Text::parse(value).map_err(|error: TextError| ServiceError::invalid(field, error))
}

/// Optional free text: blank means none.
pub fn optional_text(field: &str, value: &str) -> Result<Option<Text>, ServiceError> {
    Text::parse_optional(value).map_err(|error| ServiceError::invalid(field, error))
}

fn truncate(value: &str) -> String {
    value.chars().take(40).collect()
}
