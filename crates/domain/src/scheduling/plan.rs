//! The monitoring plan: which monitoring activities a school carries out in a year, when,
//! who is responsible, the head teacher's and class teacher's checklists, and the impact
//! they are meant to have. A trust keeps a default plan (built from the monitoring and
//! tracking overview written by primary head teachers); each school adopts it for a year and
//! adapts its own copy.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::decider::{Decider, DomainEvent};
use crate::ids::{SchoolId, StaffId};
use crate::rejection::{Rejection, RejectionKind};
use crate::scheduling::schedule::VisitCaps;
use crate::school_year::AcademicYear;
use crate::text::Text;

pub struct Plan;

/// One activity of a plan. `months` are calendar months (1 = January) in which it happens;
/// `after_assessments` activities happen shortly after each summative assessment point
/// instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedActivity {
    pub key: String,
    pub name: Text,
    #[serde(default)]
    pub months: Vec<u32>,
    #[serde(default)]
    pub after_assessments: bool,
    /// Who carries it out; the plan's default owner when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<StaffId>,
    #[serde(default)]
    pub head_teacher: Vec<Text>,
    #[serde(default)]
    pub class_teacher: Vec<Text>,
    #[serde(default)]
    pub impact: Vec<Text>,
}

struct Default_ {
    key: &'static str,
    name: &'static str,
    months: &'static [u32],
    after_assessments: bool,
    head_teacher: &'static [&'static str],
    class_teacher: &'static [&'static str],
    impact: &'static [&'static str],
}

const TERMLY: &[u32] = &[10, 2, 5];
const MONTHLY: &[u32] = &[9, 10, 11, 12, 1, 2, 3, 4, 5, 6, 7];

const DEFAULTS: [Default_; 15] = [
    Default_ {
        key: "classroom_observation_visit",
        name: "Classroom observation visit",
        months: TERMLY,
        after_assessments: false,
        head_teacher: &[
            "Agree focus ahead of visit",
            "Timetabling",
            "Review next steps from previous visit(s)",
            "Feedback and support agreed next steps",
            "Agree next steps and actions",
            "Update tracking",
        ],
        class_teacher: &[
            "Agree focus ahead of visit",
            "Self-evaluation, before visit and after",
            "Engage in process",
            "Reflection on professional learning",
            "Agree and action next steps and impact on children",
        ],
        impact: &[
            "Consistency in the quality of teaching and learning",
            "Agreed support and challenge",
            "Clarity of next steps for learners",
        ],
    },
    Default_ {
        key: "planning_tracking_meeting",
        name: "Planning and tracking meeting",
        months: &[],
        after_assessments: true,
        head_teacher: &[
            "Set time and agenda questions to ensure tight focus to meeting",
            "Follow up on previous actions",
            "Follow policy and procedure",
            "Agree next steps and actions",
            "Update strategic overview of children's progress",
        ],
        class_teacher: &[
            "Be prepared to talk about and evidence progress and how learners' needs are being met",
            "Follow policy and procedure",
            "Agree next steps and actions",
            "Update short term learning targets as required",
        ],
        impact: &[
            "Clear overview of children's progress",
            "Assuring children's progress against agreed targets",
        ],
    },
    Default_ {
        key: "pupil_focus_group",
        name: "Pupil focus group",
        months: &[11, 3],
        after_assessments: false,
        head_teacher: &[
            "Agreed agenda which is shared with staff and children",
            "Minute and share feedback with stakeholders (parents, staff, children)",
        ],
        class_teacher: &[
            "Development of shared language of reflection and evaluation",
            "Classroom learning and teaching to include developing skills of participation",
            "Model and value skills of participation and leadership",
        ],
        impact: &["Evidence impact of school improvement plan (SIP)"],
    },
    Default_ {
        key: "collaborative_professional_learning",
        name: "Teacher collaborative professional learning",
        months: &[10, 1, 4],
        after_assessments: false,
        head_teacher: &[
            "Clear shared outcomes and articulation of expected impact on children",
            "Strategic overview",
        ],
        class_teacher: &[
            "Commitment and engagement to process",
            "Clear articulation of impact on learners",
        ],
        impact: &["Consistency in the quality of teaching and learning"],
    },
    Default_ {
        key: "assessment_evidence",
        name: "Assessment evidence",
        months: TERMLY,
        after_assessments: false,
        head_teacher: &[
            "Clear procedures and strategic overview",
            "Monitoring of quality and impact",
        ],
        class_teacher: &[
            "Development of shared language of reflection and evaluation",
            "Share understanding of links to learning and progression with stakeholders",
            "Model and value skills of reflection",
        ],
        impact: &["Clear overview of children's progress"],
    },
    Default_ {
        key: "external_quality_assurance",
        name: "External quality assurance",
        months: &[3],
        after_assessments: false,
        head_teacher: &[
            "Prepare information and evidence about quality of work of school",
            "Take account of multiple perspectives, e.g. stakeholders, parents, partners, community and children",
            "Update on SIP progress",
            "Provide data on progress of learners",
            "Involving staff and preparing them to engage in the process",
            "Identify strengths and challenges",
        ],
        class_teacher: &[
            "Engage in the process",
            "Be prepared to talk about how their work contributes to the wider picture of school improvement",
        ],
        impact: &[
            "Improved standards leading to improved attainment",
            "Validation of self-evaluation and next steps",
            "Continued progress of school improvement",
        ],
    },
    Default_ {
        key: "authority_performance_data",
        name: "Authority performance data",
        months: &[9],
        after_assessments: false,
        head_teacher: &[
            "Analyse and use data to inform planned improvement",
            "Share with relevant stakeholders, e.g. teachers, parents and pupils",
        ],
        class_teacher: &[
            "Reflect on information",
            "Modify planned learning and practice accordingly",
        ],
        impact: &["Improvement in attainment"],
    },
    Default_ {
        key: "attainment_analysis",
        name: "Attainment analysis",
        months: &[],
        after_assessments: true,
        head_teacher: &[
            "Forensically examine a range of assessment evidence",
            "Share with appropriate personnel",
            "Agree next steps",
            "Review actions",
        ],
        class_teacher: &[
            "Implement next steps",
            "Review actions",
            "Gather evidence of impact on children",
        ],
        impact: &[
            "Improvement in attainment",
            "Clarity of next steps for learners",
        ],
    },
    Default_ {
        key: "support_for_learning_meeting",
        name: "Whole school support for learning meeting",
        months: TERMLY,
        after_assessments: false,
        head_teacher: &[
            "Set time and agenda",
            "Follow up on previous actions",
            "Follow policy and procedure",
            "Agree next steps and actions",
        ],
        class_teacher: &[
            "Be prepared to talk about and evidence progress and how learner needs are being met",
            "Follow policy and procedure",
            "Agree next steps and actions",
            "Update short term learning targets as required",
        ],
        impact: &["Clarity on learners' needs and how these are being met"],
    },
    Default_ {
        key: "support_for_learning_planning",
        name: "Support for learning planning meeting",
        months: &[9, 1, 4],
        after_assessments: false,
        head_teacher: &[
            "Timetable and co-ordinate meetings",
            "Invite agencies as appropriate",
            "Invite parents and children if required",
            "Create agenda",
            "Minute meeting",
            "Distribute record as appropriate",
        ],
        class_teacher: &[
            "Input to planning process",
            "Set targets for learners as appropriate",
            "Implement agreed strategies",
            "Evaluate progress",
        ],
        impact: &["Clarity on learners' needs and how these are being met"],
    },
    Default_ {
        key: "multi_agency_liaison",
        name: "Multi-agency (GIRFEC) liaison group",
        months: TERMLY,
        after_assessments: false,
        head_teacher: &[
            "Timetable and co-ordinate meetings",
            "Invite agencies as appropriate",
            "Invite parents and children if required",
            "Create agenda",
            "Minute meeting",
            "Distribute record as appropriate",
        ],
        class_teacher: &[
            "Input to planning process",
            "Set targets for learners as appropriate",
            "Implement agreed strategies",
            "Evaluate progress",
        ],
        impact: &["Agreed support and challenge"],
    },
    Default_ {
        key: "attendance_overview",
        name: "Monthly attendance overview",
        months: MONTHLY,
        after_assessments: false,
        head_teacher: &[
            "Analyse data",
            "Record and action identified next steps",
            "Consult with local authority officer as appropriate",
            "Issue letters",
            "Meet with parents and carers",
            "Possible further referral, e.g. Joint Support Team, GIRFEC",
        ],
        class_teacher: &["Record attendance correctly"],
        impact: &["Clear overview of children's progress"],
    },
    Default_ {
        key: "late_arrival_overview",
        name: "Late arrival overview",
        months: MONTHLY,
        after_assessments: false,
        head_teacher: &[
            "Analyse data",
            "Record and action next steps",
            "Consult with local authority officer as appropriate",
            "Issue letters",
            "Meet with parents and carers",
            "Possible further referral, e.g. Joint Support Team, GIRFEC",
        ],
        class_teacher: &["Record attendance correctly"],
        impact: &["Clear overview of children's progress"],
    },
    Default_ {
        key: "lowest_highest_attainers",
        name: "Lowest and highest 20% of attainers",
        months: &[9, 2],
        after_assessments: false,
        head_teacher: &[
            "Make use of available data, e.g. free meal entitlement, deprivation index and assessment data",
            "Analyse, interrogate and reflect on data",
            "Share information sensitively with staff",
            "Include in tracking overview as appropriate",
            "Identify and agree strategies to raise attainment for the lowest 20% and highest 20%",
        ],
        class_teacher: &["Implement strategies and ongoing review of impact on learners"],
        impact: &[
            "Improvement in attainment",
            "Assuring children's progress against agreed targets",
        ],
    },
    Default_ {
        key: "iep_csp_tracking",
        name: "IEP and CSP tracking",
        months: TERMLY,
        after_assessments: false,
        head_teacher: &[
            "Include in calendar of tracking and monitoring",
            "Set up clear procedure for collecting and sharing of tracking information",
        ],
        class_teacher: &[
            "Input to planning process",
            "Set targets for learners as appropriate",
            "Implement agreed strategies",
            "Evaluate progress",
            "Feedback on progress to pupils, parents and head teacher",
            "Ensure learners know targets and next steps required",
        ],
        impact: &["Assuring children's progress against agreed targets"],
    },
];

fn texts(items: &[&str]) -> Vec<Text> {
    items
        .iter()
        .filter_map(|item| Text::parse(item).ok())
        .collect()
}

/// The built-in default plan: the fifteen activities of the monitoring overview.
pub fn default_activities() -> Vec<PlannedActivity> {
    DEFAULTS
        .iter()
        .filter_map(|d| {
            Some(PlannedActivity {
                key: d.key.to_owned(),
                name: Text::parse(d.name).ok()?,
                months: d.months.to_vec(),
                after_assessments: d.after_assessments,
                owner: None,
                head_teacher: texts(d.head_teacher),
                class_teacher: texts(d.class_teacher),
                impact: texts(d.impact),
            })
        })
        .collect()
}

/// Whose plan: a trust's default, or a school's for one year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "snake_case")]
pub enum PlanScope {
    TrustDefault,
    School {
        school_id: SchoolId,
        academic_year: AcademicYear,
    },
}

impl PlanScope {
    /// The stream id of a plan: one per trust default, one per school and year.
    pub fn plan_id(self, trust: Uuid) -> Uuid {
        match self {
            Self::TrustDefault => Uuid::new_v5(&trust, b"plan/default"),
            Self::School {
                school_id,
                academic_year,
            } => Uuid::new_v5(
                school_id.as_uuid(),
                format!("plan/{academic_year}").as_bytes(),
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum PlanCommand {
    /// Starts the plan from `activities` (the trust's default, or the built-in one).
    Adopt {
        scope: PlanScope,
        default_owner: Option<StaffId>,
        activities: Vec<PlannedActivity>,
    },
    /// Adds an activity or replaces the one with the same key.
    SetActivity {
        activity: PlannedActivity,
    },
    RemoveActivity {
        key: String,
    },
    SetDefaultOwner {
        owner: StaffId,
    },
    /// The trust's caps on visits to one teacher, which every school's bookings are held
    /// to. Only the trust's default plan has them; it need not be started first.
    SetVisitCaps {
        scope: PlanScope,
        caps: VisitCaps,
    },
}

/// The most visits a trust may allow one teacher in a day, and in a week.
pub const MOST_VISITS_PER_DAY: u32 = 5;
pub const MOST_VISITS_PER_WEEK: u32 = 10;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum PlanEvent {
    PlanAdopted {
        scope: PlanScope,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default_owner: Option<StaffId>,
        activities: Vec<PlannedActivity>,
    },
    PlanActivitySet {
        activity: PlannedActivity,
    },
    PlanActivityRemoved {
        key: String,
    },
    PlanOwnerSet {
        owner: StaffId,
    },
    VisitCapsSet {
        caps: VisitCaps,
    },
}

impl DomainEvent for PlanEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::PlanAdopted { .. } => "PlanAdopted",
            Self::PlanActivitySet { .. } => "PlanActivitySet",
            Self::PlanActivityRemoved { .. } => "PlanActivityRemoved",
            Self::PlanOwnerSet { .. } => "PlanOwnerSet",
            Self::VisitCapsSet { .. } => "VisitCapsSet",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanRejection {
    #[error("this plan has been adopted already")]
    AlreadyAdopted,
    #[error("adopt the plan first")]
    NotAdopted,
    #[error("no activity `{0}` in this plan")]
    NoSuchActivity(String),
    #[error("{0} is not a month")]
    BadMonth(u32),
    #[error("an activity happens in some months or after assessments")]
    NeverHappens,
    #[error("visit caps are the trust's: set them on the trust's default plan")]
    CapsAreTheTrusts,
    #[error(
        "visits per day must be 1 to {MOST_VISITS_PER_DAY}, and per week from that to {MOST_VISITS_PER_WEEK}"
    )]
    BadCaps,
}

impl Rejection for PlanRejection {
    fn kind(&self) -> RejectionKind {
        match self {
            Self::AlreadyAdopted => RejectionKind::AlreadyExists,
            Self::NotAdopted => RejectionKind::FailedPrecondition,
            Self::NoSuchActivity(_) => RejectionKind::NotFound,
            Self::BadMonth(_) | Self::NeverHappens | Self::BadCaps => {
                RejectionKind::InvalidArgument
            }
            Self::CapsAreTheTrusts => RejectionKind::FailedPrecondition,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::AlreadyAdopted => "plan.already_adopted",
            Self::NotAdopted => "plan.not_adopted",
            Self::NoSuchActivity(_) => "plan.no_such_activity",
            Self::BadMonth(_) => "plan.bad_month",
            Self::NeverHappens => "plan.never_happens",
            Self::CapsAreTheTrusts => "plan.caps_are_the_trusts",
            Self::BadCaps => "plan.bad_caps",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PlanState {
    pub scope: Option<PlanScope>,
    pub default_owner: Option<StaffId>,
    pub activities: Vec<PlannedActivity>,
    /// The trust's caps on visits (the trust's default plan only); none until set.
    pub visit_caps: Option<VisitCaps>,
}

fn check(activity: &PlannedActivity) -> Result<(), PlanRejection> {
    if let Some(month) = activity.months.iter().find(|m| !(1..=12).contains(*m)) {
        return Err(PlanRejection::BadMonth(*month));
    }
    if activity.months.is_empty() && !activity.after_assessments {
        return Err(PlanRejection::NeverHappens);
    }
    Ok(())
}

impl Decider for Plan {
    const CATEGORY: &'static str = "plan";
    type State = PlanState;
    type Command = PlanCommand;
    type Event = PlanEvent;
    type Rejection = PlanRejection;

    fn decide(state: &PlanState, command: &PlanCommand) -> Result<Vec<PlanEvent>, PlanRejection> {
        match command {
            PlanCommand::Adopt {
                scope,
                default_owner,
                activities,
            } => {
                if state.scope.is_some() {
                    return Err(PlanRejection::AlreadyAdopted);
                }
                activities.iter().try_for_each(check)?;
                Ok(vec![PlanEvent::PlanAdopted {
                    scope: *scope,
                    default_owner: *default_owner,
                    activities: activities.clone(),
                }])
            }
            PlanCommand::SetActivity { activity } => {
                state.scope.ok_or(PlanRejection::NotAdopted)?;
                check(activity)?;
                Ok(vec![PlanEvent::PlanActivitySet {
                    activity: activity.clone(),
                }])
            }
            PlanCommand::RemoveActivity { key } => {
                state.scope.ok_or(PlanRejection::NotAdopted)?;
                if !state.activities.iter().any(|a| a.key == *key) {
                    return Err(PlanRejection::NoSuchActivity(key.clone()));
                }
                Ok(vec![PlanEvent::PlanActivityRemoved { key: key.clone() }])
            }
            PlanCommand::SetDefaultOwner { owner } => {
                state.scope.ok_or(PlanRejection::NotAdopted)?;
                Ok(vec![PlanEvent::PlanOwnerSet { owner: *owner }])
            }
            PlanCommand::SetVisitCaps { scope, caps } => {
                if *scope != PlanScope::TrustDefault {
                    return Err(PlanRejection::CapsAreTheTrusts);
                }
                if !(1..=MOST_VISITS_PER_DAY).contains(&caps.per_day)
                    || !(caps.per_day..=MOST_VISITS_PER_WEEK).contains(&caps.per_week)
                {
                    return Err(PlanRejection::BadCaps);
                }
                if state.visit_caps == Some(*caps) {
                    return Ok(vec![]);
                }
                Ok(vec![PlanEvent::VisitCapsSet { caps: *caps }])
            }
        }
    }

    fn evolve(mut state: PlanState, event: &PlanEvent) -> PlanState {
        match event {
            PlanEvent::PlanAdopted {
                scope,
                default_owner,
                activities,
            } => {
                state.scope = Some(*scope);
                state.default_owner = *default_owner;
                state.activities = activities.clone();
            }
            PlanEvent::PlanActivitySet { activity } => {
                match state.activities.iter_mut().find(|a| a.key == activity.key) {
                    Some(existing) => *existing = activity.clone(),
                    None => state.activities.push(activity.clone()),
                }
            }
            PlanEvent::PlanActivityRemoved { key } => state.activities.retain(|a| a.key != *key),
            PlanEvent::PlanOwnerSet { owner } => state.default_owner = Some(*owner),
            PlanEvent::VisitCapsSet { caps } => state.visit_caps = Some(*caps),
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::given;

    #[test]
    fn the_default_plan_has_the_fifteen_activities_of_the_overview() {
        let activities = default_activities();
        assert_eq!(activities.len(), 15);
        let visit = &activities[0];
        assert_eq!(visit.name.as_str(), "Classroom observation visit");
        assert_eq!(visit.head_teacher[0].as_str(), "Agree focus ahead of visit");
        assert!(
            activities
                .iter()
                .all(|a| !a.impact.is_empty() && (a.after_assessments || !a.months.is_empty()))
        );
    }

    #[test]
    fn visit_caps_are_the_trusts_bounded_and_set_before_or_after_adopting() {
        let caps = |per_day, per_week| VisitCaps { per_day, per_week };
        let set = |per_day, per_week| PlanCommand::SetVisitCaps {
            scope: PlanScope::TrustDefault,
            caps: caps(per_day, per_week),
        };
        // Before the trust's default plan is started, and it stays not adopted.
        let state = given::<Plan>([])
            .when(set(2, 3))
            .then([PlanEvent::VisitCapsSet { caps: caps(2, 3) }]);
        assert_eq!((state.scope, state.visit_caps), (None, Some(caps(2, 3))));
        // The same again changes nothing; the edges of the bounds are allowed.
        given::<Plan>([PlanEvent::VisitCapsSet { caps: caps(2, 3) }])
            .when(set(2, 3))
            .then([]);
        for (day, week) in [(1, 1), (MOST_VISITS_PER_DAY, MOST_VISITS_PER_WEEK)] {
            given::<Plan>([])
                .when(set(day, week))
                .then([PlanEvent::VisitCapsSet {
                    caps: caps(day, week),
                }]);
        }
        for (day, week) in [
            (0, 2),
            (MOST_VISITS_PER_DAY + 1, 10),
            (2, 1),
            (1, MOST_VISITS_PER_WEEK + 1),
        ] {
            given::<Plan>([])
                .when(set(day, week))
                .then_rejected(PlanRejection::BadCaps);
        }
        // A school's plan has none of its own.
        given::<Plan>([])
            .when(PlanCommand::SetVisitCaps {
                scope: PlanScope::School {
                    school_id: SchoolId::from_uuid(Uuid::from_u128(1)),
                    academic_year: AcademicYear::starting(2026),
                },
                caps: caps(1, 2),
            })
            .then_rejected(PlanRejection::CapsAreTheTrusts);
    }

    #[test]
    fn a_school_adopts_once_then_adapts() {
        let scope = PlanScope::TrustDefault;
        let adopted = PlanEvent::PlanAdopted {
            scope,
            default_owner: None,
            activities: default_activities(),
        };
        given::<Plan>([])
            .when(PlanCommand::Adopt {
                scope,
                default_owner: None,
                activities: default_activities(),
            })
            .then([adopted.clone()]);
        given::<Plan>([adopted.clone()])
            .when(PlanCommand::Adopt {
                scope,
                default_owner: None,
                activities: vec![],
            })
            .then_rejected(PlanRejection::AlreadyAdopted);
        let mut walks = default_activities()[0].clone();
        walks.months = vec![11, 3, 6];
        let state = given::<Plan>([adopted.clone()])
            .when(PlanCommand::SetActivity {
                activity: walks.clone(),
            })
            .then([PlanEvent::PlanActivitySet {
                activity: walks.clone(),
            }]);
        assert_eq!(state.activities[0].months, vec![11, 3, 6]);
        assert_eq!(state.activities.len(), 15);
        walks.months = vec![13];
        given::<Plan>([adopted.clone()])
            .when(PlanCommand::SetActivity { activity: walks })
            .then_rejected(PlanRejection::BadMonth(13));
        given::<Plan>([adopted])
            .when(PlanCommand::RemoveActivity { key: "nope".into() })
            .then_rejected(PlanRejection::NoSuchActivity("nope".into()));
    }
}
