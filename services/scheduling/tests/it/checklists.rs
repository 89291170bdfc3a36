//! An activity's checklists on its occurrence: the lines and intended impact come from the
//! school's plan, each tick says who and when, and a line the plan does not have, or a
//! cancelled occurrence, is refused with its code.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use tonic::Code;
use uuid::Uuid;
use waymark_proto::scheduling::v1 as pb;
use waymark_runtime::ManualClock;
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
async fn checklist_lines_are_ticked_by_name_with_who_and_when() {
    let at = Utc
        .with_ymd_and_hms(2026, 11, 17, 14, 5, 0)
        .single()
        .unwrap();
    let clock = ManualClock::new(at);
    let mut platform = TestPlatform::start_with_clock(None, Arc::new(clock.clone())).await;
    let address = platform.serve(waymark_scheduling::run).await;
    let head = new_caller();
    let (teacher, teacher_id) = colleague(head);
    let school = Uuid::new_v4();
    school_of(&platform, head, school, &[teacher_id]).await;
    let mut as_head = client(&platform, address, head);
    let mut as_teacher = client(&platform, address, teacher);
    set_calendar(&mut as_head, school, year_calendar()).await;
    generated(&mut as_head, school, staff(head), vec![], vec![]).await;
    let visits = activities(&mut as_head, school).await;
    let [first, second, ..] = visits
        .iter()
        .filter(|o| o.detail == "classroom_observation_visit")
        .collect::<Vec<_>>()[..]
    else {
        panic!("the built-in plan has termly classroom visits: {visits:?}");
    };
    let get = async |client: &mut Client, id: &str| {
        client
            .get_occurrence(pb::GetOccurrenceRequest {
                occurrence_id: id.to_owned(),
            })
            .await
            .unwrap()
            .into_inner()
    };
    let shown = get(&mut as_teacher, &first.occurrence_id).await;
    // From the built-in plan (the seed's monitoring overview).
    assert_eq!(
        shown.head_teacher_checklist[0].text,
        "Agree focus ahead of visit"
    );
    assert!(!shown.class_teacher_checklist.is_empty());
    assert!(!shown.impact.is_empty());
    assert!(
        shown
            .head_teacher_checklist
            .iter()
            .chain(&shown.class_teacher_checklist)
            .all(|line| !line.ticked && line.ticked_by.is_empty())
    );

    let tick = |occurrence: &pb::Occurrence, list: &str, line: &str, ticked: bool| {
        pb::TickChecklistRequest {
            command_id: command(),
            school_id: school.to_string(),
            academic_year: "2026-27".into(),
            occurrence_id: occurrence.occurrence_id.clone(),
            checklist: list.into(),
            line: line.into(),
            ticked,
        }
    };
    let head_line = shown.head_teacher_checklist[0].text.clone();
    let class_line = shown.class_teacher_checklist[0].text.clone();
    // The teacher ticks their own list, not the head teacher's.
    as_teacher
        .tick_checklist(tick(&shown, "class_teacher", &class_line, true))
        .await
        .unwrap();
    let refused = as_teacher
        .tick_checklist(tick(&shown, "head_teacher", &head_line, true))
        .await
        .unwrap_err();
    assert_eq!(
        (refused.code(), code(&refused)),
        (Code::PermissionDenied, "occurrence.not_permitted")
    );
    clock.advance(chrono::Duration::minutes(10));
    as_head
        .tick_checklist(tick(&shown, "head_teacher", &head_line, true))
        .await
        .unwrap();
    let shown = get(&mut as_head, &first.occurrence_id).await;
    let (h, c) = (
        &shown.head_teacher_checklist[0],
        &shown.class_teacher_checklist[0],
    );
    assert!(h.ticked && c.ticked);
    assert_eq!(h.ticked_by, staff(head).to_string());
    assert_eq!(h.ticked_at, "2026-11-17T14:15:00Z");
    assert_eq!(c.ticked_by, teacher_id.to_string());
    assert_eq!(c.ticked_at, "2026-11-17T14:05:00Z");
    assert!(!shown.head_teacher_checklist[1].ticked);
    // Only that occurrence's line.
    let other = get(&mut as_head, &second.occurrence_id).await;
    assert!(!other.head_teacher_checklist[0].ticked);

    // Unticking; a line the plan does not have; the wrong list name.
    as_head
        .tick_checklist(tick(&shown, "head_teacher", &head_line, false))
        .await
        .unwrap();
    let shown = get(&mut as_head, &first.occurrence_id).await;
    assert!(!shown.head_teacher_checklist[0].ticked);
    assert!(shown.class_teacher_checklist[0].ticked);
    let unknown = as_head
        .tick_checklist(tick(&shown, "head_teacher", "Mark every book", true))
        .await
        .unwrap_err();
    assert_eq!(
        (unknown.code(), code(&unknown)),
        (Code::NotFound, "schedule.no_such_checklist_line")
    );
    let wrong = as_head
        .tick_checklist(tick(&shown, "governors", &head_line, true))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::InvalidArgument);

    // A cancelled occurrence takes no more ticks.
    as_head
        .cancel_occurrence(pb::OccurrenceTextRequest {
            command_id: command(),
            school_id: school.to_string(),
            academic_year: "2026-27".into(),
            occurrence_id: second.occurrence_id.clone(),
            text: "Inspection week".into(),
        })
        .await
        .unwrap();
    let cancelled = as_head
        .tick_checklist(tick(second, "head_teacher", &head_line, true))
        .await
        .unwrap_err();
    assert_eq!(code(&cancelled), "schedule.not_planned");
    platform.stop().await;
}
