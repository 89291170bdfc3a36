//! Setups more than one test here uses.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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
