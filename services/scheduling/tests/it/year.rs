use tonic::Code;
use uuid::Uuid;
use waymark_proto::scheduling::v1 as pb;
use waymark_testkit::services::{TestPlatform, colleague, new_caller, staff};

use crate::support::*;

fn code(status: &tonic::Status) -> &str {
    status
        .metadata()
        .get("x-waymark-code")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_school_plans_its_year_and_the_calendar_moves_what_is_not_yet_held() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_scheduling::run).await;
    let head = new_caller();
    let (_, deputy) = colleague(head);
    let (_, teacher_7) = colleague(head);
    let (_, teacher_8) = colleague(head);
    let school = Uuid::new_v4();
    school_of(&platform, head, school, &[deputy, teacher_7, teacher_8]).await;
    let mut client = client(&platform, address, head);

    set_calendar(&mut client, school, year_calendar()).await;
    let calendar = client
        .get_calendar(pb::GetCalendarRequest {
            school_id: school.to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (calendar.time_zone.as_str(), calendar.years[0].terms.len()),
        ("Europe/London", 3)
    );

    // Before adoption the plan shown is the built-in one.
    let preview = client
        .get_plan(pb::GetPlanRequest {
            school_id: school.to_string(),
            academic_year: "2026-27".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!preview.adopted);
    assert_eq!(preview.activities.len(), 15);
    let generate = pb::GenerateYearRequest {
        command_id: command(),
        school_id: school.to_string(),
        academic_year: "2026-27".into(),
        year_groups: vec![
            pb::YearGroupTeam {
                year_group: "Year 7".into(),
                members: vec![pb::TeamMember {
                    teacher_id: teacher_7.to_string(),
                    line_manager_id: deputy.to_string(),
                }],
            },
            pb::YearGroupTeam {
                year_group: "Year 8".into(),
                members: vec![pb::TeamMember {
                    teacher_id: teacher_8.to_string(),
                    line_manager_id: deputy.to_string(),
                }],
            },
        ],
        classes: vec![pb::ClassTeam {
            class_group: "7B".into(),
            teacher_id: teacher_7.to_string(),
            leader_ids: vec![deputy.to_string()],
        }],
    };
    let not_adopted = client.generate_year(generate.clone()).await.unwrap_err();
    assert_eq!(
        (not_adopted.code(), code(&not_adopted)),
        (Code::FailedPrecondition, "plan.not_adopted")
    );
    client
        .adopt_plan(pb::AdoptPlanRequest {
            command_id: command(),
            school_id: school.to_string(),
            academic_year: "2026-27".into(),
            default_owner_id: staff(head).to_string(),
        })
        .await
        .unwrap();
    // The school adapts: pupil focus groups in November only.
    let mut focus = preview
        .activities
        .iter()
        .find(|a| a.key == "pupil_focus_group")
        .unwrap()
        .clone();
    focus.months = vec![11];
    client
        .set_plan_activity(pb::SetPlanActivityRequest {
            command_id: command(),
            school_id: school.to_string(),
            academic_year: "2026-27".into(),
            activity: Some(focus),
        })
        .await
        .unwrap();
    client.generate_year(generate.clone()).await.unwrap();
    let again = client
        .generate_year(pb::GenerateYearRequest {
            command_id: command(),
            ..generate
        })
        .await
        .unwrap_err();
    assert_eq!(code(&again), "schedule.already_generated");

    let list = async |client: &mut Client, request: pb::ListOccurrencesRequest| {
        client
            .list_occurrences(request)
            .await
            .unwrap()
            .into_inner()
            .occurrences
    };
    let all = list(
        &mut client,
        pb::ListOccurrencesRequest {
            school_id: school.to_string(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        all.iter()
            .filter(|o| o.detail == "pupil_focus_group")
            .count(),
        1
    );
    assert_eq!(
        all.iter().filter(|o| o.kind == "progress_review").count(),
        4
    );
    let teachers_year = list(
        &mut client,
        pb::ListOccurrencesRequest {
            person_id: teacher_7.to_string(),
            ..Default::default()
        },
    )
    .await;
    assert!(
        teachers_year
            .iter()
            .all(|o| o.owner_id == teacher_7.to_string()
                || o.participant_ids.contains(&teacher_7.to_string()))
    );
    assert_eq!(
        teachers_year
            .iter()
            .filter(|o| o.kind == "progress_meeting")
            .count(),
        3
    );
    let week = list(
        &mut client,
        pb::ListOccurrencesRequest {
            school_id: school.to_string(),
            from_date: "2026-11-09".into(),
            to_date: "2026-11-15".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(week.iter().any(|o| o.detail == "attendance_overview"));

    // Hold the autumn meeting, move the spring one by hand, then push every assessment point a
    // week later: only the summer meeting follows.
    let meetings: Vec<pb::Occurrence> = teachers_year
        .into_iter()
        .filter(|o| o.kind == "progress_meeting")
        .collect();
    let occurrence = |o: &pb::Occurrence| {
        (
            school.to_string(),
            "2026-27".to_owned(),
            o.occurrence_id.clone(),
        )
    };
    let (s, y, autumn) = occurrence(&meetings[0]);
    client
        .mark_occurrence_held(pb::OccurrenceTextRequest {
            command_id: command(),
            school_id: s.clone(),
            academic_year: y.clone(),
            occurrence_id: autumn,
            text: String::new(),
        })
        .await
        .unwrap();
    let (_, _, spring) = occurrence(&meetings[1]);
    let no_reason = client
        .reschedule_occurrence(pb::RescheduleOccurrenceRequest {
            command_id: command(),
            school_id: s.clone(),
            academic_year: y.clone(),
            occurrence_id: spring.clone(),
            date: "2027-03-24".into(),
            reason: " ".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(no_reason.code(), Code::InvalidArgument);
    client
        .reschedule_occurrence(pb::RescheduleOccurrenceRequest {
            command_id: command(),
            school_id: s.clone(),
            academic_year: y.clone(),
            occurrence_id: spring,
            date: "2027-03-24".into(),
            reason: "Parents' evening".into(),
        })
        .await
        .unwrap();
    let mut later = year_calendar();
    for point in &mut later.assessment_points {
        let date = chrono::NaiveDate::parse_from_str(&point.date, "%Y-%m-%d").unwrap()
            + chrono::Duration::days(7);
        point.date = date.to_string();
    }
    set_calendar(&mut client, school, later).await;
    let after = list(
        &mut client,
        pb::ListOccurrencesRequest {
            person_id: teacher_7.to_string(),
            kind: "progress_meeting".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(after[0].date, meetings[0].date, "held: untouched");
    assert_eq!(after[0].status, "held");
    assert_eq!(after[1].date, "2027-03-24", "moved by hand: untouched");
    assert_ne!(
        after[2].date, meetings[2].date,
        "still planned: moved with the calendar"
    );

    // The read models rebuilt from the store (`waymark projections rebuild`) are the same,
    // held, moved and all; and the rebuild re-plans no reminder.
    let snapshot = async || {
        let mut all = Vec::new();
        for table in [
            "calendars",
            "plans",
            "schedules",
            "occurrences",
            "visit_requests",
            "timers",
        ] {
            all.push(
                sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!(
                    "SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY to_jsonb(t)::text), '[]')::text \
                     FROM scheduling.{table} t"
                )))
                .fetch_one(&platform.db.pool)
                .await
                .unwrap(),
            );
        }
        all
    };
    let live = snapshot().await;
    sqlx::query("DELETE FROM scheduling.occurrences")
        .execute(&platform.db.pool)
        .await
        .unwrap();
    let projections = waymark_scheduling::projections();
    let records = projections
        .iter()
        .find(|p| p.name() == "scheduling.records.v1")
        .unwrap();
    records
        .run(&platform.platform.store, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(snapshot().await, live);
    platform.stop().await;
}

#[tokio::test]
async fn visits_are_capped_per_teacher_and_the_unvisited_are_listed() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_scheduling::run).await;
    let head = new_caller();
    let (teacher_caller, teacher) = colleague(head);
    let (_, other) = colleague(head);
    let school = Uuid::new_v4();
    school_of(&platform, head, school, &[teacher, other]).await;
    let mut client = client(&platform, address, head);
    set_calendar(&mut client, school, year_calendar()).await;
    client
        .adopt_plan(pb::AdoptPlanRequest {
            command_id: command(),
            school_id: school.to_string(),
            academic_year: "2026-27".into(),
            default_owner_id: String::new(),
        })
        .await
        .unwrap();
    client
        .generate_year(pb::GenerateYearRequest {
            command_id: command(),
            school_id: school.to_string(),
            academic_year: "2026-27".into(),
            classes: vec![
                pb::ClassTeam {
                    class_group: "9A".into(),
                    teacher_id: teacher.to_string(),
                    leader_ids: vec![staff(head).to_string()],
                },
                pb::ClassTeam {
                    class_group: "9B".into(),
                    teacher_id: other.to_string(),
                    leader_ids: vec![staff(head).to_string()],
                },
            ],
            ..Default::default()
        })
        .await
        .unwrap();
    let not_visited = async |client: &mut Client| {
        client
            .not_visited(pb::NotVisitedRequest {
                school_id: school.to_string(),
                academic_year: "2026-27".into(),
                from_date: "2026-09-02".into(),
                to_date: "2026-12-18".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .teacher_ids
    };
    assert_eq!(not_visited(&mut client).await.len(), 2);

    // The teacher asks for a visit; it is booked against the request.
    let mut as_teacher = crate::support::client(&platform, address, teacher_caller);
    let request = as_teacher
        .request_visit(pb::RequestVisitRequest {
            command_id: command(),
            school_id: school.to_string(),
            academic_year: "2026-27".into(),
            teacher_id: String::new(),
            reason: "Trying retrieval grids".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    let book = |date: &str, request_id: &str| pb::BookVisitRequest {
        command_id: command(),
        school_id: school.to_string(),
        academic_year: "2026-27".into(),
        visitor_id: staff(head).to_string(),
        teacher_id: teacher.to_string(),
        date: date.into(),
        request_id: request_id.into(),
    };
    client
        .book_visit(book("2026-11-23", &request))
        .await
        .unwrap();
    let requests = client
        .list_visit_requests(pb::SchoolYearRequest {
            school_id: school.to_string(),
            academic_year: "2026-27".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .requests;
    assert!(!requests[0].booked_as.is_empty());
    assert_eq!(not_visited(&mut client).await, vec![other.to_string()]);

    let same_day = client.book_visit(book("2026-11-23", "")).await.unwrap_err();
    assert_eq!(
        (same_day.code(), code(&same_day)),
        (Code::FailedPrecondition, "schedule.visit_cap")
    );
    client.book_visit(book("2026-11-25", "")).await.unwrap();
    let third = client.book_visit(book("2026-11-27", "")).await.unwrap_err();
    assert!(third.message().contains("that week"), "{}", third.message());
    platform.stop().await;
}

#[tokio::test]
async fn a_calendar_that_does_not_add_up_is_refused() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_scheduling::run).await;
    let head = new_caller();
    let school = Uuid::new_v4();
    school_of(&platform, head, school, &[]).await;
    let mut client = client(&platform, address, head);
    let mut overlapping = year_calendar();
    overlapping.terms[1].starts = "2026-12-01".into();
    let status = client
        .set_year_calendar(pb::SetYearCalendarRequest {
            command_id: command(),
            school_id: school.to_string(),
            calendar: Some(overlapping),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), code(&status)),
        (Code::InvalidArgument, "calendar.overlap")
    );
    let zone = client
        .set_time_zone(pb::SetTimeZoneRequest {
            command_id: command(),
            school_id: school.to_string(),
            time_zone: "Mars/Olympus".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(zone.code(), Code::InvalidArgument);
    // Another trust's people are refused this school's calendar.
    client
        .set_time_zone(pb::SetTimeZoneRequest {
            command_id: command(),
            school_id: school.to_string(),
            time_zone: "Europe/Dublin".into(),
        })
        .await
        .unwrap();
    let mut stranger = crate::support::client(&platform, address, new_caller());
    let refused = stranger
        .get_calendar(pb::GetCalendarRequest {
            school_id: school.to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    platform.stop().await;
}
