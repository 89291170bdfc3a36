//! Free text as the domain accepts it: trimmed, not empty, bounded, no control characters
//! other than line breaks and tabs. Parsed once at the edge.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The longest text any single field accepts, in characters.
pub const MAX_TEXT_CHARS: usize = 20_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Text(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters (got {got})")]
    TooLong { max: usize, got: usize },
    #[error("must not contain control characters")]
    ControlCharacter,
}

impl Text {
    /// Parses with the default limit.
    pub fn parse(value: &str) -> Result<Self, TextError> {
        Self::parse_max(value, MAX_TEXT_CHARS)
    }

    /// Parses with a field-specific limit (names and titles are short).
    pub fn parse_max(value: &str, max: usize) -> Result<Self, TextError> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err(TextError::Empty);
        }
        let got = trimmed.chars().count();
        if got > max {
            return Err(TextError::TooLong { max, got });
        }
        if trimmed
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
        {
            return Err(TextError::ControlCharacter);
        }
        Ok(Self(trimmed.replace("\r\n", "\n")))
    }

    /// Blank input means "not given": most fields in Waymark are optional.
    pub fn parse_optional(value: &str) -> Result<Option<Self>, TextError> {
        if value.trim().is_empty() {
            Ok(None)
        } else {
            Self::parse(value).map(Some)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Text {
    type Error = TextError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Text> for String {
    fn from(value: Text) -> Self {
        value.0
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_keeps_line_breaks() {
        let text = Text::parse("  first line\r\nsecond\t line  ").unwrap();
        assert_eq!(text.as_str(), "first line\nsecond\t line");
    }

    #[test]
    fn refuses_blank_long_and_control_text() {
        assert_eq!(Text::parse("   "), Err(TextError::Empty));
        assert_eq!(
            Text::parse_max("abcdef", 5),
            Err(TextError::TooLong { max: 5, got: 6 })
        );
        assert_eq!(Text::parse("bell\u{7}"), Err(TextError::ControlCharacter));
    }

    #[test]
    fn blank_optional_text_is_none() {
        assert_eq!(Text::parse_optional(" \n ").unwrap(), None);
        assert!(Text::parse_optional("x").unwrap().is_some());
    }
}
