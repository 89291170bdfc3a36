//! Files attached to planned occurrences as evidence (`waymark_runtime::evidence`): minutes,
//! photos of work, the data looked at. Whoever may hold, move or cancel an occurrence (the
//! policies) attaches to it; whoever attached a file removes it (the decider); everyone who
//! may read the school reads its occurrences' files.

use uuid::Uuid;
use waymark_domain::evidence::Attachment;
use waymark_domain::scheduling::schedule::{Schedule, ScheduleCommand, schedule_id};
use waymark_domain::school_year::AcademicYear;
use waymark_domain::{AttachmentId, CommandId, SchoolId};
use waymark_policy::{OccurrenceVerb, SchoolVerb};
use waymark_runtime::access::person;
use waymark_runtime::auth::RequestContext;
use waymark_runtime::evidence::{EvidenceOwner, on_record};
use waymark_runtime::{ServiceError, parse};

use crate::EVIDENCE_TABLE;
use crate::grpc::SchedulingService;

/// The kind of record scheduling keeps files for.
pub const OCCURRENCE: &str = "occurrence";

pub struct Occurrences {
    pub service: SchedulingService,
}

/// Where an occurrence is: its school and the year it is planned in.
pub(crate) async fn locate(
    pool: &sqlx::PgPool,
    context: &RequestContext,
    occurrence: Uuid,
) -> Result<Option<(SchoolId, AcademicYear)>, ServiceError> {
    let row = sqlx::query!(
        "SELECT o.school_id, s.academic_year FROM scheduling.occurrences o \
         JOIN scheduling.schedules s ON s.trust_id = o.trust_id AND s.schedule_id = o.schedule_id \
         WHERE o.trust_id = $1 AND o.occurrence_id = $2",
        context.caller.trust.into_uuid(),
        occurrence
    )
    .fetch_optional(pool)
    .await?;
    row.map(|row| {
        let year = AcademicYear::parse(&row.academic_year)
            .map_err(|_| ServiceError::internal("a stored academic year is unreadable"))?;
        Ok((SchoolId::from_uuid(row.school_id), year))
    })
    .transpose()
}

impl Occurrences {
    /// The occurrence's school and year, if the caller may read its school (else not found).
    async fn readable(
        &self,
        context: &RequestContext,
        kind: &str,
        occurrence: Uuid,
    ) -> Result<(SchoolId, AcademicYear), ServiceError> {
        if kind != OCCURRENCE {
            return Err(ServiceError::invalid(
                "record_kind",
                "this service keeps files for occurrences",
            ));
        }
        let not_found = || ServiceError::not_found("occurrence");
        let (school, year) = locate(&self.service.platform.pool, context, occurrence)
            .await?
            .ok_or_else(not_found)?;
        self.service
            .access
            .school(context, SchoolVerb::Read, school)
            .await
            .map_err(|_| not_found())?;
        Ok((school, year))
    }

    async fn run(
        &self,
        context: &RequestContext,
        command_id: &str,
        kind: &str,
        occurrence: Uuid,
        command: ScheduleCommand,
    ) -> Result<i64, ServiceError> {
        let (school, year) = self.readable(context, kind, occurrence).await?;
        self.service
            .may(context, school, occurrence, OccurrenceVerb::Run)
            .await?;
        let command_id: CommandId = parse::id("command_id", command_id)?;
        let executed = self
            .service
            .execute::<Schedule>(context, command_id, schedule_id(school, year), command)
            .await?;
        Ok(executed.version)
    }
}

#[tonic::async_trait]
impl EvidenceOwner for Occurrences {
    async fn attach(
        &self,
        context: &RequestContext,
        command_id: &str,
        kind: &str,
        occurrence: Uuid,
        attachment: Attachment,
    ) -> Result<i64, ServiceError> {
        let command = ScheduleCommand::Attach {
            occurrence,
            attachment,
        };
        self.run(context, command_id, kind, occurrence, command)
            .await
    }

    async fn remove(
        &self,
        context: &RequestContext,
        command_id: &str,
        kind: &str,
        occurrence: Uuid,
        attachment_id: AttachmentId,
    ) -> Result<i64, ServiceError> {
        let command = ScheduleCommand::RemoveAttachment {
            occurrence,
            actor: person(context),
            attachment_id,
        };
        self.run(context, command_id, kind, occurrence, command)
            .await
    }

    async fn readable(
        &self,
        context: &RequestContext,
        kind: &str,
        occurrence: Uuid,
        attachment_id: AttachmentId,
    ) -> Result<Attachment, ServiceError> {
        self.readable(context, kind, occurrence).await?;
        on_record(
            &self.service.platform.pool,
            EVIDENCE_TABLE,
            context.caller.trust,
            occurrence,
        )
        .await?
        .into_iter()
        .find(|file| file.attachment_id == attachment_id)
        .ok_or_else(|| ServiceError::not_found("file"))
    }
}
