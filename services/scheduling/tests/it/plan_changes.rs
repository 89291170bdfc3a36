//! Changing a school's plan once its year is generated re-plans the year: what the plan no
//! longer has is cancelled, what it newly has is planned, and what was held stays held.

use uuid::Uuid;
use waymark_proto::scheduling::v1 as pb;
use waymark_testkit::services::{TestPlatform, new_caller, staff};

use crate::support::*;

#[tokio::test]
async fn a_changed_plan_replans_the_year_and_keeps_what_was_held() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_scheduling::run).await;
    let head = new_caller();
    let school = Uuid::new_v4();
    school_of(&platform, head, school, &[]).await;
    let mut client = client(&platform, address, head);
    set_calendar(&mut client, school, year_calendar()).await;
    let year = || "2026-27".to_owned();
    generated(&mut client, school, staff(head), vec![], vec![]).await;
    // (month, status) of each occurrence of `key`, in date order.
    let of = async |client: &mut Client, key: &str| -> Vec<(String, String)> {
        activities(client, school)
            .await
            .into_iter()
            .filter(|o| o.detail == key)
            .map(|o| (o.date[..7].to_owned(), o.status))
            .collect()
    };
    let visits = "classroom_observation_visit";
    let before = of(&mut client, visits).await;
    let months: Vec<&str> = before.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(months, ["2026-10", "2027-02", "2027-05"], "termly");
    let october = client
        .list_occurrences(pb::ListOccurrencesRequest {
            school_id: school.to_string(),
            kind: "activity".into(),
            from_date: "2026-10-01".into(),
            to_date: "2026-10-31".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .occurrences
        .into_iter()
        .find(|o| o.detail == visits)
        .unwrap();
    client
        .mark_occurrence_held(pb::OccurrenceTextRequest {
            command_id: command(),
            school_id: school.to_string(),
            academic_year: year(),
            occurrence_id: october.occurrence_id,
            text: String::new(),
        })
        .await
        .unwrap();

    // Visits move to November and March; another activity leaves the plan.
    let plan = client
        .get_plan(pb::GetPlanRequest {
            school_id: school.to_string(),
            academic_year: year(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut activity = plan
        .activities
        .iter()
        .find(|a| a.key == visits)
        .unwrap()
        .clone();
    activity.months = vec![11, 3];
    client
        .set_plan_activity(pb::SetPlanActivityRequest {
            command_id: command(),
            school_id: school.to_string(),
            academic_year: year(),
            activity: Some(activity),
        })
        .await
        .unwrap();
    let after = of(&mut client, visits).await;
    let expected = [
        ("2026-10", "held"),
        ("2026-11", "planned"),
        ("2027-02", "cancelled"),
        ("2027-03", "planned"),
        ("2027-05", "cancelled"),
    ];
    assert_eq!(
        after
            .iter()
            .map(|(m, s)| (m.as_str(), s.as_str()))
            .collect::<Vec<_>>(),
        expected
    );
    let removed = plan.activities.iter().find(|a| a.key != visits).unwrap();
    client
        .remove_plan_activity(pb::RemovePlanActivityRequest {
            command_id: command(),
            school_id: school.to_string(),
            academic_year: year(),
            key: removed.key.clone(),
        })
        .await
        .unwrap();
    let gone = of(&mut client, &removed.key).await;
    assert!(
        !gone.is_empty() && gone.iter().all(|(_, status)| status == "cancelled"),
        "{gone:?}"
    );
    platform.stop().await;
}
