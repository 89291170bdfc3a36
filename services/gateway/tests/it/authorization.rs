//! Every route against the people who must not use it: someone from another trust, someone
//! from another school, someone signed out, and someone in the school without the role. They
//! get 404 (never a hint that the record exists), 403 or the sign-in page — and nothing
//! changes.

use std::time::Duration;

use reqwest::StatusCode;

use crate::http::{Client, first_option, path_of};
use crate::stack::{PASSWORD, Stack, day};

struct Records {
    review: String,
    meeting: String,
    visit: String,
    action: String,
    audit: String,
    statement: String,
}

async fn records(stack: &Stack, head: &mut Client) -> Records {
    let seed = &stack.seed;
    let teacher = seed.teacher.id.to_string();
    let review = head
        .post(
            "/reviews",
            &[
                ("reviewee_id", &teacher),
                ("year_group", "Year 4"),
                ("academic_year", "2026-27"),
                ("window_opens", &day(-3)),
                ("window_closes", &day(10)),
            ],
        )
        .await;
    assert_eq!(review.status, StatusCode::SEE_OTHER, "{}", review.body);
    let meeting = head
        .post(
            "/meetings",
            &[
                ("teacher_id", &teacher),
                ("class_group", "4H"),
                ("assessment_point", "Autumn"),
                ("academic_year", "2026-27"),
                ("date", &day(-1)),
            ],
        )
        .await;
    assert_eq!(meeting.status, StatusCode::SEE_OTHER, "{}", meeting.body);
    let meeting = path_of(&meeting.location, &stack.base);
    assert_eq!(
        head.post(&format!("{meeting}/open"), &[]).await.status,
        StatusCode::SEE_OTHER
    );
    let closed = head
        .post(
            &format!("{meeting}/close"),
            &[
                ("action.0.description", "Practise times tables daily"),
                ("action.0.owner", &teacher),
                ("action.0.due", &day(14)),
            ],
        )
        .await;
    assert_eq!(closed.status, StatusCode::SEE_OTHER, "{}", closed.body);
    let visit = head
        .post(
            "/visits",
            &[
                ("teacher_id", &teacher),
                ("kind", "observation"),
                ("date", &day(3)),
                ("focus", "Questioning"),
            ],
        )
        .await;
    assert_eq!(visit.status, StatusCode::SEE_OTHER, "{}", visit.body);
    let new_audit = head.get("/audits/new").await;
    let framework = first_option(&new_audit.body, "framework_id");
    let audit = head
        .post(
            "/audits",
            &[
                ("school_id", &seed.hillside.to_string()),
                ("title", "Audit"),
                ("framework_id", &framework),
            ],
        )
        .await;
    assert_eq!(audit.status, StatusCode::SEE_OTHER, "{}", audit.body);
    let audit = path_of(&audit.location, &stack.base);
    let audit_page = head.get(&audit).await.body;
    let at = audit_page.find("/statements/").unwrap();
    let statement = audit_page[at + "/statements/".len()..]
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    // The meeting's action arrives in action tracking asynchronously.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let action = loop {
        let list = head
            .get(&format!("/actions?school={}", seed.hillside))
            .await
            .body;
        if let Some(at) = list.find("href=\"/actions/") {
            break list[at + "href=\"/actions/".len()..]
                .split('"')
                .next()
                .unwrap()
                .to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the action never arrived"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    Records {
        review: path_of(&review.location, &stack.base)
            .trim_start_matches("/reviews/")
            .to_owned(),
        meeting: meeting.trim_start_matches("/meetings/").to_owned(),
        visit: path_of(&visit.location, &stack.base)
            .trim_start_matches("/visits/")
            .to_owned(),
        action,
        audit: audit.trim_start_matches("/audits/").to_owned(),
        statement,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_reaches_what_is_not_theirs_on_any_route() {
    let stack = Stack::start().await;
    let seed = &stack.seed;
    let mut head = Client::signed_in(&stack.base, &seed.head.email, PASSWORD).await;
    let r = records(&stack, &mut head).await;
    let hillside = seed.hillside.to_string();
    let teacher = seed.teacher.id.to_string();

    // Routes about one record: hidden from anyone who may not see it.
    let record_gets = [
        format!("/actions/{}", r.action),
        format!("/reviews/{}", r.review),
        format!("/reviews/{}/record", r.review),
        format!("/meetings/{}", r.meeting),
        format!("/meetings/{}/record", r.meeting),
        format!("/visits/{}", r.visit),
        format!("/visits/{}/print", r.visit),
        format!("/audits/{}", r.audit),
        format!("/audits/{}/print", r.audit),
        format!("/audits/{}/statements/{}", r.audit, r.statement),
        format!("/actions?school={hillside}"),
        format!("/actions.csv?school={hillside}"),
        format!("/calendar?school={hillside}"),
        format!("/audits/trend?school={hillside}"),
        format!("/admin/staff/{teacher}"),
        format!("/admin/calendar?school={hillside}"),
        format!("/admin/plan?school={hillside}"),
        format!("/admin/plan/activity?school={hillside}"),
    ];
    let record_posts = [
        (
            format!("/actions/{}/complete", r.action),
            vec![("impact", "Claimed by someone else")],
        ),
        (
            format!("/actions/{}/reassign", r.action),
            vec![("owner_id", teacher.as_str()), ("reason", "Leave")],
        ),
        (format!("/reviews/{}/agree", r.review), vec![("draft", "1")]),
        (
            format!("/reviews/{}/autosave", r.review),
            vec![("good_practice", "x")],
        ),
        (
            format!("/reviews/{}/cancel", r.review),
            vec![("text", "gone")],
        ),
        (
            format!("/meetings/{}/cancel", r.meeting),
            vec![("reason", "gone")],
        ),
        (
            format!("/visits/{}/cancel", r.visit),
            vec![("reason", "gone")],
        ),
        (format!("/audits/{}/finalise", r.audit), vec![]),
        (
            format!("/audits/{}/statements/{}", r.audit, r.statement),
            vec![("rating", "red")],
        ),
        (format!("/admin/staff/{teacher}/disable"), vec![]),
        (
            "/admin/calendar".to_owned(),
            vec![("school", hillside.as_str()), ("academic_year", "2026-27")],
        ),
        (
            "/admin/plan".to_owned(),
            vec![
                ("school", hillside.as_str()),
                ("academic_year", "2026-27"),
                ("change", "adopt"),
            ],
        ),
    ];
    // Pages for trust leaders or administrators only.
    let framework = format!(
        "/admin/frameworks/{}",
        first_option(&head.get("/audits/new").await.body, "framework_id")
    );
    let role_gets = [
        "/trust",
        "/audits/heat-map",
        "/admin",
        "/admin/schools",
        "/admin/staff",
        "/admin/catalogue",
        "/admin/sso",
        "/admin/frameworks",
        "/admin/frameworks/new",
        "/admin/plan?school=trust",
        "/admin/plan/activity?school=trust",
        &framework,
    ];
    let role_posts = [
        ("/admin/schools", vec![("name", "Sneaky School")]),
        (
            "/admin/staff",
            vec![
                ("name", "Sneaky"),
                ("email", "sneaky@example.org"),
                ("role", "trust_admin"),
            ],
        ),
        (
            "/admin/catalogue",
            vec![("change", "add"), ("kind", "look_for"), ("label", "Sneaky")],
        ),
        (
            "/admin/sso",
            vec![
                ("provider", "google"),
                ("issuer", "https://evil.example"),
                ("client_id", "x"),
            ],
        ),
        (
            &framework,
            vec![("name", "Sneaky framework"), ("label.red", "R")],
        ),
        (
            "/admin/frameworks",
            vec![
                ("name", "Sneaky framework"),
                ("statements", "# Sneaky\nsneaky.1: Sneaky"),
                ("label.red", "R"),
                ("label.amber", "A"),
                ("label.green", "G"),
            ],
        ),
    ];

    // The head sees them all: the refusals below are about who asks, not broken links.
    for path in &record_gets {
        assert_eq!(
            head.get(path).await.status,
            StatusCode::OK,
            "GET {path} by the head"
        );
    }
    let mut admin = Client::signed_in(&stack.base, &seed.admin.email, PASSWORD).await;
    for path in role_gets {
        assert_eq!(
            admin.get(path).await.status,
            StatusCode::OK,
            "GET {path} by the trust's administrator"
        );
    }

    // The lists as CSV: a line for each record the list shows (headings first).
    let csv_lists = [
        "/reviews.csv",
        "/meetings.csv",
        "/visits.csv",
        "/audits.csv",
    ];
    let lines = |csv: &str| csv.lines().count().saturating_sub(1);
    for path in csv_lists {
        assert_eq!(
            lines(&head.get(path).await.body),
            1,
            "GET {path} by the head"
        );
    }

    let outsider = Client::signed_in(&stack.base, &seed.outsider.email, PASSWORD).await;
    let other_school =
        Client::signed_in(&stack.base, &seed.riverside_teacher.email, PASSWORD).await;
    let no_role = Client::signed_in(&stack.base, &seed.colleague.email, PASSWORD).await;
    for (who, mut client) in [
        ("another trust", outsider),
        ("another school", other_school),
        ("the wrong role", no_role),
    ] {
        // Everyone on a school's staff reads its actions (docs/authorization.md, "Agreed
        // actions"); only the people the rules name act on one.
        let school_reads = |path: &str| who == "the wrong role" && path.starts_with("/actions");
        for path in &record_gets {
            let response = client.get(path).await;
            if school_reads(path) {
                assert_eq!(response.status, StatusCode::OK, "GET {path} by {who}");
                continue;
            }
            assert_eq!(
                response.status,
                StatusCode::NOT_FOUND,
                "GET {path} by {who}"
            );
            assert!(
                !response.body.contains("Year 4") && !response.body.contains("times tables"),
                "GET {path} by {who} leaks"
            );
        }
        for path in csv_lists {
            let response = client.get(path).await;
            assert_eq!(response.status, StatusCode::OK, "GET {path} by {who}");
            assert_eq!(lines(&response.body), 0, "GET {path} by {who} leaks");
        }
        for (path, fields) in &record_posts {
            let response = client.post(path, fields).await;
            let refused = if school_reads(path) {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::NOT_FOUND
            };
            assert_eq!(
                response.status, refused,
                "POST {path} by {who}: {}",
                response.body
            );
        }
        if who == "another trust" {
            // Their own trust's administration, with nothing of ours in it.
            for path in role_gets {
                let body = client.get(path).await.body;
                assert!(
                    !body.contains("Hillside") && !body.contains("Tom Teacher"),
                    "GET {path} by {who} leaks"
                );
            }
            continue;
        }
        for path in role_gets {
            assert_eq!(
                client.get(path).await.status,
                StatusCode::NOT_FOUND,
                "GET {path} by {who}"
            );
        }
        for (path, fields) in &role_posts {
            assert_eq!(
                client.post(path, fields).await.status,
                StatusCode::NOT_FOUND,
                "POST {path} by {who}"
            );
        }
    }

    // Signed out: every page sends to sign-in, every form too.
    let mut anonymous = Client::new(&stack.base);
    let everyday = [
        "/",
        "/actions",
        "/reviews",
        "/reviews/new",
        "/meetings",
        "/meetings/new",
        "/visits",
        "/visits/new",
        "/calendar",
        "/calendar/feed",
        "/inbox",
        "/preferences",
        "/audits",
        "/audits/new",
    ];
    for path in record_gets
        .iter()
        .map(String::as_str)
        .chain(role_gets)
        .chain(everyday)
    {
        let response = anonymous.get(path).await;
        assert_eq!(
            (response.status, response.location.as_str()),
            (StatusCode::SEE_OTHER, "/sign-in"),
            "GET {path} signed out"
        );
    }
    for (path, fields) in record_posts
        .iter()
        .map(|(p, f)| (p.as_str(), f))
        .chain(role_posts.iter().map(|(p, f)| (*p, f)))
    {
        let response = anonymous.post(path, fields).await;
        assert_eq!(
            (response.status, response.location.as_str()),
            (StatusCode::SEE_OTHER, "/sign-in"),
            "POST {path} signed out"
        );
    }
    // A calendar feed address that was never issued.
    assert_eq!(
        anonymous
            .get("/calendar/feeds/guessed-token.ics")
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Nothing changed.
    let action = head.get(&format!("/actions/{}", r.action)).await.body;
    assert!(action.contains("Open") && !action.contains("Claimed by someone else"));
    assert!(
        head.get(&format!("/reviews/{}", r.review))
            .await
            .body
            .contains("Scheduled")
    );
    assert!(
        head.get(&format!("/meetings/{}", r.meeting))
            .await
            .body
            .contains("Closed")
    );
    assert!(
        !head
            .get(&format!("/visits/{}", r.visit))
            .await
            .body
            .contains("Cancelled")
    );
    assert!(
        head.get(&format!("/audits/{}", r.audit))
            .await
            .body
            .contains("In progress")
    );
    let staff = admin.get("/admin/staff").await.body;
    assert!(!staff.contains("Sneaky") && staff.contains("Tom Teacher"));
    assert!(
        !admin
            .get("/admin/schools")
            .await
            .body
            .contains("Sneaky School")
    );
    assert!(!admin.get("/admin/catalogue").await.body.contains("Sneaky"));
    assert!(!admin.get("/admin/sso").await.body.contains("evil.example"));
    assert!(!admin.get("/admin/frameworks").await.body.contains("Sneaky"));
    stack.platform.stop().await;
}
