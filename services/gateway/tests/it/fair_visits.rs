//! Fair visits on the web: a teacher asks for a visit, the head sees who has not been
//! visited this term and the request, plans visits through the caps (one refused on the same
//! day, one over the week's limit), and each visit holds its booking.

use reqwest::StatusCode;

use crate::http::{Client, hidden, path_of};
use crate::occurrences::generated_year;
use crate::stack::{PASSWORD, Stack};

/// `head` plans an observation of `teacher` on `date` (answering `request`, if not blank).
async fn plan_visit(
    head: &mut Client,
    teacher: &str,
    date: &str,
    request: &str,
) -> crate::http::Response {
    let command = uuid::Uuid::new_v4().to_string();
    head.post(
        "/visits",
        &[
            ("command_id", command.as_str()),
            ("teacher_id", teacher),
            ("kind", "observation"),
            ("date", date),
            ("focus", "Questioning in maths"),
            ("request_id", request),
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visits_are_booked_within_the_caps_and_requests_and_the_unvisited_are_seen() {
    let stack = Stack::start().await;
    let seed = &stack.seed;
    generated_year(&stack).await;
    let hillside = seed.hillside.to_string();
    let tom = seed.teacher.id.to_string();
    let mut head = Client::signed_in(&stack.base, &seed.head.email, PASSWORD).await;
    let mut teacher = Client::signed_in(&stack.base, &seed.teacher.email, PASSWORD).await;

    // Tom asks for a visit.
    let asked = teacher
        .post(
            "/visits/requests",
            &[("school_id", &hillside), ("reason", "Questioning in maths")],
        )
        .await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER, "{}", asked.body);
    let shown = teacher
        .get(&path_of(&asked.location, &stack.base))
        .await
        .body;
    assert!(
        shown.contains("Your request for a visit has been sent"),
        "{shown}"
    );
    assert!(
        !shown.contains("Not yet visited"),
        "teachers do not see fairness: {shown}"
    );

    // The head sees both teachers not yet visited, and Tom's request.
    let visits = head.get("/visits").await.body;
    let unvisited = |page: &str| {
        let at = page.find("Not yet visited in The year").expect("fairness");
        page[at..at + page[at..].find("</ul>").unwrap_or(0)].to_owned()
    };
    let before = unvisited(&visits);
    assert!(
        before.contains("Tom Teacher") && before.contains("Cara Colleague"),
        "{before}"
    );
    assert!(
        visits.contains("Tom Teacher: Questioning in maths"),
        "{visits}"
    );
    let link = visits
        .split("href=\"/visits/new?teacher=")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(|rest| {
            format!(
                "/visits/new?teacher={}",
                rest.replace("&amp;", "&").replace("&#38;", "&")
            )
        })
        .expect("a link to plan the requested visit");
    let form = head.get(&link).await.body;
    let request = hidden(&form, "request_id")
        .unwrap_or_else(|| panic!("the request travels with the form: {link} {form}"));

    let first = plan_visit(&mut head, &tom, "2026-11-23", &request).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    // The same day is over the day's limit; the next day is fine; a third that week is not.
    let same_day = plan_visit(&mut head, &tom, "2026-11-23", "").await;
    assert_eq!(same_day.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        same_day.body.contains("that day: at most 1"),
        "{}",
        same_day.body
    );
    let second = plan_visit(&mut head, &tom, "2026-11-24", "").await;
    assert_eq!(second.status, StatusCode::SEE_OTHER, "{}", second.body);
    let third = plan_visit(&mut head, &tom, "2026-11-25", "").await;
    assert_eq!(third.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        third.body.contains("that week: at most 2"),
        "{}",
        third.body
    );

    // Tom is visited and his request answered; Cara still waits.
    let visits = head.get("/visits").await.body;
    let after = unvisited(&visits);
    assert!(
        !after.contains("Tom Teacher") && after.contains("Cara Colleague"),
        "{after}"
    );
    assert!(visits.contains("No requests waiting"), "{visits}");
    // Each visit holds its booking: the week shows the visits, not the bookings as well.
    let week = head.get("/calendar?view=week&date=2026-11-23").await.body;
    assert_eq!(
        week.matches("Visit: Helen Head visits Tom Teacher").count(),
        2,
        "{week}"
    );
    assert!(!week.contains("Planned: Classroom visit"), "{week}");

    let mut browser = crate::browser::Browser::start(&stack.base, "fair_visits").await;
    browser.sign_in(&seed.head.email, PASSWORD).await;
    browser.visit("/visits").await;
    browser.close().await;
    stack.platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trusts_caps_hold_every_booking_and_only_its_leaders_set_them() {
    let stack = Stack::start().await;
    let seed = &stack.seed;
    generated_year(&stack).await;
    let tom = seed.teacher.id.to_string();
    let mut head = Client::signed_in(&stack.base, &seed.head.email, PASSWORD).await;
    let mut director = Client::signed_in(&stack.base, &seed.director.email, PASSWORD).await;
    let caps = async |client: &mut Client, day: &str, week: &str| {
        let page = client.get("/admin/plan?school=trust").await.body;
        let command = hidden(&page, "command_id").unwrap_or_default();
        client
            .post(
                "/admin/plan",
                &[
                    ("command_id", command.as_str()),
                    ("school", "trust"),
                    ("change", "caps"),
                    ("per_day", day),
                    ("per_week", week),
                ],
            )
            .await
    };

    // Until the trust sets its own, the installation's caps are in force.
    let page = director.get("/admin/plan?school=trust").await.body;
    assert!(
        page.contains("at most 1 a day and 2 a week for one teacher (the installation's defaults"),
        "{page}"
    );
    // A head teacher does not set the trust's caps; nonsense caps are refused.
    assert_eq!(
        caps(&mut head, "5", "10").await.status,
        StatusCode::NOT_FOUND
    );
    let refused = caps(&mut director, "0", "3").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("visits per day must be 1 to 5"),
        "{}",
        refused.body
    );
    let set = caps(&mut director, "2", "3").await;
    assert_eq!(set.status, StatusCode::SEE_OTHER, "{}", set.body);
    let page = director.get("/admin/plan?school=trust").await.body;
    assert!(
        page.contains("at most 2 a day and 3 a week for one teacher.")
            && page.contains("Start the trust's default plan"),
        "the caps are set and the default plan is still not started: {page}"
    );

    // Hillside's bookings are held to the trust's caps.
    for date in ["2026-11-23", "2026-11-23"] {
        let booked = plan_visit(&mut head, &tom, date, "").await;
        assert_eq!(booked.status, StatusCode::SEE_OTHER, "{}", booked.body);
    }
    let refused = plan_visit(&mut head, &tom, "2026-11-23", "").await;
    assert!(
        refused.body.contains("that day: at most 2"),
        "{}",
        refused.body
    );
    let third = plan_visit(&mut head, &tom, "2026-11-24", "").await;
    assert_eq!(third.status, StatusCode::SEE_OTHER, "{}", third.body);
    let refused = plan_visit(&mut head, &tom, "2026-11-25", "").await;
    assert!(
        refused.body.contains("that week: at most 3"),
        "{}",
        refused.body
    );
    stack.platform.stop().await;
}
