//! A subject-access export: a trust administrator downloads everything held about a person
//! in one zip — a summary to read and each service's data as JSON — and the export is noted
//! where the person sees who read their records. Nobody else may export, in the page or at
//! the services.

use std::io::Read;

use reqwest::StatusCode;
use waymark_proto::personal_data::v1 as pd;
use waymark_proto::personal_data::v1::personal_data_client::PersonalDataClient;
use waymark_runtime::auth::Caller;

use crate::http::{Client, path_of};
use crate::stack::{PASSWORD, Stack, day};

fn file(zip: &mut zip::ZipArchive<std::io::Cursor<Vec<u8>>>, name: &str) -> String {
    let mut text = String::new();
    zip.by_name(name)
        .unwrap_or_else(|_| panic!("{name} in the export"))
        .read_to_string(&mut text)
        .unwrap();
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trust_administrator_exports_everything_held_about_a_person() {
    let stack = Stack::start().await;
    let seed = &stack.seed;
    let mut head = Client::signed_in(&stack.base, &seed.head.email, PASSWORD).await;
    let mut teacher = Client::signed_in(&stack.base, &seed.teacher.email, PASSWORD).await;
    let mut admin = Client::signed_in(&stack.base, &seed.admin.email, PASSWORD).await;
    let teacher_id = seed.teacher.id.to_string();
    let review = head
        .post(
            "/reviews",
            &[
                ("reviewee_id", teacher_id.as_str()),
                ("year_group", "Year 4"),
                ("academic_year", "2026-27"),
                ("window_opens", &day(-3)),
                ("window_closes", &day(10)),
            ],
        )
        .await;
    let review = path_of(&review.location, &stack.base);
    let review_id = review.trim_start_matches("/reviews/").to_owned();
    stack
        .hold_meeting(
            &mut head,
            "4C",
            &day(0),
            &[("Daily paired reading", &day(14))],
        )
        .await;
    // The meeting's action reaches action tracking a moment after the meeting closes.
    for _ in 0..100 {
        if teacher
            .get("/actions")
            .await
            .body
            .contains("Daily paired reading")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // In the school's year: the teacher ticks a line of an activity's class teacher's
    // checklist and attends it, as the head's notes say.
    let activity = crate::occurrences::first_activity(&stack).await;
    let page = teacher.get(&format!("/occurrences/{activity}")).await.body;
    let line = crate::http::hidden(&page, "line").expect("a class teacher's line");
    let ticked = teacher
        .post(
            &format!("/occurrences/{activity}/tick"),
            &[
                ("command_id", &uuid::Uuid::new_v4().to_string()),
                ("checklist", "class_teacher"),
                ("line", &line),
                ("ticked", "true"),
            ],
        )
        .await;
    assert_eq!(ticked.status, StatusCode::SEE_OTHER, "{}", ticked.body);
    let noted = head
        .post(
            &format!("/occurrences/{activity}/minutes"),
            &[
                ("command_id", &uuid::Uuid::new_v4().to_string()),
                ("minutes", "Books looked at together"),
                ("attendee_ids", &teacher_id),
            ],
        )
        .await;
    assert_eq!(noted.status, StatusCode::SEE_OTHER, "{}", noted.body);

    let export = format!("/admin/staff/{teacher_id}/export");
    let page = admin.get(&format!("/admin/staff/{teacher_id}")).await.body;
    assert!(
        page.contains("Export everything held about Tom Teacher"),
        "{page}"
    );
    let got = admin.post(&export, &[]).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.body);
    assert_eq!(got.content_type, "application/zip");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(got.bytes)).unwrap();
    let summary = file(&mut zip, "summary.html");
    assert!(
        summary.contains("What Waymark holds about Tom Teacher"),
        "{summary}"
    );
    assert!(file(&mut zip, "gateway.json").contains(&seed.teacher.email));
    let reviews: serde_json::Value =
        serde_json::from_str(&file(&mut zip, "review-dialogue.json")).unwrap();
    let listed = reviews["reviews"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{reviews}");
    assert_eq!(listed[0]["review_id"], review_id.as_str());
    assert_eq!(reviews["meetings"].as_array().unwrap().len(), 1);
    assert!(file(&mut zip, "action-tracking.json").contains("Daily paired reading"));
    for service in ["scheduling.json", "notifications.json"] {
        let data: serde_json::Value = serde_json::from_str(&file(&mut zip, service)).unwrap();
        assert!(data.is_object(), "{service}: {data}");
    }
    let scheduling: serde_json::Value =
        serde_json::from_str(&file(&mut zip, "scheduling.json")).unwrap();
    let ticks = scheduling["checklist_lines_ticked"].as_array().unwrap();
    assert_eq!(ticks.len(), 1, "{scheduling}");
    assert_eq!(ticks[0]["occurrence_id"], activity.as_str());
    let notes = scheduling["notes_and_attendance"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{scheduling}");
    assert_eq!(notes[0]["minutes"]["notes"], "Books looked at together");

    // The person sees the export among who read their records.
    let log = teacher.get("/access-log").await.body;
    assert!(
        log.contains("subject-access export") && log.contains("Alex Admin"),
        "{log}"
    );

    // A head teacher may not export, neither through the page nor at a service.
    assert_eq!(head.post(&export, &[]).await.status, StatusCode::NOT_FOUND);
    let as_head = Caller {
        trust: seed.trust,
        actor: seed.head.id.into(),
    };
    let refused = PersonalDataClient::new(stack.platform.client(stack.scheduling, as_head))
        .export(pd::ExportRequest {
            person_id: teacher_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
    stack.platform.stop().await;
}
