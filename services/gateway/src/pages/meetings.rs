//! Progress meetings after each assessment point: the teacher's analysis, then — always
//! first — the previous meeting's actions, then the discussion, then new agreed actions.

use super::files::{Files, Kind as FileKind};
use super::priorities::Tags;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use waymark_domain::SchoolId;
use waymark_proto::action_tracking::v1 as at;
use waymark_proto::review_dialogue::v1 as rd;

use crate::directory::{Names, names};
use crate::error::PageError;
use crate::pages::finding::{Form, Search, answered, list_page};
use crate::pages::people::{Person, SchoolStaff, in_led_school, led_schools, staff_of};
use crate::session::Viewer;
use crate::state::AppState;
use crate::web::{
    Fields, Nav, Tag, academic_year, long_date, new_command_id, refusal, refused_page, see, tag,
    today,
};

async fn load(state: &AppState, viewer: &Viewer, id: &str) -> Result<rd::Meeting, PageError> {
    let meeting = state
        .clients(viewer)
        .reviews()
        .get_meeting(rd::GetRecordRequest { id: id.to_owned() })
        .await?
        .into_inner();
    if meeting.redacted {
        Err(PageError::private("progress meeting"))
    } else {
        Ok(meeting)
    }
}

pub struct Row {
    pub id: String,
    pub title: String,
    pub teacher: String,
    pub date: String,
    pub tag: Tag,
    /// The viewer may read it, not only see that it exists.
    pub open: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/meetings.html")]
pub struct ListPage {
    nav: Nav,
    rows: Vec<Row>,
    can_schedule: bool,
    search: Search,
    form: Form,
    previous: Option<String>,
    next: Option<String>,
    error: Option<String>,
}

/// The meetings list's search form.
const FORM: Form = Form {
    action: "/meetings",
    what: "meetings",
    statuses: &[
        ("scheduled", "Scheduled"),
        ("open", "Open"),
        ("closed", "Closed"),
        ("cancelled", "Cancelled"),
    ],
    csv: Some("/meetings.csv"),
    group: Some("Class"),
    dates: true,
};

/// `GET /meetings`: the latest first, narrowed by the search form.
pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(search): Query<Search>,
) -> Result<Response, PageError> {
    let (found, error) = answered(
        state
            .clients(&viewer)
            .reviews()
            .list_meetings(search.meetings())
            .await,
    )?;
    let people = names(&state.platform.pool, viewer.trust).await?;
    let rows: Vec<Row> = found
        .meetings
        .into_iter()
        .map(|m| Row {
            open: !m.redacted,
            tag: tag(&m.status),
            title: format!("{}, {}", m.class_group, m.assessment_point),
            teacher: people.of(&m.teacher_id),
            date: long_date(&m.date),
            id: m.meeting_id,
        })
        .collect();
    let can_schedule = viewer.schools().into_iter().any(|s| viewer.leads(s));
    let (previous, next) = search.around(FORM.action, found.more);
    let refused = error.is_some();
    let page = ListPage {
        nav: Nav::new(&state, &viewer, "meetings").await,
        rows,
        can_schedule,
        search,
        form: FORM,
        previous,
        next,
        error,
    };
    Ok(list_page(page, refused))
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/meeting_new.html")]
pub struct NewPage {
    nav: Nav,
    schools: Vec<SchoolStaff>,
    year: String,
    command_id: String,
    error: Option<String>,
    posted: Fields,
}

async fn new_page(
    state: &AppState,
    viewer: &Viewer,
    error: Option<String>,
    posted: Fields,
) -> Result<NewPage, PageError> {
    let people = names(&state.platform.pool, viewer.trust).await?;
    let schools = led_schools(viewer, &people);
    Ok(NewPage {
        nav: Nav::new(state, viewer, "meetings").await,
        schools,
        year: academic_year(today(state)),
        command_id: posted.command_id(),
        error,
        posted,
    })
}

/// `GET /meetings/new`, filled in from a planned one with `?occurrence=<id>`.
pub async fn new(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(from): Query<super::occurrences::FromOccurrence>,
) -> Result<NewPage, PageError> {
    let posted = from.prefill(&state, &viewer).await?;
    new_page(&state, &viewer, None, posted).await
}

/// A leader schedules a meeting with a teacher of a school they lead.
pub async fn schedule(
    State(state): State<AppState>,
    viewer: Viewer,
    fields: Fields,
) -> Result<Response, PageError> {
    let Some((teacher, school)) = in_led_school(&viewer, fields.get("teacher_id")) else {
        return Ok(refused_page(
            new_page(
                &state,
                &viewer,
                Some("Choose a teacher in a school you lead.".into()),
                fields,
            )
            .await?,
        ));
    };
    let request = rd::ScheduleMeetingRequest {
        command_id: fields.command_id(),
        school_id: school.to_string(),
        academic_year: fields.trimmed("academic_year"),
        assessment_point: fields.trimmed("assessment_point"),
        teacher_id: teacher.to_string(),
        class_group: fields.trimmed("class_group"),
        leader_ids: leaders(&viewer, &teacher.to_string(), &fields),
        date: fields.trimmed("date"),
        occurrence_id: fields.trimmed("occurrence_id"),
    };
    match state
        .clients(&viewer)
        .reviews()
        .schedule_meeting(request)
        .await
    {
        Ok(reply) => Ok(see(format!("/meetings/{}", reply.into_inner().id))),
        Err(status) => Ok(refused_page(
            new_page(&state, &viewer, Some(refusal(status)?), fields).await?,
        )),
    }
}

/// The meeting's leaders: whoever schedules it, then the other leaders chosen (review
/// dialogue checks each works at the school).
fn leaders(viewer: &Viewer, teacher: &str, fields: &Fields) -> Vec<String> {
    let mut leaders = vec![viewer.staff.to_string()];
    for other in fields.all("leader_ids") {
        if other != teacher && !leaders.contains(&other) {
            leaders.push(other);
        }
    }
    leaders
}

/// How many groups, and how many learners, one analysis form offers.
const ANALYSIS_ROWS: usize = 6;

pub struct Previous {
    pub n: usize,
    pub id: String,
    pub description: String,
    /// Who owns it and when it was due, as action tracking has it now.
    pub owner: String,
    pub due: String,
    /// Its status in action tracking (with "Overdue"), and the latest word on it.
    pub status: Option<Tag>,
    pub latest: String,
    pub outcome: &'static str,
    pub outcome_text: String,
    /// The new due date when the meeting carried it forward.
    pub carried_to: String,
}

pub struct Agreed {
    pub description: String,
    pub owner: String,
    pub due: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/meeting.html")]
pub struct DetailPage {
    nav: Nav,
    meeting: rd::Meeting,
    analysis: rd::Analysis,
    tag: Tag,
    school: String,
    teacher: String,
    leaders: String,
    date: String,
    previous: Vec<Previous>,
    unreviewed: usize,
    agreed: Vec<Agreed>,
    owners: Vec<Person>,
    is_teacher: bool,
    is_party: bool,
    /// How many groups and learners the analysis form offers.
    rows: usize,
    command_id: String,
    error: Option<String>,
    posted: Fields,
    files: Files,
    tags: Tags,
}

/// A previous action as action tracking has it now; none if it no longer knows it.
async fn tracked(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
) -> Result<Option<at::ActionDetail>, PageError> {
    match state
        .clients(viewer)
        .actions()
        .get_action(at::GetActionRequest {
            action_id: id.to_owned(),
        })
        .await
    {
        Ok(detail) => Ok(Some(detail.into_inner())),
        Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
        Err(status) => Err(status.into()),
    }
}

/// What the meeting should hear first about an action: its impact once done, otherwise
/// the latest progress noted on it.
fn latest_word(action: &at::Action, notes: &[at::Note]) -> String {
    if !action.impact.is_empty() {
        return format!("Impact: {}", action.impact);
    }
    notes
        .iter()
        .rev()
        .find(|n| n.kind == "progress")
        .map(|n| format!("Latest progress: {}", n.text))
        .unwrap_or_default()
}

fn outcome_label(outcome: &str) -> &'static str {
    match outcome {
        "done" => "Done",
        "carried_forward" => "Carried forward",
        "dropped" => "Dropped",
        _ => "",
    }
}

fn agreed(meeting: &rd::Meeting, people: &Names) -> Vec<Agreed> {
    meeting
        .agreed_actions
        .iter()
        .map(|a| Agreed {
            description: a.description.clone(),
            owner: people.of(&a.owner_id),
            due: long_date(&a.due_date),
        })
        .collect()
}

async fn show(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    error: Option<String>,
    posted: Fields,
) -> Result<DetailPage, PageError> {
    let meeting = load(state, viewer, id).await?;
    let people = names(&state.platform.pool, viewer.trust).await?;
    let me = viewer.staff.to_string();
    let mut previous = Vec::with_capacity(meeting.previous_actions.len());
    for (n, p) in meeting.previous_actions.iter().enumerate() {
        let tracked = tracked(state, viewer, &p.action_id).await?;
        let action = tracked
            .as_ref()
            .and_then(|t| t.action.clone())
            .unwrap_or_default();
        previous.push(Previous {
            n,
            id: p.action_id.clone(),
            description: p.description.clone(),
            owner: people.of(&action.owner_id),
            due: long_date(&action.due_date),
            status: tracked.as_ref().map(|_| {
                tag(if action.overdue {
                    "overdue"
                } else {
                    &action.status
                })
            }),
            latest: latest_word(&action, tracked.as_ref().map_or(&[][..], |t| &t.notes)),
            outcome: outcome_label(&p.outcome),
            outcome_text: p.outcome_text.clone(),
            carried_to: long_date(&p.due_date),
        });
    }
    let school: SchoolId = meeting
        .school_id
        .parse()
        .map_err(|_| PageError::not_found())?;
    Ok(DetailPage {
        nav: Nav::new(state, viewer, "meetings").await,
        analysis: meeting.analysis.clone().unwrap_or_default(),
        tag: tag(&meeting.status),
        school: crate::web::school_name(viewer, &meeting.school_id),
        teacher: people.of(&meeting.teacher_id),
        leaders: meeting
            .leader_ids
            .iter()
            .map(|l| people.of(l))
            .collect::<Vec<_>>()
            .join(", "),
        date: long_date(&meeting.date),
        unreviewed: previous.iter().filter(|p| p.outcome.is_empty()).count(),
        previous,
        agreed: agreed(&meeting, &people),
        owners: staff_of(viewer, &people, school),
        is_teacher: meeting.teacher_id == me,
        is_party: meeting.teacher_id == me || meeting.leader_ids.contains(&me),
        rows: ANALYSIS_ROWS,
        // Anyone in the meeting attaches files until it closes (review dialogue decides).
        tags: Tags::of(state, viewer, "meeting", id, &meeting.school_id).await?,
        files: Files::new(
            state,
            viewer,
            FileKind::Meeting,
            id,
            &meeting.attachments,
            &people,
            (meeting.teacher_id == me || meeting.leader_ids.contains(&me))
                && !matches!(meeting.status.as_str(), "closed" | "cancelled"),
        ),
        meeting,
        command_id: new_command_id(),
        error,
        posted,
    })
}

/// The meeting's page with `error` on it (after a refused file).
pub async fn page_with_error(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    error: String,
) -> Result<DetailPage, PageError> {
    show(state, viewer, id, Some(error), Fields::default()).await
}

pub async fn detail(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<DetailPage, PageError> {
    show(&state, &viewer, &id, None, Fields::default()).await
}

pub async fn act(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, verb)): Path<(String, String)>,
    fields: Fields,
) -> Result<Response, PageError> {
    let meeting = load(&state, &viewer, &id).await?;
    let mut client = state.clients(&viewer).reviews();
    let command_id = fields.command_id();
    let result = match verb.as_str() {
        "analysis" => {
            let pairs = |key: &str| -> Vec<(String, String)> {
                (0..ANALYSIS_ROWS)
                    .map(|n| {
                        (
                            fields.trimmed(&format!("{key}.{n}")),
                            fields.trimmed(&format!("{key}.{n}.note")),
                        )
                    })
                    .filter(|(k, _)| !k.is_empty())
                    .collect()
            };
            let analysis = rd::Analysis {
                strengths: fields.trimmed("strengths"),
                areas_of_focus: fields.trimmed("areas_of_focus"),
                groups: pairs("group")
                    .into_iter()
                    .map(|(group, note)| rd::GroupNote { group, note })
                    .collect(),
                learners: pairs("learner")
                    .into_iter()
                    .map(|(learner, note)| rd::LearnerNote { learner, note })
                    .collect(),
            };
            client
                .record_analysis(rd::RecordAnalysisRequest {
                    command_id,
                    meeting_id: id.clone(),
                    analysis: Some(analysis),
                })
                .await
        }
        "open" => {
            client
                .open_meeting(rd::RecordRequest {
                    command_id,
                    id: id.clone(),
                })
                .await
        }
        "previous" => {
            let action_id = fields.trimmed("action_id");
            if !meeting
                .previous_actions
                .iter()
                .any(|p| p.action_id == action_id)
            {
                return Err(PageError::not_found());
            }
            client
                .review_previous_action(rd::ReviewPreviousActionRequest {
                    command_id,
                    meeting_id: id.clone(),
                    action_id,
                    outcome: fields.trimmed("outcome"),
                    text: fields.trimmed("text"),
                    due_date: fields.trimmed("due_date"),
                })
                .await
        }
        "discussion" => {
            client
                .note_discussion(rd::NoteDiscussionRequest {
                    command_id,
                    meeting_id: id.clone(),
                    level: fields.trimmed("level"),
                    about: fields.trimmed("about"),
                    note: fields.trimmed("note"),
                    adaptation: fields.trimmed("adaptation"),
                    research: fields.trimmed("research"),
                })
                .await
        }
        "close" => {
            let actions = (0..3)
                .filter(|n| {
                    !fields
                        .trimmed(&format!("action.{n}.description"))
                        .is_empty()
                })
                .map(|n| rd::NextStep {
                    description: fields.trimmed(&format!("action.{n}.description")),
                    owner_id: fields.trimmed(&format!("action.{n}.owner")),
                    due_date: fields.trimmed(&format!("action.{n}.due")),
                    success_criteria: fields.trimmed(&format!("action.{n}.criteria")),
                })
                .collect();
            client
                .close_meeting(rd::CloseMeetingRequest {
                    command_id,
                    meeting_id: id.clone(),
                    actions,
                })
                .await
        }
        "reschedule" => {
            client
                .reschedule_meeting(rd::RescheduleMeetingRequest {
                    command_id,
                    meeting_id: id.clone(),
                    date: fields.trimmed("date"),
                    reason: fields.trimmed("reason"),
                })
                .await
        }
        "cancel" => {
            client
                .cancel_meeting(rd::RecordTextRequest {
                    command_id,
                    id: id.clone(),
                    text: fields.trimmed("reason"),
                })
                .await
        }
        _ => return Err(PageError::not_found()),
    };
    match result {
        Ok(_) => Ok(see(format!("/meetings/{id}"))),
        Err(status) => Ok(refused_page(
            show(&state, &viewer, &id, Some(refusal(status)?), fields).await?,
        )),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/meeting_record.html")]
pub struct RecordPage {
    nav: Nav,
    meeting: rd::Meeting,
    analysis: rd::Analysis,
    school: String,
    teacher: String,
    leaders: String,
    date: String,
    previous: Vec<Previous>,
    agreed: Vec<Agreed>,
    tag: Tag,
}

pub async fn record(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<RecordPage, PageError> {
    let page = show(&state, &viewer, &id, None, Fields::default()).await?;
    Ok(RecordPage {
        nav: page.nav,
        analysis: page.analysis,
        school: page.school,
        teacher: page.teacher,
        leaders: page.leaders,
        date: page.date,
        previous: page.previous,
        agreed: page.agreed,
        tag: page.tag,
        meeting: page.meeting,
    })
}
