//! The progress review of one year group, held by the reviewee's nearest line manager *with*
//! the teacher: evidence first, then a dialogue meeting, then a record both agree. There are no
//! grades or scores anywhere: a look-for gets an optional comment and may be flagged as
//! exemplary practice to share or as an area to focus.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::agreed::{ActionsAgreed, AgreedAction, OriginKind};
use crate::decider::{Decider, DomainEvent};
use crate::evidence::{AttachError, Attachment, Attachments, FileName};
use crate::ids::AttachmentId;
use crate::ids::{SchoolId, StaffId};
use crate::rejection::{Rejection, RejectionKind};
use crate::school_year::{AcademicYear, DateWindow};
use crate::text::Text;

/// Identifies a review.
pub type ReviewId = Uuid;

pub struct Review;

/// A look-for or an evidence source as it was named when used, so renaming or retiring it
/// later leaves old reviews as they were.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueRef {
    pub id: Uuid,
    pub label: Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleReview {
    pub review_id: ReviewId,
    pub school_id: SchoolId,
    pub academic_year: AcademicYear,
    pub year_group: Text,
    pub reviewer: StaffId,
    pub reviewee: StaffId,
    pub window: DateWindow,
    /// The reviewee's nearest line manager according to the directory, looked up before
    /// deciding.
    pub reviewee_line_manager: StaffId,
    /// Receives a copy of the agreed record.
    pub slt_line_manager: Option<StaffId>,
    /// The planned occurrence of the school's year this review holds, if scheduled from one.
    pub occurrence: Option<Uuid>,
}

/// What one look-for came to in the record. Only words and two flags: never a grade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookForEntry {
    pub look_for: CatalogueRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<Text>,
    /// Exemplary practice worth sharing with others.
    #[serde(default)]
    pub exemplary: bool,
    /// An area to focus on before the next review.
    #[serde(default)]
    pub focus: bool,
}

/// A next step both agree on; it becomes an agreed action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextStep {
    pub description: Text,
    pub owner: StaffId,
    pub due: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_criteria: Option<Text>,
}

/// The record as drafted: every part optional.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DraftRecord {
    #[serde(default)]
    pub look_fors: Vec<LookForEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub good_practice: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub areas_to_focus: Option<Text>,
    #[serde(default)]
    pub next_steps: Vec<NextStep>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ReviewCommand {
    Schedule(ScheduleReview),
    /// The reviewer notes what a source showed, against the look-fors it bears on.
    NoteEvidence {
        actor: StaffId,
        source: CatalogueRef,
        look_fors: Vec<CatalogueRef>,
        note: Text,
    },
    /// The reviewer's cross-referencing of sources.
    NoteTriangulation {
        actor: StaffId,
        note: Text,
    },
    /// Both met and talked it through before anything is written.
    HoldDialogue {
        actor: StaffId,
        held_on: NaiveDate,
        both_present: bool,
        discussed: Text,
    },
    /// The reviewee's own reflection.
    Reflect {
        actor: StaffId,
        reflection: Text,
    },
    /// Either writes (or rewrites) the draft record.
    Draft {
        actor: StaffId,
        record: DraftRecord,
        /// The draft number the writer's form was built from (0 before the first).
        based_on: u32,
    },
    /// The reviewee's response to the record.
    Respond {
        actor: StaffId,
        response: Text,
    },
    /// Either sends the draft back for changes, before both have agreed.
    SendBack {
        actor: StaffId,
        reason: Text,
    },
    /// Agrees to draft number `draft`.
    Agree {
        actor: StaffId,
        draft: u32,
    },
    /// After agreement: a correction, kept beside the record, never editing it.
    Correct {
        actor: StaffId,
        correction: Text,
        reason: Text,
    },
    Reschedule {
        actor: StaffId,
        window: DateWindow,
        reason: Text,
    },
    Cancel {
        actor: StaffId,
        reason: Text,
    },
    /// Either attaches a file as evidence, until the record is agreed.
    Attach {
        actor: StaffId,
        attachment: Attachment,
    },
    /// Whoever attached a file removes it, until the record is agreed.
    RemoveAttachment {
        actor: StaffId,
        attachment_id: AttachmentId,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ReviewEvent {
    ReviewScheduled {
        review_id: ReviewId,
        school_id: SchoolId,
        academic_year: AcademicYear,
        year_group: Text,
        reviewer_id: StaffId,
        reviewee_id: StaffId,
        window_opens: NaiveDate,
        window_closes: NaiveDate,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        slt_line_manager_id: Option<StaffId>,
        /// The planned occurrence it holds (scheduling marks it held when the review is agreed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        occurrence: Option<Uuid>,
    },
    EvidenceNoted {
        review_id: ReviewId,
        source: CatalogueRef,
        look_fors: Vec<CatalogueRef>,
        note: Text,
    },
    TriangulationNoted {
        review_id: ReviewId,
        note: Text,
    },
    DialogueHeld {
        review_id: ReviewId,
        held_on: NaiveDate,
        discussed: Text,
    },
    ReflectionAdded {
        review_id: ReviewId,
        reflection: Text,
    },
    RecordDrafted {
        review_id: ReviewId,
        draft: u32,
        by: StaffId,
        record: DraftRecord,
    },
    ResponseAdded {
        review_id: ReviewId,
        response: Text,
    },
    DraftSentBack {
        review_id: ReviewId,
        by: StaffId,
        reason: Text,
    },
    RecordAgreed {
        review_id: ReviewId,
        draft: u32,
        by: StaffId,
    },
    /// Both have agreed: the record is final.
    ReviewAgreed {
        review_id: ReviewId,
        draft: u32,
    },
    /// The next steps, as agreed actions for action tracking.
    ActionsAgreed(ActionsAgreed),
    RecordShared {
        review_id: ReviewId,
        with: StaffId,
    },
    CorrectionAdded {
        review_id: ReviewId,
        by: StaffId,
        correction: Text,
        reason: Text,
    },
    ReviewRescheduled {
        review_id: ReviewId,
        window_opens: NaiveDate,
        window_closes: NaiveDate,
        reason: Text,
    },
    ReviewCancelled {
        review_id: ReviewId,
        reason: Text,
    },
    EvidenceAttached {
        review_id: ReviewId,
        attachment: Attachment,
    },
    EvidenceRemoved {
        review_id: ReviewId,
        attachment_id: AttachmentId,
        file_name: FileName,
        by: StaffId,
    },
}

impl DomainEvent for ReviewEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::ReviewScheduled { .. } => "ReviewScheduled",
            Self::EvidenceNoted { .. } => "EvidenceNoted",
            Self::TriangulationNoted { .. } => "TriangulationNoted",
            Self::DialogueHeld { .. } => "DialogueHeld",
            Self::ReflectionAdded { .. } => "ReflectionAdded",
            Self::RecordDrafted { .. } => "RecordDrafted",
            Self::ResponseAdded { .. } => "ResponseAdded",
            Self::DraftSentBack { .. } => "DraftSentBack",
            Self::RecordAgreed { .. } => "RecordAgreed",
            Self::ReviewAgreed { .. } => "ReviewAgreed",
            Self::ActionsAgreed(_) => crate::agreed::ACTIONS_AGREED,
            Self::RecordShared { .. } => "RecordShared",
            Self::CorrectionAdded { .. } => "CorrectionAdded",
            Self::ReviewRescheduled { .. } => "ReviewRescheduled",
            Self::ReviewCancelled { .. } => "ReviewCancelled",
            Self::EvidenceAttached { .. } => "EvidenceAttached",
            Self::EvidenceRemoved { .. } => "EvidenceRemoved",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewRejection {
    #[error("no such review")]
    NotFound,
    #[error("the reviewer must be the reviewee's nearest line manager")]
    NotLineManager,
    #[error("a review needs two people: the reviewer cannot review themselves")]
    SelfReview,
    #[error("this review is already scheduled")]
    AlreadyScheduled,
    #[error("only the reviewer and the reviewee take part in this review")]
    NotAParty,
    #[error("only the {0} can do this")]
    OnlyThe(&'static str),
    #[error("note the evidence before the dialogue meeting")]
    NoEvidence,
    #[error("the dialogue meeting needs both people present")]
    NotBothPresent,
    #[error("nothing is written before the dialogue meeting is recorded")]
    NoDialogue,
    #[error("there is no draft record to agree yet")]
    NoDraft,
    #[error(
        "draft {requested} is not the current draft ({current}): read the current draft before agreeing"
    )]
    StaleDraft { requested: u32, current: u32 },
    #[error(
        "the draft has changed since your form was opened (it showed draft {based_on}, now draft {current}): your text is kept below the current draft; compare them before saving again"
    )]
    DraftChanged { based_on: u32, current: u32 },
    #[error("you have already agreed this draft")]
    AlreadyAgreed,
    #[error("the record is agreed and cannot be changed; add a correction instead")]
    Agreed,
    #[error("the record is not agreed yet; change the draft instead")]
    NotAgreed,
    #[error("the review is cancelled")]
    Cancelled,
    #[error("`{0}` is marked both exemplary and an area to focus")]
    ExemplaryAndFocus(String),
    #[error("`{0}` appears twice in the record")]
    RepeatedLookFor(String),
    #[error("{0}")]
    Evidence(AttachError),
}

impl Rejection for ReviewRejection {
    fn kind(&self) -> RejectionKind {
        use ReviewRejection as R;
        match self {
            R::NotFound => RejectionKind::NotFound,
            R::AlreadyScheduled => RejectionKind::AlreadyExists,
            R::NotAParty | R::OnlyThe(_) => RejectionKind::PermissionDenied,
            R::NotLineManager
            | R::SelfReview
            | R::NotBothPresent
            | R::ExemplaryAndFocus(_)
            | R::RepeatedLookFor(_) => RejectionKind::InvalidArgument,
            R::NoEvidence
            | R::NoDialogue
            | R::NoDraft
            | R::StaleDraft { .. }
            | R::DraftChanged { .. }
            | R::AlreadyAgreed
            | R::Agreed
            | R::NotAgreed
            | R::Cancelled => RejectionKind::FailedPrecondition,
            R::Evidence(error) => error.kind(),
        }
    }

    fn code(&self) -> &'static str {
        use ReviewRejection as R;
        match self {
            R::NotFound => "review.not_found",
            R::NotLineManager => "review.not_line_manager",
            R::SelfReview => "review.self_review",
            R::AlreadyScheduled => "review.already_scheduled",
            R::NotAParty => "review.not_a_party",
            R::OnlyThe(_) => "review.wrong_party",
            R::NoEvidence => "review.no_evidence",
            R::NotBothPresent => "review.not_both_present",
            R::NoDialogue => "review.no_dialogue",
            R::NoDraft => "review.no_draft",
            R::StaleDraft { .. } => "review.stale_draft",
            R::DraftChanged { .. } => "review.draft_changed",
            R::AlreadyAgreed => "review.already_agreed",
            R::Agreed => "review.agreed",
            R::NotAgreed => "review.not_agreed",
            R::Cancelled => "review.cancelled",
            R::ExemplaryAndFocus(_) => "review.exemplary_and_focus",
            R::RepeatedLookFor(_) => "review.repeated_look_for",
            R::Evidence(error) => error.code(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    #[default]
    Scheduled,
    /// Evidence is being gathered.
    Gathering,
    /// The dialogue meeting has been held.
    Discussed,
    /// A draft record exists and awaits agreement.
    Drafted,
    /// Both agreed: the record is final.
    Agreed,
    Cancelled,
}

impl ReviewStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Gathering => "gathering",
            Self::Discussed => "discussed",
            Self::Drafted => "drafted",
            Self::Agreed => "agreed",
            Self::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceNote {
    pub source: CatalogueRef,
    pub look_fors: Vec<CatalogueRef>,
    pub note: Text,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Correction {
    pub by: StaffId,
    pub correction: Text,
    pub reason: Text,
}

/// The whole review as its events tell it: what decisions need, and what the read model
/// shows.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ReviewState {
    pub review_id: Option<ReviewId>,
    pub school_id: Option<SchoolId>,
    pub academic_year: Option<AcademicYear>,
    pub year_group: Option<Text>,
    pub reviewer: Option<StaffId>,
    pub reviewee: Option<StaffId>,
    pub window: Option<DateWindow>,
    pub slt_line_manager: Option<StaffId>,
    /// The planned occurrence it holds.
    pub occurrence: Option<Uuid>,
    pub status: ReviewStatus,
    pub evidence: Vec<EvidenceNote>,
    pub triangulation: Vec<Text>,
    pub dialogue_held_on: Option<NaiveDate>,
    pub dialogue: Option<Text>,
    pub reflection: Option<Text>,
    pub draft_number: u32,
    pub record: Option<DraftRecord>,
    pub drafted_by: Option<StaffId>,
    pub response: Option<Text>,
    /// Who has agreed the current draft.
    pub agreed_by: Vec<StaffId>,
    pub sent_back: Option<(StaffId, Text)>,
    pub shared_with: Option<StaffId>,
    pub corrections: Vec<Correction>,
    pub cancel_reason: Option<Text>,
    /// Files attached as evidence.
    pub attachments: Attachments,
}

impl ReviewState {
    /// The people who are party to the review: the reviewer and the reviewee.
    fn parties(&self) -> Result<(ReviewId, StaffId, StaffId), ReviewRejection> {
        match (self.review_id, self.reviewer, self.reviewee) {
            (Some(id), Some(reviewer), Some(reviewee)) => Ok((id, reviewer, reviewee)),
            _ => Err(ReviewRejection::NotFound),
        }
    }

    /// Still open to change: exists, not cancelled, not agreed.
    fn open(&self) -> Result<(ReviewId, StaffId, StaffId), ReviewRejection> {
        let parties = self.parties()?;
        match self.status {
            ReviewStatus::Cancelled => Err(ReviewRejection::Cancelled),
            ReviewStatus::Agreed => Err(ReviewRejection::Agreed),
            _ => Ok(parties),
        }
    }

    /// Whoever is still to agree the current draft.
    pub fn awaiting_agreement(&self) -> Vec<StaffId> {
        if self.status != ReviewStatus::Drafted {
            return Vec::new();
        }
        [self.reviewer, self.reviewee]
            .into_iter()
            .flatten()
            .filter(|person| !self.agreed_by.contains(person))
            .collect()
    }
}

fn party(actor: StaffId, reviewer: StaffId, reviewee: StaffId) -> Result<(), ReviewRejection> {
    if actor == reviewer || actor == reviewee {
        Ok(())
    } else {
        Err(ReviewRejection::NotAParty)
    }
}

fn check_record(record: &DraftRecord) -> Result<(), ReviewRejection> {
    for (n, entry) in record.look_fors.iter().enumerate() {
        if entry.exemplary && entry.focus {
            return Err(ReviewRejection::ExemplaryAndFocus(
                entry.look_for.label.to_string(),
            ));
        }
        if record.look_fors[..n]
            .iter()
            .any(|earlier| earlier.look_for.id == entry.look_for.id)
        {
            return Err(ReviewRejection::RepeatedLookFor(
                entry.look_for.label.to_string(),
            ));
        }
    }
    Ok(())
}

impl Decider for Review {
    const CATEGORY: &'static str = "review";
    type State = ReviewState;
    type Command = ReviewCommand;
    type Event = ReviewEvent;
    type Rejection = ReviewRejection;

    fn decide(
        state: &ReviewState,
        command: &ReviewCommand,
    ) -> Result<Vec<ReviewEvent>, ReviewRejection> {
        use ReviewCommand as C;
        use ReviewEvent as E;
        use ReviewRejection as R;
        match command {
            C::Schedule(schedule) => {
                if state.review_id.is_some() {
                    return Err(R::AlreadyScheduled);
                }
                if schedule.reviewer == schedule.reviewee {
                    return Err(R::SelfReview);
                }
                if schedule.reviewer != schedule.reviewee_line_manager {
                    return Err(R::NotLineManager);
                }
                Ok(vec![E::ReviewScheduled {
                    review_id: schedule.review_id,
                    school_id: schedule.school_id,
                    academic_year: schedule.academic_year,
                    year_group: schedule.year_group.clone(),
                    reviewer_id: schedule.reviewer,
                    reviewee_id: schedule.reviewee,
                    window_opens: schedule.window.opens,
                    window_closes: schedule.window.closes,
                    slt_line_manager_id: schedule.slt_line_manager,
                    occurrence: schedule.occurrence,
                }])
            }
            C::NoteEvidence {
                actor,
                source,
                look_fors,
                note,
            } => {
                let (review_id, reviewer, _) = state.open()?;
                if *actor != reviewer {
                    return Err(R::OnlyThe("reviewer"));
                }
                Ok(vec![E::EvidenceNoted {
                    review_id,
                    source: source.clone(),
                    look_fors: look_fors.clone(),
                    note: note.clone(),
                }])
            }
            C::NoteTriangulation { actor, note } => {
                let (review_id, reviewer, _) = state.open()?;
                if *actor != reviewer {
                    return Err(R::OnlyThe("reviewer"));
                }
                Ok(vec![E::TriangulationNoted {
                    review_id,
                    note: note.clone(),
                }])
            }
            C::HoldDialogue {
                actor,
                held_on,
                both_present,
                discussed,
            } => {
                let (review_id, reviewer, reviewee) = state.open()?;
                party(*actor, reviewer, reviewee)?;
                if state.evidence.is_empty() {
                    return Err(R::NoEvidence);
                }
                if !both_present {
                    return Err(R::NotBothPresent);
                }
                Ok(vec![E::DialogueHeld {
                    review_id,
                    held_on: *held_on,
                    discussed: discussed.clone(),
                }])
            }
            C::Reflect { actor, reflection } => {
                let (review_id, _, reviewee) = state.open()?;
                if *actor != reviewee {
                    return Err(R::OnlyThe("reviewee"));
                }
                Ok(vec![E::ReflectionAdded {
                    review_id,
                    reflection: reflection.clone(),
                }])
            }
            C::Draft {
                actor,
                record,
                based_on,
            } => {
                let (review_id, reviewer, reviewee) = state.open()?;
                party(*actor, reviewer, reviewee)?;
                if state.dialogue_held_on.is_none() {
                    return Err(R::NoDialogue);
                }
                if *based_on != state.draft_number {
                    return Err(R::DraftChanged {
                        based_on: *based_on,
                        current: state.draft_number,
                    });
                }
                check_record(record)?;
                Ok(vec![E::RecordDrafted {
                    review_id,
                    draft: state.draft_number + 1,
                    by: *actor,
                    record: record.clone(),
                }])
            }
            C::Respond { actor, response } => {
                let (review_id, _, reviewee) = state.open()?;
                if *actor != reviewee {
                    return Err(R::OnlyThe("reviewee"));
                }
                if state.record.is_none() {
                    return Err(R::NoDraft);
                }
                Ok(vec![E::ResponseAdded {
                    review_id,
                    response: response.clone(),
                }])
            }
            C::SendBack { actor, reason } => {
                let (review_id, reviewer, reviewee) = state.open()?;
                party(*actor, reviewer, reviewee)?;
                if state.record.is_none() {
                    return Err(R::NoDraft);
                }
                Ok(vec![E::DraftSentBack {
                    review_id,
                    by: *actor,
                    reason: reason.clone(),
                }])
            }
            C::Agree { actor, draft } => {
                let (review_id, reviewer, reviewee) = state.open()?;
                party(*actor, reviewer, reviewee)?;
                let Some(record) = &state.record else {
                    return Err(R::NoDraft);
                };
                if state.status != ReviewStatus::Drafted {
                    return Err(R::NoDraft);
                }
                if *draft != state.draft_number {
                    return Err(R::StaleDraft {
                        requested: *draft,
                        current: state.draft_number,
                    });
                }
                if state.agreed_by.contains(actor) {
                    return Err(R::AlreadyAgreed);
                }
                let mut events = vec![E::RecordAgreed {
                    review_id,
                    draft: *draft,
                    by: *actor,
                }];
                let both = state.agreed_by.iter().any(|other| other != actor);
                if both {
                    events.push(E::ReviewAgreed {
                        review_id,
                        draft: *draft,
                    });
                    if !record.next_steps.is_empty() {
                        events.push(E::ActionsAgreed(ActionsAgreed {
                            origin_kind: OriginKind::ProgressReview,
                            origin_id: review_id,
                            school_id: state.school_id.ok_or(R::NotFound)?,
                            actions: record
                                .next_steps
                                .iter()
                                .zip(1..)
                                .map(|(step, item)| AgreedAction {
                                    item,
                                    description: step.description.clone(),
                                    owner_id: step.owner,
                                    supporter_ids: vec![],
                                    due_date: step.due,
                                    success_criteria: step.success_criteria.clone(),
                                })
                                .collect(),
                        }));
                    }
                    if let Some(slt) = state.slt_line_manager {
                        events.push(E::RecordShared {
                            review_id,
                            with: slt,
                        });
                    }
                }
                Ok(events)
            }
            C::Correct {
                actor,
                correction,
                reason,
            } => {
                let (review_id, reviewer, reviewee) = state.parties()?;
                party(*actor, reviewer, reviewee)?;
                if state.status != ReviewStatus::Agreed {
                    return Err(R::NotAgreed);
                }
                Ok(vec![E::CorrectionAdded {
                    review_id,
                    by: *actor,
                    correction: correction.clone(),
                    reason: reason.clone(),
                }])
            }
            C::Reschedule {
                actor,
                window,
                reason,
            } => {
                let (review_id, reviewer, _) = state.open()?;
                if *actor != reviewer {
                    return Err(R::OnlyThe("reviewer"));
                }
                Ok(vec![E::ReviewRescheduled {
                    review_id,
                    window_opens: window.opens,
                    window_closes: window.closes,
                    reason: reason.clone(),
                }])
            }
            C::Cancel { actor, reason } => {
                let (review_id, reviewer, _) = state.open()?;
                if *actor != reviewer {
                    return Err(R::OnlyThe("reviewer"));
                }
                Ok(vec![E::ReviewCancelled {
                    review_id,
                    reason: reason.clone(),
                }])
            }
            C::Attach { actor, attachment } => {
                let (review_id, reviewer, reviewee) = state.open()?;
                party(*actor, reviewer, reviewee)?;
                state.attachments.can_attach().map_err(R::Evidence)?;
                Ok(vec![E::EvidenceAttached {
                    review_id,
                    attachment: attachment.clone(),
                }])
            }
            C::RemoveAttachment {
                actor,
                attachment_id,
            } => {
                let (review_id, reviewer, reviewee) = state.open()?;
                party(*actor, reviewer, reviewee)?;
                let file_name = state
                    .attachments
                    .can_remove(*actor, *attachment_id)
                    .map_err(R::Evidence)?;
                Ok(vec![E::EvidenceRemoved {
                    review_id,
                    attachment_id: *attachment_id,
                    file_name,
                    by: *actor,
                }])
            }
        }
    }

    fn evolve(mut state: ReviewState, event: &ReviewEvent) -> ReviewState {
        use ReviewEvent as E;
        match event {
            E::ReviewScheduled {
                review_id,
                school_id,
                academic_year,
                year_group,
                reviewer_id,
                reviewee_id,
                window_opens,
                window_closes,
                slt_line_manager_id,
                occurrence,
            } => {
                state.review_id = Some(*review_id);
                state.occurrence = *occurrence;
                state.school_id = Some(*school_id);
                state.academic_year = Some(*academic_year);
                state.year_group = Some(year_group.clone());
                state.reviewer = Some(*reviewer_id);
                state.reviewee = Some(*reviewee_id);
                state.window = Some(DateWindow {
                    opens: *window_opens,
                    closes: *window_closes,
                });
                state.slt_line_manager = *slt_line_manager_id;
                state.status = ReviewStatus::Scheduled;
            }
            E::EvidenceNoted {
                source,
                look_fors,
                note,
                ..
            } => {
                state.evidence.push(EvidenceNote {
                    source: source.clone(),
                    look_fors: look_fors.clone(),
                    note: note.clone(),
                });
                if state.status == ReviewStatus::Scheduled {
                    state.status = ReviewStatus::Gathering;
                }
            }
            E::TriangulationNoted { note, .. } => state.triangulation.push(note.clone()),
            E::DialogueHeld {
                held_on, discussed, ..
            } => {
                state.dialogue_held_on = Some(*held_on);
                state.dialogue = Some(discussed.clone());
                if matches!(
                    state.status,
                    ReviewStatus::Scheduled | ReviewStatus::Gathering
                ) {
                    state.status = ReviewStatus::Discussed;
                }
            }
            E::ReflectionAdded { reflection, .. } => state.reflection = Some(reflection.clone()),
            E::RecordDrafted {
                draft, by, record, ..
            } => {
                state.draft_number = *draft;
                state.record = Some(record.clone());
                state.drafted_by = Some(*by);
                state.agreed_by.clear();
                state.sent_back = None;
                state.status = ReviewStatus::Drafted;
            }
            E::ResponseAdded { response, .. } => {
                state.response = Some(response.clone());
                // A new response changes what was agreed to.
                state.agreed_by.clear();
            }
            E::DraftSentBack { by, reason, .. } => {
                state.sent_back = Some((*by, reason.clone()));
                state.agreed_by.clear();
                state.status = ReviewStatus::Discussed;
            }
            E::RecordAgreed { by, .. } => state.agreed_by.push(*by),
            E::ReviewAgreed { .. } => state.status = ReviewStatus::Agreed,
            E::ActionsAgreed(_) => {}
            E::RecordShared { with, .. } => state.shared_with = Some(*with),
            E::CorrectionAdded {
                by,
                correction,
                reason,
                ..
            } => state.corrections.push(Correction {
                by: *by,
                correction: correction.clone(),
                reason: reason.clone(),
            }),
            E::ReviewRescheduled {
                window_opens,
                window_closes,
                ..
            } => {
                state.window = Some(DateWindow {
                    opens: *window_opens,
                    closes: *window_closes,
                });
            }
            E::ReviewCancelled { reason, .. } => {
                state.status = ReviewStatus::Cancelled;
                state.cancel_reason = Some(reason.clone());
            }
            E::EvidenceAttached { attachment, .. } => state.attachments.attached(attachment),
            E::EvidenceRemoved { attachment_id, .. } => state.attachments.removed(*attachment_id),
        }
        state
    }
}

/// How a look-for moved between two reviews of the same year group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// An area to focus in the first review, no longer one in the second.
    FocusCovered,
    /// An area to focus in both.
    FocusRepeated,
    /// Exemplary in the second review, not in the first.
    NewExemplary,
    /// Exemplary in both.
    ExemplaryKept,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FocusCovered => "focus_covered",
            Self::FocusRepeated => "focus_repeated",
            Self::NewExemplary => "new_exemplary",
            Self::ExemplaryKept => "exemplary_kept",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookForChange {
    pub look_for: CatalogueRef,
    pub change: Change,
    pub first: Option<LookForEntry>,
    pub second: Option<LookForEntry>,
}

/// The second review beside the first: which areas to focus were covered, which came up
/// again, and what exemplary practice is new. Look-fors match by id, so a renamed look-for
/// still matches; the second review's name is shown.
pub fn compare(first: &DraftRecord, second: &DraftRecord) -> Vec<LookForChange> {
    let find = |record: &DraftRecord, id: Uuid| {
        record
            .look_fors
            .iter()
            .find(|e| e.look_for.id == id)
            .cloned()
    };
    let mut changes = Vec::new();
    for earlier in &first.look_fors {
        let later = find(second, earlier.look_for.id);
        let change = match (&later, earlier.focus, earlier.exemplary) {
            (Some(later), true, _) if later.focus => Some(Change::FocusRepeated),
            (Some(_), true, _) => Some(Change::FocusCovered),
            (Some(later), _, true) if later.exemplary => Some(Change::ExemplaryKept),
            _ => None,
        };
        if let Some(change) = change {
            let look_for = later
                .as_ref()
                .map_or_else(|| earlier.look_for.clone(), |l| l.look_for.clone());
            changes.push(LookForChange {
                look_for,
                change,
                first: Some(earlier.clone()),
                second: later,
            });
        }
    }
    for later in &second.look_fors {
        let earlier = find(first, later.look_for.id);
        if later.exemplary && !earlier.as_ref().is_some_and(|e| e.exemplary) {
            changes.push(LookForChange {
                look_for: later.look_for.clone(),
                change: Change::NewExemplary,
                first: earlier,
                second: Some(later.clone()),
            });
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::given;

    fn text(value: &str) -> Text {
        Text::parse(value).unwrap()
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn reference(label: &str) -> CatalogueRef {
        CatalogueRef {
            id: Uuid::new_v5(&Uuid::nil(), label.as_bytes()),
            label: text(label),
        }
    }

    struct People {
        manager: StaffId,
        teacher: StaffId,
        slt: StaffId,
        outsider: StaffId,
    }

    fn people() -> People {
        let new = || StaffId::from_uuid(Uuid::new_v4());
        People {
            manager: new(),
            teacher: new(),
            slt: new(),
            outsider: new(),
        }
    }

    fn schedule(p: &People) -> ScheduleReview {
        ScheduleReview {
            review_id: Uuid::new_v5(&Uuid::nil(), b"review"),
            school_id: SchoolId::from_uuid(Uuid::nil()),
            academic_year: AcademicYear::parse("2026-27").unwrap(),
            year_group: text("Year 8"),
            reviewer: p.manager,
            reviewee: p.teacher,
            window: DateWindow::new(day(2), day(20)).unwrap(),
            reviewee_line_manager: p.manager,
            slt_line_manager: Some(p.slt),
            occurrence: None,
        }
    }

    fn scheduled(p: &People) -> ReviewEvent {
        let s = schedule(p);
        ReviewEvent::ReviewScheduled {
            review_id: s.review_id,
            school_id: s.school_id,
            academic_year: s.academic_year,
            year_group: s.year_group,
            reviewer_id: s.reviewer,
            reviewee_id: s.reviewee,
            window_opens: s.window.opens,
            window_closes: s.window.closes,
            slt_line_manager_id: s.slt_line_manager,
            occurrence: s.occurrence,
        }
    }

    fn id(p: &People) -> ReviewId {
        schedule(p).review_id
    }

    fn evidence(p: &People) -> ReviewEvent {
        ReviewEvent::EvidenceNoted {
            review_id: id(p),
            source: reference("Book look"),
            look_fors: vec![reference("Student responses")],
            note: text("Pupils respond to most comments in green pen"),
        }
    }

    fn dialogue(p: &People) -> ReviewEvent {
        ReviewEvent::DialogueHeld {
            review_id: id(p),
            held_on: day(12),
            discussed: text("Feedback routines"),
        }
    }

    fn record(p: &People) -> DraftRecord {
        DraftRecord {
            look_fors: vec![
                LookForEntry {
                    look_for: reference("Student responses"),
                    comment: Some(text("Consistent")),
                    exemplary: true,
                    focus: false,
                },
                LookForEntry {
                    look_for: reference("Challenge"),
                    comment: None,
                    exemplary: false,
                    focus: true,
                },
            ],
            good_practice: Some(text("Feedback lessons")),
            areas_to_focus: None,
            next_steps: vec![NextStep {
                description: text("Plan stretch tasks"),
                owner: p.teacher,
                due: day(30),
                success_criteria: None,
            }],
        }
    }

    fn drafted(p: &People) -> ReviewEvent {
        ReviewEvent::RecordDrafted {
            review_id: id(p),
            draft: 1,
            by: p.manager,
            record: record(p),
        }
    }

    #[test]
    fn the_nearest_line_manager_schedules_a_review() {
        let p = people();
        given::<Review>([])
            .when(ReviewCommand::Schedule(schedule(&p)))
            .then([scheduled(&p)]);
    }

    #[test]
    fn someone_else_cannot_be_the_reviewer_even_a_senior_leader() {
        let p = people();
        let mut command = schedule(&p);
        command.reviewer = p.slt;
        given::<Review>([])
            .when(ReviewCommand::Schedule(command))
            .then_rejected(ReviewRejection::NotLineManager);
    }

    #[test]
    fn nobody_reviews_themselves_and_a_review_is_scheduled_once() {
        let p = people();
        let mut command = schedule(&p);
        command.reviewee = p.manager;
        given::<Review>([])
            .when(ReviewCommand::Schedule(command))
            .then_rejected(ReviewRejection::SelfReview);
        given::<Review>([scheduled(&p)])
            .when(ReviewCommand::Schedule(schedule(&p)))
            .then_rejected(ReviewRejection::AlreadyScheduled);
    }

    #[test]
    fn only_the_reviewer_notes_evidence() {
        let p = people();
        let note = |actor| ReviewCommand::NoteEvidence {
            actor,
            source: reference("Book look"),
            look_fors: vec![reference("Student responses")],
            note: text("Pupils respond to most comments in green pen"),
        };
        let state = given::<Review>([scheduled(&p)])
            .when(note(p.manager))
            .then([evidence(&p)]);
        assert_eq!(state.status, ReviewStatus::Gathering);
        given::<Review>([scheduled(&p)])
            .when(note(p.teacher))
            .then_rejected(ReviewRejection::OnlyThe("reviewer"));
    }

    #[test]
    fn the_dialogue_needs_evidence_and_both_people() {
        let p = people();
        let hold = |both_present| ReviewCommand::HoldDialogue {
            actor: p.teacher,
            held_on: day(12),
            both_present,
            discussed: text("Feedback routines"),
        };
        given::<Review>([scheduled(&p)])
            .when(hold(true))
            .then_rejected(ReviewRejection::NoEvidence);
        given::<Review>([scheduled(&p), evidence(&p)])
            .when(hold(false))
            .then_rejected(ReviewRejection::NotBothPresent);
        given::<Review>([scheduled(&p), evidence(&p)])
            .when(hold(true))
            .then([dialogue(&p)]);
    }

    #[test]
    fn nothing_is_written_before_the_dialogue() {
        let p = people();
        given::<Review>([scheduled(&p), evidence(&p)])
            .when(ReviewCommand::Draft {
                actor: p.manager,
                record: record(&p),
                based_on: 0,
            })
            .then_rejected(ReviewRejection::NoDialogue);
        given::<Review>([scheduled(&p), evidence(&p), dialogue(&p)])
            .when(ReviewCommand::Draft {
                actor: p.manager,
                record: record(&p),
                based_on: 0,
            })
            .then([drafted(&p)]);
    }

    #[test]
    fn a_draft_from_an_out_of_date_form_is_refused_not_written_over_the_newer_one() {
        let p = people();
        let history = [scheduled(&p), evidence(&p), dialogue(&p), drafted(&p)];
        // The reviewer's second window still shows "no draft yet".
        given::<Review>(history.clone())
            .when(ReviewCommand::Draft {
                actor: p.manager,
                record: record(&p),
                based_on: 0,
            })
            .then_rejected(ReviewRejection::DraftChanged {
                based_on: 0,
                current: 1,
            });
        let state = given::<Review>(history)
            .when(ReviewCommand::Draft {
                actor: p.manager,
                record: record(&p),
                based_on: 1,
            })
            .then([ReviewEvent::RecordDrafted {
                review_id: id(&p),
                draft: 2,
                by: p.manager,
                record: record(&p),
            }]);
        assert_eq!(state.draft_number, 2);
    }

    #[test]
    fn a_look_for_is_not_both_exemplary_and_a_focus_nor_listed_twice() {
        let p = people();
        let mut both = record(&p);
        both.look_fors[1].exemplary = true;
        given::<Review>([scheduled(&p), evidence(&p), dialogue(&p)])
            .when(ReviewCommand::Draft {
                actor: p.teacher,
                record: both,
                based_on: 0,
            })
            .then_rejected(ReviewRejection::ExemplaryAndFocus("Challenge".into()));
        let mut twice = record(&p);
        twice.look_fors.push(twice.look_fors[0].clone());
        given::<Review>([scheduled(&p), evidence(&p), dialogue(&p)])
            .when(ReviewCommand::Draft {
                actor: p.teacher,
                record: twice,
                based_on: 0,
            })
            .then_rejected(ReviewRejection::RepeatedLookFor("Student responses".into()));
    }

    #[test]
    fn outsiders_take_no_part() {
        let p = people();
        given::<Review>([scheduled(&p), evidence(&p), dialogue(&p)])
            .when(ReviewCommand::Draft {
                actor: p.outsider,
                record: record(&p),
                based_on: 0,
            })
            .then_rejected(ReviewRejection::NotAParty);
        given::<Review>([scheduled(&p), evidence(&p), dialogue(&p), drafted(&p)])
            .when(ReviewCommand::Agree {
                actor: p.slt,
                draft: 1,
            })
            .then_rejected(ReviewRejection::NotAParty);
    }

    #[test]
    fn agreement_by_both_makes_the_record_final_agrees_the_actions_and_shares_it() {
        let p = people();
        let history = [scheduled(&p), evidence(&p), dialogue(&p), drafted(&p)];
        let first = ReviewEvent::RecordAgreed {
            review_id: id(&p),
            draft: 1,
            by: p.teacher,
        };
        let state = given::<Review>(history.clone())
            .when(ReviewCommand::Agree {
                actor: p.teacher,
                draft: 1,
            })
            .then([first.clone()]);
        assert_eq!(state.awaiting_agreement(), vec![p.manager]);
        let with_first: Vec<ReviewEvent> = history.iter().cloned().chain([first]).collect();
        let state = given::<Review>(with_first.clone())
            .when(ReviewCommand::Agree {
                actor: p.manager,
                draft: 1,
            })
            .then([
                ReviewEvent::RecordAgreed {
                    review_id: id(&p),
                    draft: 1,
                    by: p.manager,
                },
                ReviewEvent::ReviewAgreed {
                    review_id: id(&p),
                    draft: 1,
                },
                ReviewEvent::ActionsAgreed(ActionsAgreed {
                    origin_kind: OriginKind::ProgressReview,
                    origin_id: id(&p),
                    school_id: SchoolId::from_uuid(Uuid::nil()),
                    actions: vec![AgreedAction {
                        item: 1,
                        description: text("Plan stretch tasks"),
                        owner_id: p.teacher,
                        supporter_ids: vec![],
                        due_date: day(30),
                        success_criteria: None,
                    }],
                }),
                ReviewEvent::RecordShared {
                    review_id: id(&p),
                    with: p.slt,
                },
            ]);
        assert_eq!(state.status, ReviewStatus::Agreed);
        given::<Review>(with_first)
            .when(ReviewCommand::Agree {
                actor: p.teacher,
                draft: 1,
            })
            .then_rejected(ReviewRejection::AlreadyAgreed);
    }

    #[test]
    fn agreement_is_to_the_current_draft_and_a_new_draft_needs_it_again() {
        let p = people();
        let agreed_first = ReviewEvent::RecordAgreed {
            review_id: id(&p),
            draft: 1,
            by: p.teacher,
        };
        let redrafted = ReviewEvent::RecordDrafted {
            review_id: id(&p),
            draft: 2,
            by: p.manager,
            record: record(&p),
        };
        let history = [
            scheduled(&p),
            evidence(&p),
            dialogue(&p),
            drafted(&p),
            agreed_first,
            redrafted,
        ];
        given::<Review>(history.clone())
            .when(ReviewCommand::Agree {
                actor: p.manager,
                draft: 1,
            })
            .then_rejected(ReviewRejection::StaleDraft {
                requested: 1,
                current: 2,
            });
        // The teacher's earlier agreement was to draft 1: agreeing draft 2 alone is not final.
        given::<Review>(history)
            .when(ReviewCommand::Agree {
                actor: p.manager,
                draft: 2,
            })
            .then([ReviewEvent::RecordAgreed {
                review_id: id(&p),
                draft: 2,
                by: p.manager,
            }]);
    }

    #[test]
    fn either_can_send_the_draft_back_before_agreement() {
        let p = people();
        let state = given::<Review>([scheduled(&p), evidence(&p), dialogue(&p), drafted(&p)])
            .when(ReviewCommand::SendBack {
                actor: p.teacher,
                reason: text("Homework comment is unfair"),
            })
            .then([ReviewEvent::DraftSentBack {
                review_id: id(&p),
                by: p.teacher,
                reason: text("Homework comment is unfair"),
            }]);
        assert!(state.awaiting_agreement().is_empty());
        given::<Review>([scheduled(&p), evidence(&p), dialogue(&p), drafted(&p)])
            .when(ReviewCommand::Agree {
                actor: p.teacher,
                draft: 1,
            })
            .outcome()
            .unwrap();
    }

    #[test]
    fn an_agreed_record_never_changes_but_takes_corrections() {
        let p = people();
        let agreed = [
            scheduled(&p),
            evidence(&p),
            dialogue(&p),
            drafted(&p),
            ReviewEvent::RecordAgreed {
                review_id: id(&p),
                draft: 1,
                by: p.teacher,
            },
            ReviewEvent::RecordAgreed {
                review_id: id(&p),
                draft: 1,
                by: p.manager,
            },
            ReviewEvent::ReviewAgreed {
                review_id: id(&p),
                draft: 1,
            },
        ];
        given::<Review>(agreed.clone())
            .when(ReviewCommand::Draft {
                actor: p.manager,
                record: record(&p),
                based_on: 0,
            })
            .then_rejected(ReviewRejection::Agreed);
        given::<Review>(agreed.clone())
            .when(ReviewCommand::Respond {
                actor: p.teacher,
                response: text("late"),
            })
            .then_rejected(ReviewRejection::Agreed);
        given::<Review>(agreed)
            .when(ReviewCommand::Correct {
                actor: p.teacher,
                correction: text("It was 8C, not 8B"),
                reason: text("Wrong class"),
            })
            .then([ReviewEvent::CorrectionAdded {
                review_id: id(&p),
                by: p.teacher,
                correction: text("It was 8C, not 8B"),
                reason: text("Wrong class"),
            }]);
        given::<Review>([scheduled(&p)])
            .when(ReviewCommand::Correct {
                actor: p.teacher,
                correction: text("x"),
                reason: text("y"),
            })
            .then_rejected(ReviewRejection::NotAgreed);
    }

    #[test]
    fn the_reviewee_reflects_and_responds() {
        let p = people();
        given::<Review>([scheduled(&p), evidence(&p), dialogue(&p)])
            .when(ReviewCommand::Reflect {
                actor: p.manager,
                reflection: text("x"),
            })
            .then_rejected(ReviewRejection::OnlyThe("reviewee"));
        given::<Review>([scheduled(&p), evidence(&p), dialogue(&p)])
            .when(ReviewCommand::Respond {
                actor: p.teacher,
                response: text("x"),
            })
            .then_rejected(ReviewRejection::NoDraft);
        let state = given::<Review>([scheduled(&p), evidence(&p), dialogue(&p), drafted(&p)])
            .when(ReviewCommand::Respond {
                actor: p.teacher,
                response: text("I will share my feedback lesson"),
            })
            .then([ReviewEvent::ResponseAdded {
                review_id: id(&p),
                response: text("I will share my feedback lesson"),
            }]);
        assert_eq!(
            state.response,
            Some(text("I will share my feedback lesson"))
        );
    }

    #[test]
    fn the_second_review_shows_what_moved_since_the_first() {
        let entry = |label: &str, exemplary, focus| LookForEntry {
            look_for: reference(label),
            comment: None,
            exemplary,
            focus,
        };
        let first = DraftRecord {
            look_fors: vec![
                entry("Challenge", false, true),
                entry("Homework", false, true),
                entry("Student responses", true, false),
                entry("Progress", false, false),
            ],
            ..DraftRecord::default()
        };
        let mut renamed = entry("Home learning", false, true);
        renamed.look_for.id = reference("Homework").id;
        let second = DraftRecord {
            look_fors: vec![
                entry("Challenge", false, false),
                renamed,
                entry("Student responses", true, false),
                entry("Progress", true, false),
            ],
            ..DraftRecord::default()
        };
        let changes: Vec<(String, Change)> = compare(&first, &second)
            .into_iter()
            .map(|c| (c.look_for.label.to_string(), c.change))
            .collect();
        assert_eq!(
            changes,
            [
                ("Challenge".to_owned(), Change::FocusCovered),
                ("Home learning".to_owned(), Change::FocusRepeated),
                ("Student responses".to_owned(), Change::ExemplaryKept),
                ("Progress".to_owned(), Change::NewExemplary),
            ]
        );
    }

    #[test]
    fn the_reviewer_reschedules_or_cancels_with_a_reason() {
        let p = people();
        let window = DateWindow::new(day(23), day(27)).unwrap();
        given::<Review>([scheduled(&p)])
            .when(ReviewCommand::Reschedule {
                actor: p.manager,
                window,
                reason: text("Trip week"),
            })
            .then([ReviewEvent::ReviewRescheduled {
                review_id: id(&p),
                window_opens: day(23),
                window_closes: day(27),
                reason: text("Trip week"),
            }]);
        let cancelled = ReviewEvent::ReviewCancelled {
            review_id: id(&p),
            reason: text("Teacher left"),
        };
        given::<Review>([scheduled(&p)])
            .when(ReviewCommand::Cancel {
                actor: p.manager,
                reason: text("Teacher left"),
            })
            .then([cancelled.clone()]);
        given::<Review>([scheduled(&p), cancelled])
            .when(ReviewCommand::NoteTriangulation {
                actor: p.manager,
                note: text("x"),
            })
            .then_rejected(ReviewRejection::Cancelled);
        given::<Review>([scheduled(&p)])
            .when(ReviewCommand::Cancel {
                actor: p.teacher,
                reason: text("x"),
            })
            .then_rejected(ReviewRejection::OnlyThe("reviewer"));
    }

    fn file(by: StaffId) -> Attachment {
        Attachment {
            attachment_id: AttachmentId::from_uuid(Uuid::new_v4()),
            file_name: crate::evidence::FileName::new("book.jpg", crate::evidence::MediaType::Jpeg),
            media_type: crate::evidence::MediaType::Jpeg,
            size_bytes: 10,
            sha256: "00".into(),
            by,
        }
    }

    #[test]
    fn either_person_attaches_files_until_agreed_and_only_the_attacher_removes_one() {
        let p = people();
        let photo = file(p.teacher);
        let attached = ReviewEvent::EvidenceAttached {
            review_id: id(&p),
            attachment: photo.clone(),
        };
        let attach = |actor, attachment| ReviewCommand::Attach { actor, attachment };
        let state = given::<Review>([scheduled(&p)])
            .when(attach(p.teacher, photo.clone()))
            .then([attached.clone()]);
        assert_eq!(state.attachments.0, vec![photo.clone()]);
        given::<Review>([scheduled(&p)])
            .when(attach(p.outsider, file(p.outsider)))
            .then_rejected(ReviewRejection::NotAParty);
        let remove = |actor| ReviewCommand::RemoveAttachment {
            actor,
            attachment_id: photo.attachment_id,
        };
        given::<Review>([scheduled(&p), attached.clone()])
            .when(remove(p.manager))
            .then_rejected(ReviewRejection::Evidence(AttachError::NotYours));
        let state = given::<Review>([scheduled(&p), attached.clone()])
            .when(remove(p.teacher))
            .then([ReviewEvent::EvidenceRemoved {
                review_id: id(&p),
                attachment_id: photo.attachment_id,
                file_name: photo.file_name.clone(),
                by: p.teacher,
            }]);
        assert!(state.attachments.is_empty());
        given::<Review>([
            scheduled(&p),
            ReviewEvent::ReviewCancelled {
                review_id: id(&p),
                reason: text("Left"),
            },
        ])
        .when(attach(p.manager, file(p.manager)))
        .then_rejected(ReviewRejection::Cancelled);
        let full: Vec<ReviewEvent> = std::iter::once(scheduled(&p))
            .chain(
                (0..crate::evidence::MOST_PER_RECORD).map(|_| ReviewEvent::EvidenceAttached {
                    review_id: id(&p),
                    attachment: file(p.manager),
                }),
            )
            .collect();
        given::<Review>(full)
            .when(attach(p.manager, file(p.manager)))
            .then_rejected(ReviewRejection::Evidence(AttachError::Full));
    }
}
