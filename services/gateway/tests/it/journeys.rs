//! The main journeys, in a real browser.

use chrono::{Duration, Utc};
use fantoccini::Locator;

use crate::browser::Browser;
use crate::stack::{PASSWORD, Stack};

fn day(offset: i64) -> String {
    (Utc::now().with_timezone(&chrono_tz::Europe::London).date_naive() + Duration::days(offset)).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_progress_review_goes_from_evidence_to_a_record_both_people_agree() {
    let stack = Stack::start().await;
    let seed = &stack.seed;
    let mut browser = Browser::start(&stack.base, "progress_review").await;

    // The line manager schedules the review.
    browser.sign_in(&seed.head.email, PASSWORD).await;
    assert!(browser.text().await.contains("Hello, Helen Head"));
    browser.visit("/reviews").await;
    browser.follow("Schedule a progress review").await;
    browser.choose("#reviewee_id", &seed.teacher.id.to_string()).await;
    browser.fill("#year_group", "Year 5").await;
    browser.set_date("#window_opens", &day(-7)).await;
    browser.set_date("#window_closes", &day(14)).await;
    browser.press("Schedule the review").await;
    assert!(browser.text().await.contains("Progress review: Year 5 with Tom Teacher"));
    let review_path = browser.path().await;

    // Evidence first.
    let look_for = browser.client.find(Locator::Css("input[name=look_for_ids]")).await.unwrap();
    look_for.click().await.unwrap();
    browser.fill("#evidence-note", "Pupils explained their reasoning in pairs; books show redrafting.").await;
    browser.press("Note this evidence").await;
    assert!(browser.text().await.contains("Pupils explained their reasoning"));

    // Then the dialogue, with both present.
    browser.set_date("#held_on", &day(0)).await;
    browser.tick("#both_present").await;
    browser.fill("#discussed", "What the evidence shows about reasoning in maths.").await;
    browser.press("Record the dialogue").await;
    assert!(browser.text().await.contains("Dialogue held"));

    // The draft saves itself while it is written, and survives a reload.
    browser.fill("#good_practice", "Talk partners used well to rehearse explanations.").await;
    browser.client.wait().for_element(Locator::XPath("//p[@id='saved'][starts-with(normalize-space(), 'Saved at')]")).await.unwrap();
    browser.visit(&review_path).await;
    let kept = browser.client.find(Locator::Css("#good_practice")).await.unwrap().prop("value").await.unwrap().unwrap_or_default();
    assert_eq!(kept, "Talk partners used well to rehearse explanations.");
    assert!(browser.text().await.contains("Your unsent changes to the draft were kept."));
    browser.tick("#lf-1-ex").await;
    browser.fill("#lf-1-comment", "Consistently strong.").await;
    browser.fill("#areas_to_focus", "Extend reasoning to written explanations.").await;
    browser.fill("#step-0-d", "Model written reasoning with sentence stems").await;
    browser.set_date("#step-0-due", &day(30)).await;
    browser.press("Share the draft for agreement").await;
    assert!(browser.text().await.contains("Awaiting agreement"));
    browser.press("I agree this record").await;
    assert!(browser.text().await.contains("Waiting for Tom Teacher to agree"));
    browser.sign_out().await;

    // The teacher finds it waiting on their home page, and agrees.
    browser.sign_in(&seed.teacher.email, PASSWORD).await;
    browser.follow("Progress review of Year 5 with Tom Teacher").await;
    browser.press("I agree this record").await;
    let page = browser.text().await;
    assert!(page.contains("Agreed by"), "{page}");
    assert!(page.contains("Helen Head") && page.contains("Tom Teacher"));
    browser.follow("Printable record").await;
    assert!(browser.text().await.contains("Model written reasoning with sentence stems"));

    // The next step is now the teacher's action to track.
    browser.wait_for_text("/actions", "Model written reasoning with sentence stems").await;
    browser.close().await;
    stack.platform.stop().await;
}
