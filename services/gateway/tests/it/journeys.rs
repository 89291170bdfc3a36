//! The main journeys, in a real browser.

use fantoccini::Locator;

use crate::browser::Browser;
use crate::stack::{PASSWORD, Stack, day};

/// A date as pages write it: "7 December 2026".
fn long(iso: &str) -> String {
    chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d")
        .unwrap()
        .format("%-d %B %Y")
        .to_string()
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
    browser
        .choose("#reviewee_id", &seed.teacher.id.to_string())
        .await;
    browser.fill("#year_group", "Year 5").await;
    browser.set_date("#window_opens", &day(-7)).await;
    browser.set_date("#window_closes", &day(14)).await;
    browser.press("Schedule the review").await;
    assert!(
        browser
            .text()
            .await
            .contains("Progress review: Year 5 with Tom Teacher")
    );
    let review_path = browser.path().await;

    // Evidence first.
    let look_for = browser
        .client
        .find(Locator::Css("input[name=look_for_ids]"))
        .await
        .unwrap();
    look_for.click().await.unwrap();
    browser
        .fill(
            "#evidence-note",
            "Pupils explained their reasoning in pairs; books show redrafting.",
        )
        .await;
    browser.press("Note this evidence").await;
    assert!(
        browser
            .text()
            .await
            .contains("Pupils explained their reasoning")
    );

    // Then the dialogue, with both present.
    browser.set_date("#held_on", &day(0)).await;
    browser.tick("#both_present").await;
    browser
        .fill(
            "#discussed",
            "What the evidence shows about reasoning in maths.",
        )
        .await;
    browser.press("Record the dialogue").await;
    assert!(browser.text().await.contains("Dialogue held"));

    // The draft saves itself while it is written, and survives a reload.
    browser
        .fill(
            "#good_practice",
            "Talk partners used well to rehearse explanations.",
        )
        .await;
    browser
        .client
        .wait()
        .for_element(Locator::XPath(
            "//p[@id='saved'][starts-with(normalize-space(), 'Saved at')]",
        ))
        .await
        .unwrap();
    browser.visit(&review_path).await;
    let kept = browser.value("#good_practice").await;
    assert_eq!(kept, "Talk partners used well to rehearse explanations.");
    assert!(
        browser
            .text()
            .await
            .contains("Your unsent changes to the draft were kept.")
    );
    browser.tick("#lf-1-ex").await;
    browser.fill("#lf-1-comment", "Consistently strong.").await;
    browser
        .fill(
            "#areas_to_focus",
            "Extend reasoning to written explanations.",
        )
        .await;
    browser
        .fill("#step-0-d", "Model written reasoning with sentence stems")
        .await;
    browser.set_date("#step-0-due", &day(30)).await;
    browser.press("Share the draft for agreement").await;
    assert!(browser.text().await.contains("Awaiting agreement"));
    browser.press("I agree this record").await;
    assert!(
        browser
            .text()
            .await
            .contains("Waiting for Tom Teacher to agree")
    );
    browser.sign_out().await;

    // The teacher finds it waiting on their home page, and agrees.
    browser.sign_in(&seed.teacher.email, PASSWORD).await;
    browser
        .follow("Progress review of Year 5 with Tom Teacher")
        .await;
    browser.press("I agree this record").await;
    let page = browser.text().await;
    assert!(page.contains("Agreed by"), "{page}");
    assert!(page.contains("Helen Head") && page.contains("Tom Teacher"));
    browser.follow("Printable record").await;
    let printed = browser.text().await;
    assert!(
        printed.contains("Model written reasoning with sentence stems"),
        "{printed}"
    );
    // The printed record carries the evidence it rests on.
    assert!(
        printed.contains("Pupils explained their reasoning in pairs"),
        "{printed}"
    );
    // "Save as PDF": the browser prints the record with the print stylesheet.
    let pdf = browser
        .client
        .print(fantoccini::wd::PrintConfiguration::default())
        .await
        .unwrap();
    assert!(
        pdf.starts_with(b"%PDF") && pdf.len() > 1000,
        "a PDF of the record"
    );

    // The next step is now the teacher's action to track.
    browser
        .wait_for_text("/actions", "Model written reasoning with sentence stems")
        .await;
    browser.close().await;
    stack.platform.stop().await;
}

/// Reads an input's current value.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_progress_meeting_starts_from_the_last_ones_actions_which_are_tracked_to_done() {
    let stack = Stack::start().await;
    let seed = &stack.seed;
    let mut browser = Browser::start(&stack.base, "progress_meeting").await;
    let teacher = seed.teacher.id.to_string();

    // Autumn: the first meeting agrees two actions.
    browser.sign_in(&seed.head.email, PASSWORD).await;
    browser.visit("/meetings").await;
    browser.follow("Schedule a progress meeting").await;
    browser.choose("#teacher_id", &teacher).await;
    browser.fill("#class_group", "5T").await;
    browser.fill("#assessment_point", "Autumn assessment").await;
    browser.set_date("#date", &day(-20)).await;
    browser.press("Schedule the meeting").await;
    browser.press("Start the meeting").await;
    assert!(
        browser
            .text()
            .await
            .contains("There were no actions from a previous meeting.")
    );
    browser
        .fill("#a0d", "Guided reading groups for the lowest 20%")
        .await;
    browser.set_date("#a0due", &day(10)).await;
    browser
        .fill("#a1d", "=HYPERLINK(\"x\") phonics catch-up")
        .await;
    browser.set_date("#a1due", &day(5)).await;
    browser
        .press("Agree these actions and close the meeting")
        .await;
    assert!(browser.text().await.contains("Closed"));
    let school = seed.hillside.to_string();
    browser
        .wait_for_text(
            &format!("/actions?school={school}"),
            "Guided reading groups for the lowest 20%",
        )
        .await;
    browser.sign_out().await;

    // The teacher completes one action, with its impact, and sees the whole trail.
    browser.sign_in(&seed.teacher.email, PASSWORD).await;
    browser.follow("phonics catch-up").await;
    browser
        .fill(
            "#impact",
            "Five of six pupils now decode at the expected level.",
        )
        .await;
    browser.press("Mark as done").await;
    let page = browser.text().await;
    assert!(
        page.contains("Done") && page.contains("Five of six pupils now decode"),
        "{page}"
    );
    let trail = browser
        .client
        .find_all(Locator::Css("#audit-trail + table tbody tr"))
        .await
        .unwrap();
    assert!(
        trail.len() >= 2,
        "the audit trail has the agreement and the completion"
    );
    let trail_text = browser
        .client
        .find(Locator::Css("#audit-trail + table"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        trail_text.contains("Tom Teacher")
            && trail_text.contains("Done. Impact: Five of six pupils now decode"),
        "{trail_text}"
    );
    // …and notes progress on the other.
    browser.visit("/actions").await;
    browser.follow("Guided reading groups").await;
    browser.open("Note progress or evidence").await;
    browser
        .fill("#progress", "Two groups of four started on Mondays.")
        .await;
    browser.press("Note progress").await;
    browser.sign_out().await;

    // Spring: the next meeting opens with the autumn action still open, before anything else.
    browser.sign_in(&seed.head.email, PASSWORD).await;
    browser.visit("/meetings/new").await;
    browser.choose("#teacher_id", &teacher).await;
    browser.fill("#class_group", "5T").await;
    browser.fill("#assessment_point", "Spring assessment").await;
    browser.set_date("#date", &day(0)).await;
    browser.press("Schedule the meeting").await;
    browser.press("Start the meeting").await;
    let page = browser.text().await;
    let previous = page
        .find("Guided reading groups for the lowest 20%")
        .expect("the autumn action is shown");
    let analysis = page.find("’s analysis").unwrap();
    assert!(previous < analysis, "the previous actions come first");
    assert!(
        !page.contains("phonics catch-up"),
        "an action already done is not brought back"
    );
    // Each comes with what action tracking knows of it now.
    for fact in [
        format!("Open Tom Teacher, due {}", long(&day(10))),
        "Latest progress: Two groups of four started on Mondays.".to_owned(),
    ] {
        assert!(page.contains(&fact), "{fact} is missing from {page}");
    }
    browser.tick("#o-0-cf").await;
    browser
        .fill("#o-0-text", "Extend to the middle groups")
        .await;
    browser.set_date("#o-0-due", &day(40)).await;
    browser.press("Record the outcome").await;
    let page = browser.text().await;
    assert!(
        page.contains(&format!(
            "Carried forward Extend to the middle groups now due {}",
            long(&day(40))
        )),
        "{page}"
    );
    browser
        .press("Agree these actions and close the meeting")
        .await;
    browser.sign_out().await;

    // The teacher's exports: CSV safe for spreadsheets, and a calendar feed.
    browser.sign_in(&seed.teacher.email, PASSWORD).await;
    let mut http = crate::http::Client::signed_in(&stack.base, &seed.teacher.email, PASSWORD).await;
    let csv = http.get("/actions.csv?status=all").await;
    assert!(csv.content_type.starts_with("text/csv"));
    assert!(
        csv.bytes.starts_with("\u{feff}".as_bytes()),
        "UTF-8 with a byte-order mark"
    );
    assert!(
        csv.body.contains("'=HYPERLINK"),
        "formulas are defused: {}",
        csv.body
    );
    assert!(csv.body.contains("Guided reading groups"));

    browser.visit("/calendar/feed").await;
    browser.press("Make my calendar address").await;
    let feed = browser.value("#feed-url").await;
    let outsider = reqwest::Client::new();
    let ics = outsider.get(&feed).send().await.unwrap();
    assert_eq!(ics.status(), reqwest::StatusCode::OK);
    assert!(
        ics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    let ics = ics.text().await.unwrap();
    assert!(
        ics.contains("BEGIN:VEVENT") && ics.contains("DTSTART;VALUE=DATE:"),
        "{ics}"
    );
    assert!(
        ics.contains("Carried forward") || ics.contains("Guided reading"),
        "{ics}"
    );
    let uids: Vec<&str> = ics.lines().filter(|l| l.starts_with("UID:")).collect();
    let again = outsider
        .get(&feed)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let uids_again: Vec<&str> = again.lines().filter(|l| l.starts_with("UID:")).collect();
    assert_eq!(uids, uids_again, "event ids are stable");

    // A new address revokes the old one; turning the feed off revokes it all.
    browser
        .press("Make a new address (the old one stops working)")
        .await;
    let replaced = browser.value("#feed-url").await;
    assert_eq!(
        outsider.get(&feed).send().await.unwrap().status(),
        reqwest::StatusCode::NOT_FOUND
    );
    assert_eq!(
        outsider.get(&replaced).send().await.unwrap().status(),
        reqwest::StatusCode::OK
    );
    browser.press("Turn my calendar feed off").await;
    assert_eq!(
        outsider.get(&replaced).send().await.unwrap().status(),
        reqwest::StatusCode::NOT_FOUND
    );

    browser.visit("/calendar").await;
    browser.visit("/calendar?view=term").await;
    // The inbox has a notice of each action agreed for the teacher; once read, the count goes.
    browser.visit("/inbox").await;
    let inbox = browser.text().await;
    assert!(
        inbox.contains("A new action for you: Guided reading groups"),
        "{inbox}"
    );
    browser
        .press_at("//button[starts-with(normalize-space(), 'Mark all')]")
        .await;
    assert!(!browser.text().await.contains("Mark all"));
    assert!(
        browser
            .client
            .find(Locator::Css(".nav .count"))
            .await
            .is_err(),
        "no unread count"
    );
    // Preferences: no e-mail until a daily summary, quiet in the evening; kept as chosen.
    browser.visit("/preferences").await;
    assert!(browser.checked("#email").await && browser.checked("#mode-immediate").await);
    browser.tick("#mode-daily").await;
    browser.fill("#quiet_from", "18:00").await;
    browser.fill("#quiet_to", "07:30").await;
    browser.press("Save my preferences").await;
    browser.visit("/preferences").await;
    assert!(browser.checked("#mode-daily").await && !browser.checked("#mode-immediate").await);
    assert_eq!(browser.value("#quiet_from").await, "18:00");
    assert_eq!(browser.value("#quiet_to").await, "07:30");
    browser.close().await;
    stack.platform.stop().await;
}
