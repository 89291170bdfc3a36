//! NATS with sign-in and permissions exactly as `deploy/nats/auth.conf` sets them: the services,
//! signed in as `waymark`, publish every event and consume them (an action created in action
//! tracking is planned by scheduling over JetStream); nobody gets in without the password;
//! and `waymark` itself cannot publish outside the event subjects. And the same over TLS, with
//! a certificate authority of the test's own (`nats.ca_file`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use waymark_proto::action_tracking::v1::action_tracking_client::ActionTrackingClient;
use waymark_testkit::services::TestPlatform;
use waymark_testkit::{NatsServer, eventually};

use crate::support::{actions_and_scheduling, certificates, new_action};

const PASSWORD: &str = "a-password-for-the-tests-only";

fn auth_conf() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/nats/auth.conf")
        .canonicalize()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_services_work_signed_in_and_nothing_else_gets_in_or_out() {
    let nats =
        NatsServer::start_including(&auth_conf(), "", &[("WAYMARK_NATS_PASSWORD", PASSWORD)]).await;

    // Nobody without the password.
    let anonymous = async_nats::connect(nats.url()).await;
    assert!(anonymous.is_err(), "signed in without a password");
    let guessed = async_nats::ConnectOptions::new()
        .user_and_password("waymark".into(), "guess".into())
        .connect(nats.url())
        .await;
    assert!(guessed.is_err(), "signed in with a wrong password");

    // The services, signed in: the relay publishes, scheduling's consumer plans.
    let platform = an_action_is_planned_over(
        &nats,
        &[("nats.user", "waymark"), ("nats.password", PASSWORD)],
    )
    .await;

    // Signed in as the services, only the event subjects take a message.
    let (errors, mut refused) = tokio::sync::mpsc::unbounded_channel();
    let services = async_nats::ConnectOptions::new()
        .user_and_password("waymark".into(), PASSWORD.into())
        .event_callback(move |event| {
            let errors = errors.clone();
            async move {
                if let async_nats::Event::ServerError(error) = event {
                    let _ = errors.send(error.to_string());
                }
            }
        })
        .connect(nats.url())
        .await
        .unwrap();
    services
        .publish("anything.else", "forged".into())
        .await
        .unwrap();
    services.flush().await.unwrap();
    let error = tokio::time::timeout(Duration::from_secs(10), refused.recv())
        .await
        .expect("the server refuses the publish")
        .unwrap();
    assert!(error.to_lowercase().contains("permission"), "{error}");
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_services_reach_nats_over_tls_trusting_the_configured_authority() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let nats = NatsServer::start_including(
        &auth_conf(),
        &format!(
            "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n}}",
            cert.display(),
            key.display()
        ),
        &[("WAYMARK_NATS_PASSWORD", PASSWORD)],
    )
    .await;
    let ca = ca.to_string_lossy().into_owned();
    let platform = an_action_is_planned_over(
        &nats,
        &[
            ("nats.user", "waymark"),
            ("nats.password", PASSWORD),
            ("nats.ca_file", ca.as_str()),
        ],
    )
    .await;
    // Without the authority: refused (the server's certificate is not trusted).
    let untrusted = async_nats::ConnectOptions::new()
        .user_and_password("waymark".into(), PASSWORD.into())
        .connect(nats.url())
        .await;
    assert!(
        untrusted.is_err(),
        "connected without trusting the authority"
    );
    platform.stop().await;
}

/// Action tracking and scheduling on `nats` with `settings`: an action created in one is
/// planned by the other, through the relay, JetStream and scheduling's consumer.
async fn an_action_is_planned_over(nats: &NatsServer, settings: &[(&str, &str)]) -> TestPlatform {
    let mut platform = TestPlatform::start_configured(
        Some(nats.url()),
        Arc::new(waymark_testkit::time::clock()),
        settings,
    )
    .await;
    let (address, leader, teacher, school) = actions_and_scheduling(&mut platform).await;
    ActionTrackingClient::new(platform.client(address, leader))
        .create_action(new_action(school, teacher, "Share the marking policy"))
        .await
        .unwrap();
    eventually(
        Duration::from_secs(30),
        "scheduling to plan the action's reminders from JetStream",
        || async {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM scheduling.timers WHERE trust_id = $1",
            )
            .bind(leader.trust.into_uuid())
            .fetch_one(&platform.db.pool)
            .await
            .unwrap_or(0)
                == 5
        },
    )
    .await;
    platform
}
