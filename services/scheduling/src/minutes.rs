//! An occurrence's notes or minutes and who attended: written by whoever may hold it.

use tonic::{Request, Response, Status};
use waymark_domain::scheduling::schedule::{Minutes, Schedule, ScheduleCommand, schedule_id};
use waymark_domain::{SchoolId, StaffId};
use waymark_policy::OccurrenceVerb;
use waymark_proto::scheduling::v1 as pb;
use waymark_runtime::access::person;
use waymark_runtime::auth::RequestContext;
use waymark_runtime::parse;

use crate::grpc::{SchedulingService, uuid, year};

impl SchedulingService {
    pub(crate) async fn record_minutes_of(
        &self,
        request: Request<pb::RecordMinutesRequest>,
    ) -> Result<Response<pb::CommandReply>, Status> {
        let context = RequestContext::of(&request)?;
        let request = request.into_inner();
        let school: SchoolId = parse::id("school_id", &request.school_id)?;
        let year = year(&request.academic_year)?;
        let occurrence = uuid("occurrence_id", &request.occurrence_id)?;
        self.may(&context, school, occurrence, OccurrenceVerb::Run)
            .await?;
        let mut attendees = request
            .attendee_ids
            .iter()
            .map(|id| parse::id::<StaffId>("attendee_ids", id))
            .collect::<Result<Vec<_>, _>>()?;
        attendees.sort();
        attendees.dedup();
        let command = ScheduleCommand::RecordMinutes {
            occurrence,
            minutes: Minutes {
                notes: parse::optional_text("minutes", &request.minutes)?,
                attendees,
                by: person(&context),
            },
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
