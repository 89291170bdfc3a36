//! Administration in the browser: adding staff, importing them from CSV, disabling an
//! account, and the school set-up pages.

use fantoccini::Locator;
use reqwest::StatusCode;

use std::time::Duration;

use waymark_testkit::eventually;
use waymark_testkit::smtp::links_to;

use crate::browser::Browser;
use crate::http::{Client, first_option, path_of};
use crate::stack::{PASSWORD, Stack};

/// Uploads a staff file; returns the problem the page reports, if any.
pub async fn upload(
    browser: &mut Browser,
    name: &str,
    content: &str,
    refused: bool,
) -> Option<String> {
    let path = std::env::temp_dir().join(format!("{}-{name}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, content).unwrap();
    browser
        .client
        .find(Locator::Css("#file"))
        .await
        .unwrap()
        .send_keys(path.to_str().unwrap())
        .await
        .unwrap();
    if refused {
        Some(browser.press_refused("Import").await)
    } else {
        browser.press("Import").await;
        None
    }
}

/// The e-mail the sink received for `address`, once it has.
async fn mail_to(stack: &Stack, address: &str) -> String {
    let find = || {
        stack
            .mail
            .all()
            .into_iter()
            .find(|m| m.contains(&format!("<{address}>")))
    };
    eventually(Duration::from_secs(30), address, || async {
        find().is_some()
    })
    .await;
    find().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_active_account_is_never_handed_an_invitation() {
    let stack = Stack::start().await;
    let mut admin = Client::signed_in(&stack.base, &stack.seed.admin.email, PASSWORD).await;
    let teacher = format!("/admin/staff/{}", stack.seed.teacher.id);
    let page = admin.get(&teacher).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !page.body.contains("Send the invitation again")
            && page.body.contains("signs in with their password"),
        "{}",
        page.body
    );
    let refused = admin.post(&format!("{teacher}/invite"), &[]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("this account is already active"));
    assert!(!refused.body.contains("/invitations/"), "no link is shown");
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM gateway.invitations WHERE staff_id = $1")
            .bind(stack.seed.teacher.id.into_uuid())
            .fetch_one(&stack.platform.platform.pool)
            .await
            .unwrap();
    assert_eq!(stored, 0, "and none is made");
    stack.platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_add_and_import_staff_and_disabling_signs_people_out() {
    let stack = Stack::start().await;
    let seed = &stack.seed;
    let mut browser = Browser::start(&stack.base, "administration").await;
    browser.sign_in(&seed.admin.email, PASSWORD).await;
    browser.visit("/admin").await;
    browser.follow("Staff, roles and line management").await;

    // One person by hand: they get an invitation link.
    browser.fill("#name", "Nia Newcomer").await;
    browser.fill("#email", "nia.newcomer@example.org").await;
    browser.choose("#role", "class_teacher").await;
    browser
        .choose("#school_id", &seed.hillside.to_string())
        .await;
    browser.press("Add and invite").await;
    let link = browser.value("#invitation-link").await;
    assert!(link.starts_with(&format!("{}/invitations/", stack.base)));
    assert!(
        browser
            .text()
            .await
            .contains("An invitation is on its way to nia.newcomer@example.org.")
    );
    // The invitation is e-mailed, with the same working link.
    let mailed = mail_to(&stack, "nia.newcomer@example.org").await;
    assert!(mailed.contains("Set up your Waymark sign-in"), "{mailed}");
    assert_eq!(links_to(&mailed, &stack.base), std::slice::from_ref(&link));
    assert_eq!(
        Client::new(&stack.base)
            .get(link.strip_prefix(&stack.base).unwrap())
            .await
            .status,
        StatusCode::OK
    );

    // A file with a mistake imports nothing and says which row.
    let bad = "name,email,school,role\nPriya Patel,priya.patel@example.org,Hillside Primary,Class teacher\nQuinn Quill,quinn.quill@example.org,Nowhere School,Class teacher\n";
    let problem = upload(&mut browser, "bad.csv", bad, true).await.unwrap();
    assert!(problem.contains("Nothing was imported"), "{problem}");
    let page = browser.text().await;
    assert!(page.contains("Row 3"), "{page}");
    assert!(!page.contains("priya.patel@example.org"));

    // The corrected file imports everyone, with line managers by e-mail.
    let good = format!(
        "\u{feff}name,email,school,role,line_manager_email\nPriya Patel,priya.patel@example.org,Hillside Primary,Class teacher,{}\nQuinn Quill,quinn.quill@example.org,Riverside Primary,Middle leader,\n",
        seed.head.email
    );
    upload(&mut browser, "good.csv", &good, false).await;
    let page = browser.text().await;
    assert!(
        page.contains(
            "Row 2: Priya Patel added. An invitation is on its way to priya.patel@example.org."
        ) && page.contains("Row 3: Quinn Quill added."),
        "{page}"
    );
    for address in ["priya.patel@example.org", "quinn.quill@example.org"] {
        let mailed = mail_to(&stack, address).await;
        assert!(mailed.contains("/invitations/"), "{mailed}");
    }
    let priya = browser
        .client
        .find(Locator::XPath(
            "//tr[td/a[normalize-space()='Priya Patel']]",
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        priya.contains("Helen Head") && priya.contains("Class teacher, Hillside Primary"),
        "{priya}"
    );
    // The same file again changes nothing.
    upload(&mut browser, "good-again.csv", &good, false).await;
    assert!(
        browser
            .text()
            .await
            .contains("Row 2: Priya Patel was already here.")
    );

    // Disabling an account ends its sessions at once.
    let mut colleague = Client::signed_in(&stack.base, &seed.colleague.email, PASSWORD).await;
    browser.follow("Cara Colleague").await;
    browser
        .press("Disable the account (signs them out everywhere)")
        .await;
    assert!(browser.text().await.contains("Disabled"));
    assert_eq!(colleague.get("/").await.status, StatusCode::SEE_OTHER);
    let again = Client::new(&stack.base)
        .post_form(
            "/sign-in",
            &[("email", &seed.colleague.email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);

    // The school set-up pages.
    browser.visit("/admin/schools").await;
    browser.fill("#name", "Lakeside Primary").await;
    browser.press("Add the school").await;
    assert!(browser.text().await.contains("Lakeside Primary"));
    browser
        .visit(&format!(
            "/admin/calendar?school={}&year=2026-27",
            seed.hillside
        ))
        .await;
    browser.fill("#term0n", "Autumn term").await;
    browser.set_date("#term0s", "2026-09-02").await;
    browser.set_date("#term0e", "2026-12-18").await;
    browser.fill("#hol0n", "Autumn half term").await;
    browser.set_date("#hol0s", "2026-10-26").await;
    browser.set_date("#hol0e", "2026-10-30").await;
    browser.fill("#pt0n", "Autumn assessment").await;
    browser.set_date("#pt0d", "2026-12-01").await;
    browser.press("Save the calendar").await;
    let saved = browser.value("#term0n").await;
    assert_eq!(saved, "Autumn term");

    // The head's calendar now goes by those terms; outside them it says why it shows a week.
    let mut head = Client::signed_in(&stack.base, &seed.head.email, PASSWORD).await;
    for (query, heading) in [
        ("view=term&date=2026-10-28", "Autumn term"),
        ("view=half-term&date=2026-10-01", "Autumn term, first half"),
        ("view=half-term&date=2026-11-23", "Autumn term, second half"),
        ("view=term&date=2026-12-28", "Week of 28 December 2026"),
    ] {
        let page = head.get(&format!("/calendar?{query}")).await.body;
        assert!(
            page.contains(&format!("<span class=\"caption\">{heading}</span>")),
            "{query}: {page}"
        );
    }
    let holiday = head.get("/calendar?view=term&date=2026-12-28").await.body;
    assert!(
        holiday.contains("Hillside Primary has no term on 28 December 2026"),
        "{holiday}"
    );
    browser
        .visit(&format!(
            "/admin/plan?school={}&year=2026-27",
            seed.hillside
        ))
        .await;
    browser.press("Adopt this plan").await;
    assert!(browser.text().await.contains("Generate the year"));
    // The school changes its copy: observation visits in November and March only, with a
    // checklist line of its own.
    browser
        .visit(&format!(
            "/admin/plan/activity?school={}&year=2026-27&key=classroom_observation_visit",
            seed.hillside
        ))
        .await;
    for month in [10, 2, 5, 11, 3] {
        browser.tick(&format!("#month-{month}")).await;
    }
    browser
        .fill(
            "#head_teacher",
            "Agree focus ahead of visit\nVisit the nursery too",
        )
        .await;
    browser.press("Save the activity").await;
    let plan = browser.text().await;
    assert!(
        plan.contains("Classroom observation visit Nov, Mar"),
        "{plan}"
    );
    // The trust's default plan gains an activity; Hillside's adopted copy does not.
    browser.visit("/admin/plan?school=trust").await;
    browser.press("Start the trust's default plan").await;
    browser.follow("Add an activity").await;
    browser.fill("#name", "Book look").await;
    browser.tick("#month-1").await;
    browser
        .fill(
            "#class_teacher",
            "Choose six books\nNote the feedback given",
        )
        .await;
    browser
        .fill("#impact", "Consistent feedback across classes")
        .await;
    browser.press("Save the activity").await;
    assert!(browser.text().await.contains("Book look Jan"));
    browser
        .visit("/admin/plan/activity?school=trust&year=2026-27&key=book_look")
        .await;
    assert_eq!(
        browser.value("#class_teacher").await,
        "Choose six books\nNote the feedback given"
    );
    browser
        .visit(&format!(
            "/admin/plan?school={}&year=2026-27",
            seed.hillside
        ))
        .await;
    assert!(!browser.text().await.contains("Book look"));
    browser.visit("/admin/catalogue").await;
    browser
        .fill(
            "#new-look_for",
            "Retrieval practice at the start of lessons",
        )
        .await;
    browser
        .press_at("//form[.//input[@id='new-look_for']]//button")
        .await;
    assert!(
        browser
            .text()
            .await
            .contains("Retrieval practice at the start of lessons")
    );
    browser.visit("/admin/sso").await;
    // The audit trail: not checked yet on this new trust; checked on request.
    browser.visit("/admin/audit-trail").await;
    assert!(browser.text().await.contains("Not yet"));
    browser.press("Check now").await;
    let checked = browser.text().await;
    assert!(checked.contains("Intact"), "{checked}");
    assert!(
        checked.contains("Not set up"),
        "no audit key in this stack: {checked}"
    );
    // A school's chat webhook: set from here, its secret shown once, its address as a host.
    browser.visit("/admin").await;
    browser.follow("Chat webhooks").await;
    let hillside = stack.seed.hillside;
    browser
        .fill(&format!("#url-{hillside}"), "http://10.0.0.5/hook")
        .await;
    let refused = browser.press_refused("Save for Hillside Primary").await;
    assert!(refused.contains("private or reserved"), "{refused}");
    browser
        .fill(
            &format!("#url-{hillside}"),
            "https://hooks.chat.example.org/services/T0/B0/token",
        )
        .await;
    browser.press("Save for Hillside Primary").await;
    let set = browser.text().await;
    assert!(set.contains("Webhook set for Hillside Primary"), "{set}");
    assert!(set.contains("whsec_"), "{set}");
    assert!(set.contains("Posts to hooks.chat.example.org"), "{set}");
    assert!(
        !set.contains("token"),
        "the address itself is not shown: {set}"
    );
    browser.visit("/admin/webhooks").await;
    assert!(!browser.text().await.contains("whsec_"), "shown once only");
    browser.visit("/trust").await;
    browser.close().await;
    stack.platform.stop().await;
}

/// Starts an audit of Hillside with the given framework; returns its first statement's page.
async fn audit_statement(stack: &Stack, head: &mut Client, framework: &str, title: &str) -> String {
    let audit = head
        .post(
            "/audits",
            &[
                ("school_id", &stack.seed.hillside.to_string()),
                ("title", title),
                ("framework_id", framework),
            ],
        )
        .await;
    assert_eq!(audit.status, StatusCode::SEE_OTHER, "{}", audit.body);
    format!(
        "{}/statements/kq.expectations",
        path_of(&audit.location, &stack.base)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_administrators_keep_their_frameworks_without_changing_audits_taken() {
    let stack = Stack::start().await;
    let seed = &stack.seed;
    let mut head = Client::signed_in(&stack.base, &seed.head.email, PASSWORD).await;
    // The default framework is the only one so far.
    let default = first_option(&head.get("/audits/new").await.body, "framework_id");
    let before = audit_statement(&stack, &mut head, &default, "Before the change").await;

    // The trust's own word for amber, on the default framework.
    let mut browser = Browser::start(&stack.base, "frameworks").await;
    browser.sign_in(&seed.admin.email, PASSWORD).await;
    browser.visit("/admin").await;
    browser.follow("Self-evaluation frameworks").await;
    assert!(browser.text().await.contains("As supplied"));
    browser
        .follow("How good is our monitoring and tracking?")
        .await;
    browser.fill("#label-amber", "Developing").await;
    browser.press("Publish").await;
    assert_eq!(browser.path().await, "/admin/frameworks");
    assert!(browser.text().await.contains("Version 1"));

    // A framework of its own: a mistake is named by its line and nothing typed is lost.
    browser.follow("Add a framework").await;
    browser.fill("#name", "Inspection readiness").await;
    browser
        .fill("#statements", "The curriculum is ambitious for all pupils.")
        .await;
    let problem = browser.press_refused("Publish").await;
    assert!(
        problem.contains("Line 1: start with a section heading"),
        "{problem}"
    );
    assert_eq!(browser.value("#name").await, "Inspection readiness");
    browser
        .fill(
            "#statements",
            "# Quality of education\nqe.intent: The curriculum is ambitious for all pupils.\nPupils read widely and often.",
        )
        .await;
    browser.fill("#rubric-0-level", "Good").await;
    browser
        .fill("#rubric-0-descriptor", "Most pupils, most of the time.")
        .await;
    browser.press("Publish").await;
    browser.follow("Inspection readiness").await;
    let statements = browser.value("#statements").await;
    assert_eq!(
        statements,
        "# section-1: Quality of education\nqe.intent: The curriculum is ambitious for all pupils.\nsection-1.1: Pupils read widely and often.\n"
    );
    // Another framework can start as a copy of one the trust has.
    browser.visit("/admin/frameworks").await;
    browser
        .follow("Copy How good is our monitoring and tracking?")
        .await;
    assert_eq!(
        browser.path().await.split('?').next(),
        Some("/admin/frameworks/new")
    );
    assert_eq!(
        browser.value("#name").await,
        "How good is our monitoring and tracking? (copy)"
    );
    assert_eq!(browser.value("#label-amber").await, "Developing");
    assert!(
        browser
            .value("#statements")
            .await
            .contains("kq.expectations: ")
    );
    browser.close().await;

    // Leaders can start audits with it; the audit taken before keeps the words it had.
    assert!(
        head.get("/audits/new")
            .await
            .body
            .contains("Inspection readiness")
    );
    let after = audit_statement(&stack, &mut head, &default, "After the change").await;
    let old = head.get(&before).await.body;
    let new = head.get(&after).await.body;
    assert!(
        old.contains(">Amber<") && !old.contains("Developing"),
        "{old}"
    );
    assert!(new.contains(">Developing<"), "{new}");
    stack.platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_trust_administrator_shares_agreed_records_with_more_roles() {
    let stack = Stack::start().await;
    let mut head = Client::signed_in(&stack.base, &stack.seed.head.email, PASSWORD).await;
    assert_eq!(
        head.get("/admin/sharing").await.status,
        StatusCode::NOT_FOUND
    );
    let refused = head
        .post("/admin/sharing", &[("role", "middle_leader")])
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    // Nor are the schools' webhooks, nor the trust's audit trail, a head teacher's.
    assert_eq!(
        head.get("/admin/webhooks").await.status,
        StatusCode::NOT_FOUND
    );
    let school = stack.seed.hillside.to_string();
    assert_eq!(
        head.post(
            "/admin/webhooks",
            &[
                ("school_id", school.as_str()),
                ("url", "https://x.example.org/")
            ]
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        head.get("/admin/audit-trail").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        head.post("/admin/audit-trail", &[]).await.status,
        StatusCode::NOT_FOUND
    );

    let mut admin = Client::signed_in(&stack.base, &stack.seed.admin.email, PASSWORD).await;
    let saved = admin
        .post(
            "/admin/sharing",
            &[
                ("command_id", &uuid::Uuid::new_v4().to_string()),
                ("role", "middle_leader"),
                ("role", "senior_leader"),
                ("role", "head_teacher"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let shared: serde_json::Value = sqlx::query_scalar(
        "SELECT doc -> 'agreed_record_readers' FROM gateway.directories WHERE trust_id = $1",
    )
    .bind(stack.seed.trust.into_uuid())
    .fetch_one(&stack.platform.platform.pool)
    .await
    .unwrap();
    assert_eq!(
        shared,
        serde_json::json!(["senior_leader", "middle_leader"]),
        "the head teacher reads them already: not a choice"
    );
    let page = admin.get("/admin/sharing").await;
    assert!(
        page.body.contains(r#"value="middle_leader" checked"#),
        "{}",
        page.body
    );
}

/// A 100-person staff import while notifications accepts connections and never answers:
/// the import completes, every service's copy of the directory takes everyone in, and a
/// command elsewhere still reads its own write. The contacts and invitation e-mails wait in
/// their outboxes for notifications; none is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_import_while_notifications_never_answers_holds_nothing_else_up() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let stack = Stack::start_configured(
        std::sync::Arc::new(waymark_testkit::time::clock()),
        &[("notifications.url", silent_url.as_str())],
    )
    .await;
    let seed = &stack.seed;
    let mut browser = Browser::start(&stack.base, "silent-notifications").await;
    browser.sign_in(&seed.admin.email, PASSWORD).await;
    browser.visit("/admin/staff").await;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let mut file = String::from("name,email,school,role\n");
    for n in 1..=100 {
        file.push_str(&format!(
            "Person {n},person.{n}.{tag}@example.org,Hillside Primary,Class teacher\n"
        ));
    }
    upload(&mut browser, "staff.csv", &file, false).await;
    let page = browser.text().await;
    assert!(page.contains("Row 101: Person 100 added."), "{page}");
    browser.close().await;

    let caller = waymark_runtime::auth::Caller {
        trust: seed.trust,
        actor: waymark_domain::ids::ActorId::from_uuid(seed.admin.id.into_uuid()),
    };
    for table in [
        waymark_action_tracking::access::DIRECTORY_TABLE,
        waymark_review_dialogue::DIRECTORY_TABLE,
        waymark_scheduling::DIRECTORY_TABLE,
        waymark_notifications::DIRECTORY_TABLE,
    ] {
        waymark_testkit::directory::caught_up(&stack.platform, table, caller).await;
    }
    let mut head = Client::signed_in(&stack.base, &seed.head.email, PASSWORD).await;
    let priority = stack.add_priority(&mut head, "Reading for pleasure").await;
    let page = head.get(&format!("/priorities/{priority}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Reading for pleasure"), "{}", page.body);
    let waiting: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM gateway.contact_outbox WHERE contact->>'email' LIKE $1",
    )
    .bind(format!("%.{tag}@example.org"))
    .fetch_one(&stack.platform.platform.pool)
    .await
    .unwrap();
    assert_eq!(waiting, 100, "every contact waits for notifications");
    let invitations: i64 =
        sqlx::query_scalar("SELECT count(*) FROM gateway.invitation_outbox WHERE email LIKE $1")
            .bind(format!("%.{tag}@example.org"))
            .fetch_one(&stack.platform.platform.pool)
            .await
            .unwrap();
    assert_eq!(invitations, 100, "and every invitation e-mail");
    stack.platform.stop().await;
}
