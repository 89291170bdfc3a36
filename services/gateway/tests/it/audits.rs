//! Self-evaluation in the browser: the audit's task list, a rating, a weakness that becomes
//! an action, the school's trend and the trust's heat-map.

use fantoccini::Locator;
use reqwest::StatusCode;

use crate::browser::Browser;
use crate::http::Client;
use crate::stack::{PASSWORD, Stack};

/// The statements' pages linked from an audit's task list.
async fn statement_paths(browser: &Browser) -> Vec<String> {
    let mut paths = Vec::new();
    for link in browser
        .client
        .find_all(Locator::Css("a[href*='/statements/']"))
        .await
        .unwrap()
    {
        paths.push(link.attr("href").await.unwrap().unwrap());
    }
    paths
}

async fn start_audit(browser: &mut Browser, title: &str, participant: &str) -> String {
    browser.visit("/audits").await;
    browser.follow("Start an audit").await;
    browser.fill("#title", title).await;
    browser
        .client
        .find(Locator::Css(&format!(
            "input[name=participant_ids][value='{participant}']"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.press("Start the audit").await;
    browser.path().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_is_rated_statement_by_statement_and_shows_in_the_trend_and_heat_map() {
    let stack = Stack::start().await;
    let seed = &stack.seed;
    let mut browser = Browser::start(&stack.base, "self_evaluation").await;
    let mut head = Client::signed_in(&stack.base, &seed.head.email, PASSWORD).await;
    browser.sign_in(&seed.head.email, PASSWORD).await;
    // A meeting whose record can be the evidence for a rating.
    let meeting = stack
        .hold_meeting(
            &mut head,
            "5H",
            "2026-11-02",
            &[("Daily reading for the lowest 20%", "2027-01-15")],
        )
        .await;

    let first = start_audit(
        &mut browser,
        "Autumn self-evaluation",
        &seed.teacher.id.to_string(),
    )
    .await;
    let statements = statement_paths(&browser).await;
    assert!(
        statements.len() >= 4,
        "the default framework has its statements"
    );

    // One statement in the browser, with the word beside the colour.
    browser.visit(&statements[0]).await;
    browser.tick("#rating-amber").await;
    browser
        .fill(
            "#note",
            "Tracking is in place but not used to plan interventions.",
        )
        .await;
    browser.fill("#source", "Pupil tracker, autumn").await;
    let meeting_id = meeting.trim_start_matches("/meetings/");
    browser
        .tick(&format!("input[name=record][value='meeting:{meeting_id}']"))
        .await;
    browser.press("Save my rating").await;
    assert_eq!(browser.path().await, first);
    assert!(browser.text().await.contains("Amber"));
    // A record not offered (another school's, or made up) is refused.
    let stranger = head
        .post(
            &statements[1],
            &[
                ("rating", "red"),
                ("record", "review:00000000-0000-0000-0000-000000000001"),
            ],
        )
        .await;
    assert_eq!(stranger.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(stranger.body.contains("Choose evidence from this school"));
    // The rest quickly: red for the second statement, green for the others.
    for (n, path) in statements.iter().enumerate().skip(1) {
        let rating = if n == 1 { "red" } else { "green" };
        let response = head.post(path, &[("rating", rating)]).await;
        assert_eq!(response.status, StatusCode::SEE_OTHER, "{}", response.body);
    }

    // A weakness that becomes an agreed action.
    browser.visit(&first).await;
    browser.open("Record a weakness").await;
    browser
        .fill(
            "#weakness",
            "Data is gathered but rarely analysed by subject leaders.",
        )
        .await;
    browser
        .fill(
            "#action_description",
            "Termly data review with each subject leader",
        )
        .await;
    browser
        .choose("#action_owner", &seed.head.id.to_string())
        .await;
    browser.set_date("#action_due", "2027-01-29").await;
    browser.press("Record the weakness").await;
    browser.press("Finalise the audit").await;
    assert!(browser.text().await.contains("Finalised"));
    browser.follow("Printable record").await;
    let printed = browser.text().await;
    for part in [
        "Self-evaluation audit record",
        "Finalised",
        "Red",
        "Green",
        "Data is gathered but rarely analysed by subject leaders.",
        "Termly data review with each subject leader",
    ] {
        assert!(printed.contains(part), "{part}: {printed}");
    }
    browser.visit(&first).await;
    browser
        .wait_for_text("/actions", "Termly data review with each subject leader")
        .await;

    // A second audit: the second statement stays red, the first moves.
    let second = start_audit(
        &mut browser,
        "Spring self-evaluation",
        &seed.teacher.id.to_string(),
    )
    .await;
    for (n, path) in statement_paths(&browser).await.iter().enumerate() {
        let rating = if n == 1 { "red" } else { "green" };
        assert_eq!(
            head.post(path, &[("rating", rating)]).await.status,
            StatusCode::SEE_OTHER
        );
    }
    assert_eq!(
        head.post(&format!("{second}/finalise"), &[]).await.status,
        StatusCode::SEE_OTHER
    );
    browser.visit(&second).await;
    browser.follow("How this school has moved over time").await;
    // Amber then green for the first statement, red twice for the second.
    let mut movements = Vec::new();
    for row in 1..=3 {
        let cell = browser
            .client
            .find(Locator::XPath(&format!("//tbody/tr[{row}]/td[last()]")))
            .await
            .unwrap();
        movements.push(cell.text().await.unwrap());
    }
    assert_eq!(movements, ["Improved", "Stayed red", "Unchanged"]);
    // The head's overview sums the same per quality indicator: one statement improved,
    // the rest unchanged, none declined; red one, green the rest.
    let overview = head.get("/schools/overview").await.body;
    let table = overview
        .split("Hillside Primary: movement by quality indicator")
        .nth(1)
        .and_then(|rest| rest.split("</tbody>").next())
        .unwrap_or_else(|| panic!("the movement table: {overview}"));
    let mut totals = [0usize; 6];
    for row in table
        .split("</tr>")
        .filter(|r| r.contains("<th scope=\"row\">"))
    {
        for (k, cell) in row.split("<td>").skip(1).enumerate() {
            totals[k] += cell
                .trim_end_matches("</td>")
                .trim()
                .parse::<usize>()
                .unwrap();
        }
    }
    let n = statements.len();
    assert_eq!(totals, [1, n - 1, 0, 1, 0, n - 1], "{table}");
    assert!(overview.contains("Improved: 1</title>"), "{overview}");
    browser.visit("/schools/overview").await;
    // Once finalised, anyone who may see the audit reads each rating with its evidence.
    browser.visit(&statements[0]).await;
    browser
        .follow("Progress meeting: 5H (Autumn) with Tom Teacher")
        .await;
    assert_eq!(browser.path().await, meeting);
    browser.sign_out().await;

    // The director sees every school's latest audit; a teacher cannot.
    browser.sign_in(&seed.director.email, PASSWORD).await;
    browser.visit("/audits/heat-map").await;
    let map = browser.text().await;
    assert!(
        map.contains("Hillside Primary") && map.contains("Red") && map.contains("Green"),
        "{map}"
    );
    let mut teacher = Client::signed_in(&stack.base, &seed.teacher.email, PASSWORD).await;
    assert_eq!(
        teacher.get("/audits/heat-map").await.status,
        StatusCode::NOT_FOUND
    );
    browser.close().await;
    stack.platform.stop().await;
}
