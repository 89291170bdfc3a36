//! A school through a term, in the browser (axe-core checks every page): its calendar and
//! plan, the year generated, three kinds of planned occurrence held (an activity with its
//! checklist ticked and an action agreed at it, a progress meeting, a progress review agreed
//! before its window closed; checklists belong to the plan's activities, so only the
//! activity has one), a visit booked within the caps and one refused over them, and
//! the trust overview's figures and charts as worked out from what was done.

use std::time::{Duration, Instant};

use waymark_proto::action_tracking::v1 as at;
use waymark_proto::action_tracking::v1::action_tracking_client::ActionTrackingClient;
use waymark_proto::scheduling::v1 as sc;
use waymark_proto::scheduling::v1::scheduling_client::SchedulingClient;
use waymark_runtime::auth::Caller;

use crate::browser::Browser;
use crate::http::Client;
use crate::stack::{PASSWORD, Stack, day};
use crate::visits::draft_review;

/// The cells of the table row headed `heading`, from `from` on.
fn cells(page: &str, from: &str, heading: &str) -> Vec<String> {
    let page = &page[page.find(from).unwrap_or_else(|| panic!("{from}: {page}"))..];
    let at = page
        .find(&format!("<th scope=\"row\">{heading}</th>"))
        .unwrap_or_else(|| panic!("{heading} after {from}"));
    page[at..at + page[at..].find("</tr>").unwrap()]
        .split("<td>")
        .skip(1)
        .map(|cell| cell.trim().trim_end_matches("</td>").trim().to_owned())
        .collect()
}

type Scheduling = SchedulingClient<
    tonic::service::interceptor::InterceptedService<
        tonic::transport::Channel,
        waymark_runtime::auth::CallAs,
    >,
>;

/// The school's occurrences as scheduling lists them.
async fn occurrences(scheduling: &mut Scheduling, school: &str) -> Vec<sc::Occurrence> {
    scheduling
        .list_occurrences(sc::ListOccurrencesRequest {
            school_id: school.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .occurrences
}

/// On an activity's page, ticks the first line of its head teacher's checklist.
async fn tick_first(
    browser: &mut Browser,
    scheduling: &mut Scheduling,
    occurrence: &sc::Occurrence,
) {
    browser
        .visit(&format!("/occurrences/{}", occurrence.occurrence_id))
        .await;
    let lines = scheduling
        .get_occurrence(sc::GetOccurrenceRequest {
            occurrence_id: occurrence.occurrence_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .head_teacher_checklist;
    let line = lines
        .first()
        .expect("the activity's head teacher's checklist");
    browser.press(&format!("Tick {}", line.text)).await;
    assert!(browser.text().await.contains("Ticked by Helen Head"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_school_goes_through_a_term_from_its_plan_to_the_trust_overview() {
    let stack = Stack::start().await;
    let seed = &stack.seed;
    let hillside = seed.hillside.to_string();
    let tom = seed.teacher.id.to_string();
    let cara = seed.colleague.id.to_string();
    let today = waymark_testkit::time::today().to_string();
    let head_caller = Caller {
        trust: seed.trust,
        actor: seed.head.id.into(),
    };
    let mut scheduling =
        SchedulingClient::new(stack.platform.client(stack.scheduling, head_caller));
    let mut actions = ActionTrackingClient::new(stack.platform.client(stack.actions, head_caller));
    let mut browser = Browser::start(&stack.base, "term").await;
    browser.sign_in(&seed.head.email, PASSWORD).await;

    // The head sets the autumn term and its assessment point, adopts the plan and generates
    // the year with each teacher's year group and class.
    browser
        .visit(&format!("/admin/calendar?school={hillside}&year=2026-27"))
        .await;
    browser.fill("#term0n", "Autumn term").await;
    browser.set_date("#term0s", "2026-09-02").await;
    browser.set_date("#term0e", "2026-12-18").await;
    browser.fill("#pt0n", "Autumn assessment").await;
    browser.set_date("#pt0d", "2026-11-06").await;
    browser.press("Save the calendar").await;
    browser
        .visit(&format!("/admin/plan?school={hillside}&year=2026-27"))
        .await;
    browser.press("Adopt this plan").await;
    for (teacher, year_group, class) in [(&tom, "Year 4", "4C"), (&cara, "Year 5", "5D")] {
        browser
            .fill(&format!("input[name='year_group.{teacher}']"), year_group)
            .await;
        browser
            .fill(&format!("input[name='class.{teacher}']"), class)
            .await;
    }
    browser.press("Generate the year").await;
    assert!(browser.text().await.contains("The year is generated"));
    let year = occurrences(&mut scheduling, &hillside).await;
    let find = |kind: &str, fits: &dyn Fn(&sc::Occurrence) -> bool| {
        year.iter()
            .find(|o| o.kind == kind && fits(o))
            .unwrap_or_else(|| panic!("a {kind} in {year:?}"))
            .clone()
    };
    let activity = find("activity", &|o| o.due < today);
    let meeting = find("progress_meeting", &|o| o.detail == "4C");
    let review = find("progress_review", &|o| {
        o.participant_ids.contains(&tom) && o.due >= today
    });

    // 1. An activity already due: the head ticks a line of their checklist, agrees an
    // action at it, and marks it held.
    tick_first(&mut browser, &mut scheduling, &activity).await;
    // Action tracking learns of the occurrence from scheduling's events.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !actions
        .list_origins(at::ListOriginsRequest {
            school_id: hillside.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .origins
        .iter()
        .any(|o| o.origin_id == activity.occurrence_id)
    {
        assert!(
            Instant::now() < deadline,
            "action tracking never learned of it"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser.open("Agree an action").await;
    browser
        .fill(
            "#action-description",
            "Share the marking policy's feedback codes",
        )
        .await;
    browser.choose("#action-owner", &tom).await;
    browser.set_date("#action-due", &day(30)).await;
    browser.press("Agree the action").await;
    browser.press("Mark as held").await;
    assert!(
        browser
            .text()
            .await
            .contains("Share the marking policy's feedback codes")
    );

    // 2. 4C's progress meeting, scheduled from its occurrence, held, and closed with an
    // action; the occurrence is held with it.
    let page = format!("/occurrences/{}", meeting.occurrence_id);
    browser.visit(&page).await;
    browser.follow("Schedule this meeting").await;
    browser.press("Schedule the meeting").await;
    browser.press("Start the meeting").await;
    browser
        .fill("#a0d", "Pre-teach vocabulary before each unit")
        .await;
    browser.set_date("#a0due", &day(40)).await;
    browser
        .press("Agree these actions and close the meeting")
        .await;
    browser.wait_for_text(&page, "Held").await;

    // 3. Tom's progress review, scheduled from its occurrence and agreed while its window is
    // still open or to come: early.
    let page = format!("/occurrences/{}", review.occurrence_id);
    browser.visit(&page).await;
    browser.follow("Schedule this review").await;
    browser.press("Schedule the review").await;
    let record = browser.path().await;
    let mut head = Client::signed_in(&stack.base, &seed.head.email, PASSWORD).await;
    let mut teacher = Client::signed_in(&stack.base, &seed.teacher.email, PASSWORD).await;
    draft_review(&mut head, &record, &today, true).await;
    for client in [&mut head, &mut teacher] {
        let agreed = client
            .post(&format!("{record}/agree"), &[("draft", "1")])
            .await;
        assert_eq!(
            agreed.status,
            reqwest::StatusCode::SEE_OTHER,
            "{}",
            agreed.body
        );
    }
    browser.wait_for_text(&page, "Held").await;

    // 4. A visit booked within the caps; a second the same day is refused.
    for refused in [false, true] {
        browser.visit("/visits/new").await;
        browser.choose("#teacher_id", &cara).await;
        browser.set_date("#date", "2026-11-23").await;
        browser.fill("#focus", "Questioning in maths").await;
        if refused {
            let problem = browser.press_refused("Plan the visit").await;
            assert!(problem.contains("that day: at most 1"), "{problem}");
        } else {
            browser.press("Plan the visit").await;
        }
    }
    browser.sign_out().await;

    // The director's overview, against what the school did. Held: what was held this year;
    // early: held with its window not yet closed; overdue: planned and closed before today.
    let year = occurrences(&mut scheduling, &hillside).await;
    let live: Vec<&sc::Occurrence> = year.iter().filter(|o| o.status != "cancelled").collect();
    let held = live.iter().filter(|o| o.status == "held").count();
    let early = live
        .iter()
        .filter(|o| o.status == "held" && o.due >= today)
        .count();
    let overdue = live
        .iter()
        .filter(|o| o.status == "planned" && o.due < today)
        .count();
    assert_eq!(held, 3, "the activity, the meeting and the review");
    assert!(early >= 1, "the review, at least, before its window closed");
    let due = held + overdue;
    let agreed_actions = actions
        .list_actions(at::ListActionsRequest {
            school_id: hillside.clone(),
            statuses: vec!["open".into(), "in_progress".into(), "done".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .actions
        .len();
    assert!(agreed_actions >= 2, "the activity's and the meeting's");

    browser.sign_in(&seed.director.email, PASSWORD).await;
    browser.visit("/trust").await;
    let mut director = Client::signed_in(&stack.base, &seed.director.email, PASSWORD).await;
    let overview = director.get("/trust").await.body;
    let row = cells(
        &overview,
        "Monitoring and actions by school",
        "Hillside Primary",
    );
    assert_eq!(
        row[0],
        format!("{held} of {due} ({}%) ({early} early)", held * 100 / due),
        "planned monitoring held"
    );
    assert_eq!(row[1], overdue.to_string(), "overdue");
    assert_eq!(row[2], "1 of 1 (100%) (1 early)", "the review agreed early");
    assert_eq!(row[3], "1 of 1 (100%)", "the meeting held");
    // Month by month: what is due and held in November; the actions opened this month.
    let november: Vec<&&sc::Occurrence> = live
        .iter()
        .filter(|o| o.due.starts_with("2026-11-"))
        .collect();
    let planned = november.len();
    let held_in_november = november.iter().filter(|o| o.status == "held").count();
    let table = "Hillside Primary: planned monitoring due and held";
    assert_eq!(cells(&overview, table, "Planned")[2], planned.to_string());
    assert_eq!(
        cells(&overview, table, "Held")[2],
        held_in_november.to_string()
    );
    assert!(
        overview.contains(&format!("<title>Nov, Held: {held_in_november}</title>")),
        "{overview}"
    );
    let table = "Hillside Primary: actions opened and closed by month";
    assert_eq!(
        cells(&overview, table, "Opened")[3],
        agreed_actions.to_string()
    );
    assert!(
        overview.contains(&format!("<title>Nov, Opened: {agreed_actions}</title>")),
        "{overview}"
    );
    browser.close().await;
    stack.platform.stop().await;
}
