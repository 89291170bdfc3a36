//! Two windows, one person, one record: a form built from an older version of the record is
//! refused with a clear message, and neither window's text is lost.

use reqwest::StatusCode;

use crate::http::Client;
use crate::stack::{PASSWORD, Stack};
use crate::visits::drafted_review;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_built_from_an_older_draft_is_refused_and_loses_nothing() {
    let stack = Stack::start().await;
    let seed = &stack.seed;
    let mut head = Client::signed_in(&stack.base, &seed.head.email, PASSWORD).await;
    let mut teacher = Client::signed_in(&stack.base, &seed.teacher.email, PASSWORD).await;
    let review = drafted_review(&stack, &mut head, 0, true).await;

    // The teacher reads draft 1; meanwhile the head rewrites it as draft 2.
    let read = teacher.get(&review).await.body;
    assert!(read.contains("name=\"draft\" value=\"1\""), "{read}");
    let redrafted = head
        .post(
            &format!("{review}/draft"),
            &[
                ("based_on", "1"),
                (
                    "good_practice",
                    "Daily reading, and paired reading on Fridays",
                ),
            ],
        )
        .await;
    assert_eq!(
        redrafted.status,
        StatusCode::SEE_OTHER,
        "{}",
        redrafted.body
    );
    // Agreeing to the draft they read is refused: it is no longer the current one.
    let agreed = teacher
        .post(&format!("{review}/agree"), &[("draft", "1")])
        .await;
    assert_eq!(agreed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        agreed.body.contains(
            "draft 1 is not the current draft (2): read the current draft before agreeing"
        ),
        "{}",
        agreed.body
    );
    // A form that sends no draft number agrees to nothing.
    let blind = teacher.post(&format!("{review}/agree"), &[]).await;
    assert_eq!(blind.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(teacher.get(&review).await.body.contains("Draft 2."));

    // The head's other window, still built from draft 1, shares its text: refused, and the
    // text comes back in the form beside the current draft.
    let stale = head
        .post(
            &format!("{review}/draft"),
            &[
                ("based_on", "1"),
                ("good_practice", "Text from the window left open"),
            ],
        )
        .await;
    assert_eq!(stale.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        stale
            .body
            .contains("the draft has changed since your form was opened")
    );
    assert!(
        stale.body.contains("Text from the window left open"),
        "kept in the form"
    );
    assert!(
        stale
            .body
            .contains("Daily reading, and paired reading on Fridays"),
        "beside the current draft"
    );
    assert!(stale.body.contains("name=\"based_on\" value=\"2\""));

    // Working copies: window A saves first; window B, opened before, is refused and shows
    // both texts.
    let opened = head.get(&review).await.body;
    assert!(opened.contains("id=\"autosave-copy\" name=\"copy\" value=\"0\""));
    let saved = head
        .post_htmx(
            &format!("{review}/autosave"),
            &[("copy", "0"), ("good_practice", "Window A's words")],
        )
        .await;
    assert!(saved.body.starts_with("Saved at "), "{}", saved.body);
    assert!(
        saved
            .body
            .contains("id=\"autosave-copy\" name=\"copy\" value=\"1\""),
        "the form learns its new revision: {}",
        saved.body
    );
    let behind = head
        .post_htmx(
            &format!("{review}/autosave"),
            &[("copy", "0"), ("good_practice", "Window B's words")],
        )
        .await;
    assert!(behind.body.starts_with("Not saved"), "{}", behind.body);
    let behind = head
        .post(
            &format!("{review}/autosave"),
            &[("copy", "0"), ("good_practice", "Window B's words")],
        )
        .await;
    assert_eq!(behind.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        behind.body.contains("Window B&#39;s words") || behind.body.contains("Window B's words")
    );
    let other = behind
        .body
        .split("id=\"other-copy\"")
        .nth(1)
        .unwrap_or_default();
    assert!(
        other.contains("Window A&#39;s words") || other.contains("Window A's words"),
        "{}",
        behind.body
    );
    // Window A goes on from its revision.
    let again = head
        .post_htmx(
            &format!("{review}/autosave"),
            &[("copy", "1"), ("good_practice", "Window A, later")],
        )
        .await;
    assert!(again.body.starts_with("Saved at "), "{}", again.body);
    stack.platform.stop().await;
}
