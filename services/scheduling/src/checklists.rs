//! An activity's checklists on its occurrence: the lines come from the school's plan for the
//! year (as it is now), the ticks from the read model; ticking asks the policies and then
//! the schedule's decider.

use chrono::{DateTime, SecondsFormat, Utc};
use tonic::{Request, Response, Status};
use uuid::Uuid;
use waymark_domain::scheduling::checklist::Checklist;
use waymark_domain::scheduling::plan::{PlanScope, PlannedActivity};
use waymark_domain::scheduling::schedule::{Schedule, ScheduleCommand, schedule_id};
use waymark_domain::school_year::AcademicYear;
use waymark_domain::{SchoolId, Text};
use waymark_policy::OccurrenceVerb;
use waymark_proto::scheduling::v1 as pb;
use waymark_runtime::access::person;
use waymark_runtime::auth::RequestContext;
use waymark_runtime::{ServiceError, parse};

use crate::grpc::{SchedulingService, uuid, year};

impl SchedulingService {
    /// The plan's activity `key` for `school`'s `year`, if the school adopted a plan with it.
    async fn activity(
        &self,
        context: &RequestContext,
        school: SchoolId,
        year: AcademicYear,
        key: &str,
    ) -> Result<Option<PlannedActivity>, ServiceError> {
        let scope = PlanScope::School {
            school_id: school,
            academic_year: year,
        };
        Ok(self
            .plan(context.caller.trust, scope)
            .await?
            .and_then(|plan| plan.activities.into_iter().find(|a| a.key == key)))
    }

    /// Fills in an activity occurrence's impact and checklists, with who ticked each line.
    pub(crate) async fn with_checklists(
        &self,
        context: &RequestContext,
        school: SchoolId,
        year: AcademicYear,
        mut occurrence: pb::Occurrence,
    ) -> Result<pb::Occurrence, ServiceError> {
        if occurrence.kind != "activity" {
            return Ok(occurrence);
        }
        let Some(activity) = self
            .activity(context, school, year, &occurrence.detail)
            .await?
        else {
            return Ok(occurrence);
        };
        let id = uuid("occurrence_id", &occurrence.occurrence_id)?;
        let ticks: Vec<(String, String, Uuid, DateTime<Utc>)> = sqlx::query_as(
            "SELECT checklist, line, ticked_by, ticked_at FROM scheduling.checklist_ticks \
             WHERE trust_id = $1 AND occurrence_id = $2",
        )
        .bind(context.caller.trust.into_uuid())
        .bind(id)
        .fetch_all(&self.platform.pool)
        .await?;
        let lines = |list: Checklist, texts: &[Text]| {
            texts
                .iter()
                .map(|text| {
                    let tick = ticks
                        .iter()
                        .find(|(l, line, ..)| l == list.as_str() && line == text.as_str());
                    pb::ChecklistLine {
                        text: text.to_string(),
                        ticked: tick.is_some(),
                        ticked_by: tick.map(|t| t.2.to_string()).unwrap_or_default(),
                        ticked_at: tick
                            .map(|t| t.3.to_rfc3339_opts(SecondsFormat::Secs, true))
                            .unwrap_or_default(),
                    }
                })
                .collect()
        };
        occurrence.head_teacher_checklist = lines(Checklist::HeadTeacher, &activity.head_teacher);
        occurrence.class_teacher_checklist =
            lines(Checklist::ClassTeacher, &activity.class_teacher);
        occurrence.impact = activity.impact.iter().map(ToString::to_string).collect();
        Ok(occurrence)
    }

    pub(crate) async fn tick(
        &self,
        request: Request<pb::TickChecklistRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let school: SchoolId = parse::id("school_id", &request.school_id)?;
        let year = year(&request.academic_year)?;
        let occurrence = uuid("occurrence_id", &request.occurrence_id)?;
        let list = Checklist::parse(request.checklist.trim()).ok_or_else(|| {
            ServiceError::invalid("checklist", "must be head_teacher or class_teacher")
        })?;
        let line = parse::text("line", &request.line)?;
        let verb = match list {
            Checklist::HeadTeacher => OccurrenceVerb::Run,
            Checklist::ClassTeacher => OccurrenceVerb::TickClassChecklist,
        };
        self.may(&context, school, occurrence, verb).await?;
        let key: Option<String> = sqlx::query_scalar(
            "SELECT detail #>> '{}' FROM scheduling.occurrences \
             WHERE trust_id = $1 AND school_id = $2 AND occurrence_id = $3 AND kind = 'activity'",
        )
        .bind(context.caller.trust.into_uuid())
        .bind(school.into_uuid())
        .bind(occurrence)
        .fetch_optional(&self.platform.pool)
        .await
        .map_err(ServiceError::from)?;
        let activity = match key {
            Some(key) => self.activity(&context, school, year, &key).await?,
            None => None,
        };
        let lines = activity
            .map(|a| match list {
                Checklist::HeadTeacher => a.head_teacher,
                Checklist::ClassTeacher => a.class_teacher,
            })
            .unwrap_or_default();
        let command = ScheduleCommand::TickChecklist {
            occurrence,
            list,
            line,
            ticked: request.ticked,
            by: person(&context),
            lines,
        };
        self.run::<Schedule>(
            &context,
            &request.command_id,
            schedule_id(school, year),
            command,
        )
        .await
    }
}
