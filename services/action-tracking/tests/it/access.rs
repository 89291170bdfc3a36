//! Who may do what to an action, cell by cell against the running service: every person
//! of a school's cast tries every command on an action of their own, and every cell the
//! policies refuse answers PERMISSION_DENIED and changes nothing.

use tonic::Code;
use uuid::Uuid;
use waymark_domain::directory::{DirectoryEvent, Grant, Role};
use waymark_domain::{SchoolId, StaffId};
use waymark_proto::action_tracking::v1 as pb;
use waymark_runtime::auth::Caller;
use waymark_testkit::services::{TestPlatform, colleague, new_caller, staff};

use crate::support::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    /// Head teacher, the owner's line manager.
    Head,
    /// Middle leader who set the action (the leader who agreed it).
    Setter,
    Owner,
    Supporter,
    /// Another class teacher in the school.
    Colleague,
    /// A teacher in another school of the trust.
    Elsewhere,
    TrustLeader,
    TrustAdmin,
}

const EVERYONE: [Who; 8] = [
    Who::Head,
    Who::Setter,
    Who::Owner,
    Who::Supporter,
    Who::Colleague,
    Who::Elsewhere,
    Who::TrustLeader,
    Who::TrustAdmin,
];

#[derive(Debug, Clone, Copy)]
enum Verb {
    Start,
    NoteProgress,
    RecordEvidence,
    Complete,
    ChangeDue,
    Reassign,
    Drop,
    Reopen,
    CarryForward,
}

const VERBS: [Verb; 9] = [
    Verb::Start,
    Verb::NoteProgress,
    Verb::RecordEvidence,
    Verb::Complete,
    Verb::ChangeDue,
    Verb::Reassign,
    Verb::Drop,
    Verb::Reopen,
    Verb::CarryForward,
];

/// The rules of docs/authorization.md, written out independently of the policies.
fn allowed(who: Who, verb: Verb) -> bool {
    use Verb::*;
    match verb {
        Start | Complete => who == Who::Owner,
        NoteProgress | RecordEvidence => matches!(who, Who::Owner | Who::Supporter),
        ChangeDue | Reassign | Drop | Reopen | CarryForward => {
            matches!(who, Who::Head | Who::Setter)
        }
    }
}

/// Reading it (by id, its trail, in the school's list): everyone in the school and the
/// trust's leaders and administrators; not a teacher of another school.
fn read_allowed(who: Who) -> bool {
    who != Who::Elsewhere
}

/// Setting an action for the owner: their leaders, their line manager, trust leaders — and
/// the owner, for themselves.
fn create_allowed(who: Who) -> bool {
    matches!(who, Who::Head | Who::Setter | Who::TrustLeader | Who::Owner)
}

struct Cast {
    callers: Vec<(Who, Caller)>,
    school: Uuid,
}

impl Cast {
    fn caller(&self, who: Who) -> Caller {
        self.callers.iter().find(|(w, _)| *w == who).unwrap().1
    }

    fn id(&self, who: Who) -> StaffId {
        staff(self.caller(who))
    }
}

async fn cast(platform: &TestPlatform) -> Cast {
    let head = new_caller();
    let mut callers = vec![(Who::Head, head)];
    for who in &EVERYONE[1..] {
        callers.push((*who, colleague(head).0));
    }
    let (school, elsewhere) = (Uuid::new_v4(), Uuid::new_v4());
    let cast = Cast { callers, school };
    let at = |school: Uuid, role| Grant {
        school: Some(SchoolId::from_uuid(school)),
        role,
    };
    let roles = |who| match who {
        Who::Head => at(school, Role::HeadTeacher),
        Who::Setter => at(school, Role::MiddleLeader),
        Who::Owner | Who::Supporter | Who::Colleague => at(school, Role::ClassTeacher),
        Who::Elsewhere => at(elsewhere, Role::ClassTeacher),
        Who::TrustLeader => Grant {
            school: None,
            role: Role::TrustLeader,
        },
        Who::TrustAdmin => Grant {
            school: None,
            role: Role::TrustAdmin,
        },
    };
    let mut events = Vec::new();
    for (who, caller) in &cast.callers {
        events.push(DirectoryEvent::StaffAdded {
            staff_id: staff(*caller),
        });
        events.push(DirectoryEvent::RoleGranted {
            staff_id: staff(*caller),
            grant: roles(*who),
        });
    }
    events.push(DirectoryEvent::LineManagerSet {
        staff_id: cast.id(Who::Owner),
        manager: Some(cast.id(Who::Head)),
    });
    waymark_testkit::directory::append(platform, head, &events).await;
    waymark_testkit::directory::known(
        platform,
        waymark_action_tracking::access::DIRECTORY_TABLE,
        head,
        cast.id(Who::TrustAdmin),
    )
    .await;
    cast
}

/// A fresh action for the owner, set by the middle leader, with the supporter.
async fn action(setter: &mut Client, cast: &Cast) -> String {
    let mut request = create(
        cast.school,
        &cast.id(Who::Owner).to_string(),
        "2026-12-11",
        "Guided reading groups",
    );
    request.supporter_ids = vec![cast.id(Who::Supporter).to_string()];
    setter
        .create_action(request)
        .await
        .unwrap()
        .into_inner()
        .action_id
}

async fn attempt(client: &mut Client, verb: Verb, id: &str) -> Result<(), tonic::Status> {
    let action_id = id.to_owned();
    let request = || pb::ActionRequest {
        command_id: command(),
        action_id: action_id.clone(),
    };
    match verb {
        Verb::Start => client.start_action(request()).await.map(drop),
        Verb::NoteProgress => client.note_progress(text(id, "Going well")).await.map(drop),
        Verb::RecordEvidence => client
            .record_evidence(text(id, "Book look"))
            .await
            .map(drop),
        Verb::Complete => client
            .complete_action(text(id, "Reading ages up"))
            .await
            .map(drop),
        Verb::ChangeDue => client
            .change_due_date(pb::ChangeDueDateRequest {
                command_id: command(),
                action_id,
                due_date: "2026-12-18".into(),
                reason: "Mocks".into(),
            })
            .await
            .map(drop),
        Verb::Reassign => client
            .reassign_action(pb::ReassignActionRequest {
                command_id: command(),
                action_id,
                owner_id: Uuid::new_v4().to_string(),
                reason: "Leave".into(),
            })
            .await
            .map(drop),
        Verb::Drop => client.drop_action(text(id, "Superseded")).await.map(drop),
        Verb::Reopen => client
            .reopen_action(text(id, "Needed after all"))
            .await
            .map(drop),
        Verb::CarryForward => client
            .carry_forward_action(pb::CarryForwardRequest {
                command_id: command(),
                action_id,
                due_date: "2027-02-12".into(),
                note: String::new(),
            })
            .await
            .map(drop),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_person_does_to_an_action_exactly_what_the_rules_allow() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_action_tracking::run).await;
    let cast = cast(&platform).await;
    let mut setter = client(&platform, address, cast.caller(Who::Setter));
    let mut cells = 0;
    for who in EVERYONE {
        let mut as_them = client(&platform, address, cast.caller(who));
        for verb in VERBS {
            let id = action(&mut setter, &cast).await;
            if matches!(verb, Verb::Reopen) {
                // Something to reopen: dropped by whoever set it.
                setter.drop_action(text(&id, "Paused")).await.unwrap();
            }
            let before = get(&mut setter, &id).await.version;
            let outcome = attempt(&mut as_them, verb, &id).await;
            if allowed(who, verb) {
                assert!(outcome.is_ok(), "{who:?} may {verb:?}: {outcome:?}");
            } else {
                let refused = outcome.expect_err(&format!("{who:?} may not {verb:?}"));
                assert_eq!(
                    (refused.code(), code(&refused)),
                    (Code::PermissionDenied, "action.not_permitted"),
                    "{who:?} {verb:?}: {}",
                    refused.message()
                );
                assert_eq!(get(&mut setter, &id).await.version, before, "unchanged");
            }
            cells += 1;
        }
        // Setting an action for the owner.
        let outcome = as_them
            .create_action(create(
                cast.school,
                &cast.id(Who::Owner).to_string(),
                "2026-12-11",
                "Phonics catch-up",
            ))
            .await;
        assert_eq!(
            outcome.is_ok(),
            create_allowed(who),
            "{who:?} sets an action for the owner: {outcome:?}"
        );
        if let Err(refused) = outcome {
            assert_eq!(refused.code(), Code::PermissionDenied);
        }
        cells += 1;
        // Reading it: by id, its audit trail, and in the school's list. One the person may
        // not read is not found, and not listed.
        let id = action(&mut setter, &cast).await;
        let by_id = as_them
            .get_action(pb::GetActionRequest {
                action_id: id.clone(),
            })
            .await;
        let trail = as_them
            .get_audit_trail(pb::GetActionRequest {
                action_id: id.clone(),
            })
            .await;
        let listed = as_them
            .list_actions(pb::ListActionsRequest {
                school_id: cast.school.to_string(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .actions
            .iter()
            .any(|a| a.action_id == id);
        for (what, outcome) in [("by id", by_id.map(|_| ())), ("trail", trail.map(|_| ()))] {
            match outcome {
                Ok(()) => assert!(read_allowed(who), "{who:?} read it {what}"),
                Err(status) => {
                    assert!(!read_allowed(who), "{who:?} may read it {what}: {status:?}");
                    assert_eq!(status.code(), Code::NotFound, "{who:?} {what}");
                }
            }
            cells += 1;
        }
        assert_eq!(listed, read_allowed(who), "{who:?} in the list");
        cells += 1;
    }
    assert_eq!(cells, EVERYONE.len() * (VERBS.len() + 4));

    platform.stop().await;
}

/// A caller token names the one method it was signed for: a token seen on its way to a read
/// (a log, a proxy) cannot be replayed to complete the action, or to any other method.
#[tokio::test]
async fn a_token_signed_for_one_method_is_refused_by_another() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_action_tracking::run).await;
    let leader = new_caller();
    let (caller, teacher) = colleague(leader);
    let school_id = Uuid::new_v4();
    school(&platform, leader, school_id, &[teacher]).await;
    let id = client(&platform, address, caller)
        .create_action(create(
            school_id,
            &teacher.to_string(),
            "2026-12-11",
            "Share the marking policy",
        ))
        .await
        .unwrap()
        .into_inner()
        .action_id;
    let keys = waymark_runtime::auth::Keys::new(
        &waymark_runtime::Secret::new(waymark_testkit::services::TEST_KEY.to_owned()),
        300,
    );
    let now = platform.platform.clock.now();
    let token = |method: &str| {
        let token = keys.sign(
            caller,
            &format!("waymark.action_tracking.v1.ActionTracking/{method}"),
            now,
        );
        tonic::metadata::MetadataValue::try_from(format!("Bearer {token}")).unwrap()
    };
    let channel = tonic::transport::Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect_lazy();
    let mut raw =
        waymark_proto::action_tracking::v1::action_tracking_client::ActionTrackingClient::new(
            channel,
        );
    let get = |method: &str| {
        let mut request = tonic::Request::new(pb::GetActionRequest {
            action_id: id.clone(),
        });
        request
            .metadata_mut()
            .insert("authorization", token(method));
        request
    };
    // Signed for GetAction, it reads the action.
    raw.get_action(get("GetAction")).await.unwrap();
    // The same token for CompleteAction: refused, and the action stays open.
    let mut complete = tonic::Request::new(text(&id, "Done, says someone else"));
    complete
        .metadata_mut()
        .insert("authorization", token("GetAction"));
    let refused = raw.complete_action(complete).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    assert!(refused.message().contains("another method"), "{refused:?}");
    let action = raw.get_action(get("GetAction")).await.unwrap().into_inner();
    assert_eq!(action.action.unwrap().status, "open");
    platform.stop().await;
}
