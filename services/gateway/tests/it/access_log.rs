//! The access log: opening a record is noted with what the reader got; the people it is
//! about see who opened it; trust administrators search everyone's; nobody else sees it.

use reqwest::StatusCode;

use crate::http::{Client, path_of};
use crate::stack::{PASSWORD, Stack, day};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_a_record_is_logged_and_its_people_see_who_read_it() {
    let stack = Stack::start().await;
    let seed = &stack.seed;
    let mut head = Client::signed_in(&stack.base, &seed.head.email, PASSWORD).await;
    let mut teacher = Client::signed_in(&stack.base, &seed.teacher.email, PASSWORD).await;
    let mut colleague = Client::signed_in(&stack.base, &seed.colleague.email, PASSWORD).await;
    let mut admin = Client::signed_in(&stack.base, &seed.admin.email, PASSWORD).await;
    let teacher_id = seed.teacher.id.to_string();
    let review = head
        .post(
            "/reviews",
            &[
                ("reviewee_id", teacher_id.as_str()),
                ("year_group", "Year 4"),
                ("academic_year", "2026-27"),
                ("window_opens", &day(-3)),
                ("window_closes", &day(10)),
            ],
        )
        .await;
    assert_eq!(review.status, StatusCode::SEE_OTHER, "{}", review.body);
    let review = path_of(&review.location, &stack.base);
    let rows = |page: &str| page.matches("<tr><td>").count();
    // Nothing is noted before anyone opens it (scheduling it is not reading it).
    assert_eq!(rows(&teacher.get("/access-log").await.body), 0);

    assert_eq!(head.get(&review).await.status, StatusCode::OK);
    assert_eq!(colleague.get(&review).await.status, StatusCode::NOT_FOUND);
    let log = teacher.get("/access-log").await.body;
    assert_eq!(rows(&log), 2, "{log}");
    let refused = log.split("<tr><td>").nth(1).unwrap();
    assert!(
        refused.contains("Cara Colleague") && refused.contains("Was refused"),
        "{log}"
    );
    let read = log.split("<tr><td>").nth(2).unwrap();
    assert!(
        read.contains("Helen Head") && read.contains("Read it"),
        "{log}"
    );

    // The colleague sees only the log of their own records, whatever they ask for.
    let theirs = colleague
        .get(&format!("/access-log?person={teacher_id}"))
        .await
        .body;
    assert_eq!(rows(&theirs), 0, "{theirs}");
    // A trust administrator finds the refused attempt by its reader.
    let colleague_id = seed.colleague.id.to_string();
    let found = admin
        .get(&format!("/access-log?reader={colleague_id}"))
        .await
        .body;
    assert_eq!(rows(&found), 1, "{found}");
    assert!(found.contains("Was refused"));
    let bad = admin.get("/access-log?from=someday").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    let mut browser = crate::browser::Browser::start(&stack.base, "access_log").await;
    browser.sign_in(&seed.admin.email, PASSWORD).await;
    browser.visit("/access-log").await;
    browser.close().await;
    stack.platform.stop().await;
}
