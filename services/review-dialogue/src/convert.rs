//! Between the wire and the domain: requests parse into domain values (a bad field is an
//! `INVALID_ARGUMENT` naming it), states render into messages.

use chrono::NaiveDate;
use uuid::Uuid;
use waymark_domain::agreed::Outcome;
use waymark_domain::evidence::Attachments;
use waymark_domain::review_dialogue::catalogue::{CatalogueState, Item, ItemKind};
use waymark_domain::review_dialogue::meeting::{
    Adaptation, Analysis, Discussion, DiscussionLevel, GroupNote, LearnerNote, LearnerRef,
    MeetingState, PreviousAction, ReviewedAction,
};
use waymark_domain::review_dialogue::review::{CatalogueRef, LookForEntry, NextStep, ReviewState};
use waymark_domain::review_dialogue::visit::VisitState;
use waymark_domain::{StaffId, Text};
use waymark_proto::review_dialogue::v1 as pb;
use waymark_runtime::{ServiceError, parse};

pub fn uuid(field: &str, value: &str) -> Result<Uuid, ServiceError> {
    if value.trim().is_empty() {
        return Err(ServiceError::invalid(field, "is required"));
    }
    Uuid::parse_str(value.trim()).map_err(|_| ServiceError::invalid(field, "is not a valid id"))
}

fn text_or_empty(text: &Option<Text>) -> String {
    text.as_ref().map(ToString::to_string).unwrap_or_default()
}

fn occurrence_or_empty(id: Option<Uuid>) -> String {
    id.map(|id| id.to_string()).unwrap_or_default()
}

fn id_or_empty(id: Option<StaffId>) -> String {
    id.map(|id| id.to_string()).unwrap_or_default()
}

/// The catalogue item `id` of `kind`, as a reference that keeps its current name.
pub fn catalogue_ref(
    catalogue: &CatalogueState,
    kind: ItemKind,
    field: &str,
    id: &str,
) -> Result<CatalogueRef, ServiceError> {
    let id = uuid(field, id)?;
    let item = catalogue
        .items
        .iter()
        .find(|item| item.id == id && item.kind == kind)
        .ok_or_else(|| {
            ServiceError::invalid(
                field,
                format!("{id} is not a {} of this trust", kind_name(kind)),
            )
        })?;
    if item.retired {
        return Err(ServiceError::invalid(
            field,
            format!("`{}` is retired", item.label),
        ));
    }
    Ok(CatalogueRef {
        id,
        label: item.label.clone(),
    })
}

fn kind_name(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::LookFor => "look-for",
        ItemKind::Source => "evidence source",
    }
}

pub fn next_steps(steps: &[pb::NextStep], today: NaiveDate) -> Result<Vec<NextStep>, ServiceError> {
    steps
        .iter()
        .map(|step| {
            Ok(NextStep {
                description: parse::text("next_steps.description", &step.description)?,
                owner: parse::id("next_steps.owner_id", &step.owner_id)?,
                due: parse::planned_date("next_steps.due_date", &step.due_date, today)?,
                success_criteria: parse::optional_text(
                    "next_steps.success_criteria",
                    &step.success_criteria,
                )?,
            })
        })
        .collect()
}

pub fn look_for_entries(
    catalogue: &CatalogueState,
    entries: &[pb::LookForEntry],
) -> Result<Vec<LookForEntry>, ServiceError> {
    entries
        .iter()
        .map(|entry| {
            Ok(LookForEntry {
                look_for: catalogue_ref(
                    catalogue,
                    ItemKind::LookFor,
                    "look_fors.look_for_id",
                    &entry.look_for_id,
                )?,
                comment: parse::optional_text("look_fors.comment", &entry.comment)?,
                exemplary: entry.exemplary,
                focus: entry.focus,
            })
        })
        .collect()
}

pub fn analysis(
    analysis: Option<pb::Analysis>,
    names_allowed: bool,
) -> Result<Analysis, ServiceError> {
    let analysis = analysis.unwrap_or_default();
    Ok(Analysis {
        strengths: parse::optional_text("analysis.strengths", &analysis.strengths)?,
        areas_of_focus: parse::optional_text("analysis.areas_of_focus", &analysis.areas_of_focus)?,
        groups: analysis
            .groups
            .iter()
            .map(|group| {
                Ok(GroupNote {
                    group: parse::text("analysis.groups.group", &group.group)?,
                    note: parse::text("analysis.groups.note", &group.note)?,
                })
            })
            .collect::<Result<_, ServiceError>>()?,
        learners: analysis
            .learners
            .iter()
            .map(|learner| {
                Ok(LearnerNote {
                    learner: LearnerRef::parse(&learner.learner, names_allowed).map_err(
                        |error| ServiceError::invalid("analysis.learners.learner", error),
                    )?,
                    note: parse::text("analysis.learners.note", &learner.note)?,
                })
            })
            .collect::<Result<_, ServiceError>>()?,
    })
}

pub fn discussion(
    request: &pb::NoteDiscussionRequest,
    names_allowed: bool,
) -> Result<Discussion, ServiceError> {
    let level = match request.level.as_str() {
        "class" => DiscussionLevel::Class,
        "group" => DiscussionLevel::Group,
        "learner" => DiscussionLevel::Learner,
        _ => {
            return Err(ServiceError::invalid(
                "level",
                "must be class, group or learner",
            ));
        }
    };
    let about = match level {
        DiscussionLevel::Class => parse::optional_text("about", &request.about)?,
        DiscussionLevel::Group => Some(parse::text("about", &request.about)?),
        // A learner is only ever named by their reference.
        DiscussionLevel::Learner => Some(
            LearnerRef::parse(&request.about, names_allowed)
                .map_err(|error| ServiceError::invalid("about", error))
                .and_then(|learner| parse::text("about", learner.as_str()))?,
        ),
    };
    let adaptation = match request.adaptation.as_str() {
        "" => None,
        "teaching" => Some(Adaptation::Teaching),
        "curriculum" => Some(Adaptation::Curriculum),
        "targeted_support" => Some(Adaptation::TargetedSupport),
        _ => {
            return Err(ServiceError::invalid(
                "adaptation",
                "must be teaching, curriculum or targeted_support",
            ));
        }
    };
    Ok(Discussion {
        level,
        about,
        note: parse::text("note", &request.note)?,
        adaptation,
        research: parse::optional_text("research", &request.research)?,
    })
}

pub fn outcome(
    request: &pb::ReviewPreviousActionRequest,
    today: NaiveDate,
) -> Result<Outcome, ServiceError> {
    match request.outcome.as_str() {
        "done" => Ok(Outcome::Done {
            impact: parse::text("text", &request.text)?,
        }),
        "carried_forward" => Ok(Outcome::CarriedForward {
            due_date: parse::planned_date("due_date", &request.due_date, today)?,
            note: parse::optional_text("text", &request.text)?,
        }),
        "dropped" => Ok(Outcome::Dropped {
            reason: parse::text("text", &request.text)?,
        }),
        _ => Err(ServiceError::invalid(
            "outcome",
            "must be done, carried_forward or dropped",
        )),
    }
}

pub fn catalogue(state: &CatalogueState) -> pb::Catalogue {
    pb::Catalogue {
        items: state.items.iter().map(item).collect(),
        learner_names_allowed: state.learner_names_allowed,
    }
}

fn item(item: &Item) -> pb::CatalogueItem {
    pb::CatalogueItem {
        id: item.id.to_string(),
        kind: item.kind.as_str().to_owned(),
        label: item.label.to_string(),
        retired: item.retired,
    }
}

fn reference(kind: ItemKind, reference: &CatalogueRef) -> pb::CatalogueItem {
    pb::CatalogueItem {
        id: reference.id.to_string(),
        kind: kind.as_str().to_owned(),
        label: reference.label.to_string(),
        retired: false,
    }
}

fn step(step: &NextStep) -> pb::NextStep {
    pb::NextStep {
        description: step.description.to_string(),
        owner_id: step.owner.to_string(),
        due_date: step.due.to_string(),
        success_criteria: text_or_empty(&step.success_criteria),
    }
}

pub fn look_for(entry: &LookForEntry) -> pb::LookForEntry {
    pb::LookForEntry {
        look_for_id: entry.look_for.id.to_string(),
        label: entry.look_for.label.to_string(),
        comment: text_or_empty(&entry.comment),
        exemplary: entry.exemplary,
        focus: entry.focus,
    }
}

pub fn review(state: &ReviewState, version: i64) -> pb::Review {
    let record = state.record.clone().unwrap_or_default();
    pb::Review {
        review_id: state.review_id.map(|id| id.to_string()).unwrap_or_default(),
        school_id: state.school_id.map(|id| id.to_string()).unwrap_or_default(),
        academic_year: state
            .academic_year
            .map(|year| year.to_string())
            .unwrap_or_default(),
        year_group: text_or_empty(&state.year_group),
        reviewer_id: id_or_empty(state.reviewer),
        reviewee_id: id_or_empty(state.reviewee),
        window_opens: state
            .window
            .map(|w| w.opens.to_string())
            .unwrap_or_default(),
        window_closes: state
            .window
            .map(|w| w.closes.to_string())
            .unwrap_or_default(),
        status: state.status.as_str().to_owned(),
        slt_line_manager_id: id_or_empty(state.slt_line_manager),
        version,
        evidence: state
            .evidence
            .iter()
            .map(|note| pb::EvidenceNote {
                source: Some(reference(ItemKind::Source, &note.source)),
                look_fors: note
                    .look_fors
                    .iter()
                    .map(|l| reference(ItemKind::LookFor, l))
                    .collect(),
                note: note.note.to_string(),
            })
            .collect(),
        triangulation: state
            .triangulation
            .iter()
            .map(ToString::to_string)
            .collect(),
        dialogue_held_on: state
            .dialogue_held_on
            .map(|d| d.to_string())
            .unwrap_or_default(),
        dialogue: text_or_empty(&state.dialogue),
        reflection: text_or_empty(&state.reflection),
        draft: state.draft_number,
        drafted_by: id_or_empty(state.drafted_by),
        look_fors: record.look_fors.iter().map(look_for).collect(),
        good_practice: text_or_empty(&record.good_practice),
        areas_to_focus: text_or_empty(&record.areas_to_focus),
        next_steps: record.next_steps.iter().map(step).collect(),
        response: text_or_empty(&state.response),
        agreed_by: state.agreed_by.iter().map(ToString::to_string).collect(),
        awaiting_agreement_of: state
            .awaiting_agreement()
            .iter()
            .map(ToString::to_string)
            .collect(),
        sent_back_by: state
            .sent_back
            .as_ref()
            .map(|(by, _)| by.to_string())
            .unwrap_or_default(),
        sent_back_reason: state
            .sent_back
            .as_ref()
            .map(|(_, why)| why.to_string())
            .unwrap_or_default(),
        shared_with: id_or_empty(state.shared_with),
        corrections: state
            .corrections
            .iter()
            .map(|c| pb::Correction {
                by: c.by.to_string(),
                correction: c.correction.to_string(),
                reason: c.reason.to_string(),
            })
            .collect(),
        cancel_reason: text_or_empty(&state.cancel_reason),
        redacted: false,
        attachments: attachments(&state.attachments),
        occurrence_id: occurrence_or_empty(state.occurrence),
    }
}

fn attachments(files: &Attachments) -> Vec<waymark_proto::evidence::v1::Attachment> {
    files
        .iter()
        .map(waymark_runtime::evidence::message)
        .collect()
}

pub fn previous_action(reviewed: &ReviewedAction) -> pb::PreviousAction {
    let (outcome, outcome_text, due_date) = match &reviewed.outcome {
        None => ("", String::new(), String::new()),
        Some(Outcome::Done { impact }) => ("done", impact.to_string(), String::new()),
        Some(Outcome::CarriedForward { due_date, note }) => {
            ("carried_forward", text_or_empty(note), due_date.to_string())
        }
        Some(Outcome::Dropped { reason }) => ("dropped", reason.to_string(), String::new()),
    };
    pb::PreviousAction {
        action_id: reviewed.action.action_id.to_string(),
        description: reviewed.action.description.to_string(),
        outcome: outcome.to_owned(),
        outcome_text,
        due_date,
    }
}

pub fn pending_action(action: &PreviousAction) -> pb::PreviousAction {
    previous_action(&ReviewedAction {
        action: action.clone(),
        outcome: None,
    })
}

pub fn meeting(state: &MeetingState, version: i64) -> pb::Meeting {
    let analysis = state.analysis.as_ref().map(|a| pb::Analysis {
        strengths: text_or_empty(&a.strengths),
        areas_of_focus: text_or_empty(&a.areas_of_focus),
        groups: a
            .groups
            .iter()
            .map(|g| pb::GroupNote {
                group: g.group.to_string(),
                note: g.note.to_string(),
            })
            .collect(),
        learners: a
            .learners
            .iter()
            .map(|l| pb::LearnerNote {
                learner: l.learner.as_str().to_owned(),
                note: l.note.to_string(),
            })
            .collect(),
    });
    pb::Meeting {
        meeting_id: state
            .meeting_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        school_id: state.school_id.map(|id| id.to_string()).unwrap_or_default(),
        academic_year: state
            .academic_year
            .map(|year| year.to_string())
            .unwrap_or_default(),
        assessment_point: text_or_empty(&state.assessment_point),
        teacher_id: id_or_empty(state.teacher),
        class_group: text_or_empty(&state.class_group),
        leader_ids: state.leaders.iter().map(ToString::to_string).collect(),
        date: state.date.map(|d| d.to_string()).unwrap_or_default(),
        status: state.status.as_str().to_owned(),
        previous_meeting_id: state
            .previous_meeting
            .map(|id| id.to_string())
            .unwrap_or_default(),
        analysis,
        previous_actions: state.previous_actions.iter().map(previous_action).collect(),
        discussion: state
            .discussion
            .iter()
            .map(|d| pb::Discussion {
                level: serde_plain(d.level),
                about: text_or_empty(&d.about),
                note: d.note.to_string(),
                adaptation: d.adaptation.map(serde_plain).unwrap_or_default(),
                research: text_or_empty(&d.research),
            })
            .collect(),
        agreed_actions: state
            .agreed_actions
            .iter()
            .map(|a| pb::NextStep {
                description: a.description.to_string(),
                owner_id: a.owner_id.to_string(),
                due_date: a.due_date.to_string(),
                success_criteria: text_or_empty(&a.success_criteria),
            })
            .collect(),
        version,
        cancel_reason: text_or_empty(&state.cancel_reason),
        redacted: false,
        attachments: attachments(&state.attachments),
        occurrence_id: occurrence_or_empty(state.occurrence),
    }
}

/// The snake_case name serde gives a unit variant.
fn serde_plain<T: serde::Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub fn visit(state: &VisitState, version: i64) -> pb::Visit {
    pb::Visit {
        visit_id: state.visit_id.map(|id| id.to_string()).unwrap_or_default(),
        school_id: state.school_id.map(|id| id.to_string()).unwrap_or_default(),
        kind: state
            .kind
            .map(|k| k.as_str().to_owned())
            .unwrap_or_default(),
        visitor_id: id_or_empty(state.visitor),
        teacher_id: id_or_empty(state.teacher),
        date: state.date.map(|d| d.to_string()).unwrap_or_default(),
        focus: text_or_empty(&state.focus),
        status: state.status.as_str().to_owned(),
        previous_next_steps: state
            .previous_next_steps
            .iter()
            .map(pending_action)
            .collect(),
        observations: text_or_empty(&state.observations),
        previous_steps_review: text_or_empty(&state.previous_steps_review),
        feedback: text_or_empty(&state.feedback),
        next_steps: state.next_steps.iter().map(step).collect(),
        response: text_or_empty(&state.response),
        version,
        cancel_reason: text_or_empty(&state.cancel_reason),
        record_version: state.record_version,
        redacted: false,
        attachments: attachments(&state.attachments),
        occurrence_id: occurrence_or_empty(state.occurrence),
    }
}

/// What someone who may only oversee a review sees of it: its people, dates and state.
pub fn review_status(full: pb::Review) -> pb::Review {
    pb::Review {
        review_id: full.review_id,
        school_id: full.school_id,
        academic_year: full.academic_year,
        year_group: full.year_group,
        reviewer_id: full.reviewer_id,
        reviewee_id: full.reviewee_id,
        window_opens: full.window_opens,
        window_closes: full.window_closes,
        status: full.status,
        slt_line_manager_id: full.slt_line_manager_id,
        version: full.version,
        dialogue_held_on: full.dialogue_held_on,
        agreed_by: full.agreed_by,
        awaiting_agreement_of: full.awaiting_agreement_of,
        occurrence_id: full.occurrence_id,
        redacted: true,
        ..pb::Review::default()
    }
}

/// What someone who may only oversee a visit sees of it.
pub fn visit_status(full: pb::Visit) -> pb::Visit {
    pb::Visit {
        visit_id: full.visit_id,
        school_id: full.school_id,
        kind: full.kind,
        visitor_id: full.visitor_id,
        teacher_id: full.teacher_id,
        date: full.date,
        status: full.status,
        version: full.version,
        occurrence_id: full.occurrence_id,
        redacted: true,
        ..pb::Visit::default()
    }
}

/// What someone who may only oversee a meeting sees of it.
pub fn meeting_status(full: pb::Meeting) -> pb::Meeting {
    pb::Meeting {
        meeting_id: full.meeting_id,
        school_id: full.school_id,
        academic_year: full.academic_year,
        assessment_point: full.assessment_point,
        teacher_id: full.teacher_id,
        class_group: full.class_group,
        leader_ids: full.leader_ids,
        date: full.date,
        status: full.status,
        previous_meeting_id: full.previous_meeting_id,
        version: full.version,
        occurrence_id: full.occurrence_id,
        redacted: true,
        ..pb::Meeting::default()
    }
}
