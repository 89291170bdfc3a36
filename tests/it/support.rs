//! Setups more than one test here uses.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use uuid::Uuid;
use waymark_domain::StaffId;
use waymark_proto::action_tracking::v1 as pb;
use waymark_proto::action_tracking::v1::action_tracking_client::ActionTrackingClient;
use waymark_proto::review_dialogue::v1 as rd;
use waymark_proto::review_dialogue::v1::priorities_client::PrioritiesClient;
use waymark_runtime::auth::Caller;
use waymark_testkit::services::{TestPlatform, colleague, new_caller};

/// A gRPC channel whose calls are signed as one caller.
pub type Signed = tonic::service::interceptor::InterceptedService<
    tonic::transport::Channel,
    waymark_runtime::auth::CallAs,
>;

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

/// Action tracking on `listener` (its URL already in the configuration) and review dialogue
/// served on `platform`; a school's leader creates an action and ties it to a new
/// improvement priority, for which review dialogue asks action tracking whether the leader
/// may read the action. Returns (the priority's id, the action's id, the leader's client of
/// review dialogue's priorities).
pub async fn an_action_tied_to_a_priority(
    platform: &mut TestPlatform,
    listener: tokio::net::TcpListener,
) -> (String, String, PrioritiesClient<Signed>) {
    let actions = listener.local_addr().unwrap();
    platform.serve_on(listener, waymark_action_tracking::run);
    let reviews = platform.serve(waymark_review_dialogue::run).await;
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
    waymark_testkit::directory::caught_up(
        platform,
        waymark_review_dialogue::DIRECTORY_TABLE,
        leader,
    )
    .await;
    let action = ActionTrackingClient::new(platform.client(actions, leader))
        .create_action(new_action(school, teacher, "Share the marking policy"))
        .await
        .unwrap()
        .into_inner()
        .action_id;
    let mut priorities = PrioritiesClient::new(platform.client(reviews, leader));
    let priority = priorities
        .add_priority(rd::AddPriorityRequest {
            command_id: Uuid::new_v4().to_string(),
            school_id: school.to_string(),
            academic_year: "2026-27".into(),
            details: Some(rd::PriorityDetails {
                title: "Reading for pleasure".into(),
                intended_impact: "More pupils choose to read".into(),
                lead_id: leader.actor.to_string(),
                quality_indicators: vec![],
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    priorities
        .link_record(rd::LinkRecordRequest {
            command_id: Uuid::new_v4().to_string(),
            priority_id: priority.clone(),
            kind: "action".into(),
            record_id: action.clone(),
            item: 0,
        })
        .await
        .expect("review dialogue asks action tracking about the action");
    (priority, action, priorities)
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
        occurrence_id: String::new(),
    }
}

/// A certificate authority and a certificate for 127.0.0.1 signed by it, made with openssl
/// in `dir`: (the authority's certificate, the server's certificate, its key).
pub fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            // On the test's clock (under libfaketime too): valid from the moment the test
            // process lives in.
            .output()
            .expect("openssl is required for this test");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "3650",
        "-subj",
        "/CN=Waymark test authority",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "3650",
        "-extfile",
        "san.ext",
        "-out",
        "server.pem",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}
