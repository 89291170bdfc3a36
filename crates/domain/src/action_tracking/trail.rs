//! What an action's audit trail says of each of its events: a line in words and, where the
//! event has one, the reason given. Made from the event alone, so the trail people read is
//! made of exactly the data the hash chain covers.

use super::action::ActionEvent;
use crate::agreed::ActionId;
use crate::school_year::long_date;

impl ActionEvent {
    /// The action the event is about.
    pub fn action_id(&self) -> ActionId {
        match self {
            Self::ActionCreated { action_id, .. }
            | Self::ActionStarted { action_id }
            | Self::ProgressNoted { action_id, .. }
            | Self::EvidenceRecorded { action_id, .. }
            | Self::DueDateChanged { action_id, .. }
            | Self::ActionReassigned { action_id, .. }
            | Self::ActionCompleted { action_id, .. }
            | Self::ActionCarriedForward { action_id, .. }
            | Self::ActionDropped { action_id, .. }
            | Self::ActionReopened { action_id, .. }
            | Self::EvidenceAttached { action_id, .. }
            | Self::EvidenceRemoved { action_id, .. } => *action_id,
        }
    }

    /// The trail's line for this event, and the reason given (if any).
    pub fn trail_line(&self) -> (String, Option<String>) {
        match self {
            Self::ActionCreated { due_date, .. } => {
                (format!("Action agreed, due {}", long_date(*due_date)), None)
            }
            Self::ActionStarted { .. } => ("Work started".to_owned(), None),
            // The trail says what was written, not only that something was.
            Self::ProgressNoted { note, .. } => (format!("Progress noted: {note}"), None),
            Self::EvidenceRecorded { evidence, .. } => {
                (format!("Evidence of impact recorded: {evidence}"), None)
            }
            Self::DueDateChanged {
                from, to, reason, ..
            } => (
                format!(
                    "Due date moved from {} to {}",
                    long_date(*from),
                    long_date(*to)
                ),
                Some(reason.to_string()),
            ),
            Self::ActionReassigned { reason, .. } => {
                ("Given to a new owner".to_owned(), Some(reason.to_string()))
            }
            Self::ActionCompleted { impact, .. } => (format!("Done. Impact: {impact}"), None),
            Self::ActionCarriedForward { due_date, note, .. } => (
                format!(
                    "Carried forward to a new action due {}",
                    long_date(*due_date)
                ),
                note.as_ref().map(ToString::to_string),
            ),
            Self::ActionDropped { reason, .. } => ("Dropped".to_owned(), Some(reason.to_string())),
            Self::ActionReopened { reason, .. } => {
                ("Reopened".to_owned(), Some(reason.to_string()))
            }
            Self::EvidenceAttached { attachment, .. } => (
                format!(
                    "File attached as evidence: {} ({}, SHA-256 {})",
                    attachment.file_name,
                    attachment.media_type.label(),
                    attachment.sha256
                ),
                None,
            ),
            Self::EvidenceRemoved { file_name, .. } => (format!("File removed: {file_name}"), None),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use uuid::Uuid;

    use super::*;
    use crate::text::Text;

    #[test]
    fn each_line_says_what_the_event_holds() {
        let action_id = Uuid::new_v4();
        let moved = ActionEvent::DueDateChanged {
            action_id,
            from: NaiveDate::from_ymd_opt(2026, 12, 11).unwrap(),
            to: NaiveDate::from_ymd_opt(2027, 1, 22).unwrap(),
            reason: Text::parse("Mocks first").unwrap(),
        };
        assert_eq!(moved.action_id(), action_id);
        assert_eq!(
            moved.trail_line(),
            (
                "Due date moved from 11 December 2026 to 22 January 2027".to_owned(),
                Some("Mocks first".to_owned())
            )
        );
        let done = ActionEvent::ActionCompleted {
            action_id,
            impact: Text::parse("Pupils respond to feedback").unwrap(),
        };
        assert_eq!(
            done.trail_line().0,
            "Done. Impact: Pupils respond to feedback"
        );
    }
}
