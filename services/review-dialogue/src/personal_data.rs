//! What review dialogue holds about a person, for a subject-access export; every export is
//! noted in the access log as a read of the person.

use tonic::{Request, Response, Status};
use uuid::Uuid;
use waymark_domain::SchoolId;
use waymark_proto::personal_data::v1 as pb;
use waymark_runtime::auth::RequestContext;
use waymark_runtime::personal_data::{Part, PersonalDataService};

use crate::access_log::{self, Read, Seen};

pub const PARTS: &[Part] = &[
    Part {
        name: "reviews",
        sql: "SELECT review_id, school_id, academic_year, status, doc FROM review_dialogue.reviews \
              WHERE trust_id = $1 AND $2 IN (reviewer_id, reviewee_id, slt_line_manager_id) ORDER BY window_opens",
    },
    Part {
        name: "visits",
        sql: "SELECT visit_id, school_id, status, doc FROM review_dialogue.visits \
              WHERE trust_id = $1 AND $2 IN (visitor_id, teacher_id) ORDER BY date",
    },
    Part {
        name: "meetings",
        sql: "SELECT meeting_id, school_id, status, doc FROM review_dialogue.meetings \
              WHERE trust_id = $1 AND (teacher_id = $2 OR $2 = ANY(leader_ids)) ORDER BY date",
    },
    Part {
        name: "audits",
        sql: "SELECT audit_id, school_id, status, doc FROM review_dialogue.audits \
              WHERE trust_id = $1 AND (doc ->> 'lead' = $2::text OR doc -> 'participants' ? $2::text) \
              ORDER BY started_on",
    },
    Part {
        name: "priorities_led",
        sql: "SELECT priority_id, school_id, academic_year, doc FROM review_dialogue.priorities \
              WHERE trust_id = $1 AND doc -> 'details' ->> 'lead' = $2::text ORDER BY academic_year",
    },
    Part {
        name: "files_uploaded",
        sql: "SELECT attachment_id, record_kind, record_id, file_name, media_type, size_bytes, attached_at, removed_at \
              FROM review_dialogue.evidence_files WHERE trust_id = $1 AND uploaded_by = $2 ORDER BY attached_at",
    },
    Part {
        name: "access_log",
        sql: "SELECT at, reader_id, record_kind, record_id, subject_ids, seen FROM review_dialogue.access_log \
              WHERE trust_id = $1 AND ($2 = ANY(subject_ids) OR reader_id = $2) ORDER BY at, entry_id",
    },
];

pub struct Exports {
    pub data: PersonalDataService,
    pub clock: std::sync::Arc<dyn waymark_runtime::Clock>,
}

#[tonic::async_trait]
impl pb::personal_data_server::PersonalData for Exports {
    async fn export(
        &self,
        request: Request<pb::ExportRequest>,
    ) -> Result<Response<pb::Export>, Status> {
        let context = RequestContext::of(&request)?;
        let person = self.data.allowed(&context, request.get_ref()).await?;
        let export = self.data.gather(&context, person).await?;
        let read = Read {
            kind: "export",
            id: person.into_uuid(),
            school: SchoolId::from_uuid(Uuid::nil()),
            subjects: &[person],
            seen: Seen::Full,
        };
        access_log::note(&self.data.pool, &context, self.clock.now(), read).await?;
        Ok(Response::new(export))
    }
}
