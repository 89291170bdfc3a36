//! What reaches people outside the pages: e-mails and inbox notices, and that every link in
//! them opens the page it names.

use std::time::Duration;

use reqwest::StatusCode;
use waymark_testkit::eventually;
use waymark_testkit::smtp::links_to;

use crate::http::Client;
use crate::stack::{PASSWORD, Stack, day};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_link_in_an_email_and_in_the_inbox_opens_its_page() {
    let stack = Stack::start().await;
    let mut head = Client::signed_in(&stack.base, &stack.seed.head.email, PASSWORD).await;
    stack
        .hold_meeting(&mut head, "3B", &day(0), &[("Phonics catch-up", &day(14))])
        .await;

    // The teacher is e-mailed the new action.
    let teacher_email = stack.seed.teacher.email.clone();
    eventually(Duration::from_secs(30), "the action's e-mail", || async {
        stack.mail.all().iter().any(|m| m.contains(&teacher_email))
    })
    .await;
    let mail = stack
        .mail
        .all()
        .into_iter()
        .find(|m| m.contains(&teacher_email))
        .unwrap();
    let links = links_to(&mail, &stack.base);
    assert!(
        links.iter().any(|l| l.contains("/actions/")),
        "the e-mail links to its action: {links:?}\n{mail}"
    );
    assert!(
        mail.contains(&format!("List-Unsubscribe: <{}/preferences>", stack.base)),
        "{mail}"
    );
    let mut teacher = Client::signed_in(&stack.base, &teacher_email, PASSWORD).await;
    for link in &links {
        let page = teacher.get(link.strip_prefix(&stack.base).unwrap()).await;
        assert_eq!(page.status, StatusCode::OK, "{link} opens: {}", page.body);
    }

    // The inbox links the notice to the same page.
    let inbox = teacher.get("/inbox").await;
    let action = links.iter().find(|l| l.contains("/actions/")).unwrap();
    let path = action.strip_prefix(&stack.base).unwrap();
    assert!(
        inbox.body.contains(&format!("href=\"{path}\"")),
        "the notice links to {path}: {}",
        inbox.body
    );
    stack.platform.stop().await;
}
