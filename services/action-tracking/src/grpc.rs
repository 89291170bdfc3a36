//! The gRPC API (`waymark.action_tracking.v1`). Requests are parsed into domain values first
//! (a bad field is `INVALID_ARGUMENT` naming it); errors go through the runtime's one table.

use std::sync::Arc;

use chrono::{NaiveDate, SecondsFormat};
use tonic::{Request, Response, Status};
use uuid::Uuid;
use waymark_domain::action_tracking::action::{ActionCommand, ActionStatus, NewAction};
use waymark_domain::agreed::{ActionId, Origin, OriginKind};
use waymark_domain::{CommandId, SchoolId, StaffId, Text, TrustId};
use waymark_event_store::CommandContext;
use waymark_policy::{ActionFacts, ActionVerb, Policies, SchoolVerb, TrustVerb};
use waymark_proto::action_tracking::v1 as pb;
use waymark_runtime::access::{Access, permit};
use waymark_runtime::auth::RequestContext;
use waymark_runtime::{ErrorKind, ServiceError, parse};

use crate::anchors::Anchors;
use crate::chain::Chain;
use crate::commands::Commands;
use crate::{access, chain, flow, trail, verification};

/// The most actions one list reads from the database, before deciding who may see them.
const MOST_MATCHES: i64 = 1000;

pub struct ActionTrackingService {
    commands: Commands,
    policies: Arc<Policies>,
    access: Access,
    anchors: Option<Anchors>,
}

impl ActionTrackingService {
    pub fn new(commands: Commands, policies: Arc<Policies>, anchors: Option<Anchors>) -> Self {
        let access = Access::new(
            commands.platform.pool.clone(),
            access::DIRECTORY_TABLE,
            policies.clone(),
        );
        Self {
            commands,
            policies,
            access,
            anchors,
        }
    }

    /// The origin of an action agreed at a planned occurrence: one this service has learned
    /// of from scheduling's events, of the action's school (`action.unknown_origin`
    /// otherwise).
    async fn occurrence_origin(
        &self,
        trust: TrustId,
        school: SchoolId,
        occurrence: Uuid,
    ) -> Result<Origin, ServiceError> {
        let known: Option<(Uuid,)> = sqlx::query_as(
            "SELECT school_id FROM action_tracking.origins \
              WHERE trust_id = $1 AND origin_id = $2 AND kind = $3",
        )
        .bind(trust.into_uuid())
        .bind(occurrence)
        .bind(OriginKind::Occurrence.as_str())
        .fetch_optional(&self.commands.platform.pool)
        .await?;
        match known {
            Some((found,)) if found == school.into_uuid() => Ok(Origin {
                kind: OriginKind::Occurrence,
                id: Some(occurrence),
            }),
            _ => Err(ServiceError::new(
                ErrorKind::FailedPrecondition,
                "action.unknown_origin",
                "no planned occurrence of this school has that id",
            )),
        }
    }

    /// Refuses (`PERMISSION_DENIED`, `action.not_permitted`) unless the caller may `verb`
    /// the action. An action the trust does not have is left to the decider (not found).
    async fn authorize(
        &self,
        context: &CommandContext,
        action_id: ActionId,
        verb: ActionVerb,
        command: Option<&ActionCommand>,
    ) -> Result<(), ServiceError> {
        let facts = match command {
            Some(ActionCommand::Create(new)) => Some(ActionFacts {
                school: new.school_id,
                owner: new.owner,
                supporters: new.supporters.clone(),
                agreed_by: Some(StaffId::from_uuid(context.actor.into_uuid())),
                live: true,
            }),
            _ => access::facts(self.pool(), context.trust, action_id).await?,
        };
        let Some(facts) = facts else {
            return Ok(());
        };
        let directory = self.access.directory(context.trust).await?;
        let who = StaffId::from_uuid(context.actor.into_uuid());
        permit(
            self.policies
                .allows_on_action(&directory, who, verb, &facts),
            "action.not_permitted",
            access::refusal(verb),
        )
    }

    fn pool(&self) -> &sqlx::PgPool {
        &self.commands.platform.pool
    }

    /// Today's date by the service's clock.
    fn date(&self) -> NaiveDate {
        self.commands.platform.clock.now().date_naive()
    }

    fn today(&self, value: &str) -> Result<NaiveDate, ServiceError> {
        Ok(parse::optional_date("today", value)?
            .unwrap_or_else(|| self.commands.platform.clock.now().date_naive()))
    }

    /// Parses the command and action ids, runs `command`, and replies.
    async fn act(
        &self,
        context: RequestContext,
        command_id: &str,
        action_id: &str,
        verb: ActionVerb,
        command: impl FnOnce() -> Result<ActionCommand, ServiceError>,
    ) -> Result<Response<pb::ActionReply>, Status> {
        let (context, action_id) = ids(context, command_id, action_id)?;
        let command = command()?;
        self.authorize(&context, action_id, verb, Some(&command))
            .await?;
        let executed = self
            .commands
            .run(&context, action_id, &command)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(pb::ActionReply {
            action_id: action_id.to_string(),
            version: executed.version,
            replayed: executed.replayed,
            next_action_id: String::new(),
        }))
    }
}

fn ids(
    context: RequestContext,
    command_id: &str,
    action_id: &str,
) -> Result<(CommandContext, ActionId), ServiceError> {
    let command_id: CommandId = parse::id("command_id", command_id)?;
    let action_id = uuid("action_id", action_id)?;
    Ok((context.command(command_id), action_id))
}

fn uuid(field: &str, value: &str) -> Result<Uuid, ServiceError> {
    if value.trim().is_empty() {
        return Err(ServiceError::invalid(field, "is required"));
    }
    Uuid::parse_str(value.trim()).map_err(|_| ServiceError::invalid(field, "is not a valid id"))
}

fn optional_uuid(field: &str, value: &str) -> Result<Option<Uuid>, ServiceError> {
    if value.trim().is_empty() {
        Ok(None)
    } else {
        uuid(field, value).map(Some)
    }
}

fn trust_of(context: &RequestContext) -> TrustId {
    context.caller.trust
}

fn caller(context: &RequestContext) -> StaffId {
    StaffId::from_uuid(context.caller.actor.into_uuid())
}

#[tonic::async_trait]
impl pb::action_tracking_server::ActionTracking for ActionTrackingService {
    async fn create_action(
        &self,
        request: Request<pb::CreateActionRequest>,
    ) -> Result<Response<pb::ActionReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let command_id: CommandId = parse::id("command_id", &request.command_id)?;
        // The action's id follows from the command's, so a retry finds the same action.
        let action_id = Uuid::new_v5(command_id.as_uuid(), b"action");
        let supporters = request
            .supporter_ids
            .iter()
            .map(|id| parse::id::<StaffId>("supporter_ids", id))
            .collect::<Result<Vec<_>, _>>()?;
        let school_id = parse::id::<SchoolId>("school_id", &request.school_id)?;
        let origin = match optional_uuid("occurrence_id", &request.occurrence_id)? {
            None => Origin::direct(),
            Some(occurrence) => {
                self.occurrence_origin(trust_of(&context), school_id, occurrence)
                    .await?
            }
        };
        let command = ActionCommand::Create(NewAction {
            action_id,
            school_id,
            origin,
            description: parse::text("description", &request.description)?,
            owner: parse::id("owner_id", &request.owner_id)?,
            supporters,
            due: parse::planned_date("due_date", &request.due_date, self.date())?,
            success_criteria: parse::optional_text("success_criteria", &request.success_criteria)?,
            carried_forward_from: None,
        });
        self.act(
            context,
            &request.command_id,
            &action_id.to_string(),
            ActionVerb::Create,
            || Ok(command),
        )
        .await
    }

    async fn start_action(
        &self,
        request: Request<pb::ActionRequest>,
    ) -> Result<Response<pb::ActionReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        self.act(
            context,
            &request.command_id,
            &request.action_id,
            ActionVerb::Start,
            || Ok(ActionCommand::Start),
        )
        .await
    }

    async fn note_progress(
        &self,
        request: Request<pb::TextRequest>,
    ) -> Result<Response<pb::ActionReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        self.act(
            context,
            &request.command_id,
            &request.action_id,
            ActionVerb::NoteProgress,
            || {
                Ok(ActionCommand::NoteProgress {
                    note: parse::text("text", &request.text)?,
                })
            },
        )
        .await
    }

    async fn record_evidence(
        &self,
        request: Request<pb::TextRequest>,
    ) -> Result<Response<pb::ActionReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        self.act(
            context,
            &request.command_id,
            &request.action_id,
            ActionVerb::RecordEvidence,
            || {
                Ok(ActionCommand::RecordEvidence {
                    evidence: parse::text("text", &request.text)?,
                })
            },
        )
        .await
    }

    async fn change_due_date(
        &self,
        request: Request<pb::ChangeDueDateRequest>,
    ) -> Result<Response<pb::ActionReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        self.act(
            context,
            &request.command_id,
            &request.action_id,
            ActionVerb::ChangeDue,
            || {
                Ok(ActionCommand::ChangeDueDate {
                    due: parse::planned_date("due_date", &request.due_date, self.date())?,
                    reason: parse::text("reason", &request.reason)?,
                })
            },
        )
        .await
    }

    async fn reassign_action(
        &self,
        request: Request<pb::ReassignActionRequest>,
    ) -> Result<Response<pb::ActionReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        self.act(
            context,
            &request.command_id,
            &request.action_id,
            ActionVerb::Reassign,
            || {
                Ok(ActionCommand::Reassign {
                    owner: parse::id("owner_id", &request.owner_id)?,
                    reason: parse::text("reason", &request.reason)?,
                })
            },
        )
        .await
    }

    async fn complete_action(
        &self,
        request: Request<pb::TextRequest>,
    ) -> Result<Response<pb::ActionReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        self.act(
            context,
            &request.command_id,
            &request.action_id,
            ActionVerb::Complete,
            || {
                Ok(ActionCommand::Complete {
                    impact: parse::text("text", &request.text)?,
                })
            },
        )
        .await
    }

    async fn carry_forward_action(
        &self,
        request: Request<pb::CarryForwardRequest>,
    ) -> Result<Response<pb::ActionReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let (context, action_id) = ids(context, &request.command_id, &request.action_id)?;
        let due = parse::planned_date("due_date", &request.due_date, self.date())?;
        let note = parse::optional_text("note", &request.note)?;
        self.authorize(&context, action_id, ActionVerb::CarryForward, None)
            .await?;
        let (executed, next) = self
            .commands
            .carry_forward(&context, action_id, due, note, None)
            .await?;
        Ok(Response::new(pb::ActionReply {
            action_id: action_id.to_string(),
            version: executed.version,
            replayed: executed.replayed,
            next_action_id: next.to_string(),
        }))
    }

    async fn drop_action(
        &self,
        request: Request<pb::TextRequest>,
    ) -> Result<Response<pb::ActionReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        self.act(
            context,
            &request.command_id,
            &request.action_id,
            ActionVerb::Drop,
            || {
                Ok(ActionCommand::Drop {
                    reason: parse::text("text", &request.text)?,
                })
            },
        )
        .await
    }

    async fn reopen_action(
        &self,
        request: Request<pb::TextRequest>,
    ) -> Result<Response<pb::ActionReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        self.act(
            context,
            &request.command_id,
            &request.action_id,
            ActionVerb::Reopen,
            || {
                Ok(ActionCommand::Reopen {
                    reason: parse::text("text", &request.text)?,
                })
            },
        )
        .await
    }

    async fn get_action(
        &self,
        request: Request<pb::GetActionRequest>,
    ) -> Result<Response<pb::ActionDetail>, Status> {
        let context = RequestContext::of(&request)?;
        let action_id = uuid("action_id", &request.get_ref().action_id)?;
        let trust = trust_of(&context).into_uuid();
        let today = self.today("")?;
        let row = sqlx::query_as!(
            ActionRow,
            "SELECT action_id, school_id, origin_kind, origin_id, description, owner_id, supporter_ids, \
             due_date, success_criteria, status, impact, carried_forward_from, carried_forward_to, version, agreed_by \
             FROM action_tracking.actions WHERE trust_id = $1 AND action_id = $2",
            trust,
            action_id
        )
        .fetch_optional(self.pool())
        .await
        .map_err(ServiceError::from)?
        .ok_or_else(|| ServiceError::not_found("action"))?;
        // One the caller may not read is, for them, not there.
        let directory = self.access.directory(trust_of(&context)).await?;
        if !self.policies.allows_on_action(
            &directory,
            caller(&context),
            ActionVerb::Read,
            &row.facts(),
        ) {
            return Err(ServiceError::not_found("action").into());
        }
        let notes = sqlx::query!(
            "SELECT kind, body, author_id, recorded_at FROM action_tracking.action_notes \
             WHERE trust_id = $1 AND action_id = $2 ORDER BY recorded_at, event_id",
            trust,
            action_id
        )
        .fetch_all(self.pool())
        .await
        .map_err(ServiceError::from)?
        .into_iter()
        .map(|note| pb::Note {
            kind: note.kind,
            text: note.body,
            author_id: note.author_id.to_string(),
            recorded_at: note.recorded_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        })
        .collect();
        let attachments = waymark_runtime::evidence::on_record(
            self.pool(),
            crate::EVIDENCE_TABLE,
            trust_of(&context),
            action_id,
        )
        .await?
        .iter()
        .map(waymark_runtime::evidence::message)
        .collect();
        Ok(Response::new(pb::ActionDetail {
            action: Some(row.into_proto(today)),
            notes,
            attachments,
        }))
    }

    async fn list_actions(
        &self,
        request: Request<pb::ListActionsRequest>,
    ) -> Result<Response<pb::ListActionsResponse>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let today = self.today(&request.today)?;
        let school = parse::optional_id::<SchoolId>("school_id", &request.school_id)?
            .map(SchoolId::into_uuid);
        let people = request
            .person_ids
            .iter()
            .map(|id| parse::id::<StaffId>("person_ids", id).map(StaffId::into_uuid))
            .collect::<Result<Vec<_>, _>>()?;
        let statuses = if request.statuses.is_empty() {
            vec![
                ActionStatus::Open.as_str().to_owned(),
                ActionStatus::InProgress.as_str().to_owned(),
            ]
        } else {
            for status in &request.statuses {
                if !["open", "in_progress", "done", "carried_forward", "dropped"]
                    .contains(&status.as_str())
                {
                    return Err(ServiceError::invalid(
                        "statuses",
                        format!("`{status}` is not a status"),
                    )
                    .into());
                }
            }
            request.statuses.clone()
        };
        let origin_kind = match request.origin_kind.trim() {
            "" => None,
            kind => Some(
                OriginKind::parse(kind)
                    .ok_or_else(|| ServiceError::invalid("origin_kind", "is not an origin kind"))?
                    .as_str(),
            ),
        };
        let origin_id = optional_uuid("origin_id", &request.origin_id)?;
        let due_by = parse::optional_date("due_on_or_before", &request.due_on_or_before)?;
        let due_from = parse::optional_date("due_on_or_after", &request.due_on_or_after)?;
        if let (Some(from), Some(by)) = (due_from, due_by)
            && by < from
        {
            return Err(
                ServiceError::invalid("due_on_or_before", "is before due_on_or_after").into(),
            );
        }
        let text = if request.text.trim().is_empty() {
            None
        } else {
            Some(
                Text::parse_max(&request.text, 200)
                    .map_err(|error| ServiceError::invalid("text", error))?
                    .as_str()
                    .to_owned(),
            )
        };
        let only = request
            .action_ids
            .iter()
            .map(|id| uuid("action_ids", id))
            .collect::<Result<Vec<_>, _>>()?;
        let size = usize::try_from(if request.limit <= 0 {
            200
        } else {
            request.limit.min(1000)
        })
        .unwrap_or(200);
        let page = usize::try_from(request.page).unwrap_or(usize::MAX);
        let rows = sqlx::query_as!(
            ActionRow,
            "SELECT action_id, school_id, origin_kind, origin_id, description, owner_id, supporter_ids, \
             due_date, success_criteria, status, impact, carried_forward_from, carried_forward_to, version, agreed_by \
             FROM action_tracking.actions \
             WHERE trust_id = $1 \
               AND ($2::uuid IS NULL OR school_id = $2) \
               AND (cardinality($3::uuid[]) = 0 OR owner_id = ANY($3) OR ($4 AND supporter_ids && $3)) \
               AND status = ANY($5) \
               AND ($6::text IS NULL OR origin_kind = $6) \
               AND ($7::uuid IS NULL OR origin_id = $7) \
               AND ($8::date IS NULL OR due_date <= $8) \
               AND (NOT $9 OR due_date < $10) \
               AND ($12::date IS NULL OR due_date >= $12) \
               AND (cardinality($13::uuid[]) = 0 OR action_id = ANY($13)) \
               AND ($14::text IS NULL OR to_tsvector('english'::regconfig, \
                      description || ' ' || coalesce(success_criteria, '') || ' ' || coalesce(impact, '')) \
                    @@ websearch_to_tsquery('english'::regconfig, $14)) \
             ORDER BY (status IN ('open', 'in_progress') AND due_date < $10) DESC, due_date, created_at \
             LIMIT $11",
            trust_of(&context).into_uuid(),
            school,
            &people,
            request.include_supported,
            &statuses,
            origin_kind,
            origin_id,
            due_by,
            request.overdue_only,
            today,
            MOST_MATCHES,
            due_from,
            &only,
            text,
        )
        .fetch_all(self.pool())
        .await
        .map_err(ServiceError::from)?;
        // Only what the caller may read.
        let directory = self.access.directory(trust_of(&context)).await?;
        let who = caller(&context);
        let mut readable = rows.into_iter().filter(|row| {
            self.policies
                .allows_on_action(&directory, who, ActionVerb::Read, &row.facts())
        });
        let actions = readable
            .by_ref()
            .skip(page.saturating_mul(size))
            .take(size)
            .map(|row| row.into_proto(today))
            .collect();
        Ok(Response::new(pb::ListActionsResponse {
            actions,
            more: readable.next().is_some(),
        }))
    }

    async fn get_audit_trail(
        &self,
        request: Request<pb::GetActionRequest>,
    ) -> Result<Response<pb::AuditTrail>, Status> {
        let context = RequestContext::of(&request)?;
        let action_id = uuid("action_id", &request.get_ref().action_id)?;
        // The trail of an action the caller may not read is, for them, not there.
        let facts = access::facts(self.pool(), trust_of(&context), action_id)
            .await
            .map_err(ServiceError::from)?;
        let readable = match facts {
            Some(facts) => {
                let directory = self.access.directory(trust_of(&context)).await?;
                self.policies.allows_on_action(
                    &directory,
                    caller(&context),
                    ActionVerb::Read,
                    &facts,
                )
            }
            None => false,
        };
        if !readable {
            return Err(ServiceError::not_found("action").into());
        }
        let links = sqlx::query_as!(
            trail::Link,
            "SELECT seq, event_id, action_id, school_id FROM action_tracking.audit_chain \
             WHERE trust_id = $1 AND action_id = $2 ORDER BY seq",
            trust_of(&context).into_uuid(),
            action_id
        )
        .fetch_all(self.pool())
        .await
        .map_err(ServiceError::from)?;
        if links.is_empty() {
            return Err(ServiceError::not_found("action").into());
        }
        Ok(Response::new(pb::AuditTrail {
            entries: trail::entries(&self.commands.platform.store, links).await?,
        }))
    }

    async fn query_audit(
        &self,
        request: Request<pb::QueryAuditRequest>,
    ) -> Result<Response<pb::AuditTrail>, Status> {
        let context = RequestContext::of(&request)?;
        // The whole trust's trail: for those who oversee the trust (who read every action).
        self.access.trust(&context, TrustVerb::SeeOverview).await?;
        let request = request.into_inner();
        let school = parse::optional_id::<SchoolId>("school_id", &request.school_id)?
            .map(SchoolId::into_uuid);
        let actor =
            parse::optional_id::<StaffId>("actor_id", &request.actor_id)?.map(StaffId::into_uuid);
        let from = parse::optional_date("from_date", &request.from_date)?;
        let to = parse::optional_date("to_date", &request.to_date)?;
        if let (Some(from), Some(to)) = (from, to)
            && to < from
        {
            return Err(ServiceError::invalid("to_date", "is before from_date").into());
        }
        let limit = i64::from(if request.limit <= 0 {
            100
        } else {
            request.limit.min(500)
        });
        // Who and when come from the chained events, as the entries do.
        let links = sqlx::query_as!(
            trail::Link,
            "SELECT a.seq, a.event_id, a.action_id, a.school_id FROM action_tracking.audit_chain a \
             LEFT JOIN event_store.events e ON e.event_id = a.event_id \
             WHERE a.trust_id = $1 AND a.seq > $2 \
               AND ($3::uuid IS NULL OR a.school_id = $3) \
               AND ($4::uuid IS NULL OR e.actor_id = $4) \
               AND ($5::date IS NULL OR e.recorded_at >= $5::date) \
               AND ($6::date IS NULL OR e.recorded_at < $6::date + 1) \
             ORDER BY a.seq LIMIT $7",
            trust_of(&context).into_uuid(),
            request.after_seq,
            school,
            actor,
            from,
            to,
            limit,
        )
        .fetch_all(self.pool())
        .await
        .map_err(ServiceError::from)?;
        Ok(Response::new(pb::AuditTrail {
            entries: trail::entries(&self.commands.platform.store, links).await?,
        }))
    }

    async fn verify_audit_trail(
        &self,
        request: Request<pb::VerifyAuditTrailRequest>,
    ) -> Result<Response<pb::VerifyReport>, Status> {
        let context = RequestContext::of(&request)?;
        self.access.trust(&context, TrustVerb::SeeOverview).await?;
        let chain = match request.get_ref().chain.as_str() {
            "" => Chain::Actions,
            name => Chain::parse(name)
                .ok_or_else(|| ServiceError::invalid("chain", "is \"actions\" or \"records\""))?,
        };
        let report = verification::verify_and_keep(
            &self.commands.platform,
            self.anchors.as_ref(),
            chain,
            trust_of(&context),
        )
        .await
        .map_err(|error| {
            tracing::error!(%error, "audit verification failed to run");
            ServiceError::unavailable("the audit trail cannot be read now; try again")
        })?;
        Ok(Response::new(report.into()))
    }

    async fn get_audit_status(
        &self,
        request: Request<pb::GetAuditStatusRequest>,
    ) -> Result<Response<pb::AuditStatus>, Status> {
        let context = RequestContext::of(&request)?;
        self.access.trust(&context, TrustVerb::SeeOverview).await?;
        let trust = trust_of(&context);
        let time =
            |at: chrono::DateTime<chrono::Utc>| at.to_rfc3339_opts(SecondsFormat::Secs, true);
        let mut chains = Vec::new();
        for chain in Chain::ALL {
            let last = verification::last(self.pool(), chain, trust)
                .await
                .map_err(ServiceError::from)?;
            let anchored = sqlx::query!(
                "SELECT head_seq, anchored_at FROM action_tracking.audit_anchors WHERE trust_id = $1 AND chain = $2",
                trust.into_uuid(),
                chain.as_str(),
            )
            .fetch_optional(self.pool())
            .await
            .map_err(ServiceError::from)?;
            chains.push(pb::ChainStatus {
                chain: chain.as_str().to_owned(),
                verified_at: last.as_ref().map(|l| time(l.at)).unwrap_or_default(),
                last: last.map(|last| pb::VerifyReport {
                    intact: last.problem.is_none(),
                    events_checked: last.events_checked,
                    head_hash: String::new(),
                    problem: last.problem.map(Into::into),
                    anchored_through: last.anchored_through,
                    anchored_at: last.anchored_at.map(time).unwrap_or_default(),
                }),
                anchored_through: anchored.as_ref().map_or(0, |a| a.head_seq),
                anchored_at: anchored.map(|a| time(a.anchored_at)).unwrap_or_default(),
            });
        }
        Ok(Response::new(pb::AuditStatus {
            chains,
            anchors_configured: self.anchors.is_some(),
        }))
    }

    async fn list_origins(
        &self,
        request: Request<pb::ListOriginsRequest>,
    ) -> Result<Response<pb::ListOriginsResponse>, Status> {
        let context = RequestContext::of(&request)?;
        let school: SchoolId = parse::id("school_id", &request.get_ref().school_id)?;
        self.access
            .school(&context, SchoolVerb::Read, school)
            .await?;
        let origins = sqlx::query!(
            "SELECT origin_id, kind, school_id, label FROM action_tracking.origins \
             WHERE trust_id = $1 AND school_id = $2 ORDER BY label",
            trust_of(&context).into_uuid(),
            school.into_uuid(),
        )
        .fetch_all(self.pool())
        .await
        .map_err(ServiceError::from)?
        .into_iter()
        .map(|row| pb::Origin {
            origin_id: row.origin_id.to_string(),
            kind: row.kind,
            school_id: row.school_id.to_string(),
            label: row.label,
        })
        .collect();
        Ok(Response::new(pb::ListOriginsResponse { origins }))
    }

    async fn count_actions_by_month(
        &self,
        request: Request<pb::CountActionsByMonthRequest>,
    ) -> Result<Response<pb::ActionsByMonth>, Status> {
        let context = RequestContext::of(&request)?;
        let span = flow::Span::parse(request.get_ref())?;
        self.access
            .school(&context, SchoolVerb::SeeTrends, span.school)
            .await?;
        let counted = flow::count(self.pool(), trust_of(&context), &span).await?;
        Ok(Response::new(counted))
    }
}

impl ActionRow {
    fn facts(&self) -> ActionFacts {
        access::facts_of(
            self.school_id,
            self.owner_id,
            &self.supporter_ids,
            self.agreed_by,
            &self.status,
        )
    }
}

struct ActionRow {
    action_id: Uuid,
    school_id: Uuid,
    origin_kind: String,
    origin_id: Option<Uuid>,
    description: String,
    owner_id: Uuid,
    supporter_ids: Vec<Uuid>,
    due_date: NaiveDate,
    success_criteria: Option<String>,
    status: String,
    impact: Option<String>,
    carried_forward_from: Option<Uuid>,
    carried_forward_to: Option<Uuid>,
    version: i64,
    agreed_by: Option<Uuid>,
}

fn text_of(id: Option<Uuid>) -> String {
    id.map(|id| id.to_string()).unwrap_or_default()
}

impl ActionRow {
    fn into_proto(self, today: NaiveDate) -> pb::Action {
        let live = self.status == "open" || self.status == "in_progress";
        pb::Action {
            action_id: self.action_id.to_string(),
            school_id: self.school_id.to_string(),
            origin_kind: self.origin_kind,
            origin_id: text_of(self.origin_id),
            description: self.description,
            owner_id: self.owner_id.to_string(),
            supporter_ids: self.supporter_ids.iter().map(ToString::to_string).collect(),
            due_date: self.due_date.to_string(),
            success_criteria: self.success_criteria.unwrap_or_default(),
            overdue: live && self.due_date < today,
            status: self.status,
            impact: self.impact.unwrap_or_default(),
            carried_forward_from: text_of(self.carried_forward_from),
            carried_forward_to: text_of(self.carried_forward_to),
            version: self.version,
            agreed_by: text_of(self.agreed_by),
        }
    }
}

impl From<chain::Report> for pb::VerifyReport {
    fn from(report: chain::Report) -> Self {
        Self {
            intact: report.problem.is_none(),
            events_checked: report.events_checked,
            head_hash: report
                .head
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect(),
            problem: report.problem.map(Into::into),
            anchored_through: report.anchored_through,
            anchored_at: report
                .anchored_at
                .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default(),
        }
    }
}

impl From<chain::Problem> for pb::Problem {
    fn from(problem: chain::Problem) -> Self {
        Self {
            seq: problem.seq,
            event_id: problem.event_id.to_string(),
            kind: problem.kind.as_str().to_owned(),
            detail: problem.detail,
        }
    }
}
