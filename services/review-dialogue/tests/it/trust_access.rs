//! Who may do what with self-evaluation audits, frameworks and the trust's look-fors, cell
//! by cell against the running service; and the trust's setting that shares agreed records
//! with a role, end to end.

use tonic::Code;
use uuid::Uuid;
use waymark_domain::SchoolId;
use waymark_domain::directory::{DirectoryEvent, Grant, Role};
use waymark_proto::review_dialogue::v1 as pb;
use waymark_proto::review_dialogue::v1::self_evaluation_client::SelfEvaluationClient;
use waymark_testkit::directory::{Cast, Persona, check_cell};
use waymark_testkit::services::{TestPlatform, colleague};

use crate::support::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    GetFramework,
    ListFrameworks,
    PublishFramework,
    StartAudit,
    RateStatement,
    AddStrength,
    GetAudit,
    ListAudits,
    AuditTrend,
    HeatMap,
    GetCatalogue,
    AddCatalogueItem,
    SetLearnerNames,
}

const CALLS: [Call; 13] = [
    Call::GetFramework,
    Call::ListFrameworks,
    Call::PublishFramework,
    Call::StartAudit,
    Call::RateStatement,
    Call::AddStrength,
    Call::GetAudit,
    Call::ListAudits,
    Call::AuditTrend,
    Call::HeatMap,
    Call::GetCatalogue,
    Call::AddCatalogueItem,
    Call::SetLearnerNames,
];

/// The rules of docs/authorization.md, written out independently of the policies. The
/// audit asked about is in progress, led by the middle leader with the teacher taking part.
fn allowed(who: Persona, call: Call) -> bool {
    use Persona::*;
    match call {
        Call::GetFramework | Call::ListFrameworks | Call::GetCatalogue => true,
        Call::PublishFramework | Call::AddCatalogueItem | Call::SetLearnerNames => {
            who == TrustAdmin
        }
        Call::StartAudit => matches!(who, Head | Senior | Middle | TrustLeader),
        Call::RateStatement | Call::AddStrength => matches!(who, Middle | Teacher),
        Call::GetAudit | Call::ListAudits => {
            matches!(who, Head | Senior | Middle | Teacher | TrustLeader)
        }
        Call::AuditTrend => matches!(who, Head | Senior | TrustLeader | TrustAdmin),
        Call::HeatMap => matches!(who, TrustLeader | TrustAdmin),
    }
}

fn framework() -> pb::FrameworkContent {
    pb::FrameworkContent {
        name: "Reading check".into(),
        sections: vec![pb::FrameworkSection {
            id: "read".into(),
            title: "Reading".into(),
            statements: vec![pb::StatementText {
                id: "read.daily".into(),
                text: "Every class reads aloud daily.".into(),
            }],
        }],
        rubric: vec![],
        labels: None,
    }
}

type Audits = SelfEvaluationClient<
    tonic::service::interceptor::InterceptedService<
        tonic::transport::Channel,
        waymark_runtime::auth::CallAs,
    >,
>;

/// What the call answered: allowed through the rules, or refused (and how).
async fn attempt(
    audits: &mut Audits,
    dialogue: &mut Client,
    call: Call,
    cast: &Cast,
    audit: &str,
) -> Result<(), tonic::Status> {
    let school = cast.school.to_string();
    match call {
        Call::GetFramework => audits
            .get_framework(pb::GetFrameworkRequest::default())
            .await
            .map(drop),
        Call::ListFrameworks => audits
            .list_frameworks(pb::ListFrameworksRequest::default())
            .await
            .map(drop),
        Call::PublishFramework => audits
            .publish_framework(pb::PublishFrameworkRequest {
                command_id: command(),
                framework_id: String::new(),
                content: Some(framework()),
            })
            .await
            .map(drop),
        Call::StartAudit => audits
            .start_audit(pb::StartAuditRequest {
                command_id: command(),
                school_id: school,
                title: "Spring self-evaluation".into(),
                ..Default::default()
            })
            .await
            .map(drop),
        Call::RateStatement => audits
            .rate_statement(pb::RateStatementRequest {
                command_id: command(),
                audit_id: audit.into(),
                statement_id: "kq.expectations".into(),
                rating: "amber".into(),
                ..Default::default()
            })
            .await
            .map(drop),
        Call::AddStrength => audits
            .add_strength(pb::AddStrengthRequest {
                command_id: command(),
                audit_id: audit.into(),
                text: "Moderation is routine".into(),
                statement_id: String::new(),
            })
            .await
            .map(drop),
        Call::GetAudit => audits
            .get_audit(pb::GetAuditRequest {
                audit_id: audit.into(),
            })
            .await
            .map(drop),
        Call::ListAudits => {
            let listed = audits
                .list_audits(pb::ListAuditsRequest::default())
                .await?
                .into_inner()
                .audits
                .iter()
                .any(|a| a.audit_id == audit);
            if listed {
                Ok(())
            } else {
                Err(tonic::Status::not_found("not listed"))
            }
        }
        Call::AuditTrend => audits
            .audit_trend(pb::AuditTrendRequest {
                school_id: school,
                framework_id: String::new(),
            })
            .await
            .map(drop),
        Call::HeatMap => audits
            .heat_map(pb::HeatMapRequest::default())
            .await
            .map(drop),
        Call::GetCatalogue => dialogue
            .get_catalogue(pb::GetCatalogueRequest {})
            .await
            .map(drop),
        Call::AddCatalogueItem => dialogue
            .add_catalogue_item(pb::AddCatalogueItemRequest {
                command_id: command(),
                kind: "look_for".into(),
                label: format!("Oracy {}", Uuid::new_v4()),
            })
            .await
            .map(drop),
        Call::SetLearnerNames => dialogue
            .set_learner_names_policy(pb::SetLearnerNamesPolicyRequest {
                command_id: command(),
                allowed: false,
            })
            .await
            .map(drop),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_person_does_to_audits_frameworks_and_look_fors_exactly_what_the_rules_allow() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_review_dialogue::run).await;
    let cast = Cast::new(&platform, waymark_review_dialogue::DIRECTORY_TABLE).await;
    let audits_as = |who| SelfEvaluationClient::new(platform.client(address, cast.caller(who)));
    let audit = audits_as(Persona::Middle)
        .start_audit(pb::StartAuditRequest {
            command_id: command(),
            school_id: cast.school.to_string(),
            title: "Autumn self-evaluation".into(),
            participant_ids: vec![cast.id(Persona::Teacher).to_string()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    let mut cells = 0;
    for who in Persona::ALL {
        let mut audits = audits_as(who);
        let mut dialogue = client(&platform, address, cast.caller(who));
        for call in CALLS {
            let outcome = attempt(&mut audits, &mut dialogue, call, &cast, &audit).await;
            // An audit someone may not read is not there for them, whatever they try.
            let unseen = !allowed(who, Call::GetAudit)
                && matches!(call, Call::RateStatement | Call::AddStrength);
            let refused = if matches!(call, Call::GetAudit | Call::ListAudits) || unseen {
                Code::NotFound
            } else {
                Code::PermissionDenied
            };
            check_cell(
                &format!("{who:?} {call:?}"),
                allowed(who, call),
                &outcome,
                refused,
            );
            cells += 1;
        }
    }
    assert_eq!(cells, Persona::ALL.len() * CALLS.len());
    // The refused commands changed nothing: the audit has the two rounds of its parties only.
    let kept = audits_as(Persona::Middle)
        .get_audit(pb::GetAuditRequest { audit_id: audit })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kept.strengths.len(), 2, "{:?}", kept.strengths);
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trust_shares_agreed_reviews_with_middle_leaders_of_their_own_school() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_review_dialogue::run).await;
    let team = Team::new(&platform).await;
    let (reader_caller, reader) = colleague(team.manager);
    let (elsewhere_caller, elsewhere) = colleague(team.manager);
    let other_school = SchoolId::from_uuid(Uuid::new_v4());
    let middle_leader = |staff_id, school| {
        [
            DirectoryEvent::StaffAdded { staff_id },
            DirectoryEvent::RoleGranted {
                staff_id,
                grant: Grant {
                    school: Some(school),
                    role: Role::MiddleLeader,
                },
            },
        ]
    };
    let mut events = middle_leader(reader, SchoolId::from_uuid(team.school)).to_vec();
    events.extend(middle_leader(elsewhere, other_school));
    waymark_testkit::directory::append(&platform, team.manager, &events).await;
    waymark_testkit::directory::caught_up(
        &platform,
        waymark_review_dialogue::DIRECTORY_TABLE,
        team.manager,
    )
    .await;
    // A review of the team's school, agreed by both.
    let mut manager = client(&platform, address, team.manager);
    let mut teacher = client(&platform, address, team.teacher);
    let review = manager
        .schedule_review(schedule(&team, team.school, "Year 5"))
        .await
        .unwrap()
        .into_inner()
        .id;
    discussed(&mut manager, &review).await;
    let look_for = catalogue_id(&mut manager, "look_for", "Challenge").await;
    agree(
        &mut manager,
        &mut teacher,
        &review,
        vec![entry(&look_for, true, false)],
    )
    .await;
    let read = async |caller| {
        client(&platform, address, caller)
            .get_review(pb::GetRecordRequest { id: review.clone() })
            .await
            .map(|r| r.into_inner().redacted)
    };
    assert_eq!(
        read(reader_caller).await.unwrap_err().code(),
        Code::NotFound
    );

    // The trust shares agreed records with middle leaders: of this school, not another.
    waymark_testkit::directory::append(
        &platform,
        team.admin,
        &[DirectoryEvent::AgreedRecordsShared {
            roles: vec![Role::MiddleLeader],
        }],
    )
    .await;
    waymark_testkit::directory::caught_up(
        &platform,
        waymark_review_dialogue::DIRECTORY_TABLE,
        team.admin,
    )
    .await;
    assert!(
        !read(reader_caller).await.unwrap(),
        "read in full, not redacted"
    );
    assert_eq!(
        read(elsewhere_caller).await.unwrap_err().code(),
        Code::NotFound
    );
    platform.stop().await;
}
