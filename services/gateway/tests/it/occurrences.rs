//! A planned occurrence's page: whoever leads it (or the head) holds, moves or cancels it,
//! ticks the head teacher's checklist and attaches its evidence; the school's teachers tick
//! the class teacher's checklist; everyone at the school reads it and its files; nobody else.

use std::time::Duration;

use reqwest::StatusCode;
use waymark_proto::scheduling::v1 as sc;
use waymark_proto::scheduling::v1::scheduling_client::SchedulingClient;
use waymark_runtime::auth::Caller;

use crate::http::{Client, hidden};
use crate::stack::{PASSWORD, Stack};

/// Hillside's 2026-27 generated from the built-in plan (with progress meetings of 4C and 5D,
/// the two teachers' classes, led by the head), as its head; its occurrences.
pub async fn generated_year(stack: &Stack) -> Vec<sc::Occurrence> {
    let seed = &stack.seed;
    let head = Caller {
        trust: seed.trust,
        actor: seed.head.id.into(),
    };
    let mut client = SchedulingClient::new(stack.platform.client(stack.scheduling, head));
    let school = seed.hillside.to_string();
    let command = || uuid::Uuid::new_v4().to_string();
    // Scheduling learns the school and its head from the directory's events.
    let mut calendar = Err(tonic::Status::unknown("not tried"));
    for _ in 0..100 {
        calendar = client
            .set_year_calendar(sc::SetYearCalendarRequest {
                command_id: command(),
                school_id: school.clone(),
                calendar: Some(sc::YearCalendar {
                    academic_year: "2026-27".into(),
                    terms: vec![sc::Term {
                        name: "The year".into(),
                        starts: "2026-09-02".into(),
                        ends: "2027-07-21".into(),
                    }],
                    assessment_points: vec![sc::AssessmentPoint {
                        name: "Spring assessment".into(),
                        date: "2027-03-12".into(),
                    }],
                    ..Default::default()
                }),
            })
            .await;
        if calendar.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    calendar.unwrap();
    client
        .adopt_plan(sc::AdoptPlanRequest {
            command_id: command(),
            school_id: school.clone(),
            academic_year: "2026-27".into(),
            default_owner_id: seed.head.id.to_string(),
        })
        .await
        .unwrap();
    client
        .generate_year(sc::GenerateYearRequest {
            command_id: command(),
            school_id: school.clone(),
            academic_year: "2026-27".into(),
            classes: vec![
                sc::ClassTeam {
                    class_group: "4C".into(),
                    teacher_id: seed.teacher.id.to_string(),
                    leader_ids: vec![seed.head.id.to_string()],
                },
                sc::ClassTeam {
                    class_group: "5D".into(),
                    teacher_id: seed.colleague.id.to_string(),
                    leader_ids: vec![seed.head.id.to_string()],
                },
            ],
            ..Default::default()
        })
        .await
        .unwrap();
    client
        .list_occurrences(sc::ListOccurrencesRequest {
            school_id: school,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .occurrences
}

/// The id of the first activity of Hillside's generated year.
pub async fn first_activity(stack: &Stack) -> String {
    generated_year(stack)
        .await
        .into_iter()
        .find(|o| o.kind == "activity")
        .expect("an activity of the plan")
        .occurrence_id
}

/// `path` as `client` sees it once `ready` says so (within 30 s; the services learn of each
/// other's events through JetStream).
async fn until(
    client: &mut Client,
    path: &str,
    what: &str,
    ready: impl Fn(&str) -> bool,
) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let page = client.get(path).await.body;
        if ready(&page) {
            return page;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: {page}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A hidden field's value as the form would post it.
fn posted(page: &str, name: &str) -> String {
    hidden(page, name)
        .unwrap_or_else(|| panic!("no {name} on the page: {page}"))
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_occurrence_is_held_its_checklists_ticked_and_its_evidence_read_by_the_school_only() {
    let stack = Stack::start().await;
    let seed = &stack.seed;
    let id = first_activity(&stack).await;
    let page = format!("/occurrences/{id}");
    let mut head = Client::signed_in(&stack.base, &seed.head.email, PASSWORD).await;
    let mut teacher = Client::signed_in(&stack.base, &seed.teacher.email, PASSWORD).await;
    let mut other = Client::signed_in(&stack.base, &seed.riverside_teacher.email, PASSWORD).await;

    // A teacher at the school ticks the class teacher's checklist; the head teacher's list
    // is shown to them, not offered.
    let theirs = teacher.get(&page).await.body;
    assert!(theirs.contains("Intended impact"), "{theirs}");
    assert!(
        theirs.contains("value=\"class_teacher\"") && !theirs.contains("value=\"head_teacher\""),
        "{theirs}"
    );
    let class_line = posted(&theirs, "line");
    let tick = |list: &'static str, line: String| {
        move |command: String| {
            [
                ("command_id", command),
                ("checklist", list.to_owned()),
                ("line", line),
                ("ticked", "true".to_owned()),
            ]
        }
    };
    let send = async |client: &mut Client, fields: [(&str, String); 4]| {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        client.post(&format!("{page}/tick"), &fields).await
    };
    let ticked = send(
        &mut teacher,
        tick("class_teacher", class_line.clone())(posted(&theirs, "command_id")),
    )
    .await;
    assert_eq!(ticked.status, StatusCode::SEE_OTHER, "{}", ticked.body);

    // The head leads it: ticks their own list, holds it and attaches the minutes.
    let shown = head.get(&page).await.body;
    assert!(shown.contains("Ticked by Tom Teacher"), "{shown}");
    let head_line = posted(&shown, "line");
    let refused = send(
        &mut teacher,
        tick("head_teacher", head_line.clone())(uuid::Uuid::new_v4().to_string()),
    )
    .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(refused.body.contains("only whoever leads it"));
    assert!(!head.get(&page).await.body.contains("Ticked by Helen Head"));
    let ticked = send(
        &mut head,
        tick("head_teacher", head_line)(posted(&shown, "command_id")),
    )
    .await;
    assert_eq!(ticked.status, StatusCode::SEE_OTHER, "{}", ticked.body);
    let shown = head.get(&page).await.body;
    assert!(shown.contains("Ticked by Helen Head"), "{shown}");

    // The head writes the notes and who attended; the teacher reads them, and may not write.
    let head_id = seed.head.id.to_string();
    let teacher_id = seed.teacher.id.to_string();
    let noted = head
        .post(
            &format!("{page}/minutes"),
            &[
                ("command_id", &uuid::Uuid::new_v4().to_string()),
                ("minutes", "Data reviewed; Year 4 writing to follow up"),
                ("attendee_ids", &head_id),
                ("attendee_ids", &teacher_id),
            ],
        )
        .await;
    assert_eq!(noted.status, StatusCode::SEE_OTHER, "{}", noted.body);
    let theirs = teacher.get(&page).await.body;
    assert!(
        theirs.contains("<dd>Data reviewed; Year 4 writing to follow up</dd>"),
        "{theirs}"
    );
    let attended = theirs
        .split("<dt>Attended</dt><dd>")
        .nth(1)
        .and_then(|rest| rest.split("</dd>").next())
        .unwrap_or_default();
    assert!(
        attended.contains("Helen Head") && attended.contains("Tom Teacher"),
        "{attended}"
    );
    let refused = teacher
        .post(
            &format!("{page}/minutes"),
            &[
                ("command_id", &uuid::Uuid::new_v4().to_string()),
                ("minutes", "Rewritten"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!teacher.get(&page).await.body.contains("Rewritten"));
    assert!(
        shown.contains("Mark as held") && shown.contains("Attach a file"),
        "{shown}"
    );
    let command = hidden(&shown, "command_id").unwrap();
    let pdf = b"%PDF-1.4\n%%EOF\n".to_vec();
    let sent = head
        .upload(&format!("{page}/files"), &command, "minutes.pdf", &pdf)
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let held = head.post(&format!("{page}/held"), &[]).await;
    assert_eq!(held.status, StatusCode::SEE_OTHER, "{}", held.body);
    let shown = head.get(&page).await.body;
    assert!(
        shown.contains("Held") && !shown.contains("Mark as held"),
        "{shown}"
    );
    let file = shown
        .split(&format!("href=\"{page}/files/"))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(|f| format!("{page}/files/{f}"))
        .expect("the file's link");

    // A teacher at the school reads it and its files, but does not run it or add to it.
    let theirs = teacher.get(&page).await.body;
    assert!(theirs.contains("minutes.pdf") && !theirs.contains("Attach a file"));
    assert_eq!(teacher.get(&file).await.bytes, pdf);
    let sent = teacher
        .upload(
            &format!("{page}/files"),
            &uuid::Uuid::new_v4().to_string(),
            "x.pdf",
            &pdf,
        )
        .await;
    assert_eq!(sent.status, StatusCode::FORBIDDEN, "{}", sent.body);
    // Another school's teacher finds neither.
    assert_eq!(other.get(&page).await.status, StatusCode::NOT_FOUND);
    assert_eq!(other.get(&file).await.status, StatusCode::NOT_FOUND);

    // The page passes the accessibility checks.
    let mut browser = crate::browser::Browser::start(&stack.base, "occurrence").await;
    browser.sign_in(&seed.head.email, PASSWORD).await;
    browser.visit(&page).await;
    browser.close().await;
    stack.platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meeting_scheduled_from_its_planned_occurrence_shows_once_and_holds_it() {
    let stack = Stack::start().await;
    let seed = &stack.seed;
    let planned = generated_year(&stack)
        .await
        .into_iter()
        .find(|o| o.kind == "progress_meeting")
        .expect("4C's progress meeting");
    let page = format!("/occurrences/{}", planned.occurrence_id);
    let mut head = Client::signed_in(&stack.base, &seed.head.email, PASSWORD).await;

    // The head leads the meeting: its planned occurrence offers to schedule it, and the
    // form comes filled in from it.
    let shown = head.get(&page).await.body;
    let form = format!("/meetings/new?occurrence={}", planned.occurrence_id);
    assert!(
        shown.contains("Schedule this meeting") && shown.contains(&form),
        "{shown}"
    );
    let form = head.get(&form).await.body;
    for field in [
        ("occurrence_id", planned.occurrence_id.as_str()),
        ("class_group", "4C"),
        ("assessment_point", "Spring assessment"),
    ] {
        assert!(
            form.contains(&format!("name=\"{}\"", field.0))
                && form.contains(&format!("value=\"{}\"", field.1)),
            "{field:?}: {form}"
        );
    }
    let teacher = seed.teacher.id.to_string();
    let scheduled = head
        .post(
            "/meetings",
            &[
                ("command_id", &hidden(&form, "command_id").unwrap()),
                ("occurrence_id", &planned.occurrence_id),
                ("teacher_id", &teacher),
                ("class_group", "4C"),
                ("assessment_point", "Spring assessment"),
                ("academic_year", "2026-27"),
                ("date", &planned.date),
            ],
        )
        .await;
    assert_eq!(
        scheduled.status,
        StatusCode::SEE_OTHER,
        "{}",
        scheduled.body
    );
    let meeting = crate::http::path_of(&scheduled.location, &stack.base);

    // Scheduling learns of it from review dialogue's events: the occurrence names its
    // meeting, and the calendar shows the meeting alone.
    let shown = until(
        &mut head,
        &page,
        "the meeting holds the occurrence",
        |page| page.contains("The progress meeting that holds it"),
    )
    .await;
    assert!(
        shown.contains(&format!("href=\"{meeting}\"")) && !shown.contains("Schedule this meeting"),
        "{shown}"
    );
    let week = head
        .get(&format!("/calendar?view=week&date={}", planned.date))
        .await
        .body;
    assert!(
        week.contains("Progress meeting: 4C (Spring assessment)"),
        "{week}"
    );
    assert!(!week.contains("Planned: Progress meeting: 4C"), "{week}");
    assert!(week.contains("Planned: Progress meeting: 5D"), "{week}");

    // Closing the meeting holds the occurrence.
    for step in ["open", "close"] {
        let done = head.post(&format!("{meeting}/{step}"), &[]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{step}: {}", done.body);
    }
    until(&mut head, &page, "the occurrence held", |page| {
        page.contains("tag--green\">Held") && !page.contains("Mark as held")
    })
    .await;
    stack.platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_agreed_at_an_occurrence_names_it_as_its_origin() {
    use waymark_proto::action_tracking::v1 as at;
    use waymark_proto::action_tracking::v1::action_tracking_client::ActionTrackingClient;

    let stack = Stack::start().await;
    let seed = &stack.seed;
    let id = first_activity(&stack).await;
    let page = format!("/occurrences/{id}");
    let mut head = Client::signed_in(&stack.base, &seed.head.email, PASSWORD).await;
    let mut teacher = Client::signed_in(&stack.base, &seed.teacher.email, PASSWORD).await;
    let teacher_id = seed.teacher.id.to_string();
    let colleague_id = seed.colleague.id.to_string();
    let due = crate::stack::day(30);

    // The head, who leads it, agrees an action for the teacher. Action tracking learns of
    // the occurrence from scheduling's events, so the first tries may come too soon.
    let shown = head.get(&page).await.body;
    assert!(
        shown.contains("Agree an action") && shown.contains("None yet."),
        "{shown}"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let agreed = head
            .post(
                &format!("{page}/action"),
                &[
                    ("command_id", &uuid::Uuid::new_v4().to_string()),
                    ("description", "Model paragraphing in Year 4 writing"),
                    ("owner_id", &teacher_id),
                    ("due_date", &due),
                    (
                        "success_criteria",
                        "Most books show paragraphs by half term",
                    ),
                ],
            )
            .await;
        if agreed.status == StatusCode::SEE_OTHER {
            break;
        }
        assert_eq!(
            agreed.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            agreed.body
        );
        assert!(
            agreed.body.contains("no planned occurrence of this school"),
            "{}",
            agreed.body
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "never learned of it"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The teacher sees it on the occurrence's page, and the action names where it came from.
    let theirs = teacher.get(&page).await.body;
    assert!(
        theirs.contains("Model paragraphing in Year 4 writing")
            && theirs.contains("Tom Teacher")
            && !theirs.contains("Agree an action"),
        "{theirs}"
    );
    let action = theirs
        .split("href=\"/actions/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the action's link")
        .to_owned();
    let shown = teacher.get(&format!("/actions/{action}")).await.body;
    assert!(
        shown.contains("Planned monitoring") && shown.contains(&format!("href=\"{page}\"")),
        "{shown}"
    );

    // The teacher may not set one for a colleague, from the occurrence or anywhere else.
    let refused = teacher
        .post(
            &format!("{page}/action"),
            &[
                ("command_id", &uuid::Uuid::new_v4().to_string()),
                ("description", "Something for Cara"),
                ("owner_id", &colleague_id),
                ("due_date", &due),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!head.get(&page).await.body.contains("Something for Cara"));

    // Riverside's teacher, who may create their own actions at Riverside, cannot give one
    // Hillside's occurrence as its origin, nor an occurrence that does not exist.
    let rory = Caller {
        trust: seed.trust,
        actor: seed.riverside_teacher.id.into(),
    };
    let mut actions = ActionTrackingClient::new(stack.platform.client(stack.actions, rory));
    for occurrence in [id.clone(), uuid::Uuid::new_v4().to_string()] {
        let refused = actions
            .create_action(at::CreateActionRequest {
                command_id: uuid::Uuid::new_v4().to_string(),
                school_id: seed.riverside.to_string(),
                description: "Borrowed origin".into(),
                owner_id: seed.riverside_teacher.id.to_string(),
                due_date: due.clone(),
                occurrence_id: occurrence,
                ..Default::default()
            })
            .await
            .expect_err("another school's occurrence");
        assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
        assert_eq!(
            waymark_runtime::ServiceError::from_status(&refused).code,
            "action.unknown_origin"
        );
    }
    stack.platform.stop().await;
}
