//! The whole of Waymark running in-process on port 0 over a private NATS, with a trust set
//! up: two schools, their people, and a second trust that must stay invisible.

use std::sync::Arc;

use reqwest::StatusCode;

use tokio::net::TcpListener;
use waymark_domain::directory::Role;
use waymark_domain::{SchoolId, StaffId, TrustId};
use waymark_gateway::bootstrap::Bootstrap;
use waymark_runtime::Clock;
use waymark_testkit::NatsServer;
use waymark_testkit::services::TestPlatform;
use waymark_testkit::smtp::SmtpSink;

use crate::http::{Client, path_of};

pub const PASSWORD: &str = "correct horse battery staple";

pub struct Person {
    pub id: StaffId,
    pub email: String,
}

pub struct Seed {
    pub trust: TrustId,
    pub hillside: SchoolId,
    pub riverside: SchoolId,
    /// Head teacher of Hillside; line manages the teachers there.
    pub head: Person,
    /// A class teacher at Hillside, line managed by the head.
    pub teacher: Person,
    /// Another class teacher at Hillside.
    pub colleague: Person,
    /// A class teacher at Riverside.
    pub riverside_teacher: Person,
    /// Director of education: a trust role.
    pub director: Person,
    /// The trust's administrator.
    pub admin: Person,
    /// Someone in another trust altogether.
    pub outsider: Person,
}

pub struct Stack {
    pub platform: TestPlatform,
    pub base: String,
    pub seed: Seed,
    pub bootstrap: Bootstrap,
    /// Where notifications sends every e-mail.
    pub mail: SmtpSink,
    /// Scheduling's gRPC address, for what the web does not do yet (generating a year).
    pub scheduling: std::net::SocketAddr,
    /// Action tracking's, for what a page cannot reach (another school's occurrence).
    pub actions: std::net::SocketAddr,
    /// Review dialogue's.
    pub reviews: std::net::SocketAddr,
    _nats: NatsServer,
}

async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

/// The date `offset` days from the tests' today ([`waymark_testkit::time::today`]).
pub fn day(offset: i64) -> String {
    (waymark_testkit::time::today() + chrono::Duration::days(offset)).to_string()
}

impl Stack {
    /// An improvement priority of Hillside for 2026-27 led by the head, added by `head`;
    /// returns its id.
    pub async fn add_priority(&self, head: &mut Client, title: &str) -> String {
        let school = self.seed.hillside.to_string();
        let lead = self.seed.head.id.to_string();
        let added = head
            .post(
                "/priorities",
                &[
                    ("school_id", school.as_str()),
                    ("academic_year", "2026-27"),
                    ("title", title),
                    ("intended_impact", "Pupils make better progress"),
                    ("lead_id", &lead),
                ],
            )
            .await;
        assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
        path_of(&added.location, &self.base)
            .trim_start_matches("/priorities/")
            .to_owned()
    }

    /// A progress meeting of the teacher's class held by `head`, closed with the given
    /// actions (description, due date) for the teacher; returns the meeting's path.
    pub async fn hold_meeting(
        &self,
        head: &mut Client,
        class_group: &str,
        date: &str,
        actions: &[(&str, &str)],
    ) -> String {
        let teacher = self.seed.teacher.id.to_string();
        let meeting = head
            .post(
                "/meetings",
                &[
                    ("teacher_id", &teacher),
                    ("class_group", class_group),
                    ("assessment_point", "Autumn"),
                    ("academic_year", "2026-27"),
                    ("date", date),
                ],
            )
            .await;
        assert_eq!(meeting.status, StatusCode::SEE_OTHER, "{}", meeting.body);
        let meeting = path_of(&meeting.location, &self.base);
        let opened = head.post(&format!("{meeting}/open"), &[]).await;
        assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);
        let mut fields = Vec::new();
        for (n, (description, due)) in actions.iter().enumerate() {
            fields.push((format!("action.{n}.description"), (*description).to_owned()));
            fields.push((format!("action.{n}.owner"), teacher.clone()));
            fields.push((format!("action.{n}.due"), (*due).to_owned()));
        }
        let fields: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let closed = head.post(&format!("{meeting}/close"), &fields).await;
        assert_eq!(closed.status, StatusCode::SEE_OTHER, "{}", closed.body);
        meeting
    }

    pub async fn start() -> Self {
        Self::start_with_clock(Arc::new(waymark_testkit::time::clock())).await
    }

    pub async fn start_with_clock(clock: Arc<dyn Clock>) -> Self {
        Self::start_configured(clock, &[]).await
    }

    /// With extra configuration values (e.g. where evidence files go).
    pub async fn start_configured(clock: Arc<dyn Clock>, extra: &[(&str, &str)]) -> Self {
        let nats = NatsServer::start().await;
        let (scheduling, scheduling_url) = listener().await;
        let scheduling_address = scheduling.local_addr().unwrap();
        let (reviews, reviews_url) = listener().await;
        let reviews_address = reviews.local_addr().unwrap();
        let (actions, actions_url) = listener().await;
        let actions_address = actions.local_addr().unwrap();
        let (notifications, notifications_url) = listener().await;
        let (gateway, gateway_url) = listener().await;
        let smtp_port = waymark_testkit::free_port();
        let mail = SmtpSink::start(smtp_port);
        let smtp_port = smtp_port.to_string();
        let mut platform = TestPlatform::start_configured(
            Some(nats.url()),
            clock,
            &[
                ("scheduling.url", scheduling_url.as_str()),
                ("review_dialogue.url", reviews_url.as_str()),
                ("action_tracking.url", actions_url.as_str()),
                ("notifications.url", notifications_url.as_str()),
                ("gateway.url", gateway_url.as_str()),
                ("smtp.mode", "smtp"),
                ("smtp.host", "127.0.0.1"),
                ("smtp.port", smtp_port.as_str()),
                ("smtp.tls", "none"),
                ("delivery.retry_base_ms", "100"),
                // Tests play clients at different addresses with this header; without it, a
                // request counts as coming from its connection's address (127.0.0.1).
                ("web.client_address_header", "x-test-client"),
            ]
            .into_iter()
            .chain(extra.iter().copied())
            .collect::<Vec<_>>(),
        )
        .await;
        platform.serve_on(scheduling, waymark_scheduling::run);
        platform.serve_on(reviews, waymark_review_dialogue::run);
        platform.serve_on(actions, waymark_action_tracking::run);
        platform.serve_on(notifications, waymark_notifications::run);
        platform.serve_on(gateway, waymark_gateway::run);
        let bootstrap = Bootstrap::new(platform.platform.clone()).await.unwrap();
        let seed = seed(&bootstrap).await;
        Self {
            platform,
            base: gateway_url,
            seed,
            bootstrap,
            mail,
            scheduling: scheduling_address,
            actions: actions_address,
            reviews: reviews_address,
            _nats: nats,
        }
    }
}

async fn person(
    b: &Bootstrap,
    trust: TrustId,
    name: &str,
    roles: &[(Option<SchoolId>, Role)],
) -> Person {
    let email = format!(
        "{}.{}@example.org",
        name.to_lowercase().replace(' ', "."),
        uuid::Uuid::new_v4().simple()
    );
    let id = b.add_person(trust, name, &email, roles).await.unwrap();
    b.set_password(trust, id, PASSWORD).await.unwrap();
    Person { id, email }
}

async fn seed(b: &Bootstrap) -> Seed {
    let trust = b
        .create_trust("Northern Lights Learning Trust")
        .await
        .unwrap();
    let hillside = b.add_school(trust, "Hillside Primary").await.unwrap();
    let riverside = b.add_school(trust, "Riverside Primary").await.unwrap();
    let head = person(
        b,
        trust,
        "Helen Head",
        &[(Some(hillside), Role::HeadTeacher)],
    )
    .await;
    let teacher = person(
        b,
        trust,
        "Tom Teacher",
        &[(Some(hillside), Role::ClassTeacher)],
    )
    .await;
    let colleague = person(
        b,
        trust,
        "Cara Colleague",
        &[(Some(hillside), Role::ClassTeacher)],
    )
    .await;
    let riverside_teacher = person(
        b,
        trust,
        "Rory Rivers",
        &[(Some(riverside), Role::ClassTeacher)],
    )
    .await;
    let director = person(b, trust, "Dana Director", &[(None, Role::TrustLeader)]).await;
    let admin = person(b, trust, "Alex Admin", &[(None, Role::TrustAdmin)]).await;
    b.set_line_manager(trust, teacher.id, head.id)
        .await
        .unwrap();
    b.set_line_manager(trust, colleague.id, head.id)
        .await
        .unwrap();
    b.set_line_manager(trust, head.id, director.id)
        .await
        .unwrap();
    let elsewhere_trust = b.create_trust("Elsewhere Trust").await.unwrap();
    let elsewhere = b
        .add_school(elsewhere_trust, "Elsewhere Academy")
        .await
        .unwrap();
    let outsider = person(
        b,
        elsewhere_trust,
        "Olly Outsider",
        &[(Some(elsewhere), Role::HeadTeacher)],
    )
    .await;
    Seed {
        trust,
        hillside,
        riverside,
        head,
        teacher,
        colleague,
        riverside_teacher,
        director,
        admin,
        outsider,
    }
}
