use std::net::SocketAddr;

use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use uuid::Uuid;
use waymark_proto::review_dialogue::v1 as pb;
use waymark_proto::review_dialogue::v1::review_dialogue_client::ReviewDialogueClient;
use waymark_runtime::auth::Caller;
use waymark_testkit::services::{TestPlatform, colleague, new_caller, staff};

pub type Client = ReviewDialogueClient<InterceptedService<Channel, CallAs>>;
pub use waymark_runtime::auth::CallAs;

pub fn command() -> String {
    Uuid::new_v4().to_string()
}

/// A line manager (a middle leader), a teacher they manage, and a senior leader, in one
/// school of a trust; and the trust's administrator.
pub struct Team {
    pub manager: Caller,
    pub teacher: Caller,
    pub slt: Caller,
    pub admin: Caller,
    pub school: Uuid,
}

impl Team {
    /// The three of them in the trust's directory (the teacher managed by the manager, the
    /// manager by the senior leader), known to review dialogue's copy before this returns.
    pub async fn new(platform: &TestPlatform) -> Self {
        use waymark_domain::SchoolId;
        use waymark_domain::directory::{DirectoryEvent, Grant, Role};
        let manager = new_caller();
        let (teacher, _) = colleague(manager);
        let (slt, _) = colleague(manager);
        let (admin, _) = colleague(manager);
        let school = Uuid::new_v4();
        let mut events = Vec::new();
        for (caller, role, at) in [
            (manager, Role::MiddleLeader, Some(school)),
            (teacher, Role::ClassTeacher, Some(school)),
            (slt, Role::SeniorLeader, Some(school)),
            (admin, Role::TrustAdmin, None),
        ] {
            events.push(DirectoryEvent::StaffAdded {
                staff_id: staff(caller),
            });
            events.push(DirectoryEvent::RoleGranted {
                staff_id: staff(caller),
                grant: Grant {
                    school: at.map(SchoolId::from_uuid),
                    role,
                },
            });
        }
        events.push(DirectoryEvent::LineManagerSet {
            staff_id: staff(teacher),
            manager: Some(staff(manager)),
        });
        events.push(DirectoryEvent::LineManagerSet {
            staff_id: staff(manager),
            manager: Some(staff(slt)),
        });
        waymark_testkit::directory::append(platform, manager, &events).await;
        waymark_testkit::directory::known(
            platform,
            waymark_review_dialogue::DIRECTORY_TABLE,
            manager,
            staff(admin),
        )
        .await;
        Self {
            manager,
            teacher,
            slt,
            admin,
            school,
        }
    }
}

pub fn id(caller: Caller) -> String {
    staff(caller).to_string()
}

pub fn client(platform: &TestPlatform, address: SocketAddr, caller: Caller) -> Client {
    ReviewDialogueClient::new(platform.client(address, caller))
}

pub fn schedule(team: &Team, school: Uuid, year_group: &str) -> pb::ScheduleReviewRequest {
    pb::ScheduleReviewRequest {
        occurrence_id: String::new(),
        command_id: command(),
        school_id: school.to_string(),
        academic_year: "2026-27".into(),
        year_group: year_group.into(),
        reviewer_id: id(team.manager),
        reviewee_id: id(team.teacher),
        window_opens: "2026-11-02".into(),
        window_closes: "2026-11-20".into(),
        reviewee_line_manager_id: id(team.manager),
        slt_line_manager_id: id(team.slt),
    }
}

pub async fn catalogue_id(client: &mut Client, kind: &str, label: &str) -> String {
    let catalogue = client
        .get_catalogue(pb::GetCatalogueRequest {})
        .await
        .unwrap()
        .into_inner();
    catalogue
        .items
        .into_iter()
        .find(|i| i.kind == kind && i.label == label)
        .unwrap()
        .id
}

pub fn text(id: &str, text: &str) -> pb::RecordTextRequest {
    pb::RecordTextRequest {
        command_id: command(),
        id: id.into(),
        text: text.into(),
    }
}

pub fn code(status: &tonic::Status) -> &str {
    status
        .metadata()
        .get("x-waymark-code")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// Takes a scheduled review through evidence and dialogue, ready for a record.
pub async fn discussed(manager: &mut Client, review: &str) {
    let source = catalogue_id(manager, "source", "Book look").await;
    let look_for = catalogue_id(manager, "look_for", "Student responses").await;
    manager
        .note_evidence(pb::NoteEvidenceRequest {
            command_id: command(),
            review_id: review.into(),
            source_id: source,
            look_for_ids: vec![look_for],
            note: "Responses to feedback in most books".into(),
        })
        .await
        .unwrap();
    manager
        .hold_dialogue(pb::HoldDialogueRequest {
            command_id: command(),
            review_id: review.into(),
            held_on: "2026-11-12".into(),
            both_present: true,
            discussed: "What the books show about feedback".into(),
        })
        .await
        .unwrap();
}

pub fn entry(look_for_id: &str, exemplary: bool, focus: bool) -> pb::LookForEntry {
    pb::LookForEntry {
        look_for_id: look_for_id.into(),
        exemplary,
        focus,
        ..Default::default()
    }
}

/// Drafts a record with `entries` and has both agree it.
pub async fn agree(
    manager: &mut Client,
    teacher: &mut Client,
    review: &str,
    entries: Vec<pb::LookForEntry>,
) {
    let draft = manager
        .draft_record(pb::DraftRecordRequest {
            command_id: command(),
            review_id: review.into(),
            look_fors: entries,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let number = manager
        .get_review(pb::GetRecordRequest { id: review.into() })
        .await
        .unwrap()
        .into_inner()
        .draft;
    assert!(draft.version > 0);
    for client in [teacher, manager] {
        client
            .agree_record(pb::AgreeRecordRequest {
                command_id: command(),
                review_id: review.into(),
                draft: number,
            })
            .await
            .unwrap();
    }
}
