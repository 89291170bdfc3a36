//! One record, not two: a review scheduled from a planned progress review holds it, shows as
//! its record, and marks it held when agreed; a record naming an occurrence it cannot hold
//! is not linked; a cancelled record lets go.

use std::time::Duration;

use chrono::NaiveDate;
use uuid::Uuid;
use waymark_domain::SchoolId;
use waymark_domain::review_dialogue::review::{Review, ReviewEvent};
use waymark_domain::school_year::AcademicYear;
use waymark_domain::text::Text;
use waymark_proto::scheduling::v1 as pb;
use waymark_testkit::eventually;
use waymark_testkit::services::{TestPlatform, colleague, new_caller, staff};

use crate::support::*;

const PATIENCE: Duration = Duration::from_secs(30);

fn scheduled(review: Uuid, school: Uuid, reviewee: Uuid, occurrence: Uuid) -> ReviewEvent {
    ReviewEvent::ReviewScheduled {
        review_id: review,
        school_id: SchoolId::from_uuid(school),
        academic_year: AcademicYear::parse("2026-27").unwrap(),
        year_group: Text::parse("Year 7").unwrap(),
        reviewer_id: waymark_domain::StaffId::from_uuid(Uuid::nil()),
        reviewee_id: waymark_domain::StaffId::from_uuid(reviewee),
        window_opens: NaiveDate::from_ymd_opt(2026, 9, 14).unwrap(),
        window_closes: NaiveDate::from_ymd_opt(2026, 10, 2).unwrap(),
        slt_line_manager_id: None,
        occurrence: Some(occurrence),
    }
}

async fn held_events(platform: &TestPlatform) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM event_store.events WHERE event_type = 'OccurrenceHeld'",
    )
    .fetch_one(&platform.db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_review_scheduled_from_a_planned_one_holds_it_and_marks_it_held_when_agreed() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_scheduling::run).await;
    let head = new_caller();
    let (_, teacher) = colleague(head);
    let school = Uuid::new_v4();
    school_of(&platform, head, school, &[teacher]).await;
    let mut client = client(&platform, address, head);
    set_calendar(&mut client, school, year_calendar()).await;
    let year_7 = pb::YearGroupTeam {
        year_group: "Year 7".into(),
        members: vec![pb::TeamMember {
            teacher_id: teacher.to_string(),
            line_manager_id: staff(head).to_string(),
        }],
    };
    generated(&mut client, school, staff(head), vec![year_7], vec![]).await;
    let list = async |client: &mut Client, kind: &str| {
        client
            .list_occurrences(pb::ListOccurrencesRequest {
                school_id: school.to_string(),
                kind: kind.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .occurrences
    };
    let reviews = list(&mut client, "progress_review").await;
    let (first, second) = (&reviews[0], &reviews[1]);
    let activity = list(&mut client, "activity").await[0].occurrence_id.clone();
    let id = |o: &str| Uuid::parse_str(o).unwrap();

    // A review names the first planned review: linked. Others name an activity (a review
    // cannot hold one), another school's id, and the same occurrence again: not linked.
    let review = Uuid::new_v4();
    let stray = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
    append::<Review>(
        &platform,
        head,
        stray[0],
        scheduled(stray[0], school, teacher.into_uuid(), id(&activity)),
    )
    .await;
    append::<Review>(
        &platform,
        head,
        stray[1],
        scheduled(
            stray[1],
            Uuid::new_v4(),
            teacher.into_uuid(),
            id(&second.occurrence_id),
        ),
    )
    .await;
    append::<Review>(
        &platform,
        head,
        review,
        scheduled(
            review,
            school,
            teacher.into_uuid(),
            id(&first.occurrence_id),
        ),
    )
    .await;
    append::<Review>(
        &platform,
        head,
        stray[2],
        scheduled(
            stray[2],
            school,
            teacher.into_uuid(),
            id(&first.occurrence_id),
        ),
    )
    .await;
    let get = async |client: &mut Client, occurrence: &str| {
        client
            .get_occurrence(pb::GetOccurrenceRequest {
                occurrence_id: occurrence.to_owned(),
            })
            .await
            .unwrap()
            .into_inner()
    };
    eventually(PATIENCE, "the review holds its occurrence", || {
        let mut client = client.clone();
        let occurrence = first.occurrence_id.clone();
        async move { !get(&mut client, &occurrence).await.record_id.is_empty() }
    })
    .await;
    // The first two stray events came before it (one consumer, in order): not linked.
    let shown = get(&mut client, &first.occurrence_id).await;
    assert_eq!(
        (
            shown.record_kind.as_str(),
            shown.record_id.as_str(),
            shown.status.as_str()
        ),
        ("review", review.to_string().as_str(), "planned")
    );
    let listed = list(&mut client, "").await;
    let holding: Vec<&pb::Occurrence> = listed.iter().filter(|o| !o.record_id.is_empty()).collect();
    assert_eq!(holding.len(), 1, "{holding:?}");
    assert!(get(&mut client, &activity).await.record_id.is_empty());
    assert!(
        get(&mut client, &second.occurrence_id)
            .await
            .record_id
            .is_empty()
    );

    // Agreed: the occurrence is held, once, even when told twice.
    let agreed = ReviewEvent::ReviewAgreed {
        review_id: review,
        draft: 1,
    };
    append::<Review>(&platform, head, review, agreed.clone()).await;
    eventually(PATIENCE, "the occurrence held", || {
        let mut client = client.clone();
        let occurrence = first.occurrence_id.clone();
        async move { get(&mut client, &occurrence).await.status == "held" }
    })
    .await;
    append::<Review>(&platform, head, review, agreed).await;
    // A cancelled review lets go of the second occurrence, which another review then holds.
    let (cancelled, next) = (Uuid::new_v4(), Uuid::new_v4());
    append::<Review>(
        &platform,
        head,
        cancelled,
        scheduled(
            cancelled,
            school,
            teacher.into_uuid(),
            id(&second.occurrence_id),
        ),
    )
    .await;
    append::<Review>(
        &platform,
        head,
        cancelled,
        ReviewEvent::ReviewCancelled {
            review_id: cancelled,
            reason: Text::parse("Long-term absence").unwrap(),
        },
    )
    .await;
    append::<Review>(
        &platform,
        head,
        next,
        scheduled(next, school, teacher.into_uuid(), id(&second.occurrence_id)),
    )
    .await;
    eventually(
        PATIENCE,
        "the next review holds the second occurrence",
        || {
            let mut client = client.clone();
            let occurrence = second.occurrence_id.clone();
            let next = next.to_string();
            async move { get(&mut client, &occurrence).await.record_id == next }
        },
    )
    .await;
    // Everything before has been handled: the third stray review took nothing from the first.
    assert_eq!(
        get(&mut client, &first.occurrence_id).await.record_id,
        review.to_string()
    );
    assert_eq!(held_events(&platform).await, 1);
    assert_eq!(
        get(&mut client, &second.occurrence_id).await.status,
        "planned"
    );
    platform.stop().await;
}
