//! A progress meeting as the seed describes it: the teacher with several leaders, an
//! analysis naming several groups and learners, and the research behind a proposed
//! intervention shown wherever the meeting is.

use reqwest::StatusCode;

use crate::http::{Client, path_of};
use crate::stack::{PASSWORD, Stack, day};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meeting_has_several_leaders_groups_and_learners_and_shows_its_research() {
    let stack = Stack::start().await;
    let seed = &stack.seed;
    let mut head = Client::signed_in(&stack.base, &seed.head.email, PASSWORD).await;
    let mut teacher = Client::signed_in(&stack.base, &seed.teacher.email, PASSWORD).await;
    let mut cara = Client::signed_in(&stack.base, &seed.colleague.email, PASSWORD).await;
    let tom = seed.teacher.id.to_string();
    let date = day(7);
    let schedule = async |head: &mut Client, leaders: &[String]| {
        let mut fields = vec![
            ("teacher_id", tom.as_str()),
            ("class_group", "4C"),
            ("assessment_point", "Autumn assessment"),
            ("academic_year", "2026-27"),
            ("date", date.as_str()),
        ];
        fields.extend(leaders.iter().map(|l| ("leader_ids", l.as_str())));
        head.post("/meetings", &fields).await
    };

    // The form offers the school's staff as other leaders.
    let form = head.get("/meetings/new").await.body;
    assert!(
        form.contains("Other leaders taking part")
            && form.contains(&format!("value=\"{}\"", seed.colleague.id)),
        "{form}"
    );
    // Someone from another school cannot be made a party to Hillside's meeting.
    let refused = schedule(&mut head, &[seed.riverside_teacher.id.to_string()]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("does not work at this school"),
        "{}",
        refused.body
    );
    // The head leads it with a colleague from the school and the trust's director.
    let scheduled = schedule(
        &mut head,
        &[seed.colleague.id.to_string(), seed.director.id.to_string()],
    )
    .await;
    assert_eq!(
        scheduled.status,
        StatusCode::SEE_OTHER,
        "{}",
        scheduled.body
    );
    let meeting = path_of(&scheduled.location, &stack.base);
    let shown = cara.get(&meeting).await;
    assert_eq!(shown.status, StatusCode::OK, "a leader of it reads it");
    assert!(
        shown
            .body
            .contains("<dd>Helen Head, Cara Colleague, Dana Director</dd>"),
        "{}",
        shown.body
    );

    // Tom's analysis names two groups and four learners.
    let mut analysis: Vec<(String, String)> = [
        ("strengths", "Reading fluency"),
        ("areas_of_focus", "Writing stamina"),
        ("group.0", "Boys"),
        ("group.0.note", "Behind in writing"),
        ("group.1", "Disadvantaged"),
        ("group.1.note", "Closing the gap in maths"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .to_vec();
    for n in 0..4 {
        analysis.push((format!("learner.{n}"), format!("L-10{n}")));
        analysis.push((
            format!("learner.{n}.note"),
            format!("Needs pre-teaching {n}"),
        ));
    }
    let fields: Vec<(&str, &str)> = analysis
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let saved = teacher.post(&format!("{meeting}/analysis"), &fields).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let page = teacher.get(&meeting).await.body;
    for shown in [
        "<dt>Group: Boys</dt>",
        "<dt>Group: Disadvantaged</dt>",
        "<dt>Learner L-100</dt>",
        "<dt>Learner L-103</dt>",
    ] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
    // Rewriting starts from what was written.
    assert!(page.contains("value=\"L-103\""), "{page}");

    // In the meeting, an intervention is proposed with the research behind it.
    let opened = head.post(&format!("{meeting}/open"), &[]).await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);
    let noted = head
        .post(
            &format!("{meeting}/discussion"),
            &[
                ("level", "group"),
                ("about", "Boys"),
                ("note", "Structured talk before writing"),
                ("adaptation", "teaching"),
                ("research", "EEF oral language interventions: +6 months"),
            ],
        )
        .await;
    assert_eq!(noted.status, StatusCode::SEE_OTHER, "{}", noted.body);
    let research = "Research behind it: EEF oral language interventions: +6 months";
    assert!(cara.get(&meeting).await.body.contains(research));
    let record = teacher.get(&format!("{meeting}/record")).await.body;
    for part in [research, "Group: Disadvantaged", "Learner L-102"] {
        assert!(record.contains(part), "{part}: {record}");
    }

    let mut browser = crate::browser::Browser::start(&stack.base, "meeting_leaders").await;
    browser.sign_in(&seed.head.email, PASSWORD).await;
    browser.visit("/meetings/new").await;
    browser.visit(&meeting).await;
    browser.close().await;
    stack.platform.stop().await;
}
