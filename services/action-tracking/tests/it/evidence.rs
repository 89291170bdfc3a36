//! Evidence files kept by action tracking: a retried upload keeps one file; a refused one
//! keeps nothing; removed files' bytes, and bytes no event names (a process stopped between
//! keeping them and recording the event), are deleted by the sweep, and nothing else is.

use object_store::ObjectStoreExt;
use tonic::service::interceptor::InterceptedService;
use uuid::Uuid;
use waymark_domain::testing::phone_photo;
use waymark_proto::evidence::v1 as ev;
use waymark_proto::evidence::v1::evidence_client::EvidenceClient;
use waymark_runtime::evidence::{EvidenceFiles, Swept};
use waymark_testkit::services::{TestPlatform, colleague, new_caller};

use crate::support::*;

#[tokio::test]
async fn removed_and_orphaned_files_are_swept_and_nothing_else() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_action_tracking::run).await;
    let leader = new_caller();
    let (teacher_caller, teacher) = colleague(leader);
    let school = Uuid::new_v4();
    crate::support::school(&platform, leader, school, &[teacher]).await;
    let mut actions = client(&platform, address, leader);
    let action = actions
        .create_action(create(
            school,
            &teacher.to_string(),
            "2026-12-18",
            "Model it",
        ))
        .await
        .unwrap()
        .into_inner()
        .action_id;
    let mut files = EvidenceClient::new(InterceptedService::new(
        tonic::transport::Channel::from_shared(format!("http://{address}"))
            .unwrap()
            .connect_lazy(),
        platform.platform.call_as(teacher_caller),
    ));
    let attach = |command_id: &str, content: Vec<u8>| ev::AttachRequest {
        command_id: command_id.to_owned(),
        record_kind: "action".into(),
        record_id: action.clone(),
        file_name: "IMG_1.jpg".into(),
        content,
    };
    // Sent twice (a retry): one file.
    let first = command();
    let kept = files
        .attach(attach(&first, phone_photo(1)))
        .await
        .unwrap()
        .into_inner();
    let again = files
        .attach(attach(&first, phone_photo(1)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kept.attachment_id, again.attachment_id);
    let second = files
        .attach(attach(&command(), b"%PDF-1.7\n".to_vec()))
        .await
        .unwrap()
        .into_inner();
    let listed = actions
        .get_action(pb_get(&action))
        .await
        .unwrap()
        .into_inner()
        .attachments;
    assert_eq!(listed.len(), 2);
    // The leader reads the action but does not record evidence on it: refused, nothing kept.
    let mut leader_files = EvidenceClient::new(InterceptedService::new(
        tonic::transport::Channel::from_shared(format!("http://{address}"))
            .unwrap()
            .connect_lazy(),
        platform.platform.call_as(leader),
    ));
    let refused = leader_files
        .attach(attach(&command(), b"%PDF-1.7\n".to_vec()))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);

    let evidence = EvidenceFiles::open(
        &platform.platform.config,
        waymark_action_tracking::NAME,
        waymark_action_tracking::EVIDENCE_TABLE,
    )
    .unwrap();
    let store = waymark_runtime::objects::open(&evidence.settings.files, true).unwrap();
    let count = || async {
        let mut n = 0;
        let mut listed = store.list(None);
        while futures::TryStreamExt::try_next(&mut listed)
            .await
            .unwrap()
            .is_some()
        {
            n += 1;
        }
        n
    };
    assert_eq!(count().await, 2, "the refused file is not kept");

    // Removed: gone from the action at once, its bytes kept through the grace period.
    files
        .remove(ev::RemoveRequest {
            command_id: command(),
            record_kind: "action".into(),
            record_id: action.clone(),
            attachment_id: kept.attachment_id.clone(),
        })
        .await
        .unwrap();
    let fetched = files
        .fetch(ev::FetchRequest {
            record_kind: "action".into(),
            record_id: action.clone(),
            attachment_id: kept.attachment_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(fetched.code(), tonic::Code::NotFound);
    // A file some process kept and never recorded.
    let trust = leader.trust;
    store
        .put(
            &object_store::path::Path::from(format!("action-tracking/{trust}/{}", Uuid::new_v4())),
            b"orphan".to_vec().into(),
        )
        .await
        .unwrap();
    let now = platform.platform.clock.now();
    let pool = &platform.platform.pool;
    // Within the grace period, and with no file old enough to count as an orphan (the
    // store's own times decide that, so the test names the extremes): nothing goes.
    let (none, all) = (
        chrono::DateTime::<chrono::Utc>::MIN_UTC,
        chrono::DateTime::<chrono::Utc>::MAX_UTC,
    );
    assert_eq!(
        evidence.sweep(pool, now, none).await.unwrap(),
        Swept::default()
    );
    assert_eq!(count().await, 3);
    let later = now + chrono::Duration::days(2);
    assert_eq!(
        evidence.sweep(pool, later, all).await.unwrap(),
        Swept {
            removed: 1,
            orphans: 1
        }
    );
    assert_eq!(count().await, 1, "only the file still attached is left");
    let pdf = files
        .fetch(ev::FetchRequest {
            record_kind: "action".into(),
            record_id: action.clone(),
            attachment_id: second.attachment_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pdf.content, b"%PDF-1.7\n");
    // Sweeping again finds nothing more to do.
    assert_eq!(
        evidence.sweep(pool, later, all).await.unwrap(),
        Swept::default()
    );
    platform.stop().await;
}

fn pb_get(action: &str) -> waymark_proto::action_tracking::v1::GetActionRequest {
    waymark_proto::action_tracking::v1::GetActionRequest {
        action_id: action.to_owned(),
    }
}
