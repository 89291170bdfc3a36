//! Who may change where notices go and see what was sent, cell by cell against the running
//! service: contact details come only from the directory, webhooks are set by trust
//! administrators, and the delivery log shows each person their own.

use tonic::Code;
use uuid::Uuid;
use waymark_proto::notifications::v1 as pb;
use waymark_runtime::auth::Caller;
use waymark_testkit::directory::{Cast, Persona, check_cell};

use crate::support::*;

#[derive(Debug, Clone, Copy)]
enum Call {
    UpsertContact,
    DeleteContact,
    SetSchoolWebhook,
    TeachersDeliveries,
    OwnDeliveries,
    RetryDelivery,
}

const CALLS: [Call; 6] = [
    Call::UpsertContact,
    Call::DeleteContact,
    Call::SetSchoolWebhook,
    Call::TeachersDeliveries,
    Call::OwnDeliveries,
    Call::RetryDelivery,
];

/// The rules of docs/authorization.md, written out independently of the policies.
fn allowed(who: Persona, call: Call) -> bool {
    match call {
        Call::UpsertContact | Call::DeleteContact => false,
        Call::SetSchoolWebhook | Call::RetryDelivery => who == Persona::TrustAdmin,
        Call::TeachersDeliveries => matches!(who, Persona::Teacher | Persona::TrustAdmin),
        Call::OwnDeliveries => true,
    }
}

async fn attempt(
    client: &mut Client,
    call: Call,
    cast: &Cast,
    me: &str,
) -> Result<(), tonic::Status> {
    let teacher = cast.id(Persona::Teacher).to_string();
    match call {
        Call::UpsertContact => client
            .upsert_contact(pb::Contact {
                staff_id: teacher,
                display_name: "Sam Teacher".into(),
                email: "someone-else@example.org".into(),
                school_id: cast.school.to_string(),
                ..Default::default()
            })
            .await
            .map(drop),
        Call::DeleteContact => client
            .delete_contact(pb::DeleteContactRequest { staff_id: teacher })
            .await
            .map(drop),
        Call::SetSchoolWebhook => client
            .set_school_webhook(pb::SetSchoolWebhookRequest {
                school_id: cast.school.to_string(),
                url: String::new(),
            })
            .await
            .map(drop),
        Call::TeachersDeliveries | Call::OwnDeliveries => client
            .list_deliveries(pb::ListDeliveriesRequest {
                recipient_id: if matches!(call, Call::TeachersDeliveries) {
                    teacher
                } else {
                    me.to_owned()
                },
                ..Default::default()
            })
            .await
            .map(drop),
        Call::RetryDelivery => client
            .retry_delivery(pb::RetryDeliveryRequest {
                delivery_id: Uuid::new_v4().to_string(),
            })
            .await
            .map(drop),
    }
}

async fn email_of(platform: &waymark_testkit::services::TestPlatform, cast: &Cast) -> String {
    sqlx::query_scalar(
        "SELECT email FROM notifications.contacts WHERE trust_id = $1 AND staff_id = $2",
    )
    .bind(cast.caller(Persona::Head).trust.into_uuid())
    .bind(cast.id(Persona::Teacher).into_uuid())
    .fetch_one(&platform.db.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_directory_keeps_contacts_and_each_person_sees_their_own_deliveries() {
    let (platform, address) = start(None, None, port(), &[]).await;
    let cast = Cast::new(&platform, waymark_notifications::DIRECTORY_TABLE).await;
    let head = cast.caller(Persona::Head);
    contact(
        &platform,
        address,
        head,
        cast.id(Persona::Teacher),
        "sam@example.org",
        None,
        cast.school,
    )
    .await;
    let mut cells = 0;
    for who in Persona::ALL {
        let mut as_them = client(&platform, address, cast.caller(who));
        let me = cast.id(who).to_string();
        for call in CALLS {
            let outcome = attempt(&mut as_them, call, &cast, &me).await;
            let cell = format!("{who:?} {call:?}");
            check_cell(&cell, allowed(who, call), &outcome, Code::PermissionDenied);
            cells += 1;
        }
    }
    assert_eq!(cells, Persona::ALL.len() * CALLS.len());
    // Nobody but the directory redirected the teacher's e-mail.
    assert_eq!(email_of(&platform, &cast).await, "sam@example.org");
    // A caller of another trust holding the directory's id changes only its own trust.
    let forged = Caller {
        trust: waymark_testkit::services::new_caller().trust,
        actor: waymark_domain::directory::directory_actor(),
    };
    let mut elsewhere = client(&platform, address, forged);
    attempt(&mut elsewhere, Call::UpsertContact, &cast, "")
        .await
        .unwrap();
    assert_eq!(email_of(&platform, &cast).await, "sam@example.org");
    platform.stop().await;
}
