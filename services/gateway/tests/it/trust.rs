//! The trust overview: per school, monitoring done against what was due (in all and term by
//! term, early work counted), actions open, overdue and done; across schools, the areas to
//! focus that keep coming back.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::browser::Browser;
use crate::http::Client;
use crate::occurrences::generated_year;
use crate::stack::{PASSWORD, Stack, day};
use crate::visits::agreed_review;

/// The table row that starts with `heading`.
fn row<'a>(page: &'a str, heading: &str) -> &'a str {
    let at = page
        .find(&format!("<th scope=\"row\">{heading}</th>"))
        .expect(heading);
    &page[at..at + page[at..].find("</tr>").unwrap()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trust_overview_counts_by_school_and_names_recurring_themes() {
    let stack = Stack::start().await;
    let seed = &stack.seed;
    let mut head = Client::signed_in(&stack.base, &seed.head.email, PASSWORD).await;
    let mut teacher = Client::signed_in(&stack.base, &seed.teacher.email, PASSWORD).await;

    // Hillside's year from the built-in plan: of what was due by today, one occurrence held,
    // and one held before it was due.
    let year = generated_year(&stack).await;
    let today = waymark_testkit::time::today().to_string();
    let past: Vec<_> = year.iter().filter(|o| o.due < today).collect();
    let future: Vec<_> = year.iter().filter(|o| o.date > today).collect();
    assert!(past.len() > 2 && !future.is_empty(), "{year:?}");
    for held in [past[0], future[0]] {
        let done = head
            .post(&format!("/occurrences/{}/held", held.occurrence_id), &[])
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    }
    let due = past.len() + 1;
    let monitoring = format!("2 of {due} ({}%) (1 early)", 200 / due);
    let late = (past.len() - 1).to_string();

    // One meeting held (an action overdue, one not), one due but not held, and an agreed
    // review that names an area to focus.
    let (overdue, later) = (day(-2), day(20));
    stack
        .hold_meeting(
            &mut head,
            "5T",
            &day(-10),
            &[
                ("Check reading records", &overdue),
                ("Moderate writing", &later),
            ],
        )
        .await;
    let pending = head
        .post(
            "/meetings",
            &[
                ("teacher_id", &seed.teacher.id.to_string()),
                ("class_group", "5T"),
                ("assessment_point", "Autumn"),
                ("academic_year", "2026-27"),
                ("date", &day(-3)),
            ],
        )
        .await;
    assert_eq!(pending.status, StatusCode::SEE_OTHER, "{}", pending.body);
    agreed_review(&stack, &mut head, &mut teacher, -30, true).await;
    // An earlier review that names the same look-for as exemplary practice.
    agreed_review(&stack, &mut head, &mut teacher, -60, false).await;

    // The teacher completes one of the meeting's actions, once action tracking has them.
    let deadline = Instant::now() + Duration::from_secs(30);
    let action = loop {
        let mine = teacher.get("/actions").await.body;
        if let Some((before, _)) = mine.split_once("\">Moderate writing</a>") {
            break before.rsplit("href=\"/actions/").next().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "{mine}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let done = teacher
        .post(
            &format!("/actions/{action}/complete"),
            &[
                ("command_id", &uuid::Uuid::new_v4().to_string()),
                ("impact", "Writing moderated across the year group"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);

    // The director's view, once action tracking has the meeting's actions.
    let mut director = Client::signed_in(&stack.base, &seed.director.email, PASSWORD).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let page = loop {
        let page = director.get("/trust").await.body;
        if page.contains("1 overdue") || Instant::now() > deadline {
            break page;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let hillside: Vec<&str> = row(&page, "Hillside Primary")
        .split("<td>")
        .skip(1)
        .map(|cell| cell.trim().trim_end_matches("</td>").trim())
        .collect();
    assert_eq!(hillside[0], monitoring, "planned monitoring held");
    assert_eq!(hillside[1], late, "planned monitoring overdue");
    assert_eq!(hillside[2], "2 of 2 (100%)", "reviews agreed");
    assert_eq!(hillside[3], "1 of 2 (50%)", "meetings held");
    assert_eq!(hillside[4], "1", "actions open");
    assert!(hillside[5].contains("1 overdue"), "{hillside:?}");
    assert_eq!(hillside[6], "1 (1 with impact recorded)", "{hillside:?}");
    let riverside = row(&page, "Riverside Primary");
    assert_eq!(riverside.matches("None due yet").count(), 3, "{riverside}");
    assert!(riverside.contains("None overdue"), "{riverside}");
    // Hillside's one term holds the same; Riverside has no calendar.
    let term: Vec<&str> = page
        .split("Hillside Primary: The year")
        .nth(1)
        .expect("Hillside's term")
        .split("</tr>")
        .next()
        .unwrap()
        .split("<td>")
        .skip(1)
        .map(|cell| cell.trim().trim_end_matches("</td>").trim())
        .collect();
    let open_now = year
        .iter()
        .filter(|o| o.date <= today && o.due >= today)
        .count();
    assert_eq!(
        term,
        [
            format!("2 of {due} ({}%)", 200 / due),
            late.clone(),
            open_now.to_string(),
            (future.len() - 1).to_string()
        ],
        "{page}"
    );
    assert!(
        !page.contains("<th scope=\"row\">Riverside Primary: "),
        "{page}"
    );
    // Month by month: every occurrence of the year is due in one month; two were held, and
    // the chart draws each month's figures.
    let months = &page[page
        .find("Hillside Primary: planned monitoring due and held")
        .unwrap()..];
    let figures = |heading: &str| -> Vec<usize> {
        let at = months
            .find(&format!("<th scope=\"row\">{heading}</th>"))
            .unwrap();
        months[at..at + months[at..].find("</tr>").unwrap()]
            .split("<td>")
            .skip(1)
            .map(|cell| cell.trim_end_matches("</td>").trim().parse().unwrap())
            .collect()
    };
    let (planned, held) = (figures("Planned"), figures("Held"));
    assert_eq!(planned.len(), 11, "September to July");
    assert_eq!(planned.iter().sum::<usize>(), year.len());
    assert_eq!(held.iter().sum::<usize>(), 2);
    let november = year
        .iter()
        .filter(|o| o.due.starts_with("2026-11-"))
        .count();
    assert_eq!(planned[2], november);
    assert!(
        page.contains(&format!("<title>Nov, Planned: {november}</title>")),
        "{page}"
    );
    // Actions month by month, August to July: the meeting's two opened this month (today is
    // in November), one of them closed; nothing at Riverside.
    let flow = |school: &str, heading: &str| -> Vec<u32> {
        let table = &page[page
            .find(&format!("{school}: actions opened and closed by month"))
            .unwrap_or_else(|| panic!("{school}'s actions table: {page}"))..];
        let at = table
            .find(&format!("<th scope=\"row\">{heading}</th>"))
            .unwrap();
        table[at..at + table[at..].find("</tr>").unwrap()]
            .split("<td>")
            .skip(1)
            .map(|cell| cell.trim_end_matches("</td>").trim().parse().unwrap())
            .collect()
    };
    let mut opened = vec![0; 12];
    let mut closed = vec![0; 12];
    (opened[3], closed[3]) = (2, 1);
    assert_eq!(flow("Hillside Primary", "Opened"), opened);
    assert_eq!(flow("Hillside Primary", "Closed"), closed);
    assert_eq!(flow("Riverside Primary", "Opened"), vec![0; 12]);
    assert!(
        page.contains("<title>Nov, Opened: 2</title>")
            && page.contains("<title>Nov, Closed: 1</title>"),
        "{page}"
    );
    // A class teacher does not get the school's counts from action tracking either.
    let tom = waymark_runtime::auth::Caller {
        trust: seed.trust,
        actor: seed.teacher.id.into(),
    };
    let refused =
        waymark_proto::action_tracking::v1::action_tracking_client::ActionTrackingClient::new(
            stack.platform.client(stack.actions, tom),
        )
        .count_actions_by_month(
            waymark_proto::action_tracking::v1::CountActionsByMonthRequest {
                school_id: seed.hillside.to_string(),
                from: "2026-08-01".into(),
                to: "2027-07-31".into(),
                time_zone: "Europe/London".into(),
            },
        )
        .await
        .expect_err("a class teacher sees no trends");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    // One look-for named as an area to focus, in one review of one school.
    let themes = &page[page.find("Recurring themes").unwrap()..];
    let (themes, exemplary) = themes.split_once("Practice worth sharing").unwrap();
    assert!(themes.contains("<td>1</td><td>1</td>"), "{themes}");
    // The same look-for, as exemplary in the other review.
    assert!(exemplary.contains("<td>1</td><td>1</td>"), "{exemplary}");
    assert!(!page.contains("Tom Teacher"), "schools, never teachers");

    // The head's own version: Hillside alone, the same figures; not the trust's page, and
    // nothing for a class teacher.
    let own = head.get("/schools/overview").await.body;
    assert_eq!(
        row(&own, "Hillside Primary"),
        row(&page, "Hillside Primary")
    );
    assert!(!own.contains("Riverside Primary"), "{own}");
    assert!(
        own.contains("href=\"/schools/overview\""),
        "in the head's navigation"
    );
    assert_eq!(head.get("/trust").await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        teacher.get("/schools/overview").await.status,
        StatusCode::NOT_FOUND
    );

    let mut browser = Browser::start(&stack.base, "trust_overview").await;
    browser.sign_in(&seed.head.email, PASSWORD).await;
    browser.visit("/schools/overview").await;
    browser.sign_out().await;
    browser.sign_in(&seed.director.email, PASSWORD).await;
    browser.visit("/trust").await;
    browser.close().await;
    stack.platform.stop().await;
}
