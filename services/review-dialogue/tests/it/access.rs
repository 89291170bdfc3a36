//! Who reads a review, visit or meeting, and how much: asked of the running service (gRPC)
//! by each kind of colleague, before and after the record is agreed. The rules are
//! docs/authorization.md's "Reviews, visits and meetings".

use tonic::Code;
use uuid::Uuid;
use waymark_domain::directory::{DirectoryEvent, Grant, Role};
use waymark_domain::{SchoolId, Text};
use waymark_proto::review_dialogue::v1 as pb;
use waymark_runtime::auth::Caller;
use waymark_testkit::services::{TestPlatform, colleague, staff};

use crate::support::*;

/// What one person gets of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Got {
    /// All of it.
    Full,
    /// Its people, dates and state, nothing it says.
    Status,
    /// "Not found", and nothing in lists.
    Nothing,
}
use Got::{Full, Nothing, Status};

/// The team (manager reviews and visits the teacher; the senior leader manages the manager)
/// and, around them, everyone else who might ask.
struct School {
    team: Team,
    school: Uuid,
    head: Caller,
    other_senior: Caller,
    colleague: Caller,
    other_head: Caller,
    trust_leader: Caller,
    trust_admin: Caller,
}

impl School {
    async fn new(platform: &TestPlatform) -> Self {
        let team = Team::new(platform).await;
        let (school, other) = (Uuid::new_v4(), Uuid::new_v4());
        let people: Vec<(Caller, Option<Uuid>, Role)> = vec![
            (colleague(team.manager).0, Some(school), Role::HeadTeacher),
            (colleague(team.manager).0, Some(school), Role::SeniorLeader),
            (colleague(team.manager).0, Some(school), Role::MiddleLeader),
            (colleague(team.manager).0, Some(other), Role::HeadTeacher),
            (colleague(team.manager).0, None, Role::TrustLeader),
            (colleague(team.manager).0, None, Role::TrustAdmin),
        ];
        let mut events = vec![];
        for (id, name) in [(school, "Hillside"), (other, "Riverside")] {
            events.push(DirectoryEvent::SchoolAdded {
                school_id: SchoolId::from_uuid(id),
                name: Text::parse(name).unwrap(),
            });
        }
        for (caller, school, role) in &people {
            events.push(DirectoryEvent::StaffAdded {
                staff_id: staff(*caller),
            });
            events.push(DirectoryEvent::RoleGranted {
                staff_id: staff(*caller),
                grant: Grant {
                    school: school.map(SchoolId::from_uuid),
                    role: *role,
                },
            });
        }
        // The senior leader leads in the school too: their reading comes from being the
        // manager's line manager, not from the role alone (the other senior leader has it).
        events.push(DirectoryEvent::RoleGranted {
            staff_id: staff(team.slt),
            grant: Grant {
                school: Some(SchoolId::from_uuid(school)),
                role: Role::SeniorLeader,
            },
        });
        // The manager works at the school (a meeting's leaders must), with the least role.
        events.push(DirectoryEvent::RoleGranted {
            staff_id: staff(team.manager),
            grant: Grant {
                school: Some(SchoolId::from_uuid(school)),
                role: Role::ClassTeacher,
            },
        });
        waymark_testkit::directory::append(platform, team.manager, &events).await;
        let last = staff(people[5].0);
        waymark_testkit::directory::known(
            platform,
            waymark_review_dialogue::DIRECTORY_TABLE,
            team.manager,
            last,
        )
        .await;
        Self {
            team,
            school,
            head: people[0].0,
            other_senior: people[1].0,
            colleague: people[2].0,
            other_head: people[3].0,
            trust_leader: people[4].0,
            trust_admin: people[5].0,
        }
    }

    /// Everyone, each with a name for messages.
    fn everyone(&self) -> [(&'static str, Caller); 9] {
        [
            ("reviewer/visitor/leader", self.team.manager),
            ("teacher", self.team.teacher),
            ("senior-leader line manager", self.team.slt),
            ("head teacher", self.head),
            ("another senior leader", self.other_senior),
            ("a middle leader colleague", self.colleague),
            ("another school's head", self.other_head),
            ("trust leader", self.trust_leader),
            ("trust administrator", self.trust_admin),
        ]
    }
}

/// What each person in [`School::everyone`]'s order gets, before agreement then after.
const WHILE_DRAFT: [Got; 9] = [
    Full, Full, Status, Status, Status, Nothing, Nothing, Status, Status,
];
const ONCE_AGREED: [Got; 9] = [
    Full, Full, Full, Full, Status, Nothing, Nothing, Full, Status,
];

/// Asks the service for one record as `caller`, by id and in its list, and says what came
/// back; checks that a "status only" answer holds nothing of what the record says.
async fn got(
    platform: &TestPlatform,
    address: std::net::SocketAddr,
    caller: Caller,
    kind: &str,
    id: &str,
) -> Got {
    let mut client = client(platform, address, caller);
    let request = || pb::GetRecordRequest { id: id.into() };
    let (one, listed) = match kind {
        "review" => {
            let one = client.get_review(request()).await.map(|r| {
                let r = r.into_inner();
                assert!(
                    !r.redacted || (r.evidence.is_empty() && r.look_fors.is_empty()),
                    "a redacted review says nothing"
                );
                r.redacted
            });
            let list = client
                .list_reviews(pb::ListReviewsRequest::default())
                .await
                .unwrap()
                .into_inner()
                .reviews;
            let listed = list.iter().find(|r| r.review_id == id).map(|r| r.redacted);
            (one, listed)
        }
        "visit" => {
            let one = client.get_visit(request()).await.map(|v| {
                let v = v.into_inner();
                assert!(
                    !v.redacted || (v.observations.is_empty() && v.focus.is_empty()),
                    "a redacted visit says nothing"
                );
                v.redacted
            });
            let list = client
                .list_visits(pb::ListVisitsRequest::default())
                .await
                .unwrap()
                .into_inner()
                .visits;
            let listed = list.iter().find(|v| v.visit_id == id).map(|v| v.redacted);
            (one, listed)
        }
        _ => {
            let one = client.get_meeting(request()).await.map(|m| {
                let m = m.into_inner();
                assert!(
                    !m.redacted || (m.discussion.is_empty() && m.agreed_actions.is_empty()),
                    "a redacted meeting says nothing"
                );
                m.redacted
            });
            let list = client
                .list_meetings(pb::ListMeetingsRequest::default())
                .await
                .unwrap()
                .into_inner()
                .meetings;
            let listed = list.iter().find(|m| m.meeting_id == id).map(|m| m.redacted);
            (one, listed)
        }
    };
    let by_id = match one {
        Ok(false) => Full,
        Ok(true) => Status,
        Err(status) => {
            assert_eq!(status.code(), Code::NotFound, "{status:?}");
            Nothing
        }
    };
    let in_list = match listed {
        Some(false) => Full,
        Some(true) => Status,
        None => Nothing,
    };
    assert_eq!(by_id, in_list, "the list and the record disagree");
    by_id
}

async fn check(
    platform: &TestPlatform,
    address: std::net::SocketAddr,
    school: &School,
    kind: &str,
    id: &str,
    expected: [Got; 9],
    stage: &str,
) -> usize {
    let mut wrong = vec![];
    for ((who, caller), expected) in school.everyone().into_iter().zip(expected) {
        let actual = got(platform, address, caller, kind, id).await;
        if actual != expected {
            wrong.push(format!(
                "{kind} {stage}: {who} got {actual:?}, expected {expected:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    expected.len()
}

#[tokio::test]
async fn reviews_visits_and_meetings_stay_between_their_people_until_agreed() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_review_dialogue::run).await;
    let s = School::new(&platform).await;
    let mut manager = client(&platform, address, s.team.manager);
    let mut teacher = client(&platform, address, s.team.teacher);
    let mut cells = 0;

    // A review, drafted and then agreed.
    let review = manager
        .schedule_review(schedule(&s.team, s.school, "Year 4"))
        .await
        .unwrap()
        .into_inner()
        .id;
    discussed(&mut manager, &review).await;
    let look_for = catalogue_id(&mut manager, "look_for", "Student responses").await;
    manager
        .draft_record(pb::DraftRecordRequest {
            command_id: command(),
            review_id: review.clone(),
            look_fors: vec![entry(&look_for, true, false)],
            ..Default::default()
        })
        .await
        .unwrap();
    cells += check(
        &platform,
        address,
        &s,
        "review",
        &review,
        WHILE_DRAFT,
        "in draft",
    )
    .await;
    let draft = manager
        .get_review(pb::GetRecordRequest { id: review.clone() })
        .await
        .unwrap()
        .into_inner()
        .draft;
    for client in [&mut teacher, &mut manager] {
        client
            .agree_record(pb::AgreeRecordRequest {
                command_id: command(),
                review_id: review.clone(),
                draft,
            })
            .await
            .unwrap();
    }
    cells += check(
        &platform,
        address,
        &s,
        "review",
        &review,
        ONCE_AGREED,
        "agreed",
    )
    .await;

    // A visit, recorded and then agreed.
    let visit = manager
        .plan_visit(pb::PlanVisitRequest {
            occurrence_id: String::new(),
            command_id: command(),
            school_id: s.school.to_string(),
            kind: "observation".into(),
            visitor_id: id(s.team.manager),
            teacher_id: id(s.team.teacher),
            date: "2026-12-03".into(),
            focus: "Questioning".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    teacher
        .agree_visit_focus(pb::RecordRequest {
            command_id: command(),
            id: visit.clone(),
        })
        .await
        .unwrap();
    manager
        .record_visit(pb::RecordVisitRequest {
            command_id: command(),
            visit_id: visit.clone(),
            observations: "Cold calling used well".into(),
            feedback: "Try a pause".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    cells += check(
        &platform,
        address,
        &s,
        "visit",
        &visit,
        WHILE_DRAFT,
        "recorded",
    )
    .await;
    teacher
        .agree_visit(pb::AgreeVisitRequest {
            command_id: command(),
            visit_id: visit.clone(),
            record_version: 1,
        })
        .await
        .unwrap();
    cells += check(
        &platform,
        address,
        &s,
        "visit",
        &visit,
        ONCE_AGREED,
        "agreed",
    )
    .await;

    // A meeting, open and then closed.
    let meeting = manager
        .schedule_meeting(pb::ScheduleMeetingRequest {
            occurrence_id: String::new(),
            command_id: command(),
            school_id: s.school.to_string(),
            academic_year: "2026-27".into(),
            assessment_point: "Autumn assessment".into(),
            teacher_id: id(s.team.teacher),
            class_group: "7B".into(),
            leader_ids: vec![id(s.team.manager)],
            date: "2026-12-08".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    manager
        .open_meeting(pb::RecordRequest {
            command_id: command(),
            id: meeting.clone(),
        })
        .await
        .unwrap();
    manager
        .note_discussion(pb::NoteDiscussionRequest {
            command_id: command(),
            meeting_id: meeting.clone(),
            level: "class".into(),
            note: "Fractions are the barrier".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    cells += check(
        &platform,
        address,
        &s,
        "meeting",
        &meeting,
        WHILE_DRAFT,
        "open",
    )
    .await;
    manager
        .close_meeting(pb::CloseMeetingRequest {
            command_id: command(),
            meeting_id: meeting.clone(),
            actions: vec![],
        })
        .await
        .unwrap();
    cells += check(
        &platform,
        address,
        &s,
        "meeting",
        &meeting,
        ONCE_AGREED,
        "closed",
    )
    .await;
    assert_eq!(cells, 54);

    // A comparison shows what two agreed records say: only to those who may read them.
    let second = manager
        .schedule_review(schedule(&s.team, s.school, "Year 4"))
        .await
        .unwrap()
        .into_inner()
        .id;
    discussed(&mut manager, &second).await;
    agree(
        &mut manager,
        &mut teacher,
        &second,
        vec![entry(&look_for, false, true)],
    )
    .await;
    let compare = || pb::CompareReviewsRequest {
        school_id: s.school.to_string(),
        year_group: "Year 4".into(),
        academic_year: "2026-27".into(),
        reviewee_id: id(s.team.teacher),
    };
    let mut head = client(&platform, address, s.head);
    let compared = head.compare_reviews(compare()).await.unwrap().into_inner();
    assert_eq!(
        (
            compared.first.unwrap().review_id,
            compared.second.unwrap().review_id
        ),
        (review.clone(), second.clone())
    );
    let mut other_senior = client(&platform, address, s.other_senior);
    let refused = other_senior.compare_reviews(compare()).await.unwrap_err();
    assert_eq!(code(&refused), "review.nothing_to_compare");
    platform.stop().await;
}
