//! The web app's pages that are linked to from outside the page itself: e-mails, inbox
//! notices, webhooks, calendar feeds. The gateway's router is built from these same
//! templates, so a link cannot point at a page that does not exist.
//!
//! Links are stored as paths (`/actions/…`); only a message leaving Waymark (an e-mail, a
//! webhook) is made absolute, with the public address of the day it is sent.

use uuid::Uuid;

use crate::scheduling::reminders::SubjectKind;

pub const HOME: &str = "/";
pub const INBOX: &str = "/inbox";
pub const PREFERENCES: &str = "/preferences";
pub const ACTION: &str = "/actions/{id}";
pub const REVIEW: &str = "/reviews/{id}";
pub const MEETING: &str = "/meetings/{id}";
pub const VISIT: &str = "/visits/{id}";
pub const OCCURRENCE: &str = "/occurrences/{id}";
pub const INVITATION: &str = "/invitations/{token}";
/// The trust's audit trail: its last verification and anchor.
pub const AUDIT_TRAIL: &str = "/admin/audit-trail";

/// A template with its one `{…}` placeholder filled in.
pub fn fill(template: &str, value: &str) -> String {
    match (template.find('{'), template.find('}')) {
        (Some(open), Some(close)) if open < close => {
            format!("{}{value}{}", &template[..open], &template[close + 1..])
        }
        _ => template.to_owned(),
    }
}

/// The page of a record a reminder or notice is about.
pub fn record(kind: SubjectKind, id: Uuid) -> String {
    let template = match kind {
        SubjectKind::Action => ACTION,
        SubjectKind::Review => REVIEW,
        SubjectKind::Meeting => MEETING,
        SubjectKind::Visit => VISIT,
        SubjectKind::Occurrence => OCCURRENCE,
    };
    fill(template, &id.to_string())
}

/// Whether `link` is a path of this app (and not `//host/…`, which browsers read as
/// another site).
pub fn is_path(link: &str) -> bool {
    link.starts_with('/') && !link.starts_with("//") && !link.contains('\\')
}

/// `path` as an address a recipient outside Waymark can open; anything that is not one of
/// our paths is returned unchanged (older notices stored absolute links).
pub fn absolute(public_url: &str, path: &str) -> String {
    if is_path(path) {
        format!("{}{path}", public_url.trim_end_matches('/'))
    } else {
        path.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_is_filled_where_its_placeholder_stands() {
        let id = Uuid::nil();
        assert_eq!(
            record(SubjectKind::Action, id),
            format!("/actions/{id}"),
            "action"
        );
        assert_eq!(fill(INVITATION, "abc"), "/invitations/abc");
        assert_eq!(fill(PREFERENCES, "x"), "/preferences");
    }

    #[test]
    fn only_our_paths_are_made_absolute() {
        assert_eq!(
            absolute("https://w.example/", "/preferences"),
            "https://w.example/preferences"
        );
        assert_eq!(
            absolute("https://w.example", "https://w.example/actions/1"),
            "https://w.example/actions/1"
        );
        assert!(!is_path("//evil.example/x"));
        assert!(!is_path("https://evil.example/"));
        assert!(is_path("/actions/1"));
    }
}
