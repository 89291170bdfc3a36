//! Forms: a refusal loses nothing typed, and a form sent twice does its work once.

use reqwest::StatusCode;

use crate::http::Client;
use crate::stack::{PASSWORD, Stack};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_form_comes_back_with_the_reason_and_everything_typed() {
    let stack = Stack::start().await;
    let mut head = Client::signed_in(&stack.base, &stack.seed.head.email, PASSWORD).await;
    let teacher = stack.seed.teacher.id.to_string();
    let refused = head
        .post(
            "/reviews",
            &[
                ("reviewee_id", &teacher),
                ("year_group", "Year 6 – writing"),
                ("academic_year", "2026-27"),
                ("window_opens.day", "10"),
                ("window_opens.month", "12"),
                ("window_opens.year", "2026"),
                ("window_closes.day", "1"),
                ("window_closes.month", "12"),
                ("window_closes.year", "2026"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("There is a problem"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("value=\"Year 6 – writing\""));
    let boxes: Vec<String> = [
        "window_opens.day",
        "window_opens.month",
        "window_opens.year",
        "window_closes.day",
    ]
    .iter()
    .map(|name| value_of(&refused.body, name))
    .collect();
    assert_eq!(boxes, ["10", "12", "2026", "01"]);

    // The same form sent twice (a double click, a retry) schedules one review.
    let command_id = uuid::Uuid::now_v7().to_string();
    let form = [
        ("command_id", command_id.as_str()),
        ("reviewee_id", &teacher),
        ("year_group", "Year 6"),
        ("academic_year", "2026-27"),
        ("window_opens", "2026-12-01"),
        ("window_closes", "2026-12-10"),
    ];
    let first = head.post("/reviews", &form).await;
    let second = head.post("/reviews", &form).await;
    assert_eq!(
        (first.status, second.status),
        (StatusCode::SEE_OTHER, StatusCode::SEE_OTHER)
    );
    assert_eq!(first.location, second.location);
    let list = head.get("/reviews").await.body;
    assert_eq!(
        list.matches("href=\"/reviews/").count() - list.matches("href=\"/reviews/new").count(),
        1,
        "{list}"
    );
    stack.platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_flooded_with_fields_is_refused_before_it_is_read() {
    let stack = Stack::start().await;
    let mut head = Client::signed_in(&stack.base, &stack.seed.head.email, PASSWORD).await;
    // 300,000 empty fields (under 1 MB), and 150,000 date boxes of one name, each of which
    // used to be looked for across the whole form.
    let empty: Vec<(&str, &str)> = vec![("a", ""); 300_000];
    let days: Vec<(&str, &str)> = vec![("due.day", "1"); 150_000];
    for flood in [empty, days] {
        let refused = head.post("/reviews", &flood).await;
        assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(
            refused.body.contains("at most 2000 fields"),
            "{}",
            refused.body
        );
    }
    // A form of ordinary size still goes through to its handler.
    let ordinary = head.post("/reviews", &[("year_group", "Year 6")]).await;
    assert_eq!(ordinary.status, StatusCode::UNPROCESSABLE_ENTITY);
    let list = head.get("/reviews").await;
    assert_eq!(list.status, StatusCode::OK);
    stack.platform.stop().await;
}

/// The value of the input named `name` on a page.
fn value_of(page: &str, name: &str) -> String {
    let at = page
        .find(&format!("name=\"{name}\""))
        .unwrap_or_else(|| panic!("no input {name}"));
    let rest = &page[at..page[at..].find('>').map_or(page.len(), |end| at + end)];
    let start = rest.find("value=\"").expect("a value") + "value=\"".len();
    rest[start..start + rest[start..].find('"').unwrap()].to_owned()
}
