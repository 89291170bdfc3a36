//! Scheduling: the school year, the monitoring plan, the year's occurrences, and when
//! reminders fall.

pub mod calendar;
pub mod checklist;
pub mod completion;
pub mod plan;
pub mod reminders;
pub mod schedule;
