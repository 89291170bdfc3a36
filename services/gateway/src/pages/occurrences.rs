//! A planned occurrence of the school's monitoring year: what it is, when, who leads it, the
//! impact it is meant to have, its checklists (ticked line by line), its notes, its files,
//! the actions agreed at it, and holding, moving or cancelling it. Scheduling (and action
//! tracking, for the actions) decides who may do each; the page asks the same policies only
//! to choose what to offer.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use waymark_domain::{SchoolId, StaffId};
use waymark_policy::{OccurrenceFacts, OccurrenceVerb};
use waymark_proto::action_tracking::v1 as at;
use waymark_proto::scheduling::v1 as sc;

use super::calendar::kind_label;
use super::files::{Files, Kind as FileKind};
use crate::directory::names;
use crate::error::PageError;
use crate::session::Viewer;
use crate::state::AppState;
use crate::web::{Fields, Nav, Tag, long_date, new_command_id, refusal, refused_page, see, tag};

#[derive(Template, WebTemplate)]
#[template(path = "pages/occurrence.html")]
pub struct DetailPage {
    nav: Nav,
    occurrence: sc::Occurrence,
    school: String,
    kind: &'static str,
    date: String,
    due: Option<String>,
    lead: String,
    taking_part: String,
    tag: Tag,
    /// The viewer may hold, move or cancel it (scheduling decides again).
    may_run: bool,
    /// The review, meeting or visit that holds it: its page and what to call it.
    record: Option<(String, &'static str)>,
    /// Where to schedule the record that will hold it, and the button's words.
    schedule: Option<(String, &'static str)>,
    checklists: Vec<Checklist>,
    /// Who attended, by name; and the school's staff to choose from (ticked if they did).
    attended: String,
    staff: Vec<(crate::pages::people::Person, bool)>,
    /// Who wrote the notes.
    minutes_by: String,
    files: Files,
    /// The actions agreed at it (action tracking lists those the viewer may read).
    actions: Vec<AgreedHere>,
    command_id: String,
    error: Option<String>,
    posted: Fields,
}

/// An action agreed at the occurrence.
pub struct AgreedHere {
    id: String,
    description: String,
    owner: String,
    due: String,
    tag: Tag,
}

/// One of the activity's checklists as the page shows it.
pub struct Checklist {
    name: &'static str,
    title: &'static str,
    lines: Vec<Line>,
    /// The viewer may tick its lines (scheduling decides again).
    may_tick: bool,
}

pub struct Line {
    text: String,
    ticked: bool,
    /// "Ticked by Ann Smith, 7 December 2026, 14:05".
    by: String,
}

impl Checklist {
    fn new(
        name: &'static str,
        title: &'static str,
        lines: &[sc::ChecklistLine],
        people: &crate::directory::Names,
        may_tick: bool,
    ) -> Self {
        let lines = lines
            .iter()
            .map(|line| Line {
                text: line.text.clone(),
                ticked: line.ticked,
                by: if line.ticked {
                    format!(
                        "Ticked by {}, {}",
                        people.of(&line.ticked_by),
                        super::actions::when(&line.ticked_at)
                    )
                } else {
                    String::new()
                },
            })
            .collect();
        Self {
            name,
            title,
            lines,
            may_tick,
        }
    }
}

async fn load(state: &AppState, viewer: &Viewer, id: &str) -> Result<sc::Occurrence, PageError> {
    Ok(state
        .clients(viewer)
        .scheduling()
        .get_occurrence(sc::GetOccurrenceRequest {
            occurrence_id: id.to_owned(),
        })
        .await?
        .into_inner())
}

async fn show(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    error: Option<String>,
    posted: Fields,
) -> Result<DetailPage, PageError> {
    let occurrence = load(state, viewer, id).await?;
    let people = names(&state.platform.pool, viewer.trust).await?;
    let school: SchoolId = occurrence
        .school_id
        .parse()
        .map_err(|_| PageError::not_found())?;
    let staff = |id: &str| id.parse().map(StaffId::from_uuid).ok();
    let facts = OccurrenceFacts {
        school,
        owner: staff(&occurrence.owner_id).unwrap_or_else(|| StaffId::from_uuid(uuid::Uuid::nil())),
        participants: occurrence
            .participant_ids
            .iter()
            .filter_map(|p| staff(p))
            .collect(),
    };
    let may = |verb| {
        viewer
            .policies
            .allows_on_occurrence(&viewer.directory, viewer.staff, verb, &facts)
    };
    let may_run = may(OccurrenceVerb::Run);
    let open = occurrence.status != "cancelled";
    let checklists = [
        Checklist::new(
            "head_teacher",
            "Head teacher's checklist",
            &occurrence.head_teacher_checklist,
            &people,
            may_run && open,
        ),
        Checklist::new(
            "class_teacher",
            "Class teacher's checklist",
            &occurrence.class_teacher_checklist,
            &people,
            may(OccurrenceVerb::TickClassChecklist) && open,
        ),
    ]
    .into_iter()
    .filter(|c| !c.lines.is_empty())
    .collect();
    let actions = state
        .clients(viewer)
        .actions()
        .list_actions(at::ListActionsRequest {
            school_id: occurrence.school_id.clone(),
            origin_kind: "occurrence".into(),
            origin_id: occurrence.occurrence_id.clone(),
            statuses: ["open", "in_progress", "done", "carried_forward", "dropped"]
                .map(String::from)
                .to_vec(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .actions
        .into_iter()
        .map(|a| AgreedHere {
            owner: people.of(&a.owner_id),
            due: long_date(&a.due_date),
            tag: tag(&a.status),
            id: a.action_id,
            description: a.description,
        })
        .collect();
    Ok(DetailPage {
        nav: Nav::new(state, viewer, "calendar").await,
        school: crate::web::school_name(viewer, &occurrence.school_id),
        kind: kind_label(&occurrence.kind),
        date: long_date(&occurrence.date),
        due: (occurrence.due != occurrence.date).then(|| long_date(&occurrence.due)),
        lead: people.of(&occurrence.owner_id),
        taking_part: occurrence
            .participant_ids
            .iter()
            .map(|p| people.of(p))
            .collect::<Vec<_>>()
            .join(", "),
        tag: tag(&occurrence.status),
        may_run,
        record: record_of(&occurrence),
        schedule: (may_run && occurrence.status == "planned" && occurrence.record_id.is_empty())
            .then(|| schedule_from(&occurrence))
            .flatten(),
        checklists,
        attended: occurrence
            .attendee_ids
            .iter()
            .map(|p| people.of(p))
            .collect::<Vec<_>>()
            .join(", "),
        staff: crate::pages::people::staff_of(viewer, &people, school)
            .into_iter()
            .map(|p| {
                let attended = occurrence.attendee_ids.contains(&p.id);
                (p, attended)
            })
            .collect(),
        minutes_by: if occurrence.minutes_by.is_empty() {
            String::new()
        } else {
            people.of(&occurrence.minutes_by)
        },
        files: Files::new(
            state,
            viewer,
            FileKind::Occurrence,
            id,
            &occurrence.attachments,
            &people,
            may_run && open,
        ),
        actions,
        occurrence,
        command_id: new_command_id(),
        error,
        posted,
    })
}

/// The page of the record holding `occurrence`, and its name.
fn record_of(occurrence: &sc::Occurrence) -> Option<(String, &'static str)> {
    let id = &occurrence.record_id;
    match occurrence.record_kind.as_str() {
        "review" => Some((format!("/reviews/{id}"), "The progress review")),
        "meeting" => Some((format!("/meetings/{id}"), "The progress meeting")),
        "visit" => Some((format!("/visits/{id}"), "The visit")),
        _ => None,
    }
}

/// Where a record that holds `occurrence` is scheduled: a planned review as a review, a
/// meeting as a meeting, a booked visit as a visit. (A visit planned on the web books its
/// own place within the caps, so a planned observation activity is marked held by hand.)
fn schedule_from(occurrence: &sc::Occurrence) -> Option<(String, &'static str)> {
    let id = &occurrence.occurrence_id;
    match occurrence.kind.as_str() {
        "progress_review" => Some((
            format!("/reviews/new?occurrence={id}"),
            "Schedule this review",
        )),
        "progress_meeting" => Some((
            format!("/meetings/new?occurrence={id}"),
            "Schedule this meeting",
        )),
        "visit" => Some((format!("/visits/new?occurrence={id}"), "Plan this visit")),
        _ => None,
    }
}

/// `?occurrence=<id>` on the forms that schedule a review, meeting or visit.
#[derive(Debug, Default, serde::Deserialize)]
pub struct FromOccurrence {
    #[serde(default)]
    occurrence: String,
}

impl FromOccurrence {
    /// The form filled in from the planned occurrence (none when there is none), with its
    /// id to send along.
    pub async fn prefill(&self, state: &AppState, viewer: &Viewer) -> Result<Fields, PageError> {
        if self.occurrence.is_empty() {
            return Ok(Fields::default());
        }
        let o = load(state, viewer, &self.occurrence).await?;
        let first_participant = o.participant_ids.first().cloned().unwrap_or_default();
        let mut pairs = vec![
            ("occurrence_id", o.occurrence_id.clone()),
            ("occurrence_title", o.title.clone()),
            ("academic_year", o.academic_year.clone()),
            ("date", o.date.clone()),
        ];
        match o.kind.as_str() {
            "progress_review" => pairs.extend([
                ("reviewee_id", first_participant),
                ("year_group", o.detail.clone()),
                ("window_opens", o.date.clone()),
                ("window_closes", o.due.clone()),
            ]),
            "progress_meeting" => {
                // "Progress meeting: 4C, Spring assessment"
                let point = o
                    .title
                    .split_once(", ")
                    .map(|(_, point)| point.to_owned())
                    .unwrap_or_default();
                pairs.extend([
                    ("teacher_id", o.owner_id.clone()),
                    ("class_group", o.detail.clone()),
                    ("assessment_point", point),
                ]);
            }
            "visit" => pairs.push(("teacher_id", o.detail.clone())),
            _ => {}
        }
        Ok(Fields::prefilled(pairs))
    }
}

/// `GET /occurrences/{id}`
pub async fn detail(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<DetailPage, PageError> {
    show(&state, &viewer, &id, None, Fields::default()).await
}

/// The occurrence's page with `error` on it (a refused upload).
pub async fn page_with_error(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    error: String,
) -> Result<DetailPage, PageError> {
    show(state, viewer, id, Some(error), Fields::default()).await
}

/// `POST /occurrences/{id}/{held|move|cancel|tick|minutes|action}`.
pub async fn act(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, verb)): Path<(String, String)>,
    fields: Fields,
) -> Result<Response, PageError> {
    let occurrence = load(&state, &viewer, &id).await?;
    if verb == "action" {
        // Agreed at the occurrence: action tracking checks the occurrence is this school's
        // and that the viewer may set this action for its owner.
        let result = state
            .clients(&viewer)
            .actions()
            .create_action(at::CreateActionRequest {
                command_id: fields.command_id(),
                school_id: occurrence.school_id.clone(),
                description: fields.trimmed("description"),
                owner_id: fields.trimmed("owner_id"),
                due_date: fields.trimmed("due_date"),
                success_criteria: fields.trimmed("success_criteria"),
                occurrence_id: id.clone(),
                ..Default::default()
            })
            .await
            .map(|_| ());
        return answer(&state, &viewer, &id, fields, result).await;
    }
    let mut client = state.clients(&viewer).scheduling();
    let text = |reason: String| sc::OccurrenceTextRequest {
        command_id: fields.command_id(),
        school_id: occurrence.school_id.clone(),
        academic_year: occurrence.academic_year.clone(),
        occurrence_id: id.clone(),
        text: reason,
    };
    let result = match verb.as_str() {
        "held" => client.mark_occurrence_held(text(String::new())).await,
        "minutes" => {
            client
                .record_minutes(sc::RecordMinutesRequest {
                    command_id: fields.command_id(),
                    school_id: occurrence.school_id.clone(),
                    academic_year: occurrence.academic_year.clone(),
                    occurrence_id: id.clone(),
                    minutes: fields.get("minutes").to_owned(),
                    attendee_ids: fields.all("attendee_ids"),
                })
                .await
        }
        "tick" => {
            client
                .tick_checklist(sc::TickChecklistRequest {
                    command_id: fields.command_id(),
                    school_id: occurrence.school_id.clone(),
                    academic_year: occurrence.academic_year.clone(),
                    occurrence_id: id.clone(),
                    checklist: fields.trimmed("checklist"),
                    line: fields.get("line").to_owned(),
                    ticked: fields.get("ticked") == "true",
                })
                .await
        }
        "cancel" => {
            client
                .cancel_occurrence(text(fields.trimmed("reason")))
                .await
        }
        "move" => {
            client
                .reschedule_occurrence(sc::RescheduleOccurrenceRequest {
                    command_id: fields.command_id(),
                    school_id: occurrence.school_id.clone(),
                    academic_year: occurrence.academic_year.clone(),
                    occurrence_id: id.clone(),
                    date: fields.trimmed("date"),
                    reason: fields.trimmed("reason"),
                })
                .await
        }
        _ => return Err(PageError::not_found()),
    };
    answer(&state, &viewer, &id, fields, result.map(|_| ())).await
}

/// Back to the occurrence's page, or the page again with why the change was refused.
async fn answer(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    fields: Fields,
    result: Result<(), tonic::Status>,
) -> Result<Response, PageError> {
    match result {
        Ok(()) => Ok(see(format!("/occurrences/{id}"))),
        Err(status) => {
            let message = refusal(status)?;
            let page = show(state, viewer, id, Some(message), fields).await?;
            Ok(refused_page(page.into_response()))
        }
    }
}
