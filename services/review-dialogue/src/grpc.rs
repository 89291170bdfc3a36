//! The gRPC API. Each method parses the request into domain values (a bad field is an
//! `InvalidArgument` naming it), runs the decider, and maps errors through the runtime's one
//! table.

use std::sync::Arc;

use tonic::{Request, Response, Status};
use uuid::Uuid;
use waymark_bus::FeedHandle;
use waymark_domain::review_dialogue::review::{Review, ReviewCommand, ScheduleReview};
use waymark_domain::school_year::{AcademicYear, DateWindow};
use waymark_domain::{CommandId, Decider, SchoolId, StaffId, StreamId, Text};
use waymark_event_store::execute;
use waymark_proto::review_dialogue::v1 as pb;
use waymark_runtime::auth::RequestContext;
use waymark_runtime::{Platform, ServiceError, parse};

use crate::READ_YOUR_WRITES;

pub struct ReviewDialogueService {
    platform: Arc<Platform>,
    reviews: FeedHandle,
}

impl ReviewDialogueService {
    pub fn new(platform: Arc<Platform>, reviews: FeedHandle) -> Self {
        Self { platform, reviews }
    }
}

fn year_group(value: &str) -> Result<Text, ServiceError> {
    Text::parse_max(value, 60).map_err(|error| ServiceError::invalid("year_group", error))
}

#[tonic::async_trait]
impl pb::review_dialogue_server::ReviewDialogue for ReviewDialogueService {
    async fn schedule_review(
        &self,
        request: Request<pb::ScheduleReviewRequest>,
    ) -> Result<Response<pb::ReviewReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let command_id: CommandId = parse::id("command_id", &request.command_id)?;
        let window = DateWindow::new(
            parse::date("window_opens", &request.window_opens)?,
            parse::date("window_closes", &request.window_closes)?,
        )
        .map_err(|error| ServiceError::invalid("window_closes", error))?;
        // The review's id follows from the command's, so a retry lands on the same review.
        let review_id = Uuid::new_v5(command_id.as_uuid(), b"review");
        let command = ReviewCommand::Schedule(ScheduleReview {
            review_id,
            school_id: parse::id::<SchoolId>("school_id", &request.school_id)?,
            academic_year: AcademicYear::parse(&request.academic_year)
                .map_err(|error| ServiceError::invalid("academic_year", error))?,
            year_group: year_group(&request.year_group)?,
            reviewer: parse::id::<StaffId>("reviewer_id", &request.reviewer_id)?,
            reviewee: parse::id::<StaffId>("reviewee_id", &request.reviewee_id)?,
            window,
            reviewee_line_manager: parse::id(
                "reviewee_line_manager_id",
                &request.reviewee_line_manager_id,
            )?,
            slt_line_manager: parse::optional_id(
                "slt_line_manager_id",
                &request.slt_line_manager_id,
            )?,
        });
        let stream = StreamId::new(Review::CATEGORY, review_id);
        let executed = execute::<Review, _>(
            &self.platform.store,
            &context.command(command_id),
            &stream,
            &command,
        )
        .await
        .map_err(ServiceError::from)?;
        if let Some(checkpoint) = executed.checkpoint {
            self.reviews.wait_for(checkpoint, READ_YOUR_WRITES).await;
        }
        Ok(Response::new(pb::ReviewReply {
            review_id: review_id.to_string(),
            version: executed.version,
            replayed: executed.replayed,
        }))
    }

    async fn get_review(
        &self,
        request: Request<pb::GetReviewRequest>,
    ) -> Result<Response<pb::Review>, Status> {
        let context = RequestContext::of(&request)?;
        let review_id: Uuid = Uuid::parse_str(request.get_ref().review_id.trim())
            .map_err(|_| ServiceError::invalid("review_id", "is not a valid id"))?;
        let row = sqlx::query_as!(
            ReviewRow,
            "SELECT review_id, school_id, academic_year, year_group, reviewer_id, reviewee_id, \
             window_opens, window_closes, slt_line_manager_id, status, version \
             FROM review_dialogue.reviews WHERE trust_id = $1 AND review_id = $2",
            context.caller.trust.into_uuid(),
            review_id,
        )
        .fetch_optional(&self.platform.pool)
        .await
        .map_err(ServiceError::from)?
        .ok_or_else(|| ServiceError::not_found("review"))?;
        Ok(Response::new(row.into()))
    }

    async fn list_reviews(
        &self,
        request: Request<pb::ListReviewsRequest>,
    ) -> Result<Response<pb::ListReviewsResponse>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let school: SchoolId = parse::id("school_id", &request.school_id)?;
        let year_group = (!request.year_group.trim().is_empty())
            .then(|| year_group(&request.year_group))
            .transpose()?;
        let academic_year = (!request.academic_year.trim().is_empty())
            .then(|| AcademicYear::parse(&request.academic_year))
            .transpose()
            .map_err(|error| ServiceError::invalid("academic_year", error))?;
        let rows = sqlx::query_as!(
            ReviewRow,
            "SELECT review_id, school_id, academic_year, year_group, reviewer_id, reviewee_id, \
             window_opens, window_closes, slt_line_manager_id, status, version \
             FROM review_dialogue.reviews \
             WHERE trust_id = $1 AND school_id = $2 \
               AND ($3::text IS NULL OR year_group = $3) AND ($4::text IS NULL OR academic_year = $4) \
             ORDER BY window_opens, year_group",
            context.caller.trust.into_uuid(),
            school.into_uuid(),
            year_group.as_ref().map(Text::as_str),
            academic_year.map(|year| year.to_string()),
        )
        .fetch_all(&self.platform.pool)
        .await
        .map_err(ServiceError::from)?;
        Ok(Response::new(pb::ListReviewsResponse {
            reviews: rows.into_iter().map(Into::into).collect(),
        }))
    }
}

struct ReviewRow {
    review_id: Uuid,
    school_id: Uuid,
    academic_year: String,
    year_group: String,
    reviewer_id: Uuid,
    reviewee_id: Uuid,
    window_opens: chrono::NaiveDate,
    window_closes: chrono::NaiveDate,
    slt_line_manager_id: Option<Uuid>,
    status: String,
    version: i64,
}

impl From<ReviewRow> for pb::Review {
    fn from(row: ReviewRow) -> Self {
        Self {
            review_id: row.review_id.to_string(),
            school_id: row.school_id.to_string(),
            academic_year: row.academic_year,
            year_group: row.year_group,
            reviewer_id: row.reviewer_id.to_string(),
            reviewee_id: row.reviewee_id.to_string(),
            window_opens: row.window_opens.to_string(),
            window_closes: row.window_closes.to_string(),
            slt_line_manager_id: row
                .slt_line_manager_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            status: row.status,
            version: row.version,
        }
    }
}
