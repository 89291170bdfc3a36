//! Setups more than one test here uses.

use std::net::SocketAddr;

use uuid::Uuid;
use waymark_domain::StaffId;
use waymark_proto::action_tracking::v1 as pb;
use waymark_runtime::auth::Caller;
use waymark_testkit::services::{TestPlatform, colleague, new_caller};

/// Action tracking and scheduling served on `platform`, and a school of a new trust whose
/// leader and teacher both services know: (action tracking's address, the leader, the
/// teacher, the school).
pub async fn actions_and_scheduling(
    platform: &mut TestPlatform,
) -> (SocketAddr, Caller, StaffId, Uuid) {
    let address = platform.serve(waymark_action_tracking::run).await;
    platform.serve(waymark_scheduling::run).await;
    let leader = new_caller();
    let (_, teacher) = colleague(leader);
    let school = Uuid::new_v4();
    waymark_testkit::directory::school(
        platform,
        waymark_action_tracking::access::DIRECTORY_TABLE,
        leader,
        school,
        &[teacher],
    )
    .await;
    waymark_testkit::directory::caught_up(platform, waymark_scheduling::DIRECTORY_TABLE, leader)
        .await;
    (address, leader, teacher, school)
}

/// A new action for `teacher` at `school`, under a command id of its own.
pub fn new_action(school: Uuid, teacher: StaffId, description: &str) -> pb::CreateActionRequest {
    pb::CreateActionRequest {
        command_id: Uuid::new_v4().to_string(),
        school_id: school.to_string(),
        description: description.into(),
        owner_id: teacher.to_string(),
        supporter_ids: vec![],
        due_date: "2026-12-11".into(),
        success_criteria: String::new(),
    }
}
