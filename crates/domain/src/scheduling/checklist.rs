//! The head teacher's and class teacher's checklists of a planned activity, ticked on each of
//! its occurrences. The lines belong to the plan: the service looks them up before deciding,
//! so a tick always names a line the plan has now. A line ticked and later removed from the
//! plan stays ticked in the history but is no longer shown.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::text::Text;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Checklist {
    HeadTeacher,
    ClassTeacher,
}

impl Checklist {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HeadTeacher => "head_teacher",
            Self::ClassTeacher => "class_teacher",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "head_teacher" => Some(Self::HeadTeacher),
            "class_teacher" => Some(Self::ClassTeacher),
            _ => None,
        }
    }
}

/// The ticked lines of a schedule's occurrences.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Ticks(BTreeSet<(Uuid, Checklist, Text)>);

/// Why a tick was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoSuchLine;

impl Ticks {
    pub fn is_ticked(&self, occurrence: Uuid, list: Checklist, line: &Text) -> bool {
        self.0.contains(&(occurrence, list, line.clone()))
    }

    /// Whether ticking (or unticking) `line` changes anything: `Ok(false)` when it is already
    /// so, refused when the checklist (`lines`, as the plan has it now) has no such line.
    pub fn changes(
        &self,
        occurrence: Uuid,
        list: Checklist,
        line: &Text,
        ticked: bool,
        lines: &[Text],
    ) -> Result<bool, NoSuchLine> {
        if !lines.contains(line) {
            return Err(NoSuchLine);
        }
        Ok(self.is_ticked(occurrence, list, line) != ticked)
    }

    pub fn set(&mut self, occurrence: Uuid, list: Checklist, line: &Text, ticked: bool) {
        let key = (occurrence, list, line.clone());
        if ticked {
            self.0.insert(key);
        } else {
            self.0.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> Text {
        Text::parse(value).unwrap()
    }

    #[test]
    fn a_line_is_ticked_once_and_unticked_once() {
        let occurrence = Uuid::from_bytes([1; 16]);
        let lines = [text("Agree focus ahead of visit"), text("Share feedback")];
        let mut ticks = Ticks::default();
        let list = Checklist::HeadTeacher;
        assert_eq!(
            ticks.changes(occurrence, list, &lines[0], true, &lines),
            Ok(true)
        );
        ticks.set(occurrence, list, &lines[0], true);
        assert_eq!(
            ticks.changes(occurrence, list, &lines[0], true, &lines),
            Ok(false)
        );
        // The same words on the other list, or on another occurrence, are separate lines.
        assert!(!ticks.is_ticked(occurrence, Checklist::ClassTeacher, &lines[0]));
        assert!(!ticks.is_ticked(Uuid::nil(), list, &lines[0]));
        assert_eq!(
            ticks.changes(occurrence, list, &lines[0], false, &lines),
            Ok(true)
        );
        ticks.set(occurrence, list, &lines[0], false);
        assert!(!ticks.is_ticked(occurrence, list, &lines[0]));
    }

    #[test]
    fn a_line_the_plan_does_not_have_is_refused() {
        let lines = [text("Share feedback")];
        assert_eq!(
            Ticks::default().changes(
                Uuid::nil(),
                Checklist::ClassTeacher,
                &text("Something else"),
                true,
                &lines
            ),
            Err(NoSuchLine)
        );
    }

    #[test]
    fn list_names_read_back() {
        for list in [Checklist::HeadTeacher, Checklist::ClassTeacher] {
            assert_eq!(Checklist::parse(list.as_str()), Some(list));
        }
        assert_eq!(Checklist::parse("governor"), None);
    }
}
