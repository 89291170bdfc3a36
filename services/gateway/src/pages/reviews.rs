//! Progress reviews: a line manager and a teacher review a year group together — evidence,
//! then the dialogue, then a record both agree. Never graded. The record's draft autosaves
//! as it is written; the agreed record prints.

use super::files::{Files, Kind as FileKind};
use super::priorities::Tags;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use waymark_domain::{SchoolId, StaffId};
use waymark_proto::review_dialogue::v1 as rd;

use crate::directory::{Names, names};
use crate::error::PageError;
use crate::pages::finding::{Form, Search, answered, list_page, urlencode};
use crate::session::Viewer;
use crate::state::AppState;
use crate::web::Choice;
use crate::web::{
    Fields, Nav, Tag, academic_year, autosave, long_date, new_command_id, refusal, refused_page,
    see, tag, today,
};

/// The review as review dialogue lets the viewer have it: one they may not read at all is
/// not found, one they may only oversee is refused with the reason.
async fn load(state: &AppState, viewer: &Viewer, id: &str) -> Result<rd::Review, PageError> {
    let review = state
        .clients(viewer)
        .reviews()
        .get_review(rd::GetRecordRequest { id: id.to_owned() })
        .await?
        .into_inner();
    if review.redacted {
        Err(PageError::private("progress review"))
    } else {
        Ok(review)
    }
}

pub struct Row {
    pub id: String,
    pub year_group: String,
    pub reviewer: String,
    pub reviewee: String,
    pub window: String,
    pub tag: Tag,
    /// The viewer may read it, not only see that it exists.
    pub open: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/reviews.html")]
pub struct ListPage {
    nav: Nav,
    rows: Vec<Row>,
    can_schedule: bool,
    search: Search,
    form: Form,
    /// Links to the previous and next pages of the same search.
    previous: Option<String>,
    next: Option<String>,
    error: Option<String>,
}

/// The reviews list's search form.
const FORM: Form = Form {
    action: "/reviews",
    what: "reviews",
    statuses: &[
        ("scheduled", "Scheduled"),
        ("gathering", "Gathering evidence"),
        ("discussed", "Discussed"),
        ("drafted", "Drafted"),
        ("agreed", "Agreed"),
        ("cancelled", "Cancelled"),
    ],
    csv: Some("/reviews.csv"),
    group: Some("Year group"),
    dates: true,
};

pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(search): Query<Search>,
) -> Result<Response, PageError> {
    let (found, error) = answered(
        state
            .clients(&viewer)
            .reviews()
            .list_reviews(search.reviews())
            .await,
    )?;
    let reviews = found.reviews;
    let (previous, next) = search.around(FORM.action, found.more);
    let people = names(&state.platform.pool, viewer.trust).await?;
    let rows = reviews
        .into_iter()
        .map(|r| Row {
            tag: tag(&r.status),
            open: !r.redacted,
            year_group: r.year_group,
            reviewer: people.of(&r.reviewer_id),
            reviewee: people.of(&r.reviewee_id),
            window: format!(
                "{} to {}",
                long_date(&r.window_opens),
                long_date(&r.window_closes)
            ),
            id: r.review_id,
        })
        .collect();
    let refused = error.is_some();
    let page = ListPage {
        nav: Nav::new(&state, &viewer, "reviews").await,
        error,
        rows,
        can_schedule: !viewer.people_i_manage().is_empty(),
        previous,
        next,
        search,
        form: FORM,
    };
    Ok(list_page(page, refused))
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/review_new.html")]
pub struct NewPage {
    nav: Nav,
    people: Vec<Choice>,
    year: String,
    command_id: String,
    error: Option<String>,
    posted: Fields,
}

/// The people the viewer line-manages, with the school they share.
fn reviewees(viewer: &Viewer, people: &Names) -> Vec<Choice> {
    let mut choices: Vec<Choice> = viewer
        .people_i_manage()
        .into_iter()
        .filter(|p| viewer.directory.staff.get(p).is_some_and(|r| !r.disabled))
        .map(|p| Choice {
            value: p.to_string(),
            label: people.of(&p.to_string()),
        })
        .collect();
    choices.sort_by(|a, b| a.label.cmp(&b.label));
    choices
}

async fn new_page(
    state: &AppState,
    viewer: &Viewer,
    error: Option<String>,
    posted: Fields,
) -> Result<NewPage, PageError> {
    let people = names(&state.platform.pool, viewer.trust).await?;
    Ok(NewPage {
        nav: Nav::new(state, viewer, "reviews").await,
        people: reviewees(viewer, &people),
        year: academic_year(today(state)),
        command_id: posted.command_id(),
        error,
        posted,
    })
}

/// `GET /reviews/new`, filled in from a planned review with `?occurrence=<id>`.
pub async fn new(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(from): Query<super::occurrences::FromOccurrence>,
) -> Result<NewPage, PageError> {
    let posted = from.prefill(&state, &viewer).await?;
    new_page(&state, &viewer, None, posted).await
}

/// Schedules a review of someone the viewer line-manages, in a school they share.
pub async fn schedule(
    State(state): State<AppState>,
    viewer: Viewer,
    fields: Fields,
) -> Result<Response, PageError> {
    let reviewee: StaffId = match fields.get("reviewee_id").parse() {
        Ok(id) if viewer.people_i_manage().contains(&id) => id,
        _ => {
            return Ok(refused_page(
                new_page(
                    &state,
                    &viewer,
                    Some("Choose a teacher you line manage.".into()),
                    fields,
                )
                .await?,
            ));
        }
    };
    let record = viewer
        .directory
        .staff
        .get(&reviewee)
        .cloned()
        .unwrap_or_default();
    let school: Option<SchoolId> = record
        .grants
        .iter()
        .filter_map(|g| g.school)
        .find(|s| viewer.sees_school(*s));
    let Some(school) = school else {
        return Ok(refused_page(
            new_page(
                &state,
                &viewer,
                Some("You and this teacher do not share a school.".into()),
                fields,
            )
            .await?,
        ));
    };
    let slt = viewer
        .directory
        .staff
        .get(&viewer.staff)
        .and_then(|r| r.line_manager);
    let request = rd::ScheduleReviewRequest {
        command_id: fields.command_id(),
        school_id: school.to_string(),
        academic_year: fields.trimmed("academic_year"),
        year_group: fields.trimmed("year_group"),
        reviewer_id: viewer.staff.to_string(),
        reviewee_id: reviewee.to_string(),
        window_opens: fields.trimmed("window_opens"),
        window_closes: fields.trimmed("window_closes"),
        reviewee_line_manager_id: viewer.staff.to_string(),
        slt_line_manager_id: slt.map(|s| s.to_string()).unwrap_or_default(),
        occurrence_id: fields.trimmed("occurrence_id"),
    };
    match state
        .clients(&viewer)
        .reviews()
        .schedule_review(request)
        .await
    {
        Ok(reply) => Ok(see(format!("/reviews/{}", reply.into_inner().id))),
        Err(status) => Ok(refused_page(
            new_page(&state, &viewer, Some(refusal(status)?), fields).await?,
        )),
    }
}

pub struct Evidence {
    pub source: String,
    pub look_fors: String,
    pub note: String,
}

/// The evidence noted on `review`, with its source's and look-fors' labels.
fn evidence(review: &rd::Review) -> Vec<Evidence> {
    review
        .evidence
        .iter()
        .map(|e| Evidence {
            source: e
                .source
                .as_ref()
                .map(|s| s.label.clone())
                .unwrap_or_default(),
            look_fors: e
                .look_fors
                .iter()
                .map(|l| l.label.clone())
                .collect::<Vec<_>>()
                .join(", "),
            note: e.note.clone(),
        })
        .collect()
}

pub struct LookForRow {
    pub id: String,
    pub label: String,
    pub comment: String,
    pub exemplary: bool,
    pub focus: bool,
}

pub struct StepRow {
    pub n: usize,
    pub description: String,
    pub owner: String,
    pub owner_id: String,
    pub due: String,
    pub due_date: String,
    pub success_criteria: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/review.html")]
pub struct DetailPage {
    nav: Nav,
    review: rd::Review,
    tag: Tag,
    school: String,
    reviewer: String,
    reviewee: String,
    window: String,
    evidence: Vec<Evidence>,
    sources: Vec<Choice>,
    look_fors: Vec<Choice>,
    record: Vec<LookForRow>,
    steps: Vec<StepRow>,
    draft_rows: Vec<LookForRow>,
    draft_steps: Vec<StepRow>,
    owners: Vec<Choice>,
    agreed_by: String,
    awaiting: String,
    is_reviewer: bool,
    is_reviewee: bool,
    i_agreed: bool,
    saved_note: String,
    /// The working copy's revision the draft form is built from (0: none).
    copy: i64,
    /// When a save from this window was behind: the text another window saved.
    other_copy: Option<OtherCopy>,
    command_id: String,
    error: Option<String>,
    posted: Fields,
    compare_href: String,
    dialogue_held_on: String,
    files: Files,
    tags: Tags,
}

/// Another window's working copy of the draft, shown beside this window's text so that
/// neither is lost.
pub struct OtherCopy {
    pub saved_at: String,
    pub parts: Vec<(String, String)>,
}

impl OtherCopy {
    fn of(copy: autosave::Copy, look_fors: &[Choice]) -> Self {
        let mut parts = Vec::new();
        for look_for in look_fors {
            let comment = copy
                .fields
                .trimmed(&format!("lf.{}.comment", look_for.value));
            if !comment.is_empty() {
                parts.push((look_for.label.clone(), comment));
            }
        }
        for (field, label) in [
            ("good_practice", "Good practice seen"),
            ("areas_to_focus", "Areas to focus on"),
        ] {
            let text = copy.fields.trimmed(field);
            if !text.is_empty() {
                parts.push((label.to_owned(), text));
            }
        }
        for n in 0..3 {
            let step = copy.fields.trimmed(&format!("step.{n}.description"));
            if !step.is_empty() {
                parts.push((format!("Next step {}", n + 1), step));
            }
        }
        Self {
            saved_at: copy.saved_at,
            parts,
        }
    }
}

fn autosave_key(id: &str) -> String {
    format!("review:{id}")
}

async fn show(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    error: Option<String>,
    posted: Option<Fields>,
) -> Result<DetailPage, PageError> {
    let review = load(state, viewer, id).await?;
    let people = names(&state.platform.pool, viewer.trust).await?;
    let catalogue = state
        .clients(viewer)
        .reviews()
        .get_catalogue(rd::GetCatalogueRequest {})
        .await?
        .into_inner();
    let me = viewer.staff.to_string();
    let is_reviewer = review.reviewer_id == me;
    let is_reviewee = review.reviewee_id == me;
    let live = |kind: &str| -> Vec<Choice> {
        catalogue
            .items
            .iter()
            .filter(|i| i.kind == kind && !i.retired)
            .map(|i| Choice {
                value: i.id.clone(),
                label: i.label.clone(),
            })
            .collect()
    };
    let look_fors = live("look_for");
    // The draft being written: what was just posted, else the autosaved copy, else the
    // current record.
    let stored = if is_reviewer {
        autosave::load(state, viewer, &autosave_key(id)).await?
    } else {
        None
    };
    let copy = stored.as_ref().map_or(0, |c| c.revision);
    let saved = if posted.is_none() {
        stored.map(|c| c.fields)
    } else {
        None
    };
    let saved_note = if saved.is_some() {
        "Your unsent changes to the draft were kept.".to_owned()
    } else {
        String::new()
    };
    let draft_source = posted.or(saved);
    let record = record_rows(&review);
    let steps = step_rows(&review, &people);
    let (draft_rows, draft_steps) = match &draft_source {
        Some(fields) => draft_from_fields(fields, &look_fors),
        None => {
            let mut rows = record_rows(&review);
            for lf in &look_fors {
                if !rows.iter().any(|r| r.id == lf.value) {
                    rows.push(LookForRow {
                        id: lf.value.clone(),
                        label: lf.label.clone(),
                        comment: String::new(),
                        exemplary: false,
                        focus: false,
                    });
                }
            }
            let mut steps = step_rows(&review, &people);
            while steps.len() < 3 {
                steps.push(StepRow {
                    n: steps.len(),
                    description: String::new(),
                    owner: String::new(),
                    owner_id: review.reviewee_id.clone(),
                    due: String::new(),
                    due_date: String::new(),
                    success_criteria: String::new(),
                });
            }
            (rows, steps)
        }
    };
    let compare_href = format!(
        "/reviews/compare?school={}&year_group={}&academic_year={}&reviewee={}",
        review.school_id,
        urlencode(&review.year_group),
        review.academic_year,
        review.reviewee_id
    );
    Ok(DetailPage {
        nav: Nav::new(state, viewer, "reviews").await,
        tag: tag(&review.status),
        school: crate::web::school_name(viewer, &review.school_id),
        reviewer: people.of(&review.reviewer_id),
        reviewee: people.of(&review.reviewee_id),
        window: format!(
            "{} to {}",
            long_date(&review.window_opens),
            long_date(&review.window_closes)
        ),
        evidence: evidence(&review),
        sources: live("source"),
        look_fors,
        record,
        steps,
        draft_rows,
        draft_steps,
        owners: vec![
            Choice {
                value: review.reviewee_id.clone(),
                label: people.of(&review.reviewee_id),
            },
            Choice {
                value: review.reviewer_id.clone(),
                label: people.of(&review.reviewer_id),
            },
        ],
        agreed_by: review
            .agreed_by
            .iter()
            .map(|p| people.of(p))
            .collect::<Vec<_>>()
            .join(" and "),
        awaiting: review
            .awaiting_agreement_of
            .iter()
            .map(|p| people.of(p))
            .collect::<Vec<_>>()
            .join(" and "),
        i_agreed: review.agreed_by.contains(&me),
        is_reviewer,
        is_reviewee,
        saved_note,
        copy,
        other_copy: None,
        command_id: new_command_id(),
        error,
        posted: draft_source.unwrap_or_default(),
        compare_href,
        dialogue_held_on: long_date(&review.dialogue_held_on),
        // Either person attaches files until the record is agreed (review dialogue decides).
        tags: Tags::of(state, viewer, "review", id, &review.school_id).await?,
        files: Files::new(
            state,
            viewer,
            FileKind::Review,
            id,
            &review.attachments,
            &people,
            (is_reviewer || is_reviewee)
                && !matches!(review.status.as_str(), "agreed" | "cancelled"),
        ),
        review,
    })
}

/// The review's page with `error` on it (after a refused file).
pub async fn page_with_error(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    error: String,
) -> Result<DetailPage, PageError> {
    show(state, viewer, id, Some(error), None).await
}

fn record_rows(review: &rd::Review) -> Vec<LookForRow> {
    review
        .look_fors
        .iter()
        .map(|l| LookForRow {
            id: l.look_for_id.clone(),
            label: l.label.clone(),
            comment: l.comment.clone(),
            exemplary: l.exemplary,
            focus: l.focus,
        })
        .collect()
}

fn step_rows(review: &rd::Review, people: &Names) -> Vec<StepRow> {
    review
        .next_steps
        .iter()
        .enumerate()
        .map(|(n, s)| StepRow {
            n,
            description: s.description.clone(),
            owner: people.of(&s.owner_id),
            owner_id: s.owner_id.clone(),
            due: long_date(&s.due_date),
            due_date: s.due_date.clone(),
            success_criteria: s.success_criteria.clone(),
        })
        .collect()
}

/// The draft form's fields: `lf.<id>.comment`, `lf.<id>.exemplary`, `lf.<id>.focus`;
/// `step.<n>.description|owner|due|criteria`.
fn draft_from_fields(fields: &Fields, look_fors: &[Choice]) -> (Vec<LookForRow>, Vec<StepRow>) {
    let rows = look_fors
        .iter()
        .map(|lf| LookForRow {
            id: lf.value.clone(),
            label: lf.label.clone(),
            comment: fields.get(&format!("lf.{}.comment", lf.value)).to_owned(),
            exemplary: fields.checked(&format!("lf.{}.exemplary", lf.value)),
            focus: fields.checked(&format!("lf.{}.focus", lf.value)),
        })
        .collect();
    let steps = (0..3)
        .map(|n| StepRow {
            n,
            description: fields.get(&format!("step.{n}.description")).to_owned(),
            owner: String::new(),
            owner_id: fields.get(&format!("step.{n}.owner")).to_owned(),
            due: String::new(),
            due_date: fields.get(&format!("step.{n}.due")).to_owned(),
            success_criteria: fields.get(&format!("step.{n}.criteria")).to_owned(),
        })
        .collect();
    (rows, steps)
}

pub async fn detail(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<DetailPage, PageError> {
    show(&state, &viewer, &id, None, None).await
}

/// Saves the draft being written (htmx posts it as people type; without JavaScript the
/// "Save without sharing" button does).
pub async fn autosave(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    fields: Fields,
) -> Result<Response, PageError> {
    let review = load(&state, &viewer, &id).await?;
    if review.reviewer_id != viewer.staff.to_string() {
        return Err(PageError::forbidden());
    }
    let htmx = headers.contains_key("hx-request");
    match autosave::save(&state, &viewer, &autosave_key(&id), &fields).await? {
        // The form learns the new revision (an out-of-band swap of its hidden field).
        autosave::Saved::Saved { revision, at } if htmx => Ok(Html(format!(
            "Saved at {at}<input type=\"hidden\" id=\"autosave-copy\" name=\"copy\" value=\"{revision}\" hx-swap-oob=\"true\">"
        ))
        .into_response()),
        autosave::Saved::Saved { .. } => Ok(see(format!("/reviews/{id}#record"))),
        autosave::Saved::Behind(other) if htmx => Ok(Html(format!(
            "Not saved: this draft was changed in another window{}. Copy your text, then reload the page to see both.",
            if other.saved_at.is_empty() { String::new() } else { format!(" at {}", other.saved_at) }
        ))
        .into_response()),
        autosave::Saved::Behind(other) => {
            let message = "Not saved: you changed this draft in another window since this one was opened. Your text is in the form; the other window’s is shown beside it. Keep what you want, then save again.".to_owned();
            let mut page = show(&state, &viewer, &id, Some(message), Some(fields)).await?;
            page.other_copy = Some(OtherCopy::of(other, &page.look_fors));
            Ok(refused_page(page))
        }
    }
}

pub async fn act(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, verb)): Path<(String, String)>,
    fields: Fields,
) -> Result<Response, PageError> {
    // Only someone who may see the review gets further (404 otherwise).
    load(&state, &viewer, &id).await?;
    let mut client = state.clients(&viewer).reviews();
    let command_id = fields.command_id();
    let text = |name: &str| rd::RecordTextRequest {
        command_id: command_id.clone(),
        id: id.clone(),
        text: fields.trimmed(name),
    };
    let result = match verb.as_str() {
        "evidence" => {
            client
                .note_evidence(rd::NoteEvidenceRequest {
                    command_id: command_id.clone(),
                    review_id: id.clone(),
                    source_id: fields.trimmed("source_id"),
                    look_for_ids: fields.all("look_for_ids"),
                    note: fields.trimmed("note"),
                })
                .await
        }
        "triangulation" => client.note_triangulation(text("text")).await,
        "dialogue" => {
            client
                .hold_dialogue(rd::HoldDialogueRequest {
                    command_id: command_id.clone(),
                    review_id: id.clone(),
                    held_on: fields.trimmed("held_on"),
                    both_present: fields.checked("both_present"),
                    discussed: fields.trimmed("discussed"),
                })
                .await
        }
        "reflection" => client.add_reflection(text("text")).await,
        "draft" => {
            let catalogue = client
                .get_catalogue(rd::GetCatalogueRequest {})
                .await?
                .into_inner();
            let look_fors: Vec<rd::LookForEntry> = catalogue
                .items
                .iter()
                .filter(|i| i.kind == "look_for")
                .filter_map(|i| {
                    let comment = fields.trimmed(&format!("lf.{}.comment", i.id));
                    let exemplary = fields.checked(&format!("lf.{}.exemplary", i.id));
                    let focus = fields.checked(&format!("lf.{}.focus", i.id));
                    (!comment.is_empty() || exemplary || focus).then(|| rd::LookForEntry {
                        look_for_id: i.id.clone(),
                        label: i.label.clone(),
                        comment,
                        exemplary,
                        focus,
                    })
                })
                .collect();
            let next_steps = (0..3)
                .filter(|n| !fields.trimmed(&format!("step.{n}.description")).is_empty())
                .map(|n| rd::NextStep {
                    description: fields.trimmed(&format!("step.{n}.description")),
                    owner_id: fields.trimmed(&format!("step.{n}.owner")),
                    due_date: fields.trimmed(&format!("step.{n}.due")),
                    success_criteria: fields.trimmed(&format!("step.{n}.criteria")),
                })
                .collect();
            let result = client
                .draft_record(rd::DraftRecordRequest {
                    command_id: command_id.clone(),
                    review_id: id.clone(),
                    look_fors,
                    good_practice: fields.trimmed("good_practice"),
                    areas_to_focus: fields.trimmed("areas_to_focus"),
                    next_steps,
                    based_on_draft: fields.get("based_on").parse().unwrap_or(0),
                })
                .await;
            if result.is_ok() {
                autosave::clear(&state, &viewer, &autosave_key(&id)).await?;
            }
            result
        }
        "response" => client.add_response(text("text")).await,
        "send-back" => client.send_back_draft(text("reason")).await,
        "agree" => {
            client
                .agree_record(rd::AgreeRecordRequest {
                    command_id: command_id.clone(),
                    review_id: id.clone(),
                    // The draft the person read, never whatever is current now.
                    draft: fields.get("draft").parse().unwrap_or(0),
                })
                .await
        }
        "correction" => {
            client
                .add_correction(rd::AddCorrectionRequest {
                    command_id: command_id.clone(),
                    review_id: id.clone(),
                    correction: fields.trimmed("correction"),
                    reason: fields.trimmed("reason"),
                })
                .await
        }
        "reschedule" => {
            client
                .reschedule_review(rd::RescheduleReviewRequest {
                    command_id: command_id.clone(),
                    review_id: id.clone(),
                    window_opens: fields.trimmed("window_opens"),
                    window_closes: fields.trimmed("window_closes"),
                    reason: fields.trimmed("reason"),
                })
                .await
        }
        "cancel" => client.cancel_review(text("reason")).await,
        _ => return Err(PageError::not_found()),
    };
    match result {
        Ok(_) => Ok(see(format!("/reviews/{id}"))),
        Err(status) => {
            let message = refusal(status)?;
            // Only the draft form is shown again from what was posted; other forms are short.
            let posted = Some(fields);
            Ok(refused_page(
                show(&state, &viewer, &id, Some(message), posted).await?,
            ))
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/review_record.html")]
pub struct RecordPage {
    nav: Nav,
    review: rd::Review,
    school: String,
    reviewer: String,
    reviewee: String,
    window: String,
    evidence: Vec<Evidence>,
    record: Vec<LookForRow>,
    steps: Vec<StepRow>,
    agreed_by: String,
    tag: Tag,
    dialogue_held_on: String,
    corrections: Vec<(String, String, String)>,
}

/// The record on its own, for printing or saving as PDF.
pub async fn record(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<RecordPage, PageError> {
    let review = load(&state, &viewer, &id).await?;
    let people = names(&state.platform.pool, viewer.trust).await?;
    Ok(RecordPage {
        nav: Nav::new(&state, &viewer, "reviews").await,
        tag: tag(&review.status),
        school: crate::web::school_name(&viewer, &review.school_id),
        reviewer: people.of(&review.reviewer_id),
        reviewee: people.of(&review.reviewee_id),
        window: format!(
            "{} to {}",
            long_date(&review.window_opens),
            long_date(&review.window_closes)
        ),
        evidence: evidence(&review),
        record: record_rows(&review),
        steps: step_rows(&review, &people),
        agreed_by: review
            .agreed_by
            .iter()
            .map(|p| people.of(p))
            .collect::<Vec<_>>()
            .join(" and "),
        dialogue_held_on: long_date(&review.dialogue_held_on),
        corrections: review
            .corrections
            .iter()
            .map(|c| (people.of(&c.by), c.correction.clone(), c.reason.clone()))
            .collect(),
        review,
    })
}
