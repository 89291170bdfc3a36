//! The self-evaluation gRPC API (`waymark.review_dialogue.v1.SelfEvaluation`).

use sqlx::types::Json;
use tonic::{Request, Response, Status};
use uuid::Uuid;
use waymark_domain::directory::DirectoryState;
use waymark_domain::review_dialogue::audit::{
    Audit, AuditCommand, AuditState, EvidenceLink, Framework, FrameworkCommand, FrameworkContent,
    FrameworkState, Rag, RagLabels, RubricLevel, Section, StartAudit, Statement, default_framework,
    default_framework_id, trend,
};
use waymark_domain::review_dialogue::review::NextStep;
use waymark_domain::{SchoolId, StaffId, Text, TrustId};
use waymark_policy::{AuditAccess, AuditFacts, Policies, SchoolVerb, TrustVerb};
use waymark_proto::review_dialogue::v1 as pb;
use waymark_runtime::access::permit;
use waymark_runtime::auth::RequestContext;
use waymark_runtime::{ErrorKind, ServiceError, parse};

use crate::access_log::{self, Seen};
use crate::convert::uuid;
use crate::runner::Runner;

pub struct SelfEvaluationService {
    runner: Runner,
}

impl SelfEvaluationService {
    pub fn new(runner: Runner) -> Self {
        Self { runner }
    }

    fn pool(&self) -> &sqlx::PgPool {
        &self.runner.platform.pool
    }

    /// A framework's latest version; the trust's default is the built-in one (version 0)
    /// until the trust publishes its own.
    async fn framework(
        &self,
        trust: TrustId,
        id: Option<Uuid>,
    ) -> Result<(Uuid, u32, FrameworkContent), ServiceError> {
        let default = default_framework_id(trust.into_uuid());
        let id = id.unwrap_or(default);
        let row = sqlx::query!(
            r#"SELECT doc AS "doc: Json<FrameworkState>" FROM review_dialogue.frameworks WHERE trust_id = $1 AND framework_id = $2"#,
            trust.into_uuid(),
            id
        )
        .fetch_optional(self.pool())
        .await?;
        match row.and_then(|row| {
            row.doc
                .0
                .content
                .clone()
                .map(|content| (row.doc.0.version, content))
        }) {
            Some((version, content)) => Ok((id, version, content)),
            None if id == default => Ok((id, 0, default_framework())),
            None => Err(ServiceError::not_found("framework")),
        }
    }

    /// The audit as the read model has it, if the caller may read it (else not found).
    async fn readable(
        &self,
        context: &RequestContext,
        audit_id: Uuid,
    ) -> Result<(AuditState, i64, AuditAccess), ServiceError> {
        let directory = self.runner.access.directory(context.caller.trust).await?;
        readable(
            self.pool(),
            self.runner.access.policies(),
            &directory,
            me(context),
            context.caller.trust,
            audit_id,
        )
        .await?
        .ok_or_else(|| ServiceError::not_found("audit"))
    }

    /// Refuses unless the caller works on the audit (its lead and participants).
    async fn may_work(&self, context: &RequestContext, audit_id: Uuid) -> Result<(), ServiceError> {
        let (_, _, access) = self.readable(context, audit_id).await?;
        permit(
            access.work,
            "audit.not_permitted",
            "only the audit's lead and participants rate it, add to it or finalise it",
        )
    }

    async fn audits_of(
        &self,
        trust: TrustId,
        school: Option<SchoolId>,
        framework: Option<Uuid>,
        finalised: bool,
    ) -> Result<Vec<(AuditState, i64)>, ServiceError> {
        let rows = sqlx::query!(
            r#"SELECT doc AS "doc: Json<AuditState>", version FROM review_dialogue.audits
               WHERE trust_id = $1 AND ($2::uuid IS NULL OR school_id = $2) AND ($3::uuid IS NULL OR framework_id = $3)
                 AND (NOT $4 OR status = 'finalised')
               ORDER BY coalesce(finalised_on, started_on), updated_at, audit_id"#,
            trust.into_uuid(),
            school.map(SchoolId::into_uuid),
            framework,
            finalised
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| (row.doc.0, row.version))
            .collect())
    }
}

/// Audit `id` of the trust with its version and what `who` may do with it, if `who` may read
/// it; `None` if there is no such audit or `who` may not read it.
pub(crate) async fn readable(
    pool: &sqlx::PgPool,
    policies: &Policies,
    directory: &DirectoryState,
    who: StaffId,
    trust: TrustId,
    id: Uuid,
) -> Result<Option<(AuditState, i64, AuditAccess)>, ServiceError> {
    Ok(stored(pool, trust, id).await?.and_then(|(audit, version)| {
        let access = policies.audit_access(directory, who, &facts(&audit));
        access.read.then_some((audit, version, access))
    }))
}

/// Audit `id` of the trust as the read model holds it, whoever asks.
async fn stored(
    pool: &sqlx::PgPool,
    trust: TrustId,
    id: Uuid,
) -> Result<Option<(AuditState, i64)>, ServiceError> {
    let row = sqlx::query!(
        r#"SELECT doc AS "doc: Json<AuditState>", version FROM review_dialogue.audits WHERE trust_id = $1 AND audit_id = $2"#,
        trust.into_uuid(),
        id
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|row| (row.doc.0, row.version)))
}

/// What the policies read about an audit. One with no school reads as nobody's.
fn facts(audit: &AuditState) -> AuditFacts {
    AuditFacts {
        school: audit
            .school_id
            .unwrap_or_else(|| SchoolId::from_uuid(Uuid::nil())),
        parties: audit
            .lead
            .into_iter()
            .chain(audit.participants.iter().copied())
            .collect(),
        finalised: audit.finalised_on.is_some(),
    }
}

fn access(
    service: &SelfEvaluationService,
    directory: &DirectoryState,
    who: StaffId,
    audit: &AuditState,
) -> AuditAccess {
    service
        .runner
        .access
        .policies()
        .audit_access(directory, who, &facts(audit))
}

fn me(context: &RequestContext) -> StaffId {
    StaffId::from_uuid(context.caller.actor.into_uuid())
}

fn optional_uuid(field: &str, value: &str) -> Result<Option<Uuid>, ServiceError> {
    if value.trim().is_empty() {
        Ok(None)
    } else {
        uuid(field, value).map(Some)
    }
}

fn label(field: &str, value: &str) -> Result<Text, ServiceError> {
    Text::parse_max(value, 200).map_err(|error| ServiceError::invalid(field, error))
}

fn content(message: Option<pb::FrameworkContent>) -> Result<FrameworkContent, ServiceError> {
    let message = message.ok_or_else(|| ServiceError::invalid("content", "is required"))?;
    let labels = message.labels.unwrap_or_default();
    Ok(FrameworkContent {
        name: label("content.name", &message.name)?,
        sections: message
            .sections
            .iter()
            .map(|s| {
                Ok(Section {
                    id: s.id.trim().to_owned(),
                    title: label("content.sections.title", &s.title)?,
                    statements: s
                        .statements
                        .iter()
                        .map(|st| {
                            Ok(Statement {
                                id: st.id.trim().to_owned(),
                                text: parse::text("content.sections.statements.text", &st.text)?,
                            })
                        })
                        .collect::<Result<_, ServiceError>>()?,
                })
            })
            .collect::<Result<_, ServiceError>>()?,
        rubric: message
            .rubric
            .iter()
            .map(|r| {
                Ok(RubricLevel {
                    level: label("content.rubric.level", &r.level)?,
                    descriptor: parse::text("content.rubric.descriptor", &r.descriptor)?,
                })
            })
            .collect::<Result<_, ServiceError>>()?,
        labels: RagLabels {
            red: label("content.labels.red", &labels.red)?,
            amber: label("content.labels.amber", &labels.amber)?,
            green: label("content.labels.green", &labels.green)?,
        },
    })
}

fn labels_message(labels: &RagLabels) -> pb::RagLabels {
    pb::RagLabels {
        red: labels.red.to_string(),
        amber: labels.amber.to_string(),
        green: labels.green.to_string(),
    }
}

fn content_message(content: &FrameworkContent) -> pb::FrameworkContent {
    pb::FrameworkContent {
        name: content.name.to_string(),
        sections: content
            .sections
            .iter()
            .map(|s| pb::FrameworkSection {
                id: s.id.clone(),
                title: s.title.to_string(),
                statements: s
                    .statements
                    .iter()
                    .map(|st| pb::StatementText {
                        id: st.id.clone(),
                        text: st.text.to_string(),
                    })
                    .collect(),
            })
            .collect(),
        rubric: content
            .rubric
            .iter()
            .map(|r| pb::RubricLevel {
                level: r.level.to_string(),
                descriptor: r.descriptor.to_string(),
            })
            .collect(),
        labels: Some(labels_message(&content.labels)),
    }
}

fn evidence(links: &[pb::EvidenceLink]) -> Result<Vec<EvidenceLink>, ServiceError> {
    links
        .iter()
        .map(|link| {
            let id = || uuid("evidence.ref", &link.r#ref);
            Ok(match link.kind.as_str() {
                "review" => EvidenceLink::Review(id()?),
                "meeting" => EvidenceLink::Meeting(id()?),
                "visit" => EvidenceLink::Visit(id()?),
                "action" => EvidenceLink::Action(id()?),
                "source" => EvidenceLink::Source(parse::text("evidence.ref", &link.r#ref)?),
                _ => {
                    return Err(ServiceError::invalid(
                        "evidence.kind",
                        "must be review, meeting, visit, action or source",
                    ));
                }
            })
        })
        .collect()
}

fn evidence_message(link: &EvidenceLink) -> pb::EvidenceLink {
    let (kind, reference) = match link {
        EvidenceLink::Review(id) => ("review", id.to_string()),
        EvidenceLink::Meeting(id) => ("meeting", id.to_string()),
        EvidenceLink::Visit(id) => ("visit", id.to_string()),
        EvidenceLink::Action(id) => ("action", id.to_string()),
        EvidenceLink::Source(text) => ("source", text.to_string()),
    };
    pb::EvidenceLink {
        kind: kind.to_owned(),
        r#ref: reference,
    }
}

fn step_message(step: &NextStep) -> pb::NextStepMessage {
    pb::NextStepMessage {
        description: step.description.to_string(),
        owner_id: step.owner.to_string(),
        due_date: step.due.to_string(),
        success_criteria: step
            .success_criteria
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
    }
}

fn audit_message(state: &AuditState, version: i64) -> pb::AuditRecord {
    let framework = state.framework.clone().unwrap_or_else(default_framework);
    let combined = state.combined();
    let statements = framework
        .sections
        .iter()
        .flat_map(|section| {
            section.statements.iter().map(|statement| {
                let rag = combined
                    .iter()
                    .find(|(id, _)| *id == statement.id)
                    .map(|(_, rag)| *rag);
                pb::StatementResult {
                    statement_id: statement.id.clone(),
                    text: statement.text.to_string(),
                    section_id: section.id.clone(),
                    combined: rag.map(|r| r.as_str().to_owned()).unwrap_or_default(),
                    combined_label: rag
                        .map(|r| framework.labels.label(r).to_string())
                        .unwrap_or_default(),
                    ratings: state
                        .ratings
                        .iter()
                        .filter(|(id, _)| *id == statement.id)
                        .map(|(_, rating)| pb::PersonRating {
                            by: rating.by.to_string(),
                            rating: rating.rating.as_str().to_owned(),
                            label: framework.labels.label(rating.rating).to_string(),
                            note: rating
                                .note
                                .as_ref()
                                .map(ToString::to_string)
                                .unwrap_or_default(),
                            evidence: rating.evidence.iter().map(evidence_message).collect(),
                        })
                        .collect(),
                }
            })
        })
        .collect();
    pb::AuditRecord {
        audit_id: state.audit_id.map(|id| id.to_string()).unwrap_or_default(),
        school_id: state.school_id.map(|id| id.to_string()).unwrap_or_default(),
        department: state
            .department
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        title: state
            .title
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        framework_id: state
            .framework_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        framework_version: state.framework_version,
        framework: Some(content_message(&framework)),
        lead_id: state.lead.map(|id| id.to_string()).unwrap_or_default(),
        participant_ids: state.participants.iter().map(ToString::to_string).collect(),
        started_on: state.started_on.map(|d| d.to_string()).unwrap_or_default(),
        status: if state.finalised_on.is_some() {
            "finalised"
        } else {
            "in_progress"
        }
        .to_owned(),
        finalised_on: state
            .finalised_on
            .map(|d| d.to_string())
            .unwrap_or_default(),
        statements,
        strengths: state
            .strengths
            .iter()
            .map(|(text, statement)| pb::Strength {
                text: text.to_string(),
                statement_id: statement.clone().unwrap_or_default(),
            })
            .collect(),
        weaknesses: state
            .weaknesses
            .iter()
            .map(|w| pb::Weakness {
                id: w.id,
                text: w.text.to_string(),
                statement_id: w.statement_id.clone().unwrap_or_default(),
                action: w.action.as_ref().map(step_message),
            })
            .collect(),
        version,
        attachments: state
            .attachments
            .iter()
            .map(waymark_runtime::evidence::message)
            .collect(),
    }
}

fn reply(id: Uuid, version: i64, replayed: bool) -> Response<pb::AuditReply> {
    Response::new(pb::AuditReply {
        id: id.to_string(),
        version,
        replayed,
    })
}

#[tonic::async_trait]
impl pb::self_evaluation_server::SelfEvaluation for SelfEvaluationService {
    async fn get_framework(
        &self,
        request: Request<pb::GetFrameworkRequest>,
    ) -> Result<Response<pb::Framework>, Status> {
        let context = RequestContext::of(&request)?;
        self.runner.access.trust(&context, TrustVerb::Read).await?;
        let trust = context.caller.trust;
        let (id, version, content) = self
            .framework(
                trust,
                optional_uuid("framework_id", &request.get_ref().framework_id)?,
            )
            .await?;
        Ok(Response::new(pb::Framework {
            framework_id: id.to_string(),
            version,
            content: Some(content_message(&content)),
            is_default: id == default_framework_id(trust.into_uuid()),
        }))
    }

    async fn list_frameworks(
        &self,
        request: Request<pb::ListFrameworksRequest>,
    ) -> Result<Response<pb::ListFrameworksResponse>, Status> {
        let context = RequestContext::of(&request)?;
        self.runner.access.trust(&context, TrustVerb::Read).await?;
        let trust = context.caller.trust;
        let default = default_framework_id(trust.into_uuid());
        let rows = sqlx::query!(
            r#"SELECT framework_id, doc AS "doc: Json<FrameworkState>" FROM review_dialogue.frameworks WHERE trust_id = $1 ORDER BY framework_id"#,
            trust.into_uuid()
        )
        .fetch_all(self.pool())
        .await
        .map_err(ServiceError::from)?;
        let mut frameworks: Vec<pb::Framework> = rows
            .into_iter()
            .filter_map(|row| {
                let state = row.doc.0;
                state.content.map(|content| pb::Framework {
                    framework_id: row.framework_id.to_string(),
                    version: state.version,
                    content: Some(content_message(&content)),
                    is_default: row.framework_id == default,
                })
            })
            .collect();
        if !frameworks.iter().any(|f| f.is_default) {
            frameworks.insert(
                0,
                pb::Framework {
                    framework_id: default.to_string(),
                    version: 0,
                    content: Some(content_message(&default_framework())),
                    is_default: true,
                },
            );
        }
        // The default first (what a new audit is offered first), then by name.
        frameworks.sort_by_cached_key(|f| {
            (
                !f.is_default,
                f.content.as_ref().map(|c| c.name.to_lowercase()),
            )
        });
        Ok(Response::new(pb::ListFrameworksResponse { frameworks }))
    }

    async fn publish_framework(
        &self,
        request: Request<pb::PublishFrameworkRequest>,
    ) -> Result<Response<pb::AuditReply>, Status> {
        let context = RequestContext::of(&request)?;
        self.runner
            .access
            .trust(&context, TrustVerb::ManageFrameworks)
            .await?;
        let request = request.into_inner();
        let id = match optional_uuid("framework_id", &request.framework_id)? {
            Some(id) => id,
            None => Uuid::new_v5(&uuid("command_id", &request.command_id)?, b"framework"),
        };
        let command = FrameworkCommand::Publish {
            framework_id: id,
            content: content(request.content)?,
        };
        let executed = self
            .runner
            .execute::<Framework>(&context, &request.command_id, id, command)
            .await?;
        Ok(reply(id, executed.version, executed.replayed))
    }

    async fn start_audit(
        &self,
        request: Request<pb::StartAuditRequest>,
    ) -> Result<Response<pb::AuditReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let audit_id = Uuid::new_v5(&uuid("command_id", &request.command_id)?, b"audit");
        let school_id: SchoolId = parse::id("school_id", &request.school_id)?;
        self.runner
            .access
            .school(&context, SchoolVerb::StartAudit, school_id)
            .await?;
        let (framework_id, framework_version, framework) = self
            .framework(
                context.caller.trust,
                optional_uuid("framework_id", &request.framework_id)?,
            )
            .await?;
        let command = AuditCommand::Start(StartAudit {
            audit_id,
            school_id,
            department: parse::optional_text("department", &request.department)?,
            title: label("title", &request.title)?,
            framework_id,
            framework_version,
            framework,
            lead: parse::optional_id("lead_id", &request.lead_id)?.unwrap_or_else(|| me(&context)),
            participants: request
                .participant_ids
                .iter()
                .map(|id| parse::id("participant_ids", id))
                .collect::<Result<_, _>>()?,
            started_on: parse::optional_date("started_on", &request.started_on)?
                .unwrap_or_else(|| self.runner.platform.clock.now().date_naive()),
        });
        let executed = self
            .runner
            .execute::<Audit>(&context, &request.command_id, audit_id, command)
            .await?;
        Ok(reply(audit_id, executed.version, executed.replayed))
    }

    async fn rate_statement(
        &self,
        request: Request<pb::RateStatementRequest>,
    ) -> Result<Response<pb::AuditReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let audit_id = uuid("audit_id", &request.audit_id)?;
        self.may_work(&context, audit_id).await?;
        let command = AuditCommand::Rate {
            actor: me(&context),
            statement_id: request.statement_id.trim().to_owned(),
            rating: Rag::parse(&request.rating)
                .ok_or_else(|| ServiceError::invalid("rating", "must be red, amber or green"))?,
            note: parse::optional_text("note", &request.note)?,
            evidence: evidence(&request.evidence)?,
        };
        let executed = self
            .runner
            .execute::<Audit>(&context, &request.command_id, audit_id, command)
            .await?;
        Ok(reply(audit_id, executed.version, executed.replayed))
    }

    async fn add_strength(
        &self,
        request: Request<pb::AddStrengthRequest>,
    ) -> Result<Response<pb::AuditReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let audit_id = uuid("audit_id", &request.audit_id)?;
        self.may_work(&context, audit_id).await?;
        let statement = Some(request.statement_id.trim().to_owned()).filter(|s| !s.is_empty());
        let command = AuditCommand::AddStrength {
            actor: me(&context),
            text: parse::text("text", &request.text)?,
            statement_id: statement,
        };
        let executed = self
            .runner
            .execute::<Audit>(&context, &request.command_id, audit_id, command)
            .await?;
        Ok(reply(audit_id, executed.version, executed.replayed))
    }

    async fn add_weakness(
        &self,
        request: Request<pb::AddWeaknessRequest>,
    ) -> Result<Response<pb::AuditReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let audit_id = uuid("audit_id", &request.audit_id)?;
        self.may_work(&context, audit_id).await?;
        let statement = Some(request.statement_id.trim().to_owned()).filter(|s| !s.is_empty());
        let action = match &request.action {
            Some(step) if !step.description.trim().is_empty() => Some(NextStep {
                description: parse::text("action.description", &step.description)?,
                owner: parse::id("action.owner_id", &step.owner_id)?,
                due: parse::planned_date(
                    "action.due_date",
                    &step.due_date,
                    self.runner.platform.clock.now().date_naive(),
                )?,
                success_criteria: parse::optional_text(
                    "action.success_criteria",
                    &step.success_criteria,
                )?,
            }),
            _ => None,
        };
        let command = AuditCommand::AddWeakness {
            actor: me(&context),
            text: parse::text("text", &request.text)?,
            statement_id: statement,
            action,
        };
        let executed = self
            .runner
            .execute::<Audit>(&context, &request.command_id, audit_id, command)
            .await?;
        Ok(reply(audit_id, executed.version, executed.replayed))
    }

    async fn finalise_audit(
        &self,
        request: Request<pb::FinaliseAuditRequest>,
    ) -> Result<Response<pb::AuditReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let audit_id = uuid("audit_id", &request.audit_id)?;
        self.may_work(&context, audit_id).await?;
        let on = parse::optional_date("on", &request.on)?
            .unwrap_or_else(|| self.runner.platform.clock.now().date_naive());
        let command = AuditCommand::Finalise {
            actor: me(&context),
            on,
        };
        let executed = self
            .runner
            .execute::<Audit>(&context, &request.command_id, audit_id, command)
            .await?;
        Ok(reply(audit_id, executed.version, executed.replayed))
    }

    async fn get_audit(
        &self,
        request: Request<pb::GetAuditRequest>,
    ) -> Result<Response<pb::AuditRecord>, Status> {
        let context = RequestContext::of(&request)?;
        let audit_id = uuid("audit_id", &request.get_ref().audit_id)?;
        let (audit, version) = stored(self.pool(), context.caller.trust, audit_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("audit"))?;
        let directory = self.runner.access.directory(context.caller.trust).await?;
        let read = access(self, &directory, me(&context), &audit).read;
        let facts = facts(&audit);
        let entry = access_log::Read {
            kind: "audit",
            id: audit_id,
            school: facts.school,
            subjects: &facts.parties,
            seen: if read { Seen::Full } else { Seen::Refused },
        };
        let now = self.runner.platform.clock.now();
        access_log::note(self.pool(), &context, now, entry).await?;
        if !read {
            return Err(ServiceError::not_found("audit").into());
        }
        Ok(Response::new(audit_message(&audit, version)))
    }

    async fn list_audits(
        &self,
        request: Request<pb::ListAuditsRequest>,
    ) -> Result<Response<pb::ListAuditsResponse>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let school = parse::optional_id::<SchoolId>("school_id", &request.school_id)?;
        let status = match request.status.trim() {
            "" => None,
            status @ ("in_progress" | "finalised") => Some(status.to_owned()),
            _ => {
                return Err(
                    ServiceError::invalid("status", "is not in_progress or finalised").into(),
                );
            }
        };
        let text = parse::optional_text("text", &request.text)?;
        let size = match usize::try_from(request.page_size).unwrap_or(50) {
            0 => 50,
            size => size.min(200),
        };
        let page = usize::try_from(request.page).unwrap_or(usize::MAX);
        let rows = sqlx::query!(
            r#"SELECT doc AS "doc: Json<AuditState>", version FROM review_dialogue.audits
               WHERE trust_id = $1 AND ($2::uuid IS NULL OR school_id = $2) AND ($3::text IS NULL OR status = $3)
                 AND ($4::text IS NULL OR jsonb_to_tsvector('english'::regconfig, doc, '["string"]'::jsonb)
                      @@ websearch_to_tsquery('english'::regconfig, $4))
               ORDER BY started_on DESC, updated_at DESC, audit_id
               LIMIT 1000"#,
            context.caller.trust.into_uuid(),
            school.map(SchoolId::into_uuid),
            status,
            text.as_ref().map(Text::as_str),
        )
        .fetch_all(self.pool())
        .await
        .map_err(ServiceError::from)?;
        let directory = self.runner.access.directory(context.caller.trust).await?;
        let mut readable = rows
            .iter()
            .filter(|row| access(self, &directory, me(&context), &row.doc.0).read);
        let audits = readable
            .by_ref()
            .skip(page.saturating_mul(size))
            .take(size)
            .map(|row| audit_message(&row.doc.0, row.version))
            .collect();
        Ok(Response::new(pb::ListAuditsResponse {
            audits,
            more: readable.next().is_some(),
        }))
    }

    async fn audit_trend(
        &self,
        request: Request<pb::AuditTrendRequest>,
    ) -> Result<Response<pb::AuditTrendResponse>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let trust = context.caller.trust;
        let school: SchoolId = parse::id("school_id", &request.school_id)?;
        self.runner
            .access
            .school(&context, SchoolVerb::SeeTrends, school)
            .await?;
        let framework = optional_uuid("framework_id", &request.framework_id)?
            .unwrap_or_else(|| default_framework_id(trust.into_uuid()));
        let audits: Vec<AuditState> = self
            .audits_of(trust, Some(school), Some(framework), true)
            .await?
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        // The statements as the latest audit asked them.
        let content = match audits.last().and_then(|a| a.framework.clone()) {
            Some(content) => content,
            None => self.framework(trust, Some(framework)).await?.2,
        };
        let statements = trend(&content, &audits)
            .into_iter()
            .map(|t| {
                // The statement and its section (quality indicator), as the latest audit
                // asked them.
                let (text, section_id, section_title) = content
                    .sections
                    .iter()
                    .find_map(|s| {
                        let statement = s.statements.iter().find(|st| st.id == t.statement_id)?;
                        Some((
                            statement.text.to_string(),
                            s.id.clone(),
                            s.title.to_string(),
                        ))
                    })
                    .unwrap_or_default();
                pb::StatementTrend {
                    text,
                    section_id,
                    section_title,
                    statement_id: t.statement_id,
                    ratings: t
                        .ratings
                        .iter()
                        .map(|r| r.map(|r| r.as_str().to_owned()).unwrap_or_default())
                        .collect(),
                    moved: t.moved,
                    stayed_red: t.stayed_red,
                }
            })
            .collect();
        Ok(Response::new(pb::AuditTrendResponse {
            audits: audits
                .iter()
                .map(|a| pb::TrendPoint {
                    audit_id: a.audit_id.map(|id| id.to_string()).unwrap_or_default(),
                    finalised_on: a.finalised_on.map(|d| d.to_string()).unwrap_or_default(),
                })
                .collect(),
            statements,
            labels: Some(labels_message(&content.labels)),
        }))
    }

    async fn heat_map(
        &self,
        request: Request<pb::HeatMapRequest>,
    ) -> Result<Response<pb::HeatMapResponse>, Status> {
        let context = RequestContext::of(&request)?;
        self.runner
            .access
            .trust(&context, TrustVerb::SeeOverview)
            .await?;
        let trust = context.caller.trust;
        let framework = optional_uuid("framework_id", &request.get_ref().framework_id)?
            .unwrap_or_else(|| default_framework_id(trust.into_uuid()));
        let (_, _, content) = self.framework(trust, Some(framework)).await?;
        let audits = self.audits_of(trust, None, Some(framework), true).await?;
        // The latest finalised audit of each school (audits come oldest first).
        let mut latest: Vec<AuditState> = Vec::new();
        for (audit, _) in audits {
            latest.retain(|a| a.school_id != audit.school_id);
            latest.push(audit);
        }
        latest.sort_by_key(|a| a.school_id);
        let statements: Vec<pb::StatementText> = content
            .sections
            .iter()
            .flat_map(|s| {
                s.statements.iter().map(|st| pb::StatementText {
                    id: st.id.clone(),
                    text: st.text.to_string(),
                })
            })
            .collect();
        let schools = latest
            .iter()
            .map(|audit| {
                let combined = audit.combined();
                pb::HeatMapRow {
                    school_id: audit.school_id.map(|id| id.to_string()).unwrap_or_default(),
                    audit_id: audit.audit_id.map(|id| id.to_string()).unwrap_or_default(),
                    finalised_on: audit
                        .finalised_on
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                    ratings: statements
                        .iter()
                        .map(|st| {
                            combined
                                .iter()
                                .find(|(id, _)| *id == st.id)
                                .map(|(_, r)| r.as_str().to_owned())
                                .unwrap_or_default()
                        })
                        .collect(),
                }
            })
            .collect();
        if statements.is_empty() {
            return Err(ServiceError::new(
                ErrorKind::FailedPrecondition,
                "framework.no_statements",
                "the framework has no statements",
            )
            .into());
        }
        Ok(Response::new(pb::HeatMapResponse {
            statements,
            schools,
            labels: Some(labels_message(&content.labels)),
        }))
    }
}
