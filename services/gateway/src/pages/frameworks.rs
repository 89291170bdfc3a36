//! Self-evaluation frameworks, kept by a trust's administrators: the statements an audit
//! rates, the rubric beside them, and the words the trust uses for red, amber and green.
//! Publishing makes a new version; audits already taken keep the version they were taken with.
//!
//! Statements are edited as plain text, one per line, so a long framework can be pasted in:
//! `# Title` starts a section and `id: text` names a statement, the id being what trends
//! follow from one audit to the next. Lines without an id are given one.

use std::collections::HashSet;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use waymark_domain::review_dialogue::audit::is_statement_id;
use waymark_policy::TrustVerb;
use waymark_proto::review_dialogue::v1 as rd;

use crate::error::PageError;
use crate::session::Viewer;
use crate::state::AppState;
use crate::web::{Fields, Nav, new_command_id, refusal, refused_page, see};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/frameworks", get(list).post(create))
        .route("/admin/frameworks/new", get(new))
        .route("/admin/frameworks/{id}", get(edit).post(publish))
}

/// Rubric rows a form may carry; the page shows those in use and one more.
const MAX_RUBRIC: usize = 12;

// --- The statements box ---------------------------------------------------------------------

/// A line's id (the words before its first colon, when they make an id) and its text.
fn split_id(line: &str) -> (Option<&str>, &str) {
    match line.split_once(':') {
        Some((id, rest)) if is_statement_id(id.trim()) => (Some(id.trim()), rest.trim()),
        _ => (None, line.trim()),
    }
}

/// The statements box as it is shown: each section's heading, then its statements.
pub fn statements_text(sections: &[rd::FrameworkSection]) -> String {
    let mut text = String::new();
    for section in sections {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format!("# {}: {}\n", section.id, section.title));
        for statement in &section.statements {
            text.push_str(&format!("{}: {}\n", statement.id, statement.text));
        }
    }
    text
}

/// Reads the statements box back into sections, giving ids to lines that have none.
/// A refusal names the line to put right.
pub fn parse_statements(text: &str) -> Result<Vec<rd::FrameworkSection>, String> {
    enum Line<'a> {
        Section(Option<&'a str>, &'a str),
        Statement(Option<&'a str>, &'a str),
    }
    let mut lines = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let parsed = match line.strip_prefix('#') {
            Some(heading) => {
                let (id, title) = split_id(heading.trim_start_matches('#'));
                Line::Section(id, title)
            }
            None => {
                let bare = line
                    .strip_prefix("- ")
                    .or_else(|| line.strip_prefix("* "))
                    .unwrap_or(line);
                let (id, words) = split_id(bare);
                Line::Statement(id, words)
            }
        };
        if let Line::Section(_, "") | Line::Statement(_, "") = parsed {
            return Err(format!("Line {}: add the words after the id.", n + 1));
        }
        lines.push((n + 1, parsed));
    }
    // Ids typed anywhere are kept; new ones must not take them.
    let mut taken: HashSet<String> = lines
        .iter()
        .filter_map(|(_, line)| match line {
            Line::Section(Some(id), _) | Line::Statement(Some(id), _) => Some((*id).to_owned()),
            _ => None,
        })
        .collect();
    let mut fresh = |stem: String| {
        let mut n = 1;
        while taken.contains(&format!("{stem}{n}")) {
            n += 1;
        }
        let id = format!("{stem}{n}");
        taken.insert(id.clone());
        id
    };
    let mut sections: Vec<(usize, rd::FrameworkSection)> = Vec::new();
    for (n, line) in lines {
        match line {
            Line::Section(id, title) => {
                let id = id.map_or_else(|| fresh("section-".into()), str::to_owned);
                sections.push((
                    n,
                    rd::FrameworkSection {
                        id,
                        title: title.to_owned(),
                        statements: Vec::new(),
                    },
                ));
            }
            Line::Statement(id, words) => {
                let Some((_, section)) = sections.last_mut() else {
                    return Err(format!(
                        "Line {n}: start with a section heading, a line beginning with #."
                    ));
                };
                let id = id.map_or_else(|| fresh(format!("{}.", section.id)), str::to_owned);
                section.statements.push(rd::StatementText {
                    id,
                    text: words.to_owned(),
                });
            }
        }
    }
    if let Some((n, section)) = sections.iter().find(|(_, s)| s.statements.is_empty()) {
        return Err(format!(
            "Line {n}: the section “{}” has no statements under it.",
            section.title
        ));
    }
    if sections.is_empty() {
        return Err("Add at least one section with a statement.".into());
    }
    Ok(sections.into_iter().map(|(_, s)| s).collect())
}

// --- The pages ------------------------------------------------------------------------------

pub struct Row {
    pub href: String,
    pub copy: String,
    pub name: String,
    pub version: String,
    pub is_default: bool,
    pub statements: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/frameworks.html")]
pub struct ListPage {
    nav: Nav,
    rows: Vec<Row>,
}

pub async fn list(State(state): State<AppState>, viewer: Viewer) -> Result<ListPage, PageError> {
    viewer.require_on_trust(TrustVerb::ManageFrameworks)?;
    let frameworks = state
        .clients(&viewer)
        .audits()
        .list_frameworks(rd::ListFrameworksRequest {})
        .await?
        .into_inner()
        .frameworks;
    Ok(ListPage {
        nav: Nav::new(&state, &viewer, "admin").await,
        rows: frameworks
            .into_iter()
            .map(|f| {
                let content = f.content.unwrap_or_default();
                Row {
                    href: format!("/admin/frameworks/{}", f.framework_id),
                    copy: format!("/admin/frameworks/new?from={}", f.framework_id),
                    name: content.name,
                    version: version_label(f.version),
                    is_default: f.is_default,
                    statements: content.sections.iter().map(|s| s.statements.len()).sum(),
                }
            })
            .collect(),
    })
}

/// Version 0 is the framework as supplied, before the trust changed anything.
fn version_label(version: u32) -> String {
    match version {
        0 => "As supplied".into(),
        n => format!("Version {n}"),
    }
}

pub struct Level {
    pub n: usize,
    pub level: String,
    pub descriptor: String,
}

/// The framework form, as loaded or as typed.
pub struct Draft {
    pub name: String,
    pub red: String,
    pub amber: String,
    pub green: String,
    pub rubric: Vec<Level>,
    pub statements: String,
}

impl Draft {
    fn of(content: rd::FrameworkContent) -> Self {
        let labels = content.labels.unwrap_or_default();
        let mut draft = Self {
            name: content.name,
            red: labels.red,
            amber: labels.amber,
            green: labels.green,
            rubric: content
                .rubric
                .into_iter()
                .enumerate()
                .map(|(n, r)| Level {
                    n,
                    level: r.level,
                    descriptor: r.descriptor,
                })
                .collect(),
            statements: statements_text(&content.sections),
        };
        draft.add_blank_level();
        draft
    }

    fn posted(fields: &Fields) -> Self {
        let mut draft = Self {
            name: fields.trimmed("name"),
            red: fields.trimmed("label.red"),
            amber: fields.trimmed("label.amber"),
            green: fields.trimmed("label.green"),
            rubric: (0..MAX_RUBRIC)
                .map(|n| (fields.trimmed(&format!("rubric.{n}.level")), n))
                .map(|(level, n)| Level {
                    n,
                    level,
                    descriptor: fields.trimmed(&format!("rubric.{n}.descriptor")),
                })
                .filter(|l| !l.level.is_empty() || !l.descriptor.is_empty())
                .collect(),
            statements: fields.get("statements").to_owned(),
        };
        for (n, level) in draft.rubric.iter_mut().enumerate() {
            level.n = n;
        }
        draft.add_blank_level();
        draft
    }

    fn add_blank_level(&mut self) {
        if self.rubric.len() < MAX_RUBRIC {
            self.rubric.push(Level {
                n: self.rubric.len(),
                level: String::new(),
                descriptor: String::new(),
            });
        }
    }

    fn content(&self) -> Result<rd::FrameworkContent, String> {
        let mut rubric = Vec::new();
        for level in &self.rubric {
            match (level.level.is_empty(), level.descriptor.is_empty()) {
                (true, true) => {}
                (false, false) => rubric.push(rd::RubricLevel {
                    level: level.level.clone(),
                    descriptor: level.descriptor.clone(),
                }),
                _ => {
                    return Err(format!(
                        "Rubric level {}: give both the level and what it looks like.",
                        level.n + 1
                    ));
                }
            }
        }
        Ok(rd::FrameworkContent {
            name: self.name.clone(),
            sections: parse_statements(&self.statements)?,
            rubric,
            labels: Some(rd::RagLabels {
                red: self.red.clone(),
                amber: self.amber.clone(),
                green: self.green.clone(),
            }),
        })
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/framework.html")]
pub struct FormPage {
    nav: Nav,
    heading: String,
    action: String,
    /// The version now published, none for a new framework.
    version: Option<String>,
    is_default: bool,
    draft: Draft,
    command_id: String,
    error: Option<String>,
}

/// One of this trust's frameworks (or its default); another trust's is not found.
async fn load(state: &AppState, viewer: &Viewer, id: &str) -> Result<rd::Framework, PageError> {
    Ok(state
        .clients(viewer)
        .audits()
        .get_framework(rd::GetFrameworkRequest {
            framework_id: id.to_owned(),
        })
        .await?
        .into_inner())
}

async fn form_page(
    state: &AppState,
    viewer: &Viewer,
    id: Option<&str>,
    draft: Option<Draft>,
    error: Option<String>,
) -> Result<FormPage, PageError> {
    let (heading, action, version, is_default, loaded) = match id {
        Some(id) => {
            let framework = load(state, viewer, id).await?;
            let content = framework.content.unwrap_or_default();
            (
                content.name.clone(),
                format!("/admin/frameworks/{}", framework.framework_id),
                Some(version_label(framework.version)),
                framework.is_default,
                Draft::of(content),
            )
        }
        None => (
            "A new framework".to_owned(),
            "/admin/frameworks".to_owned(),
            None,
            false,
            Draft::of(rd::FrameworkContent {
                labels: Some(rd::RagLabels {
                    red: "Red".into(),
                    amber: "Amber".into(),
                    green: "Green".into(),
                }),
                ..Default::default()
            }),
        ),
    };
    Ok(FormPage {
        nav: Nav::new(state, viewer, "admin").await,
        heading,
        action,
        version,
        is_default,
        draft: draft.unwrap_or(loaded),
        command_id: new_command_id(),
        error,
    })
}

#[derive(Debug, Deserialize)]
pub struct NewQuery {
    #[serde(default)]
    from: String,
}

/// A new framework: blank, or a copy of one the trust has.
pub async fn new(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<NewQuery>,
) -> Result<FormPage, PageError> {
    viewer.require_on_trust(TrustVerb::ManageFrameworks)?;
    let copy = if query.from.is_empty() {
        None
    } else {
        let source = Draft::of(
            load(&state, &viewer, &query.from)
                .await?
                .content
                .unwrap_or_default(),
        );
        Some(Draft {
            name: format!("{} (copy)", source.name),
            ..source
        })
    };
    form_page(&state, &viewer, None, copy, None).await
}

pub async fn edit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<FormPage, PageError> {
    viewer.require_on_trust(TrustVerb::ManageFrameworks)?;
    form_page(&state, &viewer, Some(&id), None, None).await
}

pub async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    fields: Fields,
) -> Result<Response, PageError> {
    viewer.require_on_trust(TrustVerb::ManageFrameworks)?;
    save(&state, &viewer, None, &fields).await
}

pub async fn publish(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    fields: Fields,
) -> Result<Response, PageError> {
    viewer.require_on_trust(TrustVerb::ManageFrameworks)?;
    // The framework must be this trust's (or its default) before anything is published.
    load(&state, &viewer, &id).await?;
    save(&state, &viewer, Some(&id), &fields).await
}

async fn save(
    state: &AppState,
    viewer: &Viewer,
    id: Option<&str>,
    fields: &Fields,
) -> Result<Response, PageError> {
    let draft = Draft::posted(fields);
    let refused = async |draft: Draft, error: String| -> Result<Response, PageError> {
        Ok(refused_page(
            form_page(state, viewer, id, Some(draft), Some(error)).await?,
        ))
    };
    let content = match draft.content() {
        Ok(content) => content,
        Err(error) => return refused(draft, error).await,
    };
    let published = state
        .clients(viewer)
        .audits()
        .publish_framework(rd::PublishFrameworkRequest {
            command_id: fields.command_id(),
            framework_id: id.unwrap_or_default().to_owned(),
            content: Some(content),
        })
        .await;
    match published {
        Ok(_) => Ok(see("/admin/frameworks")),
        Err(status) => refused(draft, refusal(status)?).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_keep_their_ids_and_new_lines_get_fresh_ones() {
        let text = "# kq: Key questions\nkq.1: Expectations are clear.\n- Tracking is manageable.\n\n# Planning\nkq.2: Meetings are regular.\nData is used: to plan.\n";
        let sections = parse_statements(text).unwrap();
        assert_eq!(sections.len(), 2);
        assert_eq!(sections[0].id, "kq");
        let ids: Vec<_> = sections[0].statements.iter().map(|s| &s.id).collect();
        // `kq.1` and `kq.2` are typed, so the new line takes `kq.3`.
        assert_eq!(ids, ["kq.1", "kq.3"]);
        assert_eq!(sections[0].statements[1].text, "Tracking is manageable.");
        assert_eq!(sections[1].id, "section-1");
        assert_eq!(sections[1].statements[1].id, "section-1.1");
        assert_eq!(sections[1].statements[1].text, "Data is used: to plan.");
    }

    #[test]
    fn the_box_reads_back_what_it_shows() {
        let sections = vec![rd::FrameworkSection {
            id: "s".into(),
            title: "Section".into(),
            statements: vec![rd::StatementText {
                id: "s.a".into(),
                text: "One: with a colon.".into(),
            }],
        }];
        assert_eq!(
            parse_statements(&statements_text(&sections)).unwrap(),
            sections
        );
    }

    #[test]
    fn mistakes_name_their_line() {
        assert_eq!(
            parse_statements("A statement before any heading").unwrap_err(),
            "Line 1: start with a section heading, a line beginning with #."
        );
        assert_eq!(
            parse_statements("# One\n# Two\nx: y").unwrap_err(),
            "Line 1: the section “One” has no statements under it."
        );
        assert_eq!(
            parse_statements("# One\n\nkq.1:").unwrap_err(),
            "Line 3: add the words after the id."
        );
        assert_eq!(
            parse_statements("  \n").unwrap_err(),
            "Add at least one section with a statement."
        );
    }
}
