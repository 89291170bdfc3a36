//! A school's improvement priorities: its leaders keep them; the people in a record tie it
//! to one; the priority's page shows what is tied to it as far as each reader may read it.

use reqwest::StatusCode;

use crate::http::{Client, hidden, path_of};
use crate::stack::{PASSWORD, Stack, day};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_priority_shows_the_records_tied_to_it_to_those_who_may_read_them() {
    let stack = Stack::start().await;
    let seed = &stack.seed;
    let mut head = Client::signed_in(&stack.base, &seed.head.email, PASSWORD).await;
    let mut teacher = Client::signed_in(&stack.base, &seed.teacher.email, PASSWORD).await;
    let hillside = seed.hillside.to_string();
    let head_id = seed.head.id.to_string();
    let priority = |title: &'static str| {
        vec![
            ("school_id", hillside.clone()),
            ("academic_year", "2026-27".to_owned()),
            ("title", title.to_owned()),
            (
                "intended_impact",
                "Pupils read at pace and with expression".to_owned(),
            ),
            ("lead_id", head_id.clone()),
            (
                "quality_indicators",
                "Reading\nQuality of education".to_owned(),
            ),
        ]
    };
    let fields = priority("Reading fluency in KS2");
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // A class teacher does not change the school's plan.
    let refused = teacher.post("/priorities", &fields).await;
    assert_ne!(refused.status, StatusCode::SEE_OTHER, "{}", refused.body);
    let added = head.post("/priorities", &fields).await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let page = path_of(&added.location, &stack.base);
    let priority_id = page.trim_start_matches("/priorities/").to_owned();
    let list = teacher
        .get(&format!("/priorities?school={hillside}"))
        .await
        .body;
    assert!(list.contains("Reading fluency in KS2"), "{list}");

    // A review of the teacher's Year 4 and an action from their progress meeting.
    let teacher_id = seed.teacher.id.to_string();
    let review = head
        .post(
            "/reviews",
            &[
                ("reviewee_id", &teacher_id),
                ("year_group", "Year 4"),
                ("academic_year", "2026-27"),
                ("window_opens", &day(-3)),
                ("window_closes", &day(10)),
            ],
        )
        .await;
    let review = path_of(&review.location, &stack.base);
    let review_id = review.trim_start_matches("/reviews/").to_owned();
    stack
        .hold_meeting(
            &mut head,
            "4C",
            &day(0),
            &[("Daily paired reading", &day(14))],
        )
        .await;
    // The meeting's action reaches action tracking as an event, a moment after it closes.
    let mut action = None;
    for _ in 0..100 {
        action = teacher
            .get("/actions")
            .await
            .body
            .split("href=\"/actions/")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .map(str::to_owned);
        if action.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let action = action.expect("the teacher's action");

    // The teacher ties both from their pages.
    for (kind, id, path) in [
        ("review", &review_id, review.clone()),
        ("action", &action, format!("/actions/{action}")),
    ] {
        let shown = teacher.get(&path).await.body;
        assert!(shown.contains("Tie to this priority"), "{path}");
        let command = hidden(&shown, "command_id").unwrap();
        let tied = teacher
            .post(
                "/priorities/tie",
                &[
                    ("priority_id", &priority_id),
                    ("kind", kind),
                    ("record_id", id),
                    ("command_id", &command),
                ],
            )
            .await;
        assert_eq!(tied.status, StatusCode::SEE_OTHER, "{}", tied.body);
        assert_eq!(path_of(&tied.location, &stack.base), path);
        let shown = teacher.get(&path).await.body;
        assert!(
            shown.contains(&format!("href=\"/priorities/{priority_id}\"")),
            "{path}"
        );
    }

    // The teacher reads both on the priority's page; the director of education reads the
    // action, but the review is between its two people until agreed, so it is only counted.
    let theirs = teacher.get(&page).await.body;
    assert!(theirs.contains("Year 4 with Tom Teacher"), "{theirs}");
    assert!(theirs.contains("Daily paired reading"), "{theirs}");
    assert!(!theirs.contains("that you may not read"));
    let mut director = Client::signed_in(&stack.base, &seed.director.email, PASSWORD).await;
    let theirs = director.get(&page).await.body;
    assert!(theirs.contains("Daily paired reading"), "{theirs}");
    assert!(!theirs.contains("Year 4 with Tom Teacher"), "{theirs}");
    assert!(
        theirs.contains("1 more tied to it that you may not read"),
        "{theirs}"
    );

    // A colleague may not tie a review they may not read; another school's teacher does not
    // see the priority at all.
    let mut colleague = Client::signed_in(&stack.base, &seed.colleague.email, PASSWORD).await;
    let tied = colleague
        .post(
            "/priorities/tie",
            &[
                ("priority_id", &priority_id),
                ("kind", "review"),
                ("record_id", &review_id),
                ("command_id", &uuid::Uuid::new_v4().to_string()),
            ],
        )
        .await;
    assert_eq!(tied.status, StatusCode::NOT_FOUND, "{}", tied.body);
    let mut other = Client::signed_in(&stack.base, &seed.riverside_teacher.email, PASSWORD).await;
    assert_eq!(other.get(&page).await.status, StatusCode::NOT_FOUND);

    // The pages pass the accessibility checks in a browser.
    let mut browser = crate::browser::Browser::start(&stack.base, "priorities").await;
    browser.sign_in(&seed.head.email, PASSWORD).await;
    for path in [
        format!("/priorities?school={hillside}"),
        page.clone(),
        review.clone(),
    ] {
        browser.visit(&path).await;
    }
    browser.close().await;

    // Retired: what is tied stays, nothing more is tied.
    let retired = head
        .post(
            &format!("{page}/retire"),
            &[("reason", "Met: reading ages up")],
        )
        .await;
    assert_eq!(retired.status, StatusCode::SEE_OTHER, "{}", retired.body);
    let theirs = teacher.get(&page).await.body;
    assert!(theirs.contains("Retired") && theirs.contains("Daily paired reading"));
    stack.platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_weakness_serves_a_priority_for_whoever_may_read_the_audit() {
    let stack = Stack::start().await;
    let seed = &stack.seed;
    let mut head = Client::signed_in(&stack.base, &seed.head.email, PASSWORD).await;
    let mut teacher = Client::signed_in(&stack.base, &seed.teacher.email, PASSWORD).await;
    let hillside = seed.hillside.to_string();
    let priority_id = stack.add_priority(&mut head, "Consistent feedback").await;
    let page = format!("/priorities/{priority_id}");

    // The head audits with the teacher; the teacher records two weaknesses.
    let teacher_id = seed.teacher.id.to_string();
    let started = head
        .post(
            "/audits",
            &[
                ("school_id", hillside.as_str()),
                ("title", "Feedback and marking"),
                ("participant_ids", &teacher_id),
            ],
        )
        .await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let audit = path_of(&started.location, &stack.base);
    let audit_id = audit.trim_start_matches("/audits/").to_owned();
    for text in [
        "Marking differs between classes",
        "Feedback is rarely acted on",
    ] {
        let recorded = teacher
            .post(&format!("{audit}/weakness"), &[("text", text)])
            .await;
        assert_eq!(recorded.status, StatusCode::SEE_OTHER, "{}", recorded.body);
    }
    let tie = |command: String, item: &'static str| {
        vec![
            ("priority_id", priority_id.clone()),
            ("kind", "weakness".to_owned()),
            ("record_id", audit_id.clone()),
            ("item", item.to_owned()),
            ("command_id", command),
        ]
    };
    let shown = teacher.get(&audit).await.body;
    assert!(shown.contains("Priority weakness 2 serves"), "{shown}");
    let fields = tie(hidden(&shown, "command_id").unwrap(), "2");
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let tied = teacher.post("/priorities/tie", &fields).await;
    assert_eq!(tied.status, StatusCode::SEE_OTHER, "{}", tied.body);
    assert_eq!(path_of(&tied.location, &stack.base), audit);

    // The audit's page shows which weakness serves it; the priority's page the weakness.
    let shown = teacher.get(&audit).await.body;
    let second = shown
        .split("Feedback is rarely acted on")
        .nth(1)
        .expect("the second weakness");
    assert!(
        second.contains(&format!("href=\"/priorities/{priority_id}\"")),
        "{shown}"
    );
    let first = shown
        .split("Marking differs between classes")
        .nth(1)
        .unwrap();
    let first = first.split("Feedback is rarely acted on").next().unwrap();
    assert!(
        first.contains("Not tied to an improvement priority"),
        "{shown}"
    );
    let theirs = teacher.get(&page).await.body;
    assert!(
        theirs.contains("Weaknesses found by self-evaluation audits")
            && theirs.contains("Feedback is rarely acted on (found by Feedback and marking)"),
        "{theirs}"
    );

    // A colleague who is not in the audit may not read it while it is open: they may not tie
    // its weaknesses, nor read the one tied.
    let mut colleague = Client::signed_in(&stack.base, &seed.colleague.email, PASSWORD).await;
    let fields = tie(uuid::Uuid::new_v4().to_string(), "1");
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = colleague.post("/priorities/tie", &fields).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.body);
    let theirs = colleague.get(&page).await.body;
    assert!(!theirs.contains("Feedback is rarely acted on"), "{theirs}");
    assert!(
        theirs.contains("1 more tied to it that you may not read"),
        "{theirs}"
    );
    // The audit is found by a word in a weakness, by those who may read it only.
    let rows = |page: &str| page.matches("<tr><td><a href=\"/audits/").count();
    assert_eq!(rows(&teacher.get("/audits?q=marking").await.body), 1);
    assert_eq!(rows(&teacher.get("/audits?q=zebra").await.body), 0);
    assert_eq!(rows(&teacher.get("/audits?status=finalised").await.body), 0);
    assert_eq!(rows(&colleague.get("/audits?q=marking").await.body), 0);
    // A weakness the audit does not have is not found.
    let fields = tie(uuid::Uuid::new_v4().to_string(), "9");
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let missing = teacher.post("/priorities/tie", &fields).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
    stack.platform.stop().await;
}
