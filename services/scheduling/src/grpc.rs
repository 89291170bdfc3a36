//! The gRPC API (`waymark.scheduling.v1`).

use std::sync::Arc;

use chrono::{NaiveDate, SecondsFormat};
use sqlx::types::Json;
use tonic::{Request, Response, Status};
use uuid::Uuid;
use waymark_bus::FeedHandle;
use waymark_domain::scheduling::calendar::{
    AssessmentPoint, Calendar, CalendarCommand, Holiday, SchoolCalendar, Term, YearCalendar,
};
use waymark_domain::scheduling::plan::{
    Plan, PlanCommand, PlanScope, PlanState, PlannedActivity, default_activities,
};
use waymark_domain::scheduling::schedule::{
    ClassTeam, Inputs, Schedule, ScheduleCommand, ScheduleState, TeamMember, VisitCaps,
    YearGroupTeam, schedule_id,
};
use waymark_domain::school_year::AcademicYear;
use waymark_domain::{CommandId, Decider, Rejection, SchoolId, StaffId, StreamId, Text, TrustId};
use waymark_event_store::{ExecuteError, Executed, execute};
use waymark_policy::{OccurrenceFacts, OccurrenceVerb, SchoolVerb, TrustVerb};
use waymark_proto::scheduling::v1 as pb;
use waymark_runtime::access::{Access, permit, person};
use waymark_runtime::auth::RequestContext;
use waymark_runtime::{ErrorKind, Platform, ServiceError, parse};

use crate::READ_YOUR_WRITES;

#[derive(Clone)]
pub struct SchedulingService {
    pub(crate) platform: Arc<Platform>,
    records: FeedHandle,
    pub(crate) access: Access,
    caps: VisitCaps,
}

impl SchedulingService {
    pub fn new(
        platform: Arc<Platform>,
        records: FeedHandle,
        access: Access,
        caps: VisitCaps,
    ) -> Self {
        Self {
            platform,
            records,
            access,
            caps,
        }
    }

    /// Refuses unless the caller may change the plan of `scope` (a school's, or the trust's
    /// default).
    async fn may_plan(
        &self,
        context: &RequestContext,
        scope: PlanScope,
    ) -> Result<(), ServiceError> {
        match scope {
            PlanScope::TrustDefault => self.access.trust(context, TrustVerb::ManagePlan).await,
            PlanScope::School { school_id, .. } => {
                self.access
                    .school(context, SchoolVerb::ManagePlan, school_id)
                    .await
            }
        }
        .map(drop)
    }

    /// Refuses unless the caller may `verb` `occurrence` of `school`. One the read model
    /// does not know is treated as led by nobody: only those the policies let act on any of
    /// the school's occurrences get as far as the decider, which says it does not exist.
    pub(crate) async fn may(
        &self,
        context: &RequestContext,
        school: SchoolId,
        occurrence: Uuid,
        verb: OccurrenceVerb,
    ) -> Result<(), ServiceError> {
        let row = sqlx::query!(
            "SELECT owner_id, participant_ids FROM scheduling.occurrences \
             WHERE trust_id = $1 AND school_id = $2 AND occurrence_id = $3",
            context.caller.trust.into_uuid(),
            school.into_uuid(),
            occurrence
        )
        .fetch_optional(self.pool())
        .await?;
        let facts = OccurrenceFacts {
            school,
            owner: StaffId::from_uuid(row.as_ref().map_or_else(Uuid::nil, |r| r.owner_id)),
            participants: row.map_or_else(Vec::new, |r| {
                r.participant_ids
                    .into_iter()
                    .map(StaffId::from_uuid)
                    .collect()
            }),
        };
        let directory = self.access.directory(context.caller.trust).await?;
        let allowed =
            self.access
                .policies()
                .allows_on_occurrence(&directory, person(context), verb, &facts);
        permit(allowed, "occurrence.not_permitted", verb.refusal())
    }

    fn pool(&self) -> &sqlx::PgPool {
        &self.platform.pool
    }

    pub(crate) async fn execute<D: Decider>(
        &self,
        context: &RequestContext,
        command_id: CommandId,
        id: Uuid,
        command: D::Command,
    ) -> Result<Executed<D>, ServiceError>
    where
        D::Rejection: Rejection,
    {
        let stream = StreamId::new(D::CATEGORY, id);
        let executed = execute::<D, _>(
            &self.platform.store,
            &context.command(command_id),
            &stream,
            &command,
        )
        .await
        .map_err(|error: ExecuteError<D::Rejection>| ServiceError::from(error))?;
        if let Some(checkpoint) = executed.checkpoint {
            self.records.wait_for(checkpoint, READ_YOUR_WRITES).await;
        }
        Ok(executed)
    }

    pub(crate) async fn run<D: Decider>(
        &self,
        context: &RequestContext,
        command_id: &str,
        id: Uuid,
        command: D::Command,
    ) -> Result<Response<pb::CommandReply>, Status>
    where
        D::Rejection: Rejection,
    {
        let command_id: CommandId = parse::id("command_id", command_id)?;
        let executed = self.execute::<D>(context, command_id, id, command).await?;
        Ok(Response::new(pb::CommandReply {
            id: id.to_string(),
            version: executed.version,
            replayed: executed.replayed,
        }))
    }

    async fn calendar(
        &self,
        trust: TrustId,
        school: SchoolId,
    ) -> Result<SchoolCalendar, ServiceError> {
        let mut conn = self.pool().acquire().await?;
        Ok(crate::projection::calendar(&mut conn, trust.into_uuid(), school.into_uuid()).await?)
    }

    /// Generates `school`'s `year` again from `calendar` and its plan as they are now, if the
    /// year was generated: what was held, cancelled or moved by hand stays as it is.
    async fn replan(
        &self,
        context: &RequestContext,
        command_id: CommandId,
        school: SchoolId,
        year: AcademicYear,
        calendar: SchoolCalendar,
    ) -> Result<(), ServiceError> {
        let Some(schedule) = self.schedule(context.caller.trust, school, year).await? else {
            return Ok(());
        };
        let inputs = self
            .inputs(
                context,
                school,
                year,
                calendar,
                schedule.year_groups,
                schedule.classes,
            )
            .await?;
        let replan = CommandId::from_uuid(Uuid::new_v5(command_id.as_uuid(), b"replan"));
        self.execute::<Schedule>(
            context,
            replan,
            schedule_id(school, year),
            ScheduleCommand::Replan { inputs },
        )
        .await?;
        Ok(())
    }

    /// Changes the plan of `scope`; a school's generated year follows at once (the trust's
    /// default changes only what schools adopt later).
    async fn change_plan(
        &self,
        context: &RequestContext,
        command_id: &str,
        scope: PlanScope,
        command: PlanCommand,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let plan = scope.plan_id(context.caller.trust.into_uuid());
        let reply = self.run::<Plan>(context, command_id, plan, command).await?;
        if let PlanScope::School {
            school_id,
            academic_year,
        } = scope
        {
            let calendar = self.calendar(context.caller.trust, school_id).await?;
            let command_id: CommandId = parse::id("command_id", command_id)?;
            self.replan(context, command_id, school_id, academic_year, calendar)
                .await?;
        }
        Ok(reply)
    }

    pub(crate) async fn plan(
        &self,
        trust: TrustId,
        scope: PlanScope,
    ) -> Result<Option<PlanState>, ServiceError> {
        let id = scope.plan_id(trust.into_uuid());
        let row = sqlx::query!(
            r#"SELECT doc AS "doc: Json<PlanState>" FROM scheduling.plans WHERE trust_id = $1 AND plan_id = $2"#,
            trust.into_uuid(),
            id
        )
        .fetch_optional(self.pool())
        .await?;
        // The trust's default exists before it is adopted when only its caps are set.
        Ok(row.map(|row| row.doc.0).filter(|plan| plan.scope.is_some()))
    }

    /// The trust's caps on visits, and whether it set them (else the installation's).
    pub(crate) async fn visit_caps(
        &self,
        trust: TrustId,
    ) -> Result<(VisitCaps, bool), ServiceError> {
        let id = PlanScope::TrustDefault.plan_id(trust.into_uuid());
        let caps: Option<(Option<Json<VisitCaps>>,)> = sqlx::query_as(
            "SELECT doc -> 'visit_caps' FROM scheduling.plans \
              WHERE trust_id = $1 AND plan_id = $2 AND jsonb_typeof(doc -> 'visit_caps') = 'object'",
        )
        .bind(trust.into_uuid())
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(match caps.and_then(|(caps,)| caps) {
            Some(Json(caps)) => (caps, true),
            None => (self.caps, false),
        })
    }

    async fn schedule(
        &self,
        trust: TrustId,
        school: SchoolId,
        year: AcademicYear,
    ) -> Result<Option<ScheduleState>, ServiceError> {
        let row = sqlx::query!(
            r#"SELECT doc AS "doc: Json<ScheduleState>" FROM scheduling.schedules WHERE trust_id = $1 AND schedule_id = $2"#,
            trust.into_uuid(),
            schedule_id(school, year)
        )
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|row| row.doc.0))
    }

    /// What a year is generated from: the calendar, the adopted plan, the teams.
    async fn inputs(
        &self,
        context: &RequestContext,
        school: SchoolId,
        year: AcademicYear,
        calendar: SchoolCalendar,
        year_groups: Vec<YearGroupTeam>,
        classes: Vec<ClassTeam>,
    ) -> Result<Inputs, ServiceError> {
        let plan = self
            .plan(
                context.caller.trust,
                PlanScope::School {
                    school_id: school,
                    academic_year: year,
                },
            )
            .await?
            .ok_or_else(|| {
                ServiceError::new(
                    ErrorKind::FailedPrecondition,
                    "plan.not_adopted",
                    "adopt a monitoring plan for the year first",
                )
            })?;
        Ok(Inputs {
            calendar,
            activities: plan.activities,
            default_owner: plan
                .default_owner
                .unwrap_or_else(|| StaffId::from_uuid(context.caller.actor.into_uuid())),
            year_groups,
            classes,
        })
    }
}

pub(crate) fn year(value: &str) -> Result<AcademicYear, ServiceError> {
    AcademicYear::parse(value).map_err(|error| ServiceError::invalid("academic_year", error))
}

fn name(field: &str, value: &str) -> Result<Text, ServiceError> {
    Text::parse_max(value, 120).map_err(|error| ServiceError::invalid(field, error))
}

pub(crate) fn uuid(field: &str, value: &str) -> Result<Uuid, ServiceError> {
    Uuid::parse_str(value.trim()).map_err(|_| ServiceError::invalid(field, "is not a valid id"))
}

fn year_calendar(calendar: Option<pb::YearCalendar>) -> Result<YearCalendar, ServiceError> {
    let calendar = calendar.ok_or_else(|| ServiceError::invalid("calendar", "is required"))?;
    Ok(YearCalendar {
        academic_year: year(&calendar.academic_year)?,
        terms: calendar
            .terms
            .iter()
            .map(|t| {
                Ok(Term {
                    name: name("terms.name", &t.name)?,
                    starts: parse::date("terms.starts", &t.starts)?,
                    ends: parse::date("terms.ends", &t.ends)?,
                })
            })
            .collect::<Result<_, ServiceError>>()?,
        holidays: calendar
            .holidays
            .iter()
            .map(|h| {
                Ok(Holiday {
                    name: name("holidays.name", &h.name)?,
                    starts: parse::date("holidays.starts", &h.starts)?,
                    ends: parse::date("holidays.ends", &h.ends)?,
                })
            })
            .collect::<Result<_, ServiceError>>()?,
        inset_days: calendar
            .inset_days
            .iter()
            .map(|d| parse::date("inset_days", d))
            .collect::<Result<_, _>>()?,
        assessment_points: calendar
            .assessment_points
            .iter()
            .map(|p| {
                Ok(AssessmentPoint {
                    name: name("assessment_points.name", &p.name)?,
                    date: parse::date("assessment_points.date", &p.date)?,
                })
            })
            .collect::<Result<_, ServiceError>>()?,
    })
}

fn calendar_message(calendar: &SchoolCalendar, school: SchoolId) -> pb::Calendar {
    pb::Calendar {
        school_id: school.to_string(),
        time_zone: calendar.time_zone.name().to_owned(),
        years: calendar
            .years
            .iter()
            .map(|y| pb::YearCalendar {
                academic_year: y.academic_year.to_string(),
                terms: y
                    .terms
                    .iter()
                    .map(|t| pb::Term {
                        name: t.name.to_string(),
                        starts: t.starts.to_string(),
                        ends: t.ends.to_string(),
                    })
                    .collect(),
                holidays: y
                    .holidays
                    .iter()
                    .map(|h| pb::Holiday {
                        name: h.name.to_string(),
                        starts: h.starts.to_string(),
                        ends: h.ends.to_string(),
                    })
                    .collect(),
                inset_days: y.inset_days.iter().map(ToString::to_string).collect(),
                assessment_points: y
                    .assessment_points
                    .iter()
                    .map(|p| pb::AssessmentPoint {
                        name: p.name.to_string(),
                        date: p.date.to_string(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn activity(activity: Option<pb::Activity>) -> Result<PlannedActivity, ServiceError> {
    let activity = activity.ok_or_else(|| ServiceError::invalid("activity", "is required"))?;
    let key = activity.key.trim();
    if key.is_empty()
        || key.len() > 60
        || !key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(ServiceError::invalid(
            "activity.key",
            "must be lowercase letters, digits and '_'",
        ));
    }
    let texts = |field: &str, items: &[String]| {
        items
            .iter()
            .map(|i| parse::text(field, i))
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(PlannedActivity {
        key: key.to_owned(),
        name: name("activity.name", &activity.name)?,
        months: activity.months.clone(),
        after_assessments: activity.after_assessments,
        owner: parse::optional_id("activity.owner_id", &activity.owner_id)?,
        head_teacher: texts("activity.head_teacher", &activity.head_teacher)?,
        class_teacher: texts("activity.class_teacher", &activity.class_teacher)?,
        impact: texts("activity.impact", &activity.impact)?,
    })
}

fn activity_message(activity: &PlannedActivity) -> pb::Activity {
    let texts = |items: &[Text]| items.iter().map(ToString::to_string).collect();
    pb::Activity {
        key: activity.key.clone(),
        name: activity.name.to_string(),
        months: activity.months.clone(),
        after_assessments: activity.after_assessments,
        owner_id: activity.owner.map(|o| o.to_string()).unwrap_or_default(),
        head_teacher: texts(&activity.head_teacher),
        class_teacher: texts(&activity.class_teacher),
        impact: texts(&activity.impact),
    }
}

fn teams(
    request: &pb::GenerateYearRequest,
) -> Result<(Vec<YearGroupTeam>, Vec<ClassTeam>), ServiceError> {
    let year_groups = request
        .year_groups
        .iter()
        .map(|g| {
            Ok(YearGroupTeam {
                year_group: name("year_groups.year_group", &g.year_group)?,
                members: g
                    .members
                    .iter()
                    .map(|m| {
                        Ok(TeamMember {
                            teacher: parse::id("year_groups.members.teacher_id", &m.teacher_id)?,
                            line_manager: parse::id(
                                "year_groups.members.line_manager_id",
                                &m.line_manager_id,
                            )?,
                        })
                    })
                    .collect::<Result<_, ServiceError>>()?,
            })
        })
        .collect::<Result<_, ServiceError>>()?;
    let classes = request
        .classes
        .iter()
        .map(|c| {
            Ok(ClassTeam {
                class_group: name("classes.class_group", &c.class_group)?,
                teacher: parse::id("classes.teacher_id", &c.teacher_id)?,
                leaders: c
                    .leader_ids
                    .iter()
                    .map(|l| parse::id("classes.leader_ids", l))
                    .collect::<Result<_, _>>()?,
            })
        })
        .collect::<Result<_, ServiceError>>()?;
    Ok((year_groups, classes))
}

fn scope(school: &str, academic_year: &str) -> Result<PlanScope, ServiceError> {
    match parse::optional_id::<SchoolId>("school_id", school)? {
        None => Ok(PlanScope::TrustDefault),
        Some(school_id) => Ok(PlanScope::School {
            school_id,
            academic_year: year(academic_year)?,
        }),
    }
}

fn rfc3339(instant: chrono::DateTime<chrono::Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[tonic::async_trait]
impl pb::scheduling_server::Scheduling for SchedulingService {
    async fn get_calendar(
        &self,
        request: Request<pb::GetCalendarRequest>,
    ) -> Result<Response<pb::Calendar>, Status> {
        let context = RequestContext::of(&request)?;
        let school: SchoolId = parse::id("school_id", &request.get_ref().school_id)?;
        self.access
            .school(&context, SchoolVerb::Read, school)
            .await?;
        let calendar = self.calendar(context.caller.trust, school).await?;
        Ok(Response::new(calendar_message(&calendar, school)))
    }

    async fn set_time_zone(
        &self,
        request: Request<pb::SetTimeZoneRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let school: SchoolId = parse::id("school_id", &request.school_id)?;
        self.access
            .school(&context, SchoolVerb::ManageCalendar, school)
            .await?;
        let time_zone: chrono_tz::Tz = request.time_zone.trim().parse().map_err(|_| {
            ServiceError::invalid("time_zone", "is not a time zone name (e.g. Europe/London)")
        })?;
        let command = CalendarCommand::SetTimeZone {
            school_id: school,
            time_zone,
        };
        self.run::<Calendar>(&context, &request.command_id, school.into_uuid(), command)
            .await
    }

    async fn set_year_calendar(
        &self,
        request: Request<pb::SetYearCalendarRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let command_id: CommandId = parse::id("command_id", &request.command_id)?;
        let school: SchoolId = parse::id("school_id", &request.school_id)?;
        self.access
            .school(&context, SchoolVerb::ManageCalendar, school)
            .await?;
        let calendar = year_calendar(request.calendar)?;
        let academic_year = calendar.academic_year;
        let command = CalendarCommand::SetYear {
            school_id: school,
            calendar,
        };
        let executed = self
            .execute::<Calendar>(&context, command_id, school.into_uuid(), command)
            .await?;
        // A generated year follows its calendar.
        self.replan(
            &context,
            command_id,
            school,
            academic_year,
            executed.state.clone(),
        )
        .await?;
        Ok(Response::new(pb::CommandReply {
            id: school.to_string(),
            version: executed.version,
            replayed: executed.replayed,
        }))
    }

    async fn get_plan(
        &self,
        request: Request<pb::GetPlanRequest>,
    ) -> Result<Response<pb::Plan>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let scope = scope(&request.school_id, &request.academic_year)?;
        match scope {
            PlanScope::TrustDefault => self.access.trust(&context, TrustVerb::Read).await?,
            PlanScope::School { school_id, .. } => {
                self.access
                    .school(&context, SchoolVerb::Read, school_id)
                    .await?
            }
        };
        let trust = context.caller.trust;
        let (state, adopted) = match self.plan(trust, scope).await? {
            Some(plan) => (plan, true),
            // What would be adopted: the trust's default, or the built-in plan.
            None => match self.plan(trust, PlanScope::TrustDefault).await? {
                Some(default) if scope != PlanScope::TrustDefault => (default, false),
                _ => (
                    PlanState {
                        scope: Some(scope),
                        activities: default_activities(),
                        ..PlanState::default()
                    },
                    false,
                ),
            },
        };
        let (school_id, academic_year) = match scope {
            PlanScope::School {
                school_id,
                academic_year,
            } => (school_id.to_string(), academic_year.to_string()),
            PlanScope::TrustDefault => (String::new(), String::new()),
        };
        let (caps, visit_caps_set) = self.visit_caps(trust).await?;
        Ok(Response::new(pb::Plan {
            plan_id: scope.plan_id(trust.into_uuid()).to_string(),
            school_id,
            academic_year,
            default_owner_id: state
                .default_owner
                .map(|o| o.to_string())
                .unwrap_or_default(),
            activities: state.activities.iter().map(activity_message).collect(),
            adopted,
            visits_per_day: caps.per_day,
            visits_per_week: caps.per_week,
            visit_caps_set,
        }))
    }

    async fn set_visit_caps(
        &self,
        request: Request<pb::SetVisitCapsRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let scope = PlanScope::TrustDefault;
        self.may_plan(&context, scope).await?;
        let command = PlanCommand::SetVisitCaps {
            scope,
            caps: VisitCaps {
                per_day: request.per_day,
                per_week: request.per_week,
            },
        };
        self.run::<Plan>(
            &context,
            &request.command_id,
            scope.plan_id(context.caller.trust.into_uuid()),
            command,
        )
        .await
    }

    async fn adopt_plan(
        &self,
        request: Request<pb::AdoptPlanRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let scope = scope(&request.school_id, &request.academic_year)?;
        self.may_plan(&context, scope).await?;
        let activities = match (
            scope,
            self.plan(context.caller.trust, PlanScope::TrustDefault)
                .await?,
        ) {
            (PlanScope::School { .. }, Some(default)) => default.activities,
            _ => default_activities(),
        };
        let command = PlanCommand::Adopt {
            scope,
            default_owner: parse::optional_id("default_owner_id", &request.default_owner_id)?,
            activities,
        };
        self.run::<Plan>(
            &context,
            &request.command_id,
            scope.plan_id(context.caller.trust.into_uuid()),
            command,
        )
        .await
    }

    async fn set_plan_activity(
        &self,
        request: Request<pb::SetPlanActivityRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let scope = scope(&request.school_id, &request.academic_year)?;
        self.may_plan(&context, scope).await?;
        let command = PlanCommand::SetActivity {
            activity: activity(request.activity)?,
        };
        self.change_plan(&context, &request.command_id, scope, command)
            .await
    }

    async fn remove_plan_activity(
        &self,
        request: Request<pb::RemovePlanActivityRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let scope = scope(&request.school_id, &request.academic_year)?;
        self.may_plan(&context, scope).await?;
        let command = PlanCommand::RemoveActivity {
            key: request.key.trim().to_owned(),
        };
        self.change_plan(&context, &request.command_id, scope, command)
            .await
    }

    async fn generate_year(
        &self,
        request: Request<pb::GenerateYearRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let school: SchoolId = parse::id("school_id", &request.school_id)?;
        let academic_year = year(&request.academic_year)?;
        self.access
            .school(&context, SchoolVerb::ManagePlan, school)
            .await?;
        let (year_groups, classes) = teams(&request)?;
        let calendar = self.calendar(context.caller.trust, school).await?;
        let inputs = self
            .inputs(
                &context,
                school,
                academic_year,
                calendar,
                year_groups,
                classes,
            )
            .await?;
        let command = ScheduleCommand::Generate {
            school_id: school,
            academic_year,
            inputs,
        };
        self.run::<Schedule>(
            &context,
            &request.command_id,
            schedule_id(school, academic_year),
            command,
        )
        .await
    }

    async fn list_occurrences(
        &self,
        request: Request<pb::ListOccurrencesRequest>,
    ) -> Result<Response<pb::ListOccurrencesResponse>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let school = parse::optional_id::<SchoolId>("school_id", &request.school_id)?
            .map(SchoolId::into_uuid);
        let involving =
            parse::optional_id::<StaffId>("person_id", &request.person_id)?.map(StaffId::into_uuid);
        let from = parse::optional_date("from_date", &request.from_date)?;
        let to = parse::optional_date("to_date", &request.to_date)?;
        let kind = parse::optional_text("kind", &request.kind)?;
        let status = parse::optional_text("status", &request.status)?;
        // One school, if the caller may read it; else every school they may.
        let directory = self.access.directory(context.caller.trust).await?;
        let readable: Vec<Uuid> = directory
            .schools
            .keys()
            .filter(|s| {
                self.access.policies().allows_on_school(
                    &directory,
                    person(&context),
                    SchoolVerb::Read,
                    **s,
                )
            })
            .map(|s| s.into_uuid())
            .collect();
        if let Some(school) = school {
            permit(
                readable.contains(&school),
                "school.not_permitted",
                SchoolVerb::Read.refusal(),
            )?;
        }
        let rows = sqlx::query!(
            r#"SELECT occurrence_id, school_id, kind, title, date, due, owner_id, participant_ids, status, detail #>> '{}' AS "detail!"
               FROM scheduling.occurrences
               WHERE trust_id = $1 AND ($2::uuid IS NULL OR school_id = $2) AND school_id = ANY($8)
                 AND ($3::uuid IS NULL OR owner_id = $3 OR $3 = ANY(participant_ids))
                 AND ($4::date IS NULL OR due >= $4) AND ($5::date IS NULL OR date <= $5)
                 AND ($6::text IS NULL OR kind = $6) AND ($7::text IS NULL OR status = $7)
               ORDER BY date, title LIMIT 2000"#,
            context.caller.trust.into_uuid(),
            school,
            involving,
            from,
            to,
            kind.as_ref().map(Text::as_str),
            status.as_ref().map(Text::as_str),
            &readable,
        )
        .fetch_all(self.pool())
        .await
        .map_err(ServiceError::from)?;
        let ids: Vec<Uuid> = rows.iter().map(|r| r.occurrence_id).collect();
        let records = crate::holding::records_of(self.pool(), context.caller.trust, &ids).await?;
        Ok(Response::new(pb::ListOccurrencesResponse {
            occurrences: rows
                .into_iter()
                .map(|r| pb::Occurrence {
                    record_kind: records
                        .get(&r.occurrence_id)
                        .map(|(kind, _)| kind.clone())
                        .unwrap_or_default(),
                    record_id: records
                        .get(&r.occurrence_id)
                        .map(|(_, id)| id.to_string())
                        .unwrap_or_default(),
                    occurrence_id: r.occurrence_id.to_string(),
                    school_id: r.school_id.to_string(),
                    kind: r.kind,
                    title: r.title,
                    date: r.date.to_string(),
                    due: r.due.to_string(),
                    owner_id: r.owner_id.to_string(),
                    participant_ids: r.participant_ids.iter().map(ToString::to_string).collect(),
                    status: r.status,
                    detail: r.detail,
                    ..Default::default()
                })
                .collect(),
        }))
    }

    async fn get_occurrence(
        &self,
        request: Request<pb::GetOccurrenceRequest>,
    ) -> Result<Response<pb::Occurrence>, Status> {
        let context = RequestContext::of(&request)?;
        let id = uuid("occurrence_id", &request.get_ref().occurrence_id)?;
        let not_found = || ServiceError::not_found("occurrence");
        let (school, year) = crate::evidence::locate(self.pool(), &context, id)
            .await?
            .ok_or_else(not_found)?;
        self.access
            .school(&context, SchoolVerb::Read, school)
            .await
            .map_err(|_| not_found())?;
        let row = sqlx::query!(
            r#"SELECT kind, title, date, due, owner_id, participant_ids, status, detail #>> '{}' AS "detail!"
               FROM scheduling.occurrences WHERE trust_id = $1 AND occurrence_id = $2"#,
            context.caller.trust.into_uuid(),
            id
        )
        .fetch_optional(self.pool())
        .await
        .map_err(ServiceError::from)?
        .ok_or_else(not_found)?;
        let attachments = waymark_runtime::evidence::on_record(
            self.pool(),
            crate::EVIDENCE_TABLE,
            context.caller.trust,
            id,
        )
        .await?;
        let record = crate::holding::records_of(self.pool(), context.caller.trust, &[id])
            .await?
            .remove(&id);
        let minutes = self
            .schedule(context.caller.trust, school, year)
            .await?
            .and_then(|mut schedule| schedule.minutes.remove(&id));
        let occurrence = pb::Occurrence {
            occurrence_id: id.to_string(),
            school_id: school.to_string(),
            kind: row.kind,
            title: row.title,
            date: row.date.to_string(),
            due: row.due.to_string(),
            owner_id: row.owner_id.to_string(),
            participant_ids: row
                .participant_ids
                .iter()
                .map(ToString::to_string)
                .collect(),
            status: row.status,
            detail: row.detail,
            record_kind: record.as_ref().map(|(k, _)| k.clone()).unwrap_or_default(),
            record_id: record.map(|(_, id)| id.to_string()).unwrap_or_default(),
            minutes: minutes
                .as_ref()
                .and_then(|m| m.notes.as_ref())
                .map(ToString::to_string)
                .unwrap_or_default(),
            attendee_ids: minutes
                .as_ref()
                .map(|m| m.attendees.iter().map(ToString::to_string).collect())
                .unwrap_or_default(),
            minutes_by: minutes.map(|m| m.by.to_string()).unwrap_or_default(),
            academic_year: year.to_string(),
            attachments: attachments
                .iter()
                .map(waymark_runtime::evidence::message)
                .collect(),
            ..Default::default()
        };
        Ok(Response::new(
            self.with_checklists(&context, school, year, occurrence)
                .await?,
        ))
    }

    async fn reschedule_occurrence(
        &self,
        request: Request<pb::RescheduleOccurrenceRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let school: SchoolId = parse::id("school_id", &request.school_id)?;
        let occurrence = uuid("occurrence_id", &request.occurrence_id)?;
        self.may(&context, school, occurrence, OccurrenceVerb::Run)
            .await?;
        let command = ScheduleCommand::Reschedule {
            occurrence,
            date: parse::date("date", &request.date)?,
            reason: parse::text("reason", &request.reason)?,
        };
        let id = schedule_id(school, year(&request.academic_year)?);
        self.run::<Schedule>(&context, &request.command_id, id, command)
            .await
    }

    async fn cancel_occurrence(
        &self,
        request: Request<pb::OccurrenceTextRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let school: SchoolId = parse::id("school_id", &request.school_id)?;
        let occurrence = uuid("occurrence_id", &request.occurrence_id)?;
        self.may(&context, school, occurrence, OccurrenceVerb::Run)
            .await?;
        let command = ScheduleCommand::Cancel {
            occurrence,
            reason: parse::text("text", &request.text)?,
        };
        let id = schedule_id(school, year(&request.academic_year)?);
        self.run::<Schedule>(&context, &request.command_id, id, command)
            .await
    }

    async fn mark_occurrence_held(
        &self,
        request: Request<pb::OccurrenceTextRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let school: SchoolId = parse::id("school_id", &request.school_id)?;
        let occurrence = uuid("occurrence_id", &request.occurrence_id)?;
        self.may(&context, school, occurrence, OccurrenceVerb::Run)
            .await?;
        let command = ScheduleCommand::MarkHeld { occurrence };
        let id = schedule_id(school, year(&request.academic_year)?);
        self.run::<Schedule>(&context, &request.command_id, id, command)
            .await
    }

    async fn tick_checklist(
        &self,
        request: Request<pb::TickChecklistRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        self.tick(request).await
    }

    async fn record_minutes(
        &self,
        request: Request<pb::RecordMinutesRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        self.record_minutes_of(request).await
    }

    async fn request_visit(
        &self,
        request: Request<pb::RequestVisitRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let command_id: CommandId = parse::id("command_id", &request.command_id)?;
        let school: SchoolId = parse::id("school_id", &request.school_id)?;
        let teacher = parse::optional_id("teacher_id", &request.teacher_id)?
            .unwrap_or_else(|| person(&context));
        let directory = self.access.directory(context.caller.trust).await?;
        permit(
            self.access.policies().allows_visit_request(
                &directory,
                person(&context),
                school,
                teacher,
            ),
            "school.not_permitted",
            "you ask for a visit for yourself; the school's leaders ask on a teacher's behalf",
        )?;
        let request_id = Uuid::new_v5(command_id.as_uuid(), b"visit-request");
        let command = ScheduleCommand::RequestVisit {
            request_id,
            teacher,
            reason: parse::optional_text("reason", &request.reason)?,
        };
        let id = schedule_id(school, year(&request.academic_year)?);
        let executed = self
            .execute::<Schedule>(&context, command_id, id, command)
            .await?;
        Ok(Response::new(pb::CommandReply {
            id: request_id.to_string(),
            version: executed.version,
            replayed: executed.replayed,
        }))
    }

    async fn book_visit(
        &self,
        request: Request<pb::BookVisitRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let command_id: CommandId = parse::id("command_id", &request.command_id)?;
        let school: SchoolId = parse::id("school_id", &request.school_id)?;
        self.access
            .school(&context, SchoolVerb::PlanVisits, school)
            .await?;
        let occurrence = Uuid::new_v5(command_id.as_uuid(), b"visit");
        let request_id = if request.request_id.trim().is_empty() {
            None
        } else {
            Some(uuid("request_id", &request.request_id)?)
        };
        let command = ScheduleCommand::BookVisit {
            occurrence,
            visitor: parse::id("visitor_id", &request.visitor_id)?,
            teacher: parse::id("teacher_id", &request.teacher_id)?,
            date: parse::date("date", &request.date)?,
            caps: self.visit_caps(context.caller.trust).await?.0,
            request_id,
        };
        let id = schedule_id(school, year(&request.academic_year)?);
        let executed = self
            .execute::<Schedule>(&context, command_id, id, command)
            .await?;
        Ok(Response::new(pb::CommandReply {
            id: occurrence.to_string(),
            version: executed.version,
            replayed: executed.replayed,
        }))
    }

    async fn list_visit_requests(
        &self,
        request: Request<pb::SchoolYearRequest>,
    ) -> Result<Response<pb::ListVisitRequestsResponse>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let school: SchoolId = parse::id("school_id", &request.school_id)?;
        self.access
            .school(&context, SchoolVerb::PlanVisits, school)
            .await?;
        let state = self
            .schedule(context.caller.trust, school, year(&request.academic_year)?)
            .await?
            .unwrap_or_default();
        Ok(Response::new(pb::ListVisitRequestsResponse {
            requests: state
                .requests
                .iter()
                .map(|r| pb::VisitRequest {
                    request_id: r.request_id.to_string(),
                    teacher_id: r.teacher.to_string(),
                    reason: r
                        .reason
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    booked_as: r.booked_as.map(|b| b.to_string()).unwrap_or_default(),
                })
                .collect(),
        }))
    }

    async fn not_visited(
        &self,
        request: Request<pb::NotVisitedRequest>,
    ) -> Result<Response<pb::NotVisitedResponse>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let school: SchoolId = parse::id("school_id", &request.school_id)?;
        self.access
            .school(&context, SchoolVerb::PlanVisits, school)
            .await?;
        let (from, to): (NaiveDate, NaiveDate) = (
            parse::date("from_date", &request.from_date)?,
            parse::date("to_date", &request.to_date)?,
        );
        let state = self
            .schedule(context.caller.trust, school, year(&request.academic_year)?)
            .await?
            .unwrap_or_default();
        Ok(Response::new(pb::NotVisitedResponse {
            teacher_ids: state
                .not_visited(from, to)
                .iter()
                .map(ToString::to_string)
                .collect(),
        }))
    }

    async fn list_timers(
        &self,
        request: Request<pb::ListTimersRequest>,
    ) -> Result<Response<pb::ListTimersResponse>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let subject = if request.subject_id.trim().is_empty() {
            None
        } else {
            Some(uuid("subject_id", &request.subject_id)?)
        };
        let mut recipient = parse::optional_id::<StaffId>("recipient_id", &request.recipient_id)?;
        // Trust administrators see every reminder planned; anyone else their own.
        let directory = self.access.directory(context.caller.trust).await?;
        let me = person(&context);
        if !self
            .access
            .policies()
            .allows_on_trust(&directory, me, TrustVerb::SeeDeliveries)
        {
            permit(
                recipient.is_none_or(|r| r == me),
                "trust.not_permitted",
                "you see only the reminders planned for you",
            )?;
            recipient = Some(me);
        }
        let recipient = recipient.map(StaffId::into_uuid);
        let state = parse::optional_text("state", &request.state)?;
        let rows = sqlx::query!(
            "SELECT timer_id, subject_kind, subject_id, title, reminder, recipient_id, due_date, local_date, fire_at, state, fired_at, reason \
             FROM scheduling.timers WHERE trust_id = $1 AND ($2::uuid IS NULL OR subject_id = $2) \
             AND ($3::uuid IS NULL OR recipient_id = $3) AND ($4::text IS NULL OR state = $4) \
             ORDER BY fire_at, reminder LIMIT 1000",
            context.caller.trust.into_uuid(),
            subject,
            recipient,
            state.as_ref().map(Text::as_str),
        )
        .fetch_all(self.pool())
        .await
        .map_err(ServiceError::from)?;
        Ok(Response::new(pb::ListTimersResponse {
            timers: rows
                .into_iter()
                .map(|t| pb::Timer {
                    timer_id: t.timer_id.to_string(),
                    subject_kind: t.subject_kind,
                    subject_id: t.subject_id.to_string(),
                    title: t.title,
                    reminder: t.reminder,
                    recipient_id: t.recipient_id.to_string(),
                    due_date: t.due_date.to_string(),
                    local_date: t.local_date.to_string(),
                    fire_at: rfc3339(t.fire_at),
                    state: t.state,
                    fired_at: t.fired_at.map(rfc3339).unwrap_or_default(),
                    reason: t.reason.unwrap_or_default(),
                })
                .collect(),
        }))
    }
}
