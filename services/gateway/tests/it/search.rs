//! Finding records: a word in what a review says finds it for those who may read it all,
//! and for nobody else.

use reqwest::StatusCode;

use crate::http::Client;
use crate::stack::{PASSWORD, Stack, day};

/// The records in a CSV export: its lines after the headings.
fn lines(csv: &str) -> usize {
    csv.lines().count().saturating_sub(1)
}

/// Reviews found by a word in what they say: by the people in them and those they are shared
/// with once agreed; never by a colleague who may not read them, nor by someone who may only
/// see that a review exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_word_finds_a_review_only_for_those_who_may_read_it() {
    let stack = Stack::start().await;
    let seed = &stack.seed;
    let mut head = Client::signed_in(&stack.base, &seed.head.email, PASSWORD).await;
    let mut teacher = Client::signed_in(&stack.base, &seed.teacher.email, PASSWORD).await;
    // Both say "Daily reading"; one is agreed, the other still a draft between the two.
    crate::visits::agreed_review(&stack, &mut head, &mut teacher, -20, false).await;
    crate::visits::drafted_review(&stack, &mut head, 5, false).await;
    let rows = |page: &str| page.matches("<tr><td>").count();
    let mut director = Client::signed_in(&stack.base, &seed.director.email, PASSWORD).await;
    let mut colleague = Client::signed_in(&stack.base, &seed.colleague.email, PASSWORD).await;
    for (who, everything, found) in [
        (&mut head, 2, 2),
        (&mut teacher, 2, 2),
        // Sees the draft exists, but not what it says: the word finds only the agreed one.
        (&mut director, 2, 1),
        (&mut colleague, 0, 0),
    ] {
        assert_eq!(rows(&who.get("/reviews").await.body), everything);
        let page = who.get("/reviews?q=daily").await.body;
        assert_eq!(rows(&page), found, "{page}");
        assert_eq!(rows(&who.get("/reviews?q=zebra").await.body), 0);
        // The same lists as CSV: a line each after the headings, and never what a review
        // says, even to those who may read it.
        let csv = who.get("/reviews.csv").await.body;
        assert_eq!(lines(&csv), everything, "{csv}");
        assert!(!csv.to_lowercase().contains("daily reading"), "{csv}");
        assert_eq!(lines(&who.get("/reviews.csv?q=daily").await.body), found);
    }
    let listed = head.get("/reviews").await.body;
    assert!(listed.contains("href=\"/reviews.csv?\""), "{listed}");
    let csv = head.get("/reviews.csv?status=agreed").await.body;
    assert!(csv.starts_with("\u{feff}School,Academic year,Year group,Reviewer,Reviewee"));
    assert_eq!(lines(&csv), 1);
    assert!(
        csv.contains("Tom Teacher") && csv.contains("Hillside Primary") && csv.contains("Agreed"),
        "{csv}"
    );
    assert_eq!(
        head.get("/reviews.csv?from=someday").await.status,
        StatusCode::BAD_REQUEST
    );
    // Filters narrow it; a later page is empty and links back.
    assert_eq!(
        rows(&head.get("/reviews?q=daily&status=agreed").await.body),
        1
    );
    let later = head.get("/reviews?q=daily&page=1").await.body;
    assert_eq!(rows(&later), 0);
    assert!(later.contains("Previous page"));
    // A date that is not one is said, not ignored.
    let bad = head.get("/reviews?from=someday").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("from"), "{}", bad.body);
    stack.platform.stop().await;
}

/// Meetings, visits and actions are found the same way: by words in what they say, status,
/// class and dates, an improvement priority, a page at a time; someone who may not read them
/// finds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meetings_visits_and_actions_are_found_by_their_words_for_those_who_may_read_them() {
    let stack = Stack::start().await;
    let seed = &stack.seed;
    let mut head = Client::signed_in(&stack.base, &seed.head.email, PASSWORD).await;
    let mut teacher = Client::signed_in(&stack.base, &seed.teacher.email, PASSWORD).await;
    let mut colleague = Client::signed_in(&stack.base, &seed.colleague.email, PASSWORD).await;
    let rows =
        |page: &str| page.matches("<tr><td>").count() + page.matches("<tr>\n      <td>").count();
    stack
        .hold_meeting(
            &mut head,
            "4C",
            &day(-7),
            &[("Daily paired reading", &day(14))],
        )
        .await;
    stack
        .hold_meeting(
            &mut head,
            "5B",
            &day(-1),
            &[("Times tables practice", &day(21))],
        )
        .await;
    let teacher_id = seed.teacher.id.to_string();
    let planned = head
        .post(
            "/visits",
            &[
                ("teacher_id", teacher_id.as_str()),
                ("kind", "observation"),
                ("date", &day(3)),
                ("focus", "Questioning in mathematics"),
            ],
        )
        .await;
    assert_eq!(planned.status, StatusCode::SEE_OTHER, "{}", planned.body);
    let visit = crate::http::path_of(&planned.location, &stack.base);

    for (who, found) in [(&mut head, 1), (&mut teacher, 1), (&mut colleague, 0)] {
        assert_eq!(rows(&who.get("/meetings?q=paired").await.body), found);
        assert_eq!(rows(&who.get("/visits?q=questioning").await.body), found);
        assert_eq!(rows(&who.get("/meetings?q=zebra").await.body), 0);
    }
    assert_eq!(rows(&head.get("/meetings").await.body), 2);
    assert_eq!(rows(&head.get("/meetings?group=5B").await.body), 1);
    assert_eq!(
        rows(&head.get(&format!("/meetings?from={}", day(-3))).await.body),
        1
    );
    assert_eq!(rows(&head.get("/visits?status=agreed").await.body), 0);
    assert_eq!(rows(&head.get("/visits?status=planned").await.body), 1);
    let bad = head.get("/visits?to=soon").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    // As CSV, narrowed the same way; nothing for a colleague who may not read them.
    let meetings = head.get("/meetings.csv?group=5B").await.body;
    assert_eq!(lines(&meetings), 1, "{meetings}");
    assert!(
        meetings.contains("5B") && !meetings.contains("4C"),
        "{meetings}"
    );
    let visits = head.get("/visits.csv?q=questioning").await.body;
    assert_eq!(lines(&visits), 1, "{visits}");
    assert!(
        visits.contains("Classroom observation") && visits.contains("Scheduled"),
        "{visits}"
    );
    assert!(
        !visits.contains("Questioning in mathematics"),
        "the focus is not listed"
    );
    assert_eq!(lines(&colleague.get("/meetings.csv").await.body), 0);
    assert_eq!(lines(&colleague.get("/visits.csv").await.body), 0);

    // The meetings' actions reach action tracking a moment after they close.
    let mut listed = 0;
    for _ in 0..100 {
        listed = rows(&teacher.get("/actions").await.body);
        if listed == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(listed, 2);
    let found = teacher.get("/actions?q=tables").await.body;
    assert_eq!(rows(&found), 1, "{found}");
    assert!(found.contains("Times tables practice"));
    assert_eq!(rows(&teacher.get("/actions?q=zebra").await.body), 0);
    assert_eq!(
        rows(&teacher.get(&format!("/actions?to={}", day(15))).await.body),
        1
    );
    // Everyone at the school reads its actions (docs/authorization.md); another school's
    // teacher finds none of them.
    let hillside = seed.hillside.to_string();
    let everyone = format!("/actions?school={hillside}&q=tables");
    assert_eq!(rows(&colleague.get(&everyone).await.body), 1);
    let mut other = Client::signed_in(&stack.base, &seed.riverside_teacher.email, PASSWORD).await;
    assert_eq!(other.get(&everyone).await.status, StatusCode::NOT_FOUND);
    assert_eq!(rows(&other.get("/actions?q=tables").await.body), 0);

    // Tied to a priority, an action is found by it.
    let priority = stack.add_priority(&mut head, "Number fluency").await;
    let by_priority = format!("/actions?priority={priority}");
    assert_eq!(rows(&teacher.get(&by_priority).await.body), 0);
    let action = teacher
        .get("/actions?q=tables")
        .await
        .body
        .split("href=\"/actions/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(str::to_owned)
        .expect("the action");
    let tied = teacher
        .post(
            "/priorities/tie",
            &[
                ("priority_id", priority.as_str()),
                ("kind", "action"),
                ("record_id", &action),
            ],
        )
        .await;
    assert_eq!(tied.status, StatusCode::SEE_OTHER, "{}", tied.body);
    let found = teacher.get(&by_priority).await.body;
    assert_eq!(rows(&found), 1, "{found}");
    assert!(found.contains("Times tables practice"));

    // So is a visit, tied by its visitor from its page; the priority's page lists both.
    let visits = format!("/visits?priority={priority}");
    assert_eq!(rows(&head.get(&visits).await.body), 0);
    let visit_id = visit.trim_start_matches("/visits/");
    let tied = head
        .post(
            "/priorities/tie",
            &[
                ("priority_id", priority.as_str()),
                ("kind", "visit"),
                ("record_id", visit_id),
            ],
        )
        .await;
    assert_eq!(tied.status, StatusCode::SEE_OTHER, "{}", tied.body);
    assert_eq!(rows(&head.get(&visits).await.body), 1);
    assert_eq!(rows(&colleague.get(&visits).await.body), 0);
    let shown = head.get(&format!("/priorities/{priority}")).await.body;
    assert!(
        shown.contains("Questioning in mathematics") && shown.contains("Times tables practice"),
        "{shown}"
    );
    stack.platform.stop().await;
}
