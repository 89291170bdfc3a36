//! Every service as its own OS process (`waymark serve <service>`), with two replicas of review
//! dialogue, action tracking and notifications, over NATS JetStream. Twenty progress meetings
//! are closed with an action each; half way, one replica of each of the three is killed
//! (SIGKILL). Nothing is lost or done twice: every action exists once in the store and the
//! read model, and its owner gets exactly one e-mail about it.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};
use uuid::Uuid;
use waymark_domain::directory::Role;
use waymark_proto::action_tracking::v1 as at;
use waymark_proto::action_tracking::v1::action_tracking_client::ActionTrackingClient;
use waymark_proto::review_dialogue::v1 as rd;
use waymark_proto::review_dialogue::v1::review_dialogue_client::ReviewDialogueClient;
use waymark_runtime::auth::Caller;
use waymark_testkit::services::{TEST_KEY, TestPlatform};
use waymark_testkit::smtp::SmtpSink;
use waymark_testkit::{NatsServer, free_port};

const MEETINGS: usize = 20;
const PATIENCE: Duration = Duration::from_secs(60);

/// One `waymark serve <service>` process, killed when dropped.
struct Service {
    child: Child,
}

fn address(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

async fn serve(env: &[(String, String)], service: &str, listen: u16) -> Service {
    let key = format!(
        "WAYMARK_{}__LISTEN",
        service.replace('-', "_").to_uppercase()
    );
    let child = Command::new(env!("CARGO_BIN_EXE_waymark"))
        .args(["serve", service])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env(key, address(listen))
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {service}: {error}"));
    Service { child }
}

impl Service {
    async fn kill(mut self) {
        assert!(
            self.child.try_wait().unwrap().is_none(),
            "the process was still running"
        );
        // SIGKILL: no shutdown, no flush, connections dropped mid-way.
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}

/// Waits until something listens on `port`.
async fn listening(port: u16) {
    let deadline = Instant::now() + PATIENCE;
    while tokio::net::TcpStream::connect(address(port)).await.is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_processes_lose_nothing_and_do_nothing_twice_when_replicas_are_killed() {
    let nats = NatsServer::start().await;
    let platform = TestPlatform::start(None).await;
    let smtp_port = free_port();
    let mail = SmtpSink::start(smtp_port);
    let ports: BTreeMap<&str, u16> = [
        "scheduling",
        "review-dialogue",
        "action-tracking",
        "notifications",
        "gateway",
    ]
    .into_iter()
    .map(|service| (service, free_port()))
    .collect();
    let evidence = std::env::temp_dir().join(format!("waymark-evidence/{}", platform.db.name));
    let mut env: Vec<(String, String)> = vec![
        ("WAYMARK_DATABASE__URL", platform.db.url.clone()),
        ("WAYMARK_DATABASE__MAX_CONNECTIONS", "4".into()),
        ("WAYMARK_AUTH__INTERNAL_KEY", TEST_KEY.into()),
        ("WAYMARK_NATS__URL", nats.url()),
        ("WAYMARK_LOG__FILTER", "warn".into()),
        // The processes' time is the tests' (not the machine's, nor libfaketime's: their
        // environment is cleared), as is the test platform's that signs the caller tokens.
        (
            "WAYMARK_CLOCK__START",
            waymark_testkit::time::start().to_rfc3339(),
        ),
        (
            "WAYMARK_EVIDENCE__FILES__URL",
            format!("file://{}", evidence.display()),
        ),
        ("WAYMARK_NETWORK__ALLOW_LOOPBACK", "true".into()),
        ("WAYMARK_SMTP__MODE", "smtp".into()),
        ("WAYMARK_SMTP__HOST", "127.0.0.1".into()),
        ("WAYMARK_SMTP__PORT", smtp_port.to_string()),
        ("WAYMARK_SMTP__TLS", "none".into()),
        ("WAYMARK_DELIVERY__RETRY_BASE_MS", "100".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (service, port) in &ports {
        let prefix = format!("WAYMARK_{}", service.replace('-', "_").to_uppercase());
        env.push((format!("{prefix}__LISTEN"), address(*port)));
        env.push((
            format!("{prefix}__URL"),
            format!("http://{}", address(*port)),
        ));
    }
    if let Ok(path) = std::env::var("PATH") {
        env.push(("PATH".into(), path));
    }
    let migrated = Command::new(env!("CARGO_BIN_EXE_waymark"))
        .arg("migrate")
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .await
        .unwrap();
    assert!(migrated.status.success(), "{migrated:?}");

    // One process per service, and a second replica of three of them on ports of their own
    // (what calls them goes to the first).
    let mut first = Vec::new();
    for (service, port) in &ports {
        first.push(serve(&env, service, *port).await);
    }
    let mut second = Vec::new();
    for service in ["review-dialogue", "action-tracking", "notifications"] {
        let port = free_port();
        second.push((serve(&env, service, port).await, port));
    }
    for port in ports.values().chain(second.iter().map(|(_, port)| port)) {
        listening(*port).await;
    }

    // A trust, a school, its head and a teacher, through the directory's own commands.
    let bootstrap = waymark_gateway::bootstrap::Bootstrap::new(platform.platform.clone())
        .await
        .unwrap();
    let trust = bootstrap.create_trust("Separate Trust").await.unwrap();
    let school = bootstrap
        .add_school(trust, "Process Primary")
        .await
        .unwrap();
    let head = bootstrap
        .add_person(
            trust,
            "Hana Head",
            "hana.head@example.org",
            &[(Some(school), Role::HeadTeacher)],
        )
        .await
        .unwrap();
    let teacher = bootstrap
        .add_person(
            trust,
            "Tariq Teacher",
            "tariq.teacher@example.org",
            &[(Some(school), Role::ClassTeacher)],
        )
        .await
        .unwrap();
    let caller = Caller {
        trust,
        actor: head.into(),
    };
    let at_port = |service: &str| address(ports[service]).parse().unwrap();
    let mut reviews =
        ReviewDialogueClient::new(platform.client(at_port("review-dialogue"), caller));
    let mut actions =
        ActionTrackingClient::new(platform.client(at_port("action-tracking"), caller));
    // The e-mails about action `n` (its owner hears of each new action once).
    let mailed = |n: usize| {
        let subject = format!("Subject: A new action for you: Action number {n}");
        mail.all()
            .iter()
            .filter(|m| m.lines().any(|line| line.trim_end() == subject))
            .count()
    };
    let command = || Uuid::new_v4().to_string();

    for n in 0..MEETINGS {
        if n == MEETINGS / 2 {
            // Half way: one replica of each killed outright.
            for (service, _) in second.drain(..) {
                service.kill().await;
            }
        }
        // The review dialogue learns the school from the directory's events.
        let deadline = Instant::now() + PATIENCE;
        let scheduled = loop {
            match reviews
                .schedule_meeting(rd::ScheduleMeetingRequest {
                    command_id: command(),
                    school_id: school.to_string(),
                    academic_year: "2026-27".into(),
                    assessment_point: "Autumn assessment".into(),
                    teacher_id: teacher.to_string(),
                    class_group: format!("C{n}"),
                    leader_ids: vec![head.to_string()],
                    date: "2026-11-16".into(),
                    ..Default::default()
                })
                .await
            {
                Ok(reply) => break reply.into_inner(),
                Err(status) => {
                    assert!(Instant::now() < deadline, "{status:?}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        reviews
            .open_meeting(rd::RecordRequest {
                command_id: command(),
                id: scheduled.id.clone(),
            })
            .await
            .unwrap();
        reviews
            .close_meeting(rd::CloseMeetingRequest {
                command_id: command(),
                meeting_id: scheduled.id,
                actions: vec![rd::NextStep {
                    description: format!("Action number {n}"),
                    owner_id: teacher.to_string(),
                    due_date: "2026-12-18".into(),
                    success_criteria: String::new(),
                }],
            })
            .await
            .unwrap();
    }

    // Every action once, in the read model and in the store; one e-mail each.
    let expected: Vec<String> = (0..MEETINGS)
        .map(|n| format!("Action number {n}"))
        .collect();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let listed: Vec<String> = actions
            .list_actions(at::ListActionsRequest {
                school_id: school.to_string(),
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .actions
            .into_iter()
            .map(|a| a.description)
            .collect();
        let all_mailed = (0..MEETINGS).all(|n| mailed(n) >= 1);
        if listed.len() >= MEETINGS && all_mailed {
            let mut sorted = listed.clone();
            sorted.sort();
            let mut wanted = expected.clone();
            wanted.sort();
            assert_eq!(sorted, wanted, "each action once in the read model");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {MEETINGS} actions, mail: {:?}",
            listed.len(),
            mail.all()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // A duplicate would come late, if at all: wait a little, then count.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for n in 0..MEETINGS {
        assert_eq!(mailed(n), 1, "action {n}: {:?}", mail.all());
    }
    let created: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM event_store.events WHERE trust_id = $1 AND event_type = 'ActionCreated'",
    )
    .bind(trust.into_uuid())
    .fetch_one(&platform.platform.pool)
    .await
    .unwrap();
    assert_eq!(
        created, MEETINGS as i64,
        "each action created once in the store"
    );
    for service in first {
        service.kill().await;
    }
}
