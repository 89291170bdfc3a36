//! The home page: my actions due this week with the overdue ones first, records awaiting my
//! agreement, and what is coming up for me.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::browser::Browser;
use crate::http::Client;
use crate::stack::{PASSWORD, Stack, day};

/// The page's text between two headings.
fn section<'a>(page: &'a str, heading: &str, next: &str) -> &'a str {
    let start = page.find(heading).expect(heading);
    let end = page[start..].find(next).map_or(page.len(), |n| start + n);
    &page[start..end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_shows_overdue_actions_first_and_what_is_coming_up() {
    let stack = Stack::start().await;
    let seed = &stack.seed;
    let teacher_id = seed.teacher.id.to_string();
    let mut head = Client::signed_in(&stack.base, &seed.head.email, PASSWORD).await;

    // A meeting three weeks ago agreed three actions with the teacher.
    let (later, soon, late) = (day(20), day(3), day(-2));
    stack
        .hold_meeting(
            &mut head,
            "6T",
            &day(-20),
            &[
                ("Moderate writing samples", &later),
                ("New seating plan for 6T", &soon),
                ("Check reading records", &late),
            ],
        )
        .await;

    // A visit to the teacher next week.
    let visit = head
        .post(
            "/visits",
            &[
                ("teacher_id", &teacher_id),
                ("kind", "observation"),
                ("date", &day(5)),
                ("focus", "Questioning"),
            ],
        )
        .await;
    assert_eq!(visit.status, StatusCode::SEE_OTHER, "{}", visit.body);

    // The teacher's home, once action tracking has the meeting's actions.
    let mut teacher = Client::signed_in(&stack.base, &seed.teacher.email, PASSWORD).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let page = loop {
        let page = teacher.get("/").await.body;
        if page.contains("Check reading records") || Instant::now() > deadline {
            break page;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let due = section(&page, "My actions due this week", "Awaiting my agreement");
    let late = due.find("Check reading records").expect(due);
    let soon = due.find("New seating plan for 6T").expect(due);
    assert!(late < soon, "the overdue action comes first: {due}");
    assert!(due[late..soon].contains("Overdue"), "{due}");
    assert!(
        !due.contains("Moderate writing samples"),
        "not due this week: {due}"
    );
    let coming = section(&page, "Coming up for me", "</section>");
    assert!(
        coming.contains("Visit: Helen Head visits Tom Teacher"),
        "the visit is coming up: {coming}"
    );
    assert!(!coming.contains("Action due"), "{coming}");

    // The same page in the browser, checked with axe-core.
    let mut browser = Browser::start(&stack.base, "home").await;
    browser.sign_in(&seed.teacher.email, PASSWORD).await;
    browser.visit("/").await;
    browser.close().await;
    stack.platform.stop().await;
}
