//! Who may do what with a school's calendar, plan, occurrences, visits and reminders, cell
//! by cell against the running service: each person of the cast calls every method, and
//! every call the rules refuse answers PERMISSION_DENIED and appends nothing.

use tonic::Code;
use waymark_proto::scheduling::v1 as pb;
use waymark_testkit::directory::{Cast, Persona, check_cell};

use crate::support::*;

#[derive(Debug, Clone, Copy)]
enum Call {
    GetCalendar,
    SetTimeZone,
    SetYearCalendar,
    GetSchoolPlan,
    GetTrustPlan,
    AdoptPlan,
    SetSchoolActivity,
    RemoveSchoolActivity,
    SetTrustActivity,
    GenerateYear,
    ListOccurrences,
    TickHeadChecklist,
    TickClassChecklist,
    RecordMinutes,
    Reschedule,
    Cancel,
    MarkHeld,
    RequestVisitForSelf,
    RequestVisitForTeacher,
    BookVisit,
    ListVisitRequests,
    NotVisited,
    TeachersTimers,
}

const CALLS: [Call; 23] = [
    Call::GetCalendar,
    Call::SetTimeZone,
    Call::SetYearCalendar,
    Call::GetSchoolPlan,
    Call::GetTrustPlan,
    Call::AdoptPlan,
    Call::SetSchoolActivity,
    Call::RemoveSchoolActivity,
    Call::SetTrustActivity,
    Call::GenerateYear,
    Call::ListOccurrences,
    Call::TickHeadChecklist,
    Call::TickClassChecklist,
    Call::RecordMinutes,
    Call::Reschedule,
    Call::Cancel,
    Call::MarkHeld,
    Call::RequestVisitForSelf,
    Call::RequestVisitForTeacher,
    Call::BookVisit,
    Call::ListVisitRequests,
    Call::NotVisited,
    Call::TeachersTimers,
];

/// The rules of docs/authorization.md, written out independently of the policies. The
/// occurrences are led by the middle leader.
fn allowed(who: Persona, call: Call) -> bool {
    use Persona::*;
    let in_school = matches!(who, Head | SchoolAdmin | Senior | Middle | Teacher);
    match call {
        Call::GetCalendar | Call::GetSchoolPlan | Call::ListOccurrences => who != Elsewhere,
        Call::GetTrustPlan => true,
        Call::SetTimeZone | Call::SetYearCalendar => matches!(who, Head | SchoolAdmin | TrustAdmin),
        Call::AdoptPlan
        | Call::SetSchoolActivity
        | Call::RemoveSchoolActivity
        | Call::GenerateYear => matches!(who, Head | SchoolAdmin | Senior | TrustAdmin),
        Call::SetTrustActivity => matches!(who, TrustLeader | TrustAdmin),
        Call::Reschedule
        | Call::Cancel
        | Call::MarkHeld
        | Call::TickHeadChecklist
        | Call::RecordMinutes => {
            matches!(who, Head | Senior | Middle)
        }
        Call::TickClassChecklist => in_school,
        Call::RequestVisitForSelf => in_school,
        Call::RequestVisitForTeacher => matches!(who, Head | Senior | Middle | Teacher),
        Call::BookVisit | Call::ListVisitRequests | Call::NotVisited => {
            matches!(who, Head | Senior | Middle | TrustLeader)
        }
        Call::TeachersTimers => matches!(who, Teacher | TrustAdmin),
    }
}

fn activity() -> pb::Activity {
    pb::Activity {
        key: "pupil_voice".into(),
        name: "Pupil voice".into(),
        months: vec![3],
        ..Default::default()
    }
}

struct World {
    school: String,
    teacher: String,
    middle: String,
    occurrence: String,
    /// A line of each of its checklists: the head teacher's, the class teacher's.
    lines: [String; 2],
}

fn generate(world: &World) -> pb::GenerateYearRequest {
    pb::GenerateYearRequest {
        command_id: command(),
        school_id: world.school.clone(),
        academic_year: "2026-27".into(),
        year_groups: vec![pb::YearGroupTeam {
            year_group: "Year 4".into(),
            members: vec![pb::TeamMember {
                teacher_id: world.teacher.clone(),
                line_manager_id: world.middle.clone(),
            }],
        }],
        classes: vec![],
    }
}

async fn attempt(client: &mut Client, call: Call, world: &World) -> Result<(), tonic::Status> {
    let school = world.school.clone();
    let year = || "2026-27".to_owned();
    let occurrence = |text: &str| pb::OccurrenceTextRequest {
        command_id: command(),
        school_id: school.clone(),
        academic_year: year(),
        occurrence_id: world.occurrence.clone(),
        text: text.into(),
    };
    match call {
        Call::GetCalendar => client
            .get_calendar(pb::GetCalendarRequest {
                school_id: school.clone(),
            })
            .await
            .map(drop),
        Call::SetTimeZone => client
            .set_time_zone(pb::SetTimeZoneRequest {
                command_id: command(),
                school_id: school.clone(),
                time_zone: "Europe/London".into(),
            })
            .await
            .map(drop),
        Call::SetYearCalendar => client
            .set_year_calendar(pb::SetYearCalendarRequest {
                command_id: command(),
                school_id: school.clone(),
                calendar: Some(year_calendar()),
            })
            .await
            .map(drop),
        Call::GetSchoolPlan => client
            .get_plan(pb::GetPlanRequest {
                school_id: school.clone(),
                academic_year: year(),
            })
            .await
            .map(drop),
        Call::GetTrustPlan => client
            .get_plan(pb::GetPlanRequest::default())
            .await
            .map(drop),
        Call::AdoptPlan => client
            .adopt_plan(pb::AdoptPlanRequest {
                command_id: command(),
                school_id: school.clone(),
                academic_year: year(),
                default_owner_id: world.middle.clone(),
            })
            .await
            .map(drop),
        Call::SetSchoolActivity | Call::SetTrustActivity => client
            .set_plan_activity(pb::SetPlanActivityRequest {
                command_id: command(),
                school_id: if matches!(call, Call::SetSchoolActivity) {
                    school.clone()
                } else {
                    String::new()
                },
                academic_year: year(),
                activity: Some(activity()),
            })
            .await
            .map(drop),
        Call::RemoveSchoolActivity => client
            .remove_plan_activity(pb::RemovePlanActivityRequest {
                command_id: command(),
                school_id: school.clone(),
                academic_year: year(),
                key: "pupil_voice".into(),
            })
            .await
            .map(drop),
        Call::GenerateYear => client.generate_year(generate(world)).await.map(drop),
        Call::ListOccurrences => client
            .list_occurrences(pb::ListOccurrencesRequest {
                school_id: school.clone(),
                ..Default::default()
            })
            .await
            .map(drop),
        Call::Reschedule => client
            .reschedule_occurrence(pb::RescheduleOccurrenceRequest {
                command_id: command(),
                school_id: school.clone(),
                academic_year: year(),
                occurrence_id: world.occurrence.clone(),
                date: "2027-03-10".into(),
                reason: "Mocks week".into(),
            })
            .await
            .map(drop),
        Call::Cancel => client
            .cancel_occurrence(occurrence("Not needed this year"))
            .await
            .map(drop),
        Call::MarkHeld => client.mark_occurrence_held(occurrence("")).await.map(drop),
        Call::RecordMinutes => client
            .record_minutes(pb::RecordMinutesRequest {
                command_id: command(),
                school_id: school.clone(),
                academic_year: year(),
                occurrence_id: world.occurrence.clone(),
                minutes: format!("Notes by {call:?}"),
                attendee_ids: vec![world.teacher.clone()],
            })
            .await
            .map(drop),
        Call::TickHeadChecklist | Call::TickClassChecklist => {
            let (checklist, line) = match call {
                Call::TickHeadChecklist => ("head_teacher", &world.lines[0]),
                _ => ("class_teacher", &world.lines[1]),
            };
            client
                .tick_checklist(pb::TickChecklistRequest {
                    command_id: command(),
                    school_id: school.clone(),
                    academic_year: year(),
                    occurrence_id: world.occurrence.clone(),
                    checklist: checklist.into(),
                    line: line.clone(),
                    ticked: true,
                })
                .await
                .map(drop)
        }
        Call::RequestVisitForSelf | Call::RequestVisitForTeacher => client
            .request_visit(pb::RequestVisitRequest {
                command_id: command(),
                school_id: school.clone(),
                academic_year: year(),
                teacher_id: if matches!(call, Call::RequestVisitForTeacher) {
                    world.teacher.clone()
                } else {
                    String::new()
                },
                reason: "Retrieval practice".into(),
            })
            .await
            .map(drop),
        Call::BookVisit => client
            .book_visit(pb::BookVisitRequest {
                command_id: command(),
                school_id: school.clone(),
                academic_year: year(),
                visitor_id: world.middle.clone(),
                teacher_id: world.teacher.clone(),
                date: "2027-01-13".into(),
                request_id: String::new(),
            })
            .await
            .map(drop),
        Call::ListVisitRequests => client
            .list_visit_requests(pb::SchoolYearRequest {
                school_id: school.clone(),
                academic_year: year(),
            })
            .await
            .map(drop),
        Call::NotVisited => client
            .not_visited(pb::NotVisitedRequest {
                school_id: school.clone(),
                academic_year: year(),
                from_date: "2027-01-05".into(),
                to_date: "2027-03-26".into(),
            })
            .await
            .map(drop),
        Call::TeachersTimers => client
            .list_timers(pb::ListTimersRequest {
                recipient_id: world.teacher.clone(),
                ..Default::default()
            })
            .await
            .map(drop),
    }
}

async fn events(platform: &waymark_testkit::services::TestPlatform) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM event_store.events")
        .fetch_one(&platform.db.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_person_does_to_a_schools_year_exactly_what_the_rules_allow() {
    let mut platform = waymark_testkit::services::TestPlatform::start(None).await;
    let address = platform.serve(waymark_scheduling::run).await;
    let cast = Cast::new(&platform, waymark_scheduling::DIRECTORY_TABLE).await;
    let mut head = client(&platform, address, cast.caller(Persona::Head));
    let mut world = World {
        school: cast.school.to_string(),
        teacher: cast.id(Persona::Teacher).to_string(),
        middle: cast.id(Persona::Middle).to_string(),
        occurrence: String::new(),
        lines: Default::default(),
    };
    // A year with the middle leader leading its occurrences.
    set_calendar(&mut head, cast.school, year_calendar()).await;
    attempt(&mut head, Call::AdoptPlan, &world).await.unwrap();
    head.generate_year(generate(&world)).await.unwrap();
    world.occurrence = head
        .list_occurrences(pb::ListOccurrencesRequest {
            school_id: world.school.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .occurrences
        .iter()
        .find(|o| o.owner_id == world.middle && o.kind == "activity")
        .expect("an activity the middle leader leads")
        .occurrence_id
        .clone();
    let shown = head
        .get_occurrence(pb::GetOccurrenceRequest {
            occurrence_id: world.occurrence.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    world.lines = [
        shown.head_teacher_checklist[0].text.clone(),
        shown.class_teacher_checklist[0].text.clone(),
    ];

    let mut cells = 0;
    for who in Persona::ALL {
        let mut as_them = client(&platform, address, cast.caller(who));
        for call in CALLS {
            let before = events(&platform).await;
            let outcome = attempt(&mut as_them, call, &world).await;
            let cell = format!("{who:?} {call:?}");
            check_cell(&cell, allowed(who, call), &outcome, Code::PermissionDenied);
            if outcome.is_err() && !allowed(who, call) {
                assert_eq!(events(&platform).await, before, "{cell} appended");
            }
            cells += 1;
        }
    }
    assert_eq!(cells, Persona::ALL.len() * CALLS.len());

    // Occurrences of a school the caller does not read are not listed either.
    let mut elsewhere = client(&platform, address, cast.caller(Persona::Elsewhere));
    let listed = elsewhere
        .list_occurrences(pb::ListOccurrencesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .occurrences;
    assert!(listed.is_empty(), "{listed:?}");
    platform.stop().await;
}
