//! A monitoring visit from plan to agreed record, two reviews compared, the printable
//! meeting record and the not-found page — each checked with axe-core in the browser.

use reqwest::StatusCode;

use crate::browser::Browser;
use crate::http::{Client, hidden, path_of};
use crate::stack::{PASSWORD, Stack, day};

/// The value of the first input named `name` on a page.
fn first_value(page: &str, name: &str) -> String {
    let at = page
        .find(&format!("name=\"{name}\" type=\"checkbox\" value=\""))
        .expect(name);
    let rest = &page[at..];
    let start = rest.find("value=\"").unwrap() + "value=\"".len();
    rest[start..start + rest[start..].find('"').unwrap()].to_owned()
}

/// A review of the teacher's Year 3 taken to agreement over HTTP, with `look_for` noted as
/// an area to focus or not.
pub async fn agreed_review(
    stack: &Stack,
    head: &mut Client,
    teacher: &mut Client,
    opens: i64,
    focus: bool,
) -> String {
    let review = drafted_review(stack, head, opens, focus).await;
    let ok = |r: crate::http::Response| assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    ok(head
        .post(&format!("{review}/agree"), &[("draft", "1")])
        .await);
    ok(teacher
        .post(&format!("{review}/agree"), &[("draft", "1")])
        .await);
    review
}

/// A review of the teacher's Year 3 taken to its first draft over HTTP by `head`.
pub async fn drafted_review(stack: &Stack, head: &mut Client, opens: i64, focus: bool) -> String {
    let seed = &stack.seed;
    let scheduled = head
        .post(
            "/reviews",
            &[
                ("reviewee_id", &seed.teacher.id.to_string()),
                ("year_group", "Year 3"),
                ("academic_year", "2026-27"),
                ("window_opens", &day(opens)),
                ("window_closes", &day(opens + 10)),
            ],
        )
        .await;
    assert_eq!(
        scheduled.status,
        StatusCode::SEE_OTHER,
        "{}",
        scheduled.body
    );
    let review = path_of(&scheduled.location, &stack.base);
    draft_review(head, &review, &day(opens + 1), focus).await;
    review
}

/// Takes a scheduled review (`review`, its page) to its first draft over HTTP as `head`: a
/// piece of evidence, the dialogue held on `held_on`, a look-for flagged (`focus`, else
/// exemplary).
pub async fn draft_review(head: &mut Client, review: &str, held_on: &str, focus: bool) {
    let page = head.get(review).await.body;
    let source = page
        .split("id=\"source_id\" name=\"source_id\"><option value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let look_for = first_value(&page, "look_for_ids");
    let ok = |r: crate::http::Response| assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    ok(head
        .post(
            &format!("{review}/evidence"),
            &[("source_id", &source), ("note", "Books and pupil voice")],
        )
        .await);
    ok(head
        .post(
            &format!("{review}/dialogue"),
            &[
                ("held_on", held_on),
                ("both_present", "1"),
                ("discussed", "Reading fluency"),
            ],
        )
        .await);
    let comment = format!("lf.{look_for}.comment");
    let flag = format!(
        "lf.{look_for}.{}",
        if focus { "focus" } else { "exemplary" }
    );
    ok(head
        .post(
            &format!("{review}/draft"),
            &[
                (comment.as_str(), "Fluency"),
                (flag.as_str(), "1"),
                ("good_practice", "Daily reading"),
                ("areas_to_focus", "Fluency"),
            ],
        )
        .await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visit_is_agreed_reviews_compare_and_records_print() {
    let stack = Stack::start().await;
    let seed = &stack.seed;
    let mut head = Client::signed_in(&stack.base, &seed.head.email, PASSWORD).await;
    let mut teacher = Client::signed_in(&stack.base, &seed.teacher.email, PASSWORD).await;
    let mut browser = Browser::start(&stack.base, "visits_and_records").await;

    // The visit: planned by the head, focus agreed by the teacher, recorded, agreed by both.
    browser.sign_in(&seed.head.email, PASSWORD).await;
    browser.follow("Visits").await;
    assert_eq!(browser.path().await, "/visits");
    browser.follow("Plan a visit").await;
    browser
        .choose("#teacher_id", &seed.teacher.id.to_string())
        .await;
    browser.set_date("#date", &day(1)).await;
    browser
        .fill("#focus", "Questioning to check understanding")
        .await;
    browser.press("Plan the visit").await;
    let visit = browser.path().await;
    let csrf = hidden(&teacher.get(&visit).await.body, "_csrf").unwrap();
    teacher.csrf = csrf;
    assert_eq!(
        teacher
            .post(&format!("{visit}/agree-focus"), &[])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    browser.visit(&visit).await;
    browser
        .fill("#observations", "Hinge questions used at each transition.")
        .await;
    browser
        .fill(
            "#feedback",
            "Strong practice; share at the next staff meeting.",
        )
        .await;
    browser
        .fill("#s0d", "Share hinge questions with Year 4")
        .await;
    browser.set_date("#s0due", &day(30)).await;
    browser.press("Save the record").await;
    // The visitor wrote the record; agreeing it is the teacher's part.
    let waiting = browser.text().await;
    assert!(
        waiting.contains("Waiting for Tom Teacher to agree"),
        "{waiting}"
    );
    assert!(!waiting.contains("I agree this record"), "{waiting}");
    // Agreement names the record version the teacher read; any other is refused.
    assert_eq!(
        teacher
            .post(&format!("{visit}/agree"), &[("record_version", "0")])
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        teacher
            .post(&format!("{visit}/agree"), &[("record_version", "1")])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    browser.visit(&visit).await;
    assert!(
        browser.text().await.contains("Agreed"),
        "{}",
        browser.text().await
    );
    browser.follow("Printable record").await;
    let printed = browser.text().await;
    for part in [
        "Monitoring visit record",
        "Questioning to check understanding",
        "Hinge questions used at each transition.",
        "Share hinge questions with Year 4",
        "Agreed",
    ] {
        assert!(printed.contains(part), "{part}: {printed}");
    }
    // Not for a colleague who may not read the visit.
    let mut colleague = Client::signed_in(&stack.base, &seed.colleague.email, PASSWORD).await;
    let refused = colleague.get(&format!("{visit}/print")).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    assert!(!refused.body.contains("Hinge questions"));

    // Two agreed reviews of the year group, compared.
    let first = agreed_review(&stack, &mut head, &mut teacher, -60, true).await;
    agreed_review(&stack, &mut head, &mut teacher, -5, false).await;
    browser.visit(&first).await;
    browser
        .follow("Compare with this year group’s other review")
        .await;
    let compared = browser.text().await;
    assert!(compared.contains("Area to focus covered"), "{compared}");
    // Nobody else reaches the comparison: not another trust, another school or a colleague.
    let comparison = browser.path().await;
    assert!(comparison.starts_with("/reviews/compare?"), "{comparison}");
    for person in [&seed.outsider, &seed.riverside_teacher, &seed.colleague] {
        let mut client = Client::signed_in(&stack.base, &person.email, PASSWORD).await;
        let response = client.get(&comparison).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{}", person.email);
        assert!(!response.body.contains("Year 3"), "{}", person.email);
    }

    // A meeting's printable record, and a page that is not there.
    let meeting = head
        .post(
            "/meetings",
            &[
                ("teacher_id", &seed.teacher.id.to_string()),
                ("class_group", "3C"),
                ("assessment_point", "Autumn"),
                ("academic_year", "2026-27"),
                ("date", &day(2)),
            ],
        )
        .await;
    browser
        .visit(&format!(
            "{}/record",
            path_of(&meeting.location, &stack.base)
        ))
        .await;
    assert!(browser.text().await.contains("Progress meeting record: 3C"));
    browser
        .visit("/reviews/00000000-0000-0000-0000-000000000000")
        .await;
    assert!(browser.text().await.contains("Page not found"));
    browser.close().await;
    stack.platform.stop().await;
}
