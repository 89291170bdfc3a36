//! Each school's improvement priorities (`waymark.review_dialogue.v1.Priorities`): the
//! school's plan managers keep them; whoever may read the school reads them; whoever may read
//! a whole record of the school (or the audit a weakness was found by) ties it to one.

use sqlx::types::Json;
use std::sync::Arc;
use tonic::{Request, Response, Status};
use uuid::Uuid;
use waymark_domain::review_dialogue::meeting::{Meeting, MeetingState};
use waymark_domain::review_dialogue::priority::{
    Link, LinkedKind, Priority, PriorityCommand, PriorityDetails, PriorityState,
};
use waymark_domain::review_dialogue::review::{Review, ReviewState};
use waymark_domain::review_dialogue::visit::{Visit, VisitState};
use waymark_domain::school_year::AcademicYear;
use waymark_domain::{CommandId, SchoolId, StaffId, Text, TrustId};

use waymark_policy::{Policies, SchoolVerb};
use waymark_proto::review_dialogue::v1 as pb;
use waymark_runtime::auth::RequestContext;
use waymark_runtime::{ServiceError, parse};

use crate::access::{self, Record};
use crate::actions::Actions;
use crate::audits;
use crate::evidence::WithFiles;
use crate::runner::Runner;

pub struct PrioritiesService {
    runner: Runner,
    actions: Actions,
    policies: Arc<Policies>,
}

impl PrioritiesService {
    pub fn new(runner: Runner, actions: Actions, policies: Arc<Policies>) -> Self {
        Self {
            runner,
            actions,
            policies,
        }
    }

    fn pool(&self) -> &sqlx::PgPool {
        &self.runner.platform.pool
    }

    async fn run(
        &self,
        context: &RequestContext,
        command_id: &str,
        id: Uuid,
        command: PriorityCommand,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let executed = self
            .runner
            .execute::<Priority>(context, command_id, id, command)
            .await?;
        Ok(Response::new(pb::CommandReply {
            id: id.to_string(),
            version: executed.version,
            replayed: executed.replayed,
        }))
    }

    /// The priority as the read model holds it (another trust's is not found).
    async fn load(&self, trust: TrustId, id: &str) -> Result<(PriorityState, i64), ServiceError> {
        let id = uuid("priority_id", id)?;
        let row = sqlx::query!(
            r#"SELECT doc AS "doc: Json<PriorityState>", version FROM review_dialogue.priorities
               WHERE trust_id = $1 AND priority_id = $2"#,
            trust.into_uuid(),
            id
        )
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| ServiceError::not_found("priority"))?;
        Ok((row.doc.0, row.version))
    }

    /// Runs `command` on priority `id` if the caller may manage its school's plan.
    async fn manage(
        &self,
        context: &RequestContext,
        command_id: &str,
        id: &str,
        command: PriorityCommand,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let (priority, _) = self.load(context.caller.trust, id).await?;
        self.may(context, SchoolVerb::ManagePlan, &priority).await?;
        self.run(context, command_id, uuid("priority_id", id)?, command)
            .await
    }

    /// Refuses unless the caller may `verb` the priority's school.
    async fn may(
        &self,
        context: &RequestContext,
        verb: SchoolVerb,
        priority: &PriorityState,
    ) -> Result<(), ServiceError> {
        let school = priority
            .school_id
            .ok_or_else(|| ServiceError::not_found("priority"))?;
        self.runner.access.school(context, verb, school).await?;
        Ok(())
    }

    /// Refuses unless the caller may read all of the record, and it is of `school`.
    async fn readable(
        &self,
        context: &RequestContext,
        school: SchoolId,
        link: Link,
    ) -> Result<(), ServiceError> {
        let trust = context.caller.trust;
        let who = StaffId::from_uuid(context.caller.actor.into_uuid());
        let directory = self.runner.access.directory(trust).await?;
        let id = link.record_id;
        let record_school = match link.kind {
            LinkedKind::Action => self
                .actions
                .readable_school(context, id)
                .await?
                .map(SchoolId::from_uuid),
            LinkedKind::Review => self
                .record::<Review>(&directory, who, trust, id)
                .await?
                .map(|r: ReviewState| r.facts(&directory).school),
            LinkedKind::Visit => self
                .record::<Visit>(&directory, who, trust, id)
                .await?
                .map(|r: VisitState| r.facts(&directory).school),
            LinkedKind::Meeting => self
                .record::<Meeting>(&directory, who, trust, id)
                .await?
                .map(|r: MeetingState| r.facts(&directory).school),
            LinkedKind::Weakness => {
                let audit =
                    audits::readable(self.pool(), &self.policies, &directory, who, trust, id)
                        .await?
                        .map(|(audit, _, _)| audit);
                match audit {
                    Some(audit) if audit.weaknesses.iter().any(|w| Some(w.id) == link.item) => {
                        audit.school_id
                    }
                    Some(_) => return Err(ServiceError::not_found("weakness")),
                    None => return Err(ServiceError::not_found("audit")),
                }
            }
        };
        match record_school {
            Some(found) if found == school => Ok(()),
            Some(_) => Err(ServiceError::invalid(
                "record_id",
                "the record is of another school than the priority",
            )),
            None => Err(ServiceError::not_found(link.kind.as_str())),
        }
    }

    async fn record<D: WithFiles>(
        &self,
        directory: &waymark_domain::directory::DirectoryState,
        who: StaffId,
        trust: TrustId,
        id: Uuid,
    ) -> Result<Option<D::State>, ServiceError> {
        access::readable(
            self.pool(),
            &self.policies,
            directory,
            who,
            (D::TABLE, D::KEY),
            trust,
            id,
        )
        .await
    }

    async fn link(
        &self,
        request: Request<pb::LinkRecordRequest>,
        tie: bool,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let (priority, _) = self
            .load(context.caller.trust, &request.priority_id)
            .await?;
        self.may(&context, SchoolVerb::Read, &priority).await?;
        let link = Link::new(
            kind("kind", &request.kind)?,
            uuid("record_id", &request.record_id)?,
            request.item,
        )
        .map_err(|error| ServiceError::invalid("item", error))?;
        let school = priority
            .school_id
            .ok_or_else(|| ServiceError::not_found("priority"))?;
        self.readable(&context, school, link).await?;
        let id = priority
            .priority_id
            .ok_or_else(|| ServiceError::not_found("priority"))?;
        let command = if tie {
            PriorityCommand::Link { link }
        } else {
            PriorityCommand::Unlink { link }
        };
        self.run(&context, &request.command_id, id, command).await
    }
}

fn kind(field: &str, value: &str) -> Result<LinkedKind, ServiceError> {
    LinkedKind::parse(value).ok_or_else(|| {
        ServiceError::invalid(field, "is not review, visit, meeting, action or weakness")
    })
}

fn uuid(field: &str, value: &str) -> Result<Uuid, ServiceError> {
    Uuid::parse_str(value.trim()).map_err(|_| ServiceError::invalid(field, "is not a valid id"))
}

fn details(details: Option<pb::PriorityDetails>) -> Result<PriorityDetails, ServiceError> {
    let details = details.unwrap_or_default();
    let short = |field: &str, value: &str| {
        Text::parse_max(value, 120).map_err(|error| ServiceError::invalid(field, error))
    };
    Ok(PriorityDetails {
        title: short("title", &details.title)?,
        intended_impact: parse::text("intended_impact", &details.intended_impact)?,
        lead: parse::id("lead_id", &details.lead_id)?,
        quality_indicators: details
            .quality_indicators
            .iter()
            .filter(|line| !line.trim().is_empty())
            .map(|line| short("quality_indicators", line))
            .collect::<Result<_, _>>()?,
    })
}

fn message(state: &PriorityState, version: i64) -> pb::Priority {
    let details = state.details.as_ref();
    pb::Priority {
        priority_id: state
            .priority_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        school_id: state.school_id.map(|id| id.to_string()).unwrap_or_default(),
        academic_year: state
            .academic_year
            .map(|year| year.to_string())
            .unwrap_or_default(),
        details: details.map(|d| pb::PriorityDetails {
            title: d.title.to_string(),
            intended_impact: d.intended_impact.to_string(),
            lead_id: d.lead.to_string(),
            quality_indicators: d
                .quality_indicators
                .iter()
                .map(ToString::to_string)
                .collect(),
        }),
        retired: state.retired.is_some(),
        retire_reason: state
            .retired
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        linked: state
            .linked
            .iter()
            .map(|link| pb::LinkedRecord {
                kind: link.kind.as_str().to_owned(),
                record_id: link.record_id.to_string(),
                item: link.item.unwrap_or_default(),
            })
            .collect(),
        version,
    }
}

#[tonic::async_trait]
impl pb::priorities_server::Priorities for PrioritiesService {
    async fn add_priority(
        &self,
        request: Request<pb::AddPriorityRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let school: SchoolId = parse::id("school_id", &request.school_id)?;
        let academic_year = AcademicYear::parse(&request.academic_year)
            .map_err(|error| ServiceError::invalid("academic_year", error))?;
        let details = details(request.details)?;
        self.runner
            .access
            .school(&context, SchoolVerb::ManagePlan, school)
            .await?;
        let command_id: CommandId = parse::id("command_id", &request.command_id)?;
        let id = Uuid::new_v5(command_id.as_uuid(), b"priority");
        let command = PriorityCommand::Add {
            priority_id: id,
            school_id: school,
            academic_year,
            details,
        };
        self.run(&context, &request.command_id, id, command).await
    }

    async fn change_priority(
        &self,
        request: Request<pb::ChangePriorityRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let command = PriorityCommand::Change {
            details: details(request.details)?,
        };
        self.manage(&context, &request.command_id, &request.priority_id, command)
            .await
    }

    async fn retire_priority(
        &self,
        request: Request<pb::RetirePriorityRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let command = PriorityCommand::Retire {
            reason: parse::text("reason", &request.reason)?,
        };
        self.manage(&context, &request.command_id, &request.priority_id, command)
            .await
    }

    async fn link_record(
        &self,
        request: Request<pb::LinkRecordRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        self.link(request, true).await
    }

    async fn unlink_record(
        &self,
        request: Request<pb::LinkRecordRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        self.link(request, false).await
    }

    async fn get_priority(
        &self,
        request: Request<pb::GetRecordRequest>,
    ) -> Result<Response<pb::Priority>, Status> {
        let context = RequestContext::of(&request)?;
        let (priority, version) = self
            .load(context.caller.trust, &request.get_ref().id)
            .await?;
        // A school the caller may not read has no priorities for them.
        self.may(&context, SchoolVerb::Read, &priority)
            .await
            .map_err(|_| ServiceError::not_found("priority"))?;
        Ok(Response::new(message(&priority, version)))
    }

    async fn list_priorities(
        &self,
        request: Request<pb::ListPrioritiesRequest>,
    ) -> Result<Response<pb::ListPrioritiesResponse>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let trust = context.caller.trust;
        let school = parse::optional_id::<SchoolId>("school_id", &request.school_id)?;
        let linked = if request.linked_kind.trim().is_empty() {
            None
        } else {
            // Containment matches on the fields given: a whole record, or any item of it.
            Some(serde_json::json!([{
                "kind": kind("linked_kind", &request.linked_kind)?,
                "record_id": uuid("linked_id", &request.linked_id)?,
            }]))
        };
        if school.is_none() && linked.is_none() {
            return Err(ServiceError::invalid("school_id", "is required").into());
        }
        let year = if request.academic_year.trim().is_empty() {
            None
        } else {
            Some(
                AcademicYear::parse(&request.academic_year)
                    .map_err(|error| ServiceError::invalid("academic_year", error))?
                    .to_string(),
            )
        };
        let rows = sqlx::query!(
            r#"SELECT doc AS "doc: Json<PriorityState>", version FROM review_dialogue.priorities
               WHERE trust_id = $1 AND ($2::uuid IS NULL OR school_id = $2)
                 AND ($3::text IS NULL OR academic_year = $3) AND ($4 OR NOT retired)
                 AND ($5::jsonb IS NULL OR doc -> 'linked' @> $5)
               ORDER BY academic_year DESC, doc -> 'details' ->> 'title', priority_id
               LIMIT 200"#,
            trust.into_uuid(),
            school.map(SchoolId::into_uuid),
            year,
            request.include_retired,
            linked,
        )
        .fetch_all(self.pool())
        .await
        .map_err(ServiceError::from)?;
        let directory = self.runner.access.directory(trust).await?;
        let who = StaffId::from_uuid(context.caller.actor.into_uuid());
        let priorities = rows
            .iter()
            .filter(|row| {
                row.doc.0.school_id.is_some_and(|school| {
                    self.policies
                        .allows_on_school(&directory, who, SchoolVerb::Read, school)
                })
            })
            .map(|row| message(&row.doc.0, row.version))
            .collect();
        Ok(Response::new(pb::ListPrioritiesResponse { priorities }))
    }
}
