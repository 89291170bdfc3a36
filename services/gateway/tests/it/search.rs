//! Finding records: a word in what a review says finds it for those who may read it all,
//! and for nobody else.

use reqwest::StatusCode;

use crate::http::Client;
use crate::stack::{PASSWORD, Stack};

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
    }
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
