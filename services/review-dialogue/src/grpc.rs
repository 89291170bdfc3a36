//! The gRPC API (`waymark.review_dialogue.v1`). Each method parses its request into domain
//! values, runs a decider through the event store, and replies once the read model shows the
//! change; errors go through the runtime's one table.

use chrono::NaiveDate;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use sqlx::Row;
use sqlx::types::Json;
use tonic::{Request, Response, Status};
use uuid::Uuid;
use waymark_domain::directory::DirectoryState;
use waymark_domain::review_dialogue::catalogue::{
    Catalogue, CatalogueCommand, CatalogueState, ItemKind, defaults,
};
use waymark_domain::review_dialogue::meeting::{
    Meeting, MeetingCommand, MeetingState, MeetingStatus, ScheduleMeeting,
};
use waymark_domain::review_dialogue::review::{
    CatalogueRef, DraftRecord, Review, ReviewCommand, ReviewState, ReviewStatus, ScheduleReview,
    compare,
};
use waymark_domain::review_dialogue::visit::{
    PlanVisit, Visit, VisitCommand, VisitKind, VisitState, VisitStatus,
};
use waymark_domain::school_year::{AcademicYear, DateWindow};
use waymark_domain::{CommandId, Decider, Rejection, SchoolId, StaffId, Text, TrustId};
use waymark_policy::{Policies, RecordAccess, TrustVerb};
use waymark_proto::review_dialogue::v1 as pb;
use waymark_runtime::auth::RequestContext;
use waymark_runtime::{ServiceError, parse};

use crate::access::{self, Record};
use crate::access_log;
use crate::actions::Actions;
use crate::convert::{self, uuid};
use crate::runner::Runner;
use crate::search;

pub struct ReviewDialogueService {
    platform: Arc<waymark_runtime::Platform>,
    runner: Runner,
    actions: Actions,
    policies: Arc<Policies>,
}

impl ReviewDialogueService {
    pub fn new(runner: Runner, actions: Actions, policies: Arc<Policies>) -> Self {
        Self {
            platform: runner.platform.clone(),
            runner,
            actions,
            policies,
        }
    }

    /// Today's date by the service's clock.
    fn date(&self) -> NaiveDate {
        self.platform.clock.now().date_naive()
    }

    fn pool(&self) -> &sqlx::PgPool {
        &self.platform.pool
    }

    /// Runs `command` on record `id` and replies once the read model shows it.
    async fn run<D: Decider>(
        &self,
        context: &RequestContext,
        command_id: &str,
        id: Uuid,
        command: D::Command,
    ) -> Result<Response<pb::CommandReply>, Status>
    where
        D::Rejection: Rejection,
    {
        let executed = self
            .runner
            .execute::<D>(context, command_id, id, command)
            .await?;
        Ok(Response::new(pb::CommandReply {
            id: id.to_string(),
            version: executed.version,
            replayed: executed.replayed,
        }))
    }

    /// The trust's catalogue; the defaults until the trust first changes it.
    async fn catalogue(&self, trust: TrustId) -> Result<CatalogueState, ServiceError> {
        let row = sqlx::query!(
            r#"SELECT doc AS "doc: Json<CatalogueState>" FROM review_dialogue.catalogues WHERE trust_id = $1"#,
            trust.into_uuid()
        )
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map_or_else(
            || CatalogueState {
                started: false,
                items: defaults(),
                learner_names_allowed: false,
            },
            |row| row.doc.0,
        ))
    }

    /// One record's state from the read model (another trust's reads as not found).
    async fn load<S: DeserializeOwned>(
        &self,
        table: &str,
        key: &str,
        trust: TrustId,
        id: Uuid,
        what: &str,
    ) -> Result<(S, i64), ServiceError> {
        let sql = format!(
            "SELECT doc, version FROM review_dialogue.{table} WHERE trust_id = $1 AND {key} = $2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(trust.into_uuid())
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| ServiceError::not_found(what))?;
        let Json(state): Json<S> = row
            .try_get(0)
            .map_err(|_| ServiceError::internal("stored record is unreadable"))?;
        Ok((state, row.try_get(1)?))
    }

    /// `state` as far as the caller may have it, with a line in the access log saying what
    /// they got.
    async fn read<R: Record>(
        &self,
        context: &RequestContext,
        directory: &DirectoryState,
        kind: &'static str,
        id: Uuid,
        state: &R,
        version: i64,
    ) -> Result<Option<R::Message>, ServiceError> {
        let facts = state.facts(directory);
        let seen = self
            .policies
            .record_access(directory, actor(context), &facts);
        let read = access_log::Read {
            kind,
            id,
            school: facts.school,
            subjects: &facts.parties,
            seen: seen.into(),
        };
        access_log::note(self.pool(), context, self.platform.clock.now(), read).await?;
        Ok(access::shown(
            &self.policies,
            directory,
            actor(context),
            state,
            version,
        ))
    }
}

fn actor(context: &RequestContext) -> StaffId {
    StaffId::from_uuid(context.caller.actor.into_uuid())
}

fn new_id(command_id: &str, kind: &[u8]) -> Result<Uuid, ServiceError> {
    let command_id: CommandId = parse::id("command_id", command_id)?;
    Ok(Uuid::new_v5(command_id.as_uuid(), kind))
}

fn academic_year(value: &str) -> Result<AcademicYear, ServiceError> {
    AcademicYear::parse(value).map_err(|error| ServiceError::invalid("academic_year", error))
}

fn short_text(field: &str, value: &str) -> Result<Text, ServiceError> {
    Text::parse_max(value, 80).map_err(|error| ServiceError::invalid(field, error))
}

fn window(opens: &str, closes: &str, today: NaiveDate) -> Result<DateWindow, ServiceError> {
    DateWindow::new(
        parse::planned_date("window_opens", opens, today)?,
        parse::planned_date("window_closes", closes, today)?,
    )
    .map_err(|error| ServiceError::invalid("window_closes", error))
}

fn optional_uuid(field: &str, value: &str) -> Result<Option<Uuid>, ServiceError> {
    if value.trim().is_empty() {
        Ok(None)
    } else {
        uuid(field, value).map(Some)
    }
}

#[tonic::async_trait]
impl pb::review_dialogue_server::ReviewDialogue for ReviewDialogueService {
    // --- Catalogue ---------------------------------------------------------------------

    async fn get_catalogue(
        &self,
        request: Request<pb::GetCatalogueRequest>,
    ) -> Result<Response<pb::Catalogue>, Status> {
        let context = RequestContext::of(&request)?;
        self.runner.access.trust(&context, TrustVerb::Read).await?;
        Ok(Response::new(convert::catalogue(
            &self.catalogue(context.caller.trust).await?,
        )))
    }

    async fn add_catalogue_item(
        &self,
        request: Request<pb::AddCatalogueItemRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        self.runner
            .access
            .trust(&context, TrustVerb::ManageCatalogue)
            .await?;
        let request = request.into_inner();
        let kind = ItemKind::parse(&request.kind)
            .ok_or_else(|| ServiceError::invalid("kind", "must be look_for or source"))?;
        let id = new_id(&request.command_id, b"catalogue-item")?;
        let command = CatalogueCommand::Add {
            id,
            kind,
            label: short_text("label", &request.label)?,
        };
        let mut reply = self
            .run::<Catalogue>(
                &context,
                &request.command_id,
                context.caller.trust.into_uuid(),
                command,
            )
            .await?;
        reply.get_mut().id = id.to_string();
        Ok(reply)
    }

    async fn rename_catalogue_item(
        &self,
        request: Request<pb::RenameCatalogueItemRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        self.runner
            .access
            .trust(&context, TrustVerb::ManageCatalogue)
            .await?;
        let request = request.into_inner();
        let command = CatalogueCommand::Rename {
            id: uuid("id", &request.id)?,
            label: short_text("label", &request.label)?,
        };
        self.run::<Catalogue>(
            &context,
            &request.command_id,
            context.caller.trust.into_uuid(),
            command,
        )
        .await
    }

    async fn retire_catalogue_item(
        &self,
        request: Request<pb::CatalogueItemRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        self.runner
            .access
            .trust(&context, TrustVerb::ManageCatalogue)
            .await?;
        let request = request.into_inner();
        let command = CatalogueCommand::Retire {
            id: uuid("id", &request.id)?,
        };
        self.run::<Catalogue>(
            &context,
            &request.command_id,
            context.caller.trust.into_uuid(),
            command,
        )
        .await
    }

    async fn restore_catalogue_item(
        &self,
        request: Request<pb::CatalogueItemRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        self.runner
            .access
            .trust(&context, TrustVerb::ManageCatalogue)
            .await?;
        let request = request.into_inner();
        let command = CatalogueCommand::Restore {
            id: uuid("id", &request.id)?,
        };
        self.run::<Catalogue>(
            &context,
            &request.command_id,
            context.caller.trust.into_uuid(),
            command,
        )
        .await
    }

    async fn set_learner_names_policy(
        &self,
        request: Request<pb::SetLearnerNamesPolicyRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        self.runner
            .access
            .trust(&context, TrustVerb::ManageSettings)
            .await?;
        let request = request.into_inner();
        let command = CatalogueCommand::AllowLearnerNames {
            allowed: request.allowed,
        };
        self.run::<Catalogue>(
            &context,
            &request.command_id,
            context.caller.trust.into_uuid(),
            command,
        )
        .await
    }

    // --- Reviews -----------------------------------------------------------------------

    async fn schedule_review(
        &self,
        request: Request<pb::ScheduleReviewRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        // The review's id follows from the command's, so a retry lands on the same review.
        let review_id = new_id(&request.command_id, b"review")?;
        let reviewer: StaffId = parse::id("reviewer_id", &request.reviewer_id)?;
        let reviewee: StaffId = parse::id("reviewee_id", &request.reviewee_id)?;
        // Who line-manages whom comes from this service's copy of the directory, never from
        // the request: the reviewee's nearest line manager must be the reviewer, and the
        // reviewer's own line manager receives the agreed record.
        let directory = self.runner.access.directory(context.caller.trust).await?;
        let manager_of =
            |person: StaffId| directory.staff.get(&person).and_then(|r| r.line_manager);
        let command = ReviewCommand::Schedule(ScheduleReview {
            review_id,
            school_id: parse::id::<SchoolId>("school_id", &request.school_id)?,
            academic_year: academic_year(&request.academic_year)?,
            year_group: short_text("year_group", &request.year_group)?,
            reviewer,
            reviewee,
            window: window(&request.window_opens, &request.window_closes, self.date())?,
            reviewee_line_manager: manager_of(reviewee).ok_or_else(|| {
                ServiceError::rejected(
                    &waymark_domain::review_dialogue::review::ReviewRejection::NotLineManager,
                )
            })?,
            slt_line_manager: manager_of(reviewer),
            occurrence: parse::optional_uuid("occurrence_id", &request.occurrence_id)?,
        });
        self.run::<Review>(&context, &request.command_id, review_id, command)
            .await
    }

    async fn note_evidence(
        &self,
        request: Request<pb::NoteEvidenceRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let catalogue = self.catalogue(context.caller.trust).await?;
        let look_fors = request
            .look_for_ids
            .iter()
            .map(|id| convert::catalogue_ref(&catalogue, ItemKind::LookFor, "look_for_ids", id))
            .collect::<Result<Vec<CatalogueRef>, _>>()?;
        let command = ReviewCommand::NoteEvidence {
            actor: actor(&context),
            source: convert::catalogue_ref(
                &catalogue,
                ItemKind::Source,
                "source_id",
                &request.source_id,
            )?,
            look_fors,
            note: parse::text("note", &request.note)?,
        };
        self.run::<Review>(
            &context,
            &request.command_id,
            uuid("review_id", &request.review_id)?,
            command,
        )
        .await
    }

    async fn note_triangulation(
        &self,
        request: Request<pb::RecordTextRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let command = ReviewCommand::NoteTriangulation {
            actor: actor(&context),
            note: parse::text("text", &request.text)?,
        };
        self.run::<Review>(
            &context,
            &request.command_id,
            uuid("id", &request.id)?,
            command,
        )
        .await
    }

    async fn hold_dialogue(
        &self,
        request: Request<pb::HoldDialogueRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let command = ReviewCommand::HoldDialogue {
            actor: actor(&context),
            held_on: parse::planned_date("held_on", &request.held_on, self.date())?,
            both_present: request.both_present,
            discussed: parse::text("discussed", &request.discussed)?,
        };
        self.run::<Review>(
            &context,
            &request.command_id,
            uuid("review_id", &request.review_id)?,
            command,
        )
        .await
    }

    async fn add_reflection(
        &self,
        request: Request<pb::RecordTextRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let command = ReviewCommand::Reflect {
            actor: actor(&context),
            reflection: parse::text("text", &request.text)?,
        };
        self.run::<Review>(
            &context,
            &request.command_id,
            uuid("id", &request.id)?,
            command,
        )
        .await
    }

    async fn draft_record(
        &self,
        request: Request<pb::DraftRecordRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let catalogue = self.catalogue(context.caller.trust).await?;
        let record = DraftRecord {
            look_fors: convert::look_for_entries(&catalogue, &request.look_fors)?,
            good_practice: parse::optional_text("good_practice", &request.good_practice)?,
            areas_to_focus: parse::optional_text("areas_to_focus", &request.areas_to_focus)?,
            next_steps: convert::next_steps(&request.next_steps, self.date())?,
        };
        let command = ReviewCommand::Draft {
            actor: actor(&context),
            record,
            based_on: request.based_on_draft,
        };
        self.run::<Review>(
            &context,
            &request.command_id,
            uuid("review_id", &request.review_id)?,
            command,
        )
        .await
    }

    async fn add_response(
        &self,
        request: Request<pb::RecordTextRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let command = ReviewCommand::Respond {
            actor: actor(&context),
            response: parse::text("text", &request.text)?,
        };
        self.run::<Review>(
            &context,
            &request.command_id,
            uuid("id", &request.id)?,
            command,
        )
        .await
    }

    async fn send_back_draft(
        &self,
        request: Request<pb::RecordTextRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let command = ReviewCommand::SendBack {
            actor: actor(&context),
            reason: parse::text("text", &request.text)?,
        };
        self.run::<Review>(
            &context,
            &request.command_id,
            uuid("id", &request.id)?,
            command,
        )
        .await
    }

    async fn agree_record(
        &self,
        request: Request<pb::AgreeRecordRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let command = ReviewCommand::Agree {
            actor: actor(&context),
            draft: request.draft,
        };
        self.run::<Review>(
            &context,
            &request.command_id,
            uuid("review_id", &request.review_id)?,
            command,
        )
        .await
    }

    async fn add_correction(
        &self,
        request: Request<pb::AddCorrectionRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let command = ReviewCommand::Correct {
            actor: actor(&context),
            correction: parse::text("correction", &request.correction)?,
            reason: parse::text("reason", &request.reason)?,
        };
        self.run::<Review>(
            &context,
            &request.command_id,
            uuid("review_id", &request.review_id)?,
            command,
        )
        .await
    }

    async fn reschedule_review(
        &self,
        request: Request<pb::RescheduleReviewRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let command = ReviewCommand::Reschedule {
            actor: actor(&context),
            window: window(&request.window_opens, &request.window_closes, self.date())?,
            reason: parse::text("reason", &request.reason)?,
        };
        self.run::<Review>(
            &context,
            &request.command_id,
            uuid("review_id", &request.review_id)?,
            command,
        )
        .await
    }

    async fn cancel_review(
        &self,
        request: Request<pb::RecordTextRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let command = ReviewCommand::Cancel {
            actor: actor(&context),
            reason: parse::text("text", &request.text)?,
        };
        self.run::<Review>(
            &context,
            &request.command_id,
            uuid("id", &request.id)?,
            command,
        )
        .await
    }

    async fn get_review(
        &self,
        request: Request<pb::GetRecordRequest>,
    ) -> Result<Response<pb::Review>, Status> {
        let context = RequestContext::of(&request)?;
        let id = uuid("id", &request.get_ref().id)?;
        let (state, version): (ReviewState, i64) = self
            .load("reviews", "review_id", context.caller.trust, id, "review")
            .await?;
        let directory = self.runner.access.directory(context.caller.trust).await?;
        let review = self
            .read(&context, &directory, "review", id, &state, version)
            .await?
            .ok_or_else(|| ServiceError::not_found("review"))?;
        Ok(Response::new(review))
    }

    async fn list_reviews(
        &self,
        request: Request<pb::ListReviewsRequest>,
    ) -> Result<Response<pb::ListReviewsResponse>, Status> {
        let context = RequestContext::of(&request)?;
        let directory = self.runner.access.directory(context.caller.trust).await?;
        let found = search::reviews(
            self.pool(),
            &self.policies,
            &directory,
            &context,
            request.into_inner(),
        )
        .await?;
        Ok(Response::new(found))
    }

    async fn compare_reviews(
        &self,
        request: Request<pb::CompareReviewsRequest>,
    ) -> Result<Response<pb::Comparison>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let school: SchoolId = parse::id("school_id", &request.school_id)?;
        let year_group = parse::text("year_group", &request.year_group)?;
        let year = academic_year(&request.academic_year)?;
        let reviewee = parse::optional_id::<StaffId>("reviewee_id", &request.reviewee_id)?
            .map(StaffId::into_uuid);
        let rows = sqlx::query!(
            r#"SELECT doc AS "doc: Json<ReviewState>", version, reviewee_id FROM review_dialogue.reviews
               WHERE trust_id = $1 AND school_id = $2 AND year_group = $3 AND academic_year = $4
                 AND ($5::uuid IS NULL OR reviewee_id = $5) AND status = 'agreed'
               ORDER BY agreed_at, review_id"#,
            context.caller.trust.into_uuid(),
            school.into_uuid(),
            year_group.as_str(),
            year.to_string(),
            reviewee,
        )
        .fetch_all(self.pool())
        .await
        .map_err(ServiceError::from)?;
        // Only records the caller may read: a comparison shows what they say.
        let directory = self.runner.access.directory(context.caller.trust).await?;
        let who = actor(&context);
        let rows: Vec<_> = rows
            .into_iter()
            .filter(|row| {
                let facts = row.doc.0.facts(&directory);
                self.policies.record_access(&directory, who, &facts) == RecordAccess::Full
            })
            .collect();
        if reviewee.is_none()
            && rows
                .iter()
                .any(|row| row.reviewee_id != rows[0].reviewee_id)
        {
            return Err(ServiceError::invalid(
                "reviewee_id",
                "this year group has reviews of several teachers: name one",
            )
            .into());
        }
        let [first, second, ..] = rows.as_slice() else {
            return Err(ServiceError::new(
                waymark_runtime::ErrorKind::FailedPrecondition,
                "review.nothing_to_compare",
                "a comparison needs two agreed reviews of the year group",
            )
            .into());
        };
        let (first_record, second_record) = (
            first.doc.0.record.clone().unwrap_or_default(),
            second.doc.0.record.clone().unwrap_or_default(),
        );
        let changes = compare(&first_record, &second_record)
            .into_iter()
            .map(|change| pb::LookForChange {
                look_for_id: change.look_for.id.to_string(),
                label: change.look_for.label.to_string(),
                change: change.change.as_str().to_owned(),
                first_comment: change
                    .first
                    .and_then(|e| e.comment)
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
                second_comment: change
                    .second
                    .and_then(|e| e.comment)
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
            })
            .collect();
        Ok(Response::new(pb::Comparison {
            first: Some(convert::review(&first.doc.0, first.version)),
            second: Some(convert::review(&second.doc.0, second.version)),
            changes,
        }))
    }

    // --- Meetings ----------------------------------------------------------------------

    async fn schedule_meeting(
        &self,
        request: Request<pb::ScheduleMeetingRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let meeting_id = new_id(&request.command_id, b"meeting")?;
        let teacher: StaffId = parse::id("teacher_id", &request.teacher_id)?;
        let class_group = short_text("class_group", &request.class_group)?;
        let date = parse::planned_date("date", &request.date, self.date())?;
        // The same teacher and class's last meeting before this one, whose actions this one
        // starts from.
        let previous_meeting = sqlx::query_scalar!(
            "SELECT meeting_id FROM review_dialogue.meetings \
             WHERE trust_id = $1 AND teacher_id = $2 AND class_group = $3 AND status = 'closed' \
               AND date <= $4 AND meeting_id <> $5 ORDER BY date DESC, updated_at DESC LIMIT 1",
            context.caller.trust.into_uuid(),
            teacher.into_uuid(),
            class_group.as_str(),
            date,
            meeting_id,
        )
        .fetch_optional(self.pool())
        .await
        .map_err(ServiceError::from)?;
        let leaders = request
            .leader_ids
            .iter()
            .map(|id| parse::id::<StaffId>("leader_ids", id))
            .collect::<Result<Vec<_>, _>>()?;
        let school_id: SchoolId = parse::id("school_id", &request.school_id)?;
        // Leaders become parties to the record: each must work at the school (or hold a
        // trust-wide role) and have an account in use.
        let directory = self.runner.access.directory(context.caller.trust).await?;
        if let Some(stranger) = leaders.iter().find(|leader| {
            !directory.staff.get(leader).is_some_and(|record| {
                !record.disabled
                    && record
                        .grants
                        .iter()
                        .any(|g| g.school.is_none_or(|s| s == school_id))
            })
        }) {
            return Err(ServiceError::new(
                waymark_runtime::ErrorKind::InvalidArgument,
                "meeting.leader_not_at_school",
                format!("leader_ids: {stranger} does not work at this school"),
            )
            .into());
        }
        let command = MeetingCommand::Schedule(ScheduleMeeting {
            meeting_id,
            school_id,
            academic_year: academic_year(&request.academic_year)?,
            assessment_point: short_text("assessment_point", &request.assessment_point)?,
            teacher,
            class_group,
            leaders,
            date,
            previous_meeting,
            occurrence: parse::optional_uuid("occurrence_id", &request.occurrence_id)?,
        });
        self.run::<Meeting>(&context, &request.command_id, meeting_id, command)
            .await
    }

    async fn record_analysis(
        &self,
        request: Request<pb::RecordAnalysisRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let names_allowed = self
            .catalogue(context.caller.trust)
            .await?
            .learner_names_allowed;
        let command = MeetingCommand::RecordAnalysis {
            actor: actor(&context),
            analysis: convert::analysis(request.analysis, names_allowed)?,
        };
        self.run::<Meeting>(
            &context,
            &request.command_id,
            uuid("meeting_id", &request.meeting_id)?,
            command,
        )
        .await
    }

    async fn open_meeting(
        &self,
        request: Request<pb::RecordRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let meeting_id = uuid("id", &request.id)?;
        let (state, _): (MeetingState, i64) = self
            .load(
                "meetings",
                "meeting_id",
                context.caller.trust,
                meeting_id,
                "meeting",
            )
            .await?;
        let previous_actions = match state.previous_meeting {
            Some(previous) if state.status == MeetingStatus::Scheduled => {
                self.actions.open_actions_of(&context, previous).await?
            }
            _ => Vec::new(),
        };
        let command = MeetingCommand::Open {
            actor: actor(&context),
            previous_actions,
        };
        self.run::<Meeting>(&context, &request.command_id, meeting_id, command)
            .await
    }

    async fn review_previous_action(
        &self,
        request: Request<pb::ReviewPreviousActionRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let command = MeetingCommand::ReviewPreviousAction {
            actor: actor(&context),
            action_id: uuid("action_id", &request.action_id)?,
            outcome: convert::outcome(&request, self.date())?,
        };
        self.run::<Meeting>(
            &context,
            &request.command_id,
            uuid("meeting_id", &request.meeting_id)?,
            command,
        )
        .await
    }

    async fn note_discussion(
        &self,
        request: Request<pb::NoteDiscussionRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let names_allowed = self
            .catalogue(context.caller.trust)
            .await?
            .learner_names_allowed;
        let command = MeetingCommand::NoteDiscussion {
            actor: actor(&context),
            discussion: convert::discussion(&request, names_allowed)?,
        };
        self.run::<Meeting>(
            &context,
            &request.command_id,
            uuid("meeting_id", &request.meeting_id)?,
            command,
        )
        .await
    }

    async fn close_meeting(
        &self,
        request: Request<pb::CloseMeetingRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let command = MeetingCommand::Close {
            actor: actor(&context),
            actions: convert::next_steps(&request.actions, self.date())?,
        };
        self.run::<Meeting>(
            &context,
            &request.command_id,
            uuid("meeting_id", &request.meeting_id)?,
            command,
        )
        .await
    }

    async fn reschedule_meeting(
        &self,
        request: Request<pb::RescheduleMeetingRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let command = MeetingCommand::Reschedule {
            actor: actor(&context),
            date: parse::planned_date("date", &request.date, self.date())?,
            reason: parse::text("reason", &request.reason)?,
        };
        self.run::<Meeting>(
            &context,
            &request.command_id,
            uuid("meeting_id", &request.meeting_id)?,
            command,
        )
        .await
    }

    async fn cancel_meeting(
        &self,
        request: Request<pb::RecordTextRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let command = MeetingCommand::Cancel {
            actor: actor(&context),
            reason: parse::text("text", &request.text)?,
        };
        self.run::<Meeting>(
            &context,
            &request.command_id,
            uuid("id", &request.id)?,
            command,
        )
        .await
    }

    async fn get_meeting(
        &self,
        request: Request<pb::GetRecordRequest>,
    ) -> Result<Response<pb::Meeting>, Status> {
        let context = RequestContext::of(&request)?;
        let id = uuid("id", &request.get_ref().id)?;
        let (state, version): (MeetingState, i64) = self
            .load(
                "meetings",
                "meeting_id",
                context.caller.trust,
                id,
                "meeting",
            )
            .await?;
        let directory = self.runner.access.directory(context.caller.trust).await?;
        let mut meeting = self
            .read(&context, &directory, "meeting", id, &state, version)
            .await?
            .ok_or_else(|| ServiceError::not_found("meeting"))?;
        if meeting.redacted {
            return Ok(Response::new(meeting));
        }
        // Before it opens, the agenda starts with whatever the previous meeting left open.
        if let (MeetingStatus::Scheduled, Some(previous)) = (state.status, state.previous_meeting) {
            match self.actions.open_actions_of(&context, previous).await {
                Ok(actions) => {
                    meeting.previous_actions = actions.iter().map(convert::pending_action).collect()
                }
                Err(error) => {
                    tracing::warn!(%error, "meeting agenda shown without the previous actions")
                }
            }
        }
        Ok(Response::new(meeting))
    }

    async fn list_meetings(
        &self,
        request: Request<pb::ListMeetingsRequest>,
    ) -> Result<Response<pb::ListMeetingsResponse>, Status> {
        let context = RequestContext::of(&request)?;
        let directory = self.runner.access.directory(context.caller.trust).await?;
        let found = search::meetings(
            self.pool(),
            &self.policies,
            &directory,
            &context,
            request.into_inner(),
        )
        .await?;
        Ok(Response::new(found))
    }

    // --- Visits ------------------------------------------------------------------------

    async fn plan_visit(
        &self,
        request: Request<pb::PlanVisitRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let visit_id = new_id(&request.command_id, b"visit")?;
        let teacher: StaffId = parse::id("teacher_id", &request.teacher_id)?;
        let date = parse::planned_date("date", &request.date, self.date())?;
        // The teacher's previous agreed visit: its next steps are looked at again.
        let previous = sqlx::query_scalar!(
            "SELECT visit_id FROM review_dialogue.visits WHERE trust_id = $1 AND teacher_id = $2 \
             AND status = 'agreed' AND date <= $3 AND visit_id <> $4 ORDER BY date DESC, updated_at DESC LIMIT 1",
            context.caller.trust.into_uuid(),
            teacher.into_uuid(),
            date,
            visit_id,
        )
        .fetch_optional(self.pool())
        .await
        .map_err(ServiceError::from)?;
        let previous_next_steps = match previous {
            Some(previous) => self.actions.open_actions_of(&context, previous).await?,
            None => Vec::new(),
        };
        let command = VisitCommand::Plan(PlanVisit {
            visit_id,
            school_id: parse::id("school_id", &request.school_id)?,
            kind: VisitKind::parse(&request.kind).ok_or_else(|| {
                ServiceError::invalid("kind", "must be observation or learning_walk")
            })?,
            visitor: parse::id("visitor_id", &request.visitor_id)?,
            teacher,
            date,
            focus: parse::text("focus", &request.focus)?,
            previous_next_steps,
            occurrence: parse::optional_uuid("occurrence_id", &request.occurrence_id)?,
        });
        self.run::<Visit>(&context, &request.command_id, visit_id, command)
            .await
    }

    async fn agree_visit_focus(
        &self,
        request: Request<pb::RecordRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let command = VisitCommand::AgreeFocus {
            actor: actor(&context),
        };
        self.run::<Visit>(
            &context,
            &request.command_id,
            uuid("id", &request.id)?,
            command,
        )
        .await
    }

    async fn change_visit_focus(
        &self,
        request: Request<pb::RecordTextRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let command = VisitCommand::ChangeFocus {
            actor: actor(&context),
            focus: parse::text("text", &request.text)?,
        };
        self.run::<Visit>(
            &context,
            &request.command_id,
            uuid("id", &request.id)?,
            command,
        )
        .await
    }

    async fn record_visit(
        &self,
        request: Request<pb::RecordVisitRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let command = VisitCommand::Record {
            actor: actor(&context),
            based_on: request.based_on_version,
            observations: parse::text("observations", &request.observations)?,
            previous_steps_review: parse::optional_text(
                "previous_steps_review",
                &request.previous_steps_review,
            )?,
            feedback: parse::optional_text("feedback", &request.feedback)?,
            next_steps: convert::next_steps(&request.next_steps, self.date())?,
        };
        self.run::<Visit>(
            &context,
            &request.command_id,
            uuid("visit_id", &request.visit_id)?,
            command,
        )
        .await
    }

    async fn respond_to_visit(
        &self,
        request: Request<pb::RecordTextRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let command = VisitCommand::Respond {
            actor: actor(&context),
            response: parse::text("text", &request.text)?,
        };
        self.run::<Visit>(
            &context,
            &request.command_id,
            uuid("id", &request.id)?,
            command,
        )
        .await
    }

    async fn agree_visit(
        &self,
        request: Request<pb::AgreeVisitRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let command = VisitCommand::Agree {
            actor: actor(&context),
            version: request.record_version,
        };
        self.run::<Visit>(
            &context,
            &request.command_id,
            uuid("visit_id", &request.visit_id)?,
            command,
        )
        .await
    }

    async fn cancel_visit(
        &self,
        request: Request<pb::RecordTextRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let command = VisitCommand::Cancel {
            actor: actor(&context),
            reason: parse::text("text", &request.text)?,
        };
        self.run::<Visit>(
            &context,
            &request.command_id,
            uuid("id", &request.id)?,
            command,
        )
        .await
    }

    async fn get_visit(
        &self,
        request: Request<pb::GetRecordRequest>,
    ) -> Result<Response<pb::Visit>, Status> {
        let context = RequestContext::of(&request)?;
        let id = uuid("id", &request.get_ref().id)?;
        let (state, version): (VisitState, i64) = self
            .load("visits", "visit_id", context.caller.trust, id, "visit")
            .await?;
        let directory = self.runner.access.directory(context.caller.trust).await?;
        let visit = self
            .read(&context, &directory, "visit", id, &state, version)
            .await?
            .ok_or_else(|| ServiceError::not_found("visit"))?;
        Ok(Response::new(visit))
    }

    async fn list_visits(
        &self,
        request: Request<pb::ListVisitsRequest>,
    ) -> Result<Response<pb::ListVisitsResponse>, Status> {
        let context = RequestContext::of(&request)?;
        let directory = self.runner.access.directory(context.caller.trust).await?;
        let found = search::visits(
            self.pool(),
            &self.policies,
            &directory,
            &context,
            request.into_inner(),
        )
        .await?;
        Ok(Response::new(found))
    }

    // --- Across records ----------------------------------------------------------------

    async fn list_access_log(
        &self,
        request: Request<pb::ListAccessLogRequest>,
    ) -> Result<Response<pb::ListAccessLogResponse>, Status> {
        let context = RequestContext::of(&request)?;
        let found = access_log::list(
            self.pool(),
            &self.runner.access,
            &context,
            request.into_inner(),
        )
        .await?;
        Ok(Response::new(found))
    }

    async fn awaiting_agreement(
        &self,
        request: Request<pb::AwaitingAgreementRequest>,
    ) -> Result<Response<pb::AwaitingAgreementResponse>, Status> {
        let context = RequestContext::of(&request)?;
        let person = optional_uuid("person_id", &request.get_ref().person_id)?
            .unwrap_or_else(|| context.caller.actor.into_uuid());
        let trust = context.caller.trust.into_uuid();
        let reviews = sqlx::query!(
            r#"SELECT doc AS "doc: Json<ReviewState>", version FROM review_dialogue.reviews
               WHERE trust_id = $1 AND $2 = ANY(awaiting_ids) ORDER BY window_closes, review_id"#,
            trust,
            person
        )
        .fetch_all(self.pool())
        .await
        .map_err(ServiceError::from)?;
        let visits = sqlx::query!(
            r#"SELECT doc AS "doc: Json<VisitState>", version FROM review_dialogue.visits
               WHERE trust_id = $1 AND teacher_id = $2 AND status = $3 ORDER BY date, visit_id"#,
            trust,
            person,
            VisitStatus::Recorded.as_str(),
        )
        .fetch_all(self.pool())
        .await
        .map_err(ServiceError::from)?;
        let directory = self.runner.access.directory(context.caller.trust).await?;
        let who = actor(&context);
        Ok(Response::new(pb::AwaitingAgreementResponse {
            reviews: reviews
                .iter()
                .filter(|r| r.doc.0.status == ReviewStatus::Drafted)
                .filter_map(|r| access::shown(&self.policies, &directory, who, &r.doc.0, r.version))
                .collect(),
            visits: visits
                .iter()
                .filter_map(|v| access::shown(&self.policies, &directory, who, &v.doc.0, v.version))
                .collect(),
        }))
    }
}
