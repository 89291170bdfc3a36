//! Self-evaluation audits: leaders rate statements about their monitoring and tracking red,
//! amber or green, link each to its evidence, record strengths and weaknesses, and repeat the
//! audit over time. Frameworks are data a trust keeps and versions; an audit keeps the
//! version it was taken with, so editing a framework never changes audits already taken.
//! Weaknesses with a next step become agreed actions when the audit is finalised.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::agreed::{ActionsAgreed, AgreedAction, OriginKind};
use crate::decider::{Decider, DomainEvent};
use crate::evidence::{AttachError, Attachment, Attachments, FileName};
use crate::ids::{AttachmentId, SchoolId, StaffId};
use crate::rejection::{Rejection, RejectionKind};
use crate::review_dialogue::review::NextStep;
use crate::text::Text;

/// Red, amber or green. Always shown with its word (the trust's label), never colour alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rag {
    Red,
    Amber,
    Green,
}

impl Rag {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Red => "red",
            Self::Amber => "amber",
            Self::Green => "green",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Red, Self::Amber, Self::Green]
            .into_iter()
            .find(|r| r.as_str() == value)
    }

    /// The combined rating of several people: the lower median, so a split between two
    /// ratings shows the more cautious one.
    pub fn combine(ratings: &[Rag]) -> Option<Rag> {
        let mut sorted = ratings.to_vec();
        sorted.sort();
        sorted.get(sorted.len().saturating_sub(1) / 2).copied()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// Stable across versions, so trends compare like with like.
    pub id: String,
    pub text: Text,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    pub id: String,
    pub title: Text,
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RubricLevel {
    /// "Good", "Excellent".
    pub level: Text,
    pub descriptor: Text,
}

/// What the three ratings are called in this framework.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RagLabels {
    pub red: Text,
    pub amber: Text,
    pub green: Text,
}

impl RagLabels {
    pub fn label(&self, rag: Rag) -> &Text {
        match rag {
            Rag::Red => &self.red,
            Rag::Amber => &self.amber,
            Rag::Green => &self.green,
        }
    }
}

/// A framework's content at one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameworkContent {
    pub name: Text,
    pub sections: Vec<Section>,
    #[serde(default)]
    pub rubric: Vec<RubricLevel>,
    pub labels: RagLabels,
}

/// What may name a statement (or a section): short and stable, as trends follow it from one
/// audit to the next.
pub fn is_statement_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

impl FrameworkContent {
    pub fn statement_ids(&self) -> impl Iterator<Item = &str> {
        self.sections
            .iter()
            .flat_map(|s| s.statements.iter().map(|st| st.id.as_str()))
    }

    fn check(&self) -> Result<(), AuditRejection> {
        let mut seen: Vec<&str> = Vec::new();
        for id in self.statement_ids() {
            if seen.contains(&id) {
                return Err(AuditRejection::DuplicateStatement(id.to_owned()));
            }
            if !is_statement_id(id) {
                return Err(AuditRejection::BadStatementId(id.to_owned()));
            }
            seen.push(id);
        }
        if seen.is_empty() {
            return Err(AuditRejection::NoStatements);
        }
        Ok(())
    }
}

fn text(value: &str) -> Text {
    Text::parse(value).unwrap_or_else(|_| unreachable!("built-in text is valid"))
}

fn section(id: &str, title: &str, statements: &[(&str, &str)]) -> Section {
    Section {
        id: id.to_owned(),
        title: text(title),
        statements: statements
            .iter()
            .map(|(id, s)| Statement {
                id: (*id).to_owned(),
                text: text(s),
            })
            .collect(),
    }
}

/// The built-in framework: the key questions, and the deep-audit statements of quality
/// indicator 1.1 theme 2 and 3.2 theme 4, with the "good" and "excellent" descriptors of
/// monitoring, recording and tracking as the rubric.
pub fn default_framework() -> FrameworkContent {
    FrameworkContent {
        name: text("How good is our monitoring and tracking?"),
        sections: vec![
            section(
                "kq",
                "Key questions",
                &[
                    (
                        "kq.expectations",
                        "School and authority expectations for tracking and monitoring are clear and well understood.",
                    ),
                    (
                        "kq.unified",
                        "The school has a unified approach to tracking and monitoring the progress of learners.",
                    ),
                    (
                        "kq.meetings",
                        "The school or department holds regular tracking and monitoring meetings as part of quality improvement.",
                    ),
                    (
                        "kq.systematic",
                        "Tracking and monitoring approaches are systematic and based on clear evidence of learning or achievement.",
                    ),
                    (
                        "kq.manageable",
                        "Approaches to monitoring and tracking are manageable for staff and not overly bureaucratic.",
                    ),
                    (
                        "kq.regular",
                        "Staff regularly monitor the progress of all learners and compare it with expected performance or learning targets.",
                    ),
                    (
                        "kq.coverage",
                        "There are effective systems for tracking coverage of curriculum outcomes and experiences.",
                    ),
                    (
                        "kq.senior-phase",
                        "There are effective systems for tracking progress in senior phase courses and programmes.",
                    ),
                    (
                        "kq.standardised",
                        "Standardised testing is used effectively to monitor the progress of year groups and cohorts.",
                    ),
                    (
                        "kq.recorded",
                        "Each learner's progress is recorded on the school's tracking system.",
                    ),
                    (
                        "kq.age-stage",
                        "Teachers track how learners progress compared with their age or stage and against individual targets.",
                    ),
                    (
                        "kq.folio",
                        "Teachers keep a folio of evidence for each learner that supports judgements and next steps.",
                    ),
                    (
                        "kq.moderation",
                        "Teachers sample learners' work together to moderate assessment judgements.",
                    ),
                    (
                        "kq.concerns",
                        "Tracking and monitoring highlights concerns or difficulties in individual learners' progress.",
                    ),
                    (
                        "kq.targeted",
                        "Tracking and monitoring leads to targeted support for individuals and vulnerable groups.",
                    ),
                    (
                        "kq.interventions",
                        "Tracking data gives rise to effective interventions for individuals, groups or cohorts.",
                    ),
                    (
                        "kq.sharing",
                        "Staff share concerns about learner progress, for example with support for learning colleagues and managers.",
                    ),
                    (
                        "kq.reports",
                        "The school produces regular tracking reports for learners and their parents or carers.",
                    ),
                    (
                        "kq.trends",
                        "Tracking and monitoring identifies patterns and trends and gives a picture of attainment over time.",
                    ),
                ],
            ),
            section(
                "qi11t2",
                "Quality indicator 1.1, theme 2: analysis and evaluation of intelligence and data",
                &[
                    (
                        "qi11t2.meetings",
                        "We hold regular tracking and monitoring meetings as part of quality improvement.",
                    ),
                    (
                        "qi11t2.manageable",
                        "Approaches to monitoring and tracking are manageable for staff, and not overly bureaucratic.",
                    ),
                    (
                        "qi11t2.coverage",
                        "We have effective systems in place for tracking coverage of curriculum outcomes and experiences.",
                    ),
                    (
                        "qi11t2.standardised",
                        "We make appropriate use of standardised testing to monitor the progress of year groups and cohorts.",
                    ),
                    (
                        "qi11t2.age-stage",
                        "Teachers track how learners are progressing compared to their age or stage and against individual targets.",
                    ),
                    (
                        "qi11t2.gaps",
                        "Tracking identifies gaps in learning and highlights those pupils not making expected progress.",
                    ),
                    (
                        "qi11t2.folio",
                        "Teachers keep a folio of evidence for each learner, which supports the awarding of levels and setting next steps.",
                    ),
                    (
                        "qi11t2.benchmarks",
                        "Staff use curriculum benchmarks as an integral part of tracking and monitoring.",
                    ),
                    (
                        "qi11t2.confidence",
                        "Teachers are confident in awarding a level, including the range of evidence required to support judgements.",
                    ),
                    (
                        "qi11t2.recorded",
                        "Teachers record each learner's progress on the school's tracking system.",
                    ),
                    (
                        "qi11t2.interventions",
                        "Tracking and monitoring data gives rise to effective interventions for individuals, groups or cohorts.",
                    ),
                    (
                        "qi11t2.vulnerable",
                        "We ensure that approaches to tracking focus also on vulnerable groups of learners.",
                    ),
                    (
                        "qi11t2.reports",
                        "We produce regular tracking reports for learners and their parents.",
                    ),
                    (
                        "qi11t2.moderation",
                        "Teachers work together to sample learners' work in order to moderate assessment judgements.",
                    ),
                    (
                        "qi11t2.trends",
                        "We use tracking and monitoring to identify patterns and trends as well as providing a snapshot of attainment.",
                    ),
                ],
            ),
            section(
                "qi32t4",
                "Quality indicator 3.2, theme 4: planning, tracking and monitoring",
                &[
                    (
                        "qi32t4.expectations",
                        "School and authority expectations relating to tracking and monitoring are clear and well understood.",
                    ),
                    (
                        "qi32t4.unified",
                        "The school or department has a unified approach to tracking and monitoring the progress of learners.",
                    ),
                    (
                        "qi32t4.systematic",
                        "Tracking and monitoring approaches are systematic and based on clear evidence of learning or achievement.",
                    ),
                    (
                        "qi32t4.regular",
                        "Staff monitor regularly the progress of all learners and compare with expected performance or learning targets.",
                    ),
                    (
                        "qi32t4.over-time",
                        "Tracking and monitoring shows the progress of learners over a period of time against discussed targets.",
                    ),
                    (
                        "qi32t4.concerns",
                        "Tracking and monitoring highlights concerns or difficulties relating to the progress of individual learners.",
                    ),
                    (
                        "qi32t4.sharing",
                        "Staff systematically share concerns about learner progress, for example with support for learning colleagues and managers.",
                    ),
                    (
                        "qi32t4.targeted",
                        "Tracking and monitoring processes lead to targeted support for learners.",
                    ),
                    (
                        "qi32t4.electronic",
                        "Effective use is made of electronic tracking and monitoring systems.",
                    ),
                ],
            ),
        ],
        rubric: vec![
            RubricLevel {
                level: text("Good"),
                descriptor: text(
                    "Monitoring, recording and tracking of progress takes place for individuals and the whole class, across curriculum \
                     areas, interdisciplinary learning and personal achievements. Teams reflect with partner professionals at other \
                     stages and establishments so that standards are shared and discussed. Staff use benchmarking well, analysing \
                     whole-school attainment against national and local data.",
                ),
            },
            RubricLevel {
                level: text("Excellent"),
                descriptor: text(
                    "Detailed monitoring, recording and tracking at all levels secures progress against shared high expectations; \
                     consistent approaches show every learner making appropriate progress, and staff intervene promptly and \
                     effectively when progress slips. Tracking sees the learner whole: dialogue with an adult who knows them well \
                     keeps targets and a personal profile up to date. Teams reflect with partners to share standards and \
                     expectations and act to improve learning. Benchmarking compares outcomes with expectations, with similar \
                     schools and with national and international information, to set the highest expectations for all.",
                ),
            },
        ],
        labels: RagLabels {
            red: text("Red"),
            amber: text("Amber"),
            green: text("Green"),
        },
    }
}

/// The stream of a trust's built-in framework, once the trust changes it.
pub fn default_framework_id(trust: Uuid) -> Uuid {
    Uuid::new_v5(&trust, b"framework/default")
}

// --- Frameworks -----------------------------------------------------------------------------

pub struct Framework;

#[derive(Debug, Clone, PartialEq)]
pub enum FrameworkCommand {
    /// Publishes `content` as the framework's next version (the first, for a new one).
    Publish {
        framework_id: Uuid,
        content: FrameworkContent,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum FrameworkEvent {
    FrameworkPublished {
        framework_id: Uuid,
        version: u32,
        content: FrameworkContent,
    },
}

impl DomainEvent for FrameworkEvent {
    fn event_type(&self) -> &'static str {
        "FrameworkPublished"
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FrameworkState {
    pub framework_id: Option<Uuid>,
    pub version: u32,
    pub content: Option<FrameworkContent>,
}

impl Decider for Framework {
    const CATEGORY: &'static str = "framework";
    type State = FrameworkState;
    type Command = FrameworkCommand;
    type Event = FrameworkEvent;
    type Rejection = AuditRejection;

    fn decide(
        state: &FrameworkState,
        command: &FrameworkCommand,
    ) -> Result<Vec<FrameworkEvent>, AuditRejection> {
        let FrameworkCommand::Publish {
            framework_id,
            content,
        } = command;
        content.check()?;
        if state.content.as_ref() == Some(content) {
            return Ok(vec![]);
        }
        Ok(vec![FrameworkEvent::FrameworkPublished {
            framework_id: *framework_id,
            version: state.version + 1,
            content: content.clone(),
        }])
    }

    fn evolve(mut state: FrameworkState, event: &FrameworkEvent) -> FrameworkState {
        let FrameworkEvent::FrameworkPublished {
            framework_id,
            version,
            content,
        } = event;
        state.framework_id = Some(*framework_id);
        state.version = *version;
        state.content = Some(content.clone());
        state
    }
}

// --- Audits ---------------------------------------------------------------------------------

pub struct Audit;

/// What a rating points to as its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "ref", rename_all = "snake_case")]
pub enum EvidenceLink {
    Review(Uuid),
    Meeting(Uuid),
    Visit(Uuid),
    Action(Uuid),
    /// Anything else, in words ("Attendance report, October").
    Source(Text),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    pub by: StaffId,
    pub rating: Rag,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<Text>,
    #[serde(default)]
    pub evidence: Vec<EvidenceLink>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Weakness {
    pub id: u32,
    pub text: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement_id: Option<String>,
    /// The next step that becomes an agreed action when the audit is finalised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<NextStep>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StartAudit {
    pub audit_id: Uuid,
    pub school_id: SchoolId,
    /// An audit of one department rather than the whole school.
    pub department: Option<Text>,
    pub title: Text,
    pub framework_id: Uuid,
    pub framework_version: u32,
    pub framework: FrameworkContent,
    pub lead: StaffId,
    pub participants: Vec<StaffId>,
    pub started_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AuditCommand {
    Start(StartAudit),
    Rate {
        actor: StaffId,
        statement_id: String,
        rating: Rag,
        note: Option<Text>,
        evidence: Vec<EvidenceLink>,
    },
    AddStrength {
        actor: StaffId,
        text: Text,
        statement_id: Option<String>,
    },
    AddWeakness {
        actor: StaffId,
        text: Text,
        statement_id: Option<String>,
        action: Option<NextStep>,
    },
    /// The lead closes the audit; every statement needs a rating.
    Finalise {
        actor: StaffId,
        on: NaiveDate,
    },
    /// A file behind the ratings (a work scrutiny's photos, a minute): by the lead and
    /// participants while the audit is open.
    Attach {
        actor: StaffId,
        attachment: Attachment,
    },
    /// By whoever attached it, while the audit is open.
    RemoveAttachment {
        actor: StaffId,
        attachment_id: AttachmentId,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum AuditEvent {
    AuditStarted {
        audit_id: Uuid,
        school_id: SchoolId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        department: Option<Text>,
        title: Text,
        framework_id: Uuid,
        framework_version: u32,
        framework: FrameworkContent,
        lead_id: StaffId,
        participant_ids: Vec<StaffId>,
        started_on: NaiveDate,
    },
    StatementRated {
        audit_id: Uuid,
        statement_id: String,
        #[serde(flatten)]
        rating: Rating,
    },
    StrengthRecorded {
        audit_id: Uuid,
        text: Text,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        statement_id: Option<String>,
    },
    WeaknessRecorded {
        audit_id: Uuid,
        weakness: Weakness,
    },
    AuditFinalised {
        audit_id: Uuid,
        on: NaiveDate,
    },
    ActionsAgreed(ActionsAgreed),
    EvidenceAttached {
        audit_id: Uuid,
        attachment: Attachment,
    },
    EvidenceRemoved {
        audit_id: Uuid,
        attachment_id: AttachmentId,
        file_name: FileName,
        by: StaffId,
    },
}

impl DomainEvent for AuditEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::AuditStarted { .. } => "AuditStarted",
            Self::StatementRated { .. } => "StatementRated",
            Self::StrengthRecorded { .. } => "StrengthRecorded",
            Self::WeaknessRecorded { .. } => "WeaknessRecorded",
            Self::AuditFinalised { .. } => "AuditFinalised",
            Self::ActionsAgreed(_) => crate::agreed::ACTIONS_AGREED,
            Self::EvidenceAttached { .. } => "EvidenceAttached",
            Self::EvidenceRemoved { .. } => "EvidenceRemoved",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditRejection {
    #[error("no such audit")]
    NotFound,
    #[error("this audit is already started")]
    AlreadyStarted,
    #[error("only the audit's lead and participants rate it")]
    NotAParticipant,
    #[error("only the audit's lead can finalise it")]
    NotTheLead,
    #[error("`{0}` is not a statement of this audit's framework")]
    UnknownStatement(String),
    #[error("{0} statement(s) still have no rating")]
    Unrated(usize),
    #[error("the audit is finalised")]
    Finalised,
    #[error("a framework needs at least one statement")]
    NoStatements,
    #[error("statement id `{0}` appears twice")]
    DuplicateStatement(String),
    #[error("statement id `{0}` must be lowercase letters, digits, '-', '_' and '.'")]
    BadStatementId(String),
    #[error("{0}")]
    Evidence(AttachError),
}

impl Rejection for AuditRejection {
    fn kind(&self) -> RejectionKind {
        use AuditRejection as R;
        match self {
            R::NotFound => RejectionKind::NotFound,
            R::AlreadyStarted => RejectionKind::AlreadyExists,
            R::NotAParticipant | R::NotTheLead => RejectionKind::PermissionDenied,
            R::UnknownStatement(_)
            | R::NoStatements
            | R::DuplicateStatement(_)
            | R::BadStatementId(_) => RejectionKind::InvalidArgument,
            R::Unrated(_) | R::Finalised => RejectionKind::FailedPrecondition,
            R::Evidence(error) => error.kind(),
        }
    }

    fn code(&self) -> &'static str {
        use AuditRejection as R;
        match self {
            R::NotFound => "audit.not_found",
            R::AlreadyStarted => "audit.already_started",
            R::NotAParticipant => "audit.not_a_participant",
            R::NotTheLead => "audit.not_the_lead",
            R::UnknownStatement(_) => "audit.unknown_statement",
            R::Unrated(_) => "audit.unrated",
            R::Finalised => "audit.finalised",
            R::NoStatements => "framework.no_statements",
            R::DuplicateStatement(_) => "framework.duplicate_statement",
            R::BadStatementId(_) => "framework.bad_statement_id",
            R::Evidence(error) => error.code(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditState {
    pub audit_id: Option<Uuid>,
    pub school_id: Option<SchoolId>,
    pub department: Option<Text>,
    pub title: Option<Text>,
    pub framework_id: Option<Uuid>,
    pub framework_version: u32,
    pub framework: Option<FrameworkContent>,
    pub lead: Option<StaffId>,
    pub participants: Vec<StaffId>,
    pub started_on: Option<NaiveDate>,
    /// Each person's latest rating, per statement.
    pub ratings: Vec<(String, Rating)>,
    pub strengths: Vec<(Text, Option<String>)>,
    pub weaknesses: Vec<Weakness>,
    pub finalised_on: Option<NaiveDate>,
    /// Files behind the ratings.
    pub attachments: Attachments,
}

impl AuditState {
    /// The combined rating of each rated statement.
    pub fn combined(&self) -> Vec<(String, Rag)> {
        let Some(framework) = &self.framework else {
            return Vec::new();
        };
        framework
            .statement_ids()
            .filter_map(|id| {
                let ratings: Vec<Rag> = self
                    .ratings
                    .iter()
                    .filter(|(s, _)| s == id)
                    .map(|(_, r)| r.rating)
                    .collect();
                Rag::combine(&ratings).map(|rag| (id.to_owned(), rag))
            })
            .collect()
    }

    fn open(&self) -> Result<Uuid, AuditRejection> {
        let id = self.audit_id.ok_or(AuditRejection::NotFound)?;
        if self.finalised_on.is_some() {
            return Err(AuditRejection::Finalised);
        }
        Ok(id)
    }

    fn check_participant(&self, actor: StaffId) -> Result<(), AuditRejection> {
        if self.lead == Some(actor) || self.participants.contains(&actor) {
            Ok(())
        } else {
            Err(AuditRejection::NotAParticipant)
        }
    }

    fn check_statement(&self, id: &str) -> Result<(), AuditRejection> {
        match &self.framework {
            Some(framework) if framework.statement_ids().any(|s| s == id) => Ok(()),
            _ => Err(AuditRejection::UnknownStatement(id.to_owned())),
        }
    }
}

impl Decider for Audit {
    const CATEGORY: &'static str = "audit";
    type State = AuditState;
    type Command = AuditCommand;
    type Event = AuditEvent;
    type Rejection = AuditRejection;

    fn decide(
        state: &AuditState,
        command: &AuditCommand,
    ) -> Result<Vec<AuditEvent>, AuditRejection> {
        use AuditCommand as C;
        use AuditEvent as E;
        match command {
            C::Start(start) => {
                if state.audit_id.is_some() {
                    return Err(AuditRejection::AlreadyStarted);
                }
                start.framework.check()?;
                let mut participants: Vec<StaffId> = Vec::new();
                for person in &start.participants {
                    if *person != start.lead && !participants.contains(person) {
                        participants.push(*person);
                    }
                }
                Ok(vec![E::AuditStarted {
                    audit_id: start.audit_id,
                    school_id: start.school_id,
                    department: start.department.clone(),
                    title: start.title.clone(),
                    framework_id: start.framework_id,
                    framework_version: start.framework_version,
                    framework: start.framework.clone(),
                    lead_id: start.lead,
                    participant_ids: participants,
                    started_on: start.started_on,
                }])
            }
            C::Rate {
                actor,
                statement_id,
                rating,
                note,
                evidence,
            } => {
                let audit_id = state.open()?;
                state.check_participant(*actor)?;
                state.check_statement(statement_id)?;
                Ok(vec![E::StatementRated {
                    audit_id,
                    statement_id: statement_id.clone(),
                    rating: Rating {
                        by: *actor,
                        rating: *rating,
                        note: note.clone(),
                        evidence: evidence.clone(),
                    },
                }])
            }
            C::AddStrength {
                actor,
                text,
                statement_id,
            } => {
                let audit_id = state.open()?;
                state.check_participant(*actor)?;
                if let Some(id) = statement_id {
                    state.check_statement(id)?;
                }
                Ok(vec![E::StrengthRecorded {
                    audit_id,
                    text: text.clone(),
                    statement_id: statement_id.clone(),
                }])
            }
            C::AddWeakness {
                actor,
                text,
                statement_id,
                action,
            } => {
                let audit_id = state.open()?;
                state.check_participant(*actor)?;
                if let Some(id) = statement_id {
                    state.check_statement(id)?;
                }
                let id = u32::try_from(state.weaknesses.len()).unwrap_or(u32::MAX) + 1;
                Ok(vec![E::WeaknessRecorded {
                    audit_id,
                    weakness: Weakness {
                        id,
                        text: text.clone(),
                        statement_id: statement_id.clone(),
                        action: action.clone(),
                    },
                }])
            }
            C::Attach { actor, attachment } => {
                let audit_id = state.open()?;
                state.check_participant(*actor)?;
                state
                    .attachments
                    .can_attach()
                    .map_err(AuditRejection::Evidence)?;
                Ok(vec![E::EvidenceAttached {
                    audit_id,
                    attachment: attachment.clone(),
                }])
            }
            C::RemoveAttachment {
                actor,
                attachment_id,
            } => {
                let audit_id = state.open()?;
                let file_name = state
                    .attachments
                    .can_remove(*actor, *attachment_id)
                    .map_err(AuditRejection::Evidence)?;
                Ok(vec![E::EvidenceRemoved {
                    audit_id,
                    attachment_id: *attachment_id,
                    file_name,
                    by: *actor,
                }])
            }
            C::Finalise { actor, on } => {
                let audit_id = state.open()?;
                if state.lead != Some(*actor) {
                    return Err(AuditRejection::NotTheLead);
                }
                let total = state
                    .framework
                    .as_ref()
                    .map_or(0, |f| f.statement_ids().count());
                let unrated = total - state.combined().len();
                if unrated > 0 {
                    return Err(AuditRejection::Unrated(unrated));
                }
                let mut events = vec![E::AuditFinalised { audit_id, on: *on }];
                let actions: Vec<AgreedAction> = state
                    .weaknesses
                    .iter()
                    .filter_map(|w| {
                        w.action.as_ref().map(|step| AgreedAction {
                            item: w.id,
                            description: step.description.clone(),
                            owner_id: step.owner,
                            supporter_ids: vec![],
                            due_date: step.due,
                            success_criteria: step.success_criteria.clone(),
                        })
                    })
                    .collect();
                if !actions.is_empty() {
                    events.push(E::ActionsAgreed(ActionsAgreed {
                        origin_kind: OriginKind::Audit,
                        origin_id: audit_id,
                        school_id: state.school_id.ok_or(AuditRejection::NotFound)?,
                        actions,
                    }));
                }
                Ok(events)
            }
        }
    }

    fn evolve(mut state: AuditState, event: &AuditEvent) -> AuditState {
        use AuditEvent as E;
        match event {
            E::AuditStarted {
                audit_id,
                school_id,
                department,
                title,
                framework_id,
                framework_version,
                framework,
                lead_id,
                participant_ids,
                started_on,
            } => {
                state.audit_id = Some(*audit_id);
                state.school_id = Some(*school_id);
                state.department = department.clone();
                state.title = Some(title.clone());
                state.framework_id = Some(*framework_id);
                state.framework_version = *framework_version;
                state.framework = Some(framework.clone());
                state.lead = Some(*lead_id);
                state.participants = participant_ids.clone();
                state.started_on = Some(*started_on);
            }
            E::StatementRated {
                statement_id,
                rating,
                ..
            } => {
                state
                    .ratings
                    .retain(|(s, r)| !(s == statement_id && r.by == rating.by));
                state.ratings.push((statement_id.clone(), rating.clone()));
            }
            E::StrengthRecorded {
                text, statement_id, ..
            } => state.strengths.push((text.clone(), statement_id.clone())),
            E::WeaknessRecorded { weakness, .. } => state.weaknesses.push(weakness.clone()),
            E::AuditFinalised { on, .. } => state.finalised_on = Some(*on),
            E::ActionsAgreed(_) => {}
            E::EvidenceAttached { attachment, .. } => state.attachments.attached(attachment),
            E::EvidenceRemoved { attachment_id, .. } => state.attachments.removed(*attachment_id),
        }
        state
    }
}

/// How one statement moved across a school's finalised audits, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementTrend {
    pub statement_id: String,
    pub ratings: Vec<Option<Rag>>,
    /// Rated differently in the latest audit than in the one before.
    pub moved: bool,
    /// Red in every audit that rated it (at least two).
    pub stayed_red: bool,
}

/// The trend of every statement of `framework` across `audits` (oldest first).
pub fn trend(framework: &FrameworkContent, audits: &[AuditState]) -> Vec<StatementTrend> {
    let combined: Vec<Vec<(String, Rag)>> = audits.iter().map(AuditState::combined).collect();
    framework
        .statement_ids()
        .map(|id| {
            let ratings: Vec<Option<Rag>> = combined
                .iter()
                .map(|c| c.iter().find(|(s, _)| s == id).map(|(_, r)| *r))
                .collect();
            let rated: Vec<Rag> = ratings.iter().flatten().copied().collect();
            let moved = rated.len() >= 2 && rated[rated.len() - 1] != rated[rated.len() - 2];
            let stayed_red = rated.len() >= 2 && rated.iter().all(|r| *r == Rag::Red);
            StatementTrend {
                statement_id: id.to_owned(),
                ratings,
                moved,
                stayed_red,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::given;

    fn person(n: u8) -> StaffId {
        StaffId::from_uuid(Uuid::from_bytes([n; 16]))
    }

    fn small() -> FrameworkContent {
        let mut framework = default_framework();
        framework.sections.truncate(1);
        framework.sections[0].statements.truncate(2);
        framework
    }

    fn audit_id() -> Uuid {
        Uuid::from_bytes([7; 16])
    }

    fn started(framework: FrameworkContent) -> AuditEvent {
        AuditEvent::AuditStarted {
            audit_id: audit_id(),
            school_id: SchoolId::from_uuid(Uuid::nil()),
            department: None,
            title: text("Autumn self-evaluation"),
            framework_id: Uuid::nil(),
            framework_version: 0,
            framework,
            lead_id: person(1),
            participant_ids: vec![person(2), person(3)],
            started_on: NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
        }
    }

    fn rated(statement: &str, by: u8, rating: Rag) -> AuditEvent {
        AuditEvent::StatementRated {
            audit_id: audit_id(),
            statement_id: statement.into(),
            rating: Rating {
                by: person(by),
                rating,
                note: None,
                evidence: vec![],
            },
        }
    }

    #[test]
    fn the_lead_and_participants_attach_files_while_the_audit_is_open() {
        use crate::evidence::MediaType;
        let file = |by: u8| Attachment {
            attachment_id: AttachmentId::from_uuid(Uuid::from_bytes([by; 16])),
            file_name: FileName::new("scrutiny.pdf", MediaType::Pdf),
            media_type: MediaType::Pdf,
            size_bytes: 10,
            sha256: String::new(),
            by: person(by),
        };
        let attached = AuditEvent::EvidenceAttached {
            audit_id: audit_id(),
            attachment: file(2),
        };
        given::<Audit>([started(small())])
            .when(AuditCommand::Attach {
                actor: person(2),
                attachment: file(2),
            })
            .then([attached.clone()]);
        given::<Audit>([started(small())])
            .when(AuditCommand::Attach {
                actor: person(9),
                attachment: file(9),
            })
            .then_rejected(AuditRejection::NotAParticipant);
        // Only whoever attached it removes it.
        let remove = |by: u8| AuditCommand::RemoveAttachment {
            actor: person(by),
            attachment_id: file(2).attachment_id,
        };
        given::<Audit>([started(small()), attached.clone()])
            .when(remove(1))
            .then_rejected(AuditRejection::Evidence(AttachError::NotYours));
        let state = given::<Audit>([started(small()), attached.clone()])
            .when(remove(2))
            .then([AuditEvent::EvidenceRemoved {
                audit_id: audit_id(),
                attachment_id: file(2).attachment_id,
                file_name: file(2).file_name,
                by: person(2),
            }]);
        assert!(state.attachments.is_empty());
        // Once finalised, the audit's evidence stays as it was.
        let finalised = AuditEvent::AuditFinalised {
            audit_id: audit_id(),
            on: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
        };
        given::<Audit>([started(small()), attached, finalised])
            .when(remove(2))
            .then_rejected(AuditRejection::Finalised);
    }

    #[test]
    fn the_default_framework_has_the_key_questions_and_both_themes() {
        let framework = default_framework();
        let counts: Vec<usize> = framework
            .sections
            .iter()
            .map(|s| s.statements.len())
            .collect();
        assert_eq!(counts, [19, 15, 9]);
        assert_eq!(framework.rubric.len(), 2);
        framework.check().unwrap();
    }

    #[test]
    fn combined_ratings_take_the_cautious_middle() {
        assert_eq!(
            Rag::combine(&[Rag::Green, Rag::Red, Rag::Amber]),
            Some(Rag::Amber)
        );
        assert_eq!(Rag::combine(&[Rag::Green, Rag::Amber]), Some(Rag::Amber));
        assert_eq!(Rag::combine(&[]), None);
    }

    #[test]
    fn participants_rate_statements_of_the_framework_and_may_change_their_minds() {
        let events = [started(small()), rated("kq.expectations", 2, Rag::Red)];
        let state = given::<Audit>(events.clone())
            .when(AuditCommand::Rate {
                actor: person(2),
                statement_id: "kq.expectations".into(),
                rating: Rag::Amber,
                note: None,
                evidence: vec![],
            })
            .then([rated("kq.expectations", 2, Rag::Amber)]);
        assert_eq!(
            state.combined(),
            vec![("kq.expectations".to_owned(), Rag::Amber)]
        );
        given::<Audit>(events.clone())
            .when(AuditCommand::Rate {
                actor: person(9),
                statement_id: "kq.expectations".into(),
                rating: Rag::Green,
                note: None,
                evidence: vec![],
            })
            .then_rejected(AuditRejection::NotAParticipant);
        given::<Audit>(events)
            .when(AuditCommand::Rate {
                actor: person(1),
                statement_id: "qi32t4.electronic".into(),
                rating: Rag::Green,
                note: None,
                evidence: vec![],
            })
            .then_rejected(AuditRejection::UnknownStatement("qi32t4.electronic".into()));
    }

    #[test]
    fn the_lead_finalises_once_everything_is_rated_and_weaknesses_become_actions() {
        let step = NextStep {
            description: text("Agree one tracking calendar for all departments"),
            owner: person(2),
            due: NaiveDate::from_ymd_opt(2027, 1, 29).unwrap(),
            success_criteria: None,
        };
        let weakness = AuditEvent::WeaknessRecorded {
            audit_id: audit_id(),
            weakness: Weakness {
                id: 1,
                text: text("Expectations differ by department"),
                statement_id: Some("kq.expectations".into()),
                action: Some(step),
            },
        };
        let partly = [
            started(small()),
            rated("kq.expectations", 2, Rag::Red),
            weakness.clone(),
        ];
        given::<Audit>(partly.clone())
            .when(AuditCommand::Finalise {
                actor: person(1),
                on: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            })
            .then_rejected(AuditRejection::Unrated(1));
        let mut full = partly.to_vec();
        full.push(rated("kq.unified", 3, Rag::Green));
        given::<Audit>(full.clone())
            .when(AuditCommand::Finalise {
                actor: person(2),
                on: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            })
            .then_rejected(AuditRejection::NotTheLead);
        let events = given::<Audit>(full.clone())
            .when(AuditCommand::Finalise {
                actor: person(1),
                on: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            })
            .outcome()
            .unwrap();
        let AuditEvent::ActionsAgreed(agreed) = &events[1] else {
            panic!("{events:?}")
        };
        assert_eq!(
            (
                agreed.origin_kind,
                agreed.actions.len(),
                agreed.actions[0].item
            ),
            (OriginKind::Audit, 1, 1)
        );
        full.extend(events);
        given::<Audit>(full)
            .when(AuditCommand::Rate {
                actor: person(1),
                statement_id: "kq.unified".into(),
                rating: Rag::Red,
                note: None,
                evidence: vec![],
            })
            .then_rejected(AuditRejection::Finalised);
    }

    #[test]
    fn a_framework_is_versioned_and_checked() {
        let id = Uuid::nil();
        let first = FrameworkEvent::FrameworkPublished {
            framework_id: id,
            version: 1,
            content: small(),
        };
        given::<Framework>([])
            .when(FrameworkCommand::Publish {
                framework_id: id,
                content: small(),
            })
            .then([first.clone()]);
        let mut revised = small();
        revised.labels.red = text("Not yet");
        let state = given::<Framework>([first.clone()])
            .when(FrameworkCommand::Publish {
                framework_id: id,
                content: revised.clone(),
            })
            .then([FrameworkEvent::FrameworkPublished {
                framework_id: id,
                version: 2,
                content: revised,
            }]);
        assert_eq!(state.version, 2);
        let mut twice = small();
        twice.sections[0].statements[1].id = "kq.expectations".into();
        given::<Framework>([first])
            .when(FrameworkCommand::Publish {
                framework_id: id,
                content: twice,
            })
            .then_rejected(AuditRejection::DuplicateStatement("kq.expectations".into()));
    }

    #[test]
    fn trends_show_what_moved_and_what_stayed_red() {
        let framework = small();
        let first = Audit::fold(
            [
                started(small()),
                rated("kq.expectations", 1, Rag::Red),
                rated("kq.unified", 1, Rag::Red),
            ]
            .iter(),
        );
        let second = Audit::fold(
            [
                started(small()),
                rated("kq.expectations", 1, Rag::Amber),
                rated("kq.unified", 1, Rag::Red),
            ]
            .iter(),
        );
        let trends = trend(&framework, &[first, second]);
        assert_eq!((trends[0].moved, trends[0].stayed_red), (true, false));
        assert_eq!((trends[1].moved, trends[1].stayed_red), (false, true));
        assert_eq!(trends[0].ratings, vec![Some(Rag::Red), Some(Rag::Amber)]);
    }
}
