//! People and roles as the policies have them (`policy/people.cedar`), played by the
//! colleague who should be refused: the account takeover through a staff import, and
//! giving yourself a role.

use reqwest::StatusCode;
use waymark_domain::directory::{Grant, Role};

use crate::admin::upload;
use crate::browser::Browser;
use crate::http::Client;
use crate::stack::{PASSWORD, Stack};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_teacher_cannot_take_over_a_trust_administrators_account() {
    let stack = Stack::start().await;
    let seed = &stack.seed;
    // The head imports a file that names the trust administrator as a teacher of theirs.
    let mut browser = Browser::start(&stack.base, "takeover").await;
    browser.sign_in(&seed.head.email, PASSWORD).await;
    browser.visit("/admin/staff").await;
    let file = format!(
        "name,email,school,role\nAlex Admin,{},Hillside Primary,Class teacher\n",
        seed.admin.email
    );
    upload(&mut browser, "takeover.csv", &file, false).await;
    let page = browser.text().await;
    assert!(
        page.contains("Row 2: Alex Admin is already in Waymark with roles you do not manage; nothing was changed."),
        "{page}"
    );
    browser.close().await;
    let directory = stack.bootstrap.directory(seed.trust).await.unwrap();
    assert_eq!(
        directory.staff[&seed.admin.id].grants,
        [Grant {
            school: None,
            role: Role::TrustAdmin
        }],
        "no school role was given"
    );

    // Nor can the head reach the account any other way.
    let mut head = Client::signed_in(&stack.base, &seed.head.email, PASSWORD).await;
    let admin = format!("/admin/staff/{}", seed.admin.id);
    assert_eq!(head.get(&admin).await.status, StatusCode::NOT_FOUND);
    for verb in ["invite", "disable", "line-manager", "grant"] {
        let response = head
            .post(
                &format!("{admin}/{verb}"),
                &[
                    ("role", "class_teacher"),
                    ("school_id", &seed.hillside.to_string()),
                ],
            )
            .await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{verb}");
    }
    let invitations: i64 =
        sqlx::query_scalar("SELECT count(*) FROM gateway.invitations WHERE staff_id = $1")
            .bind(seed.admin.id.into_uuid())
            .fetch_one(&stack.platform.platform.pool)
            .await
            .unwrap();
    assert_eq!(invitations, 0);
    // And the administrator still signs in.
    Client::signed_in(&stack.base, &seed.admin.email, PASSWORD).await;
    stack.platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_gives_themselves_a_role_and_a_school_administrator_makes_no_head() {
    let stack = Stack::start().await;
    let seed = &stack.seed;
    let hillside = seed.hillside.to_string();
    let office_email = format!("office.{}@example.org", uuid::Uuid::new_v4().simple());
    let office = stack
        .bootstrap
        .add_person(
            seed.trust,
            "Olu Office",
            &office_email,
            &[(Some(seed.hillside), Role::Admin)],
        )
        .await
        .unwrap();
    stack
        .bootstrap
        .set_password(seed.trust, office, PASSWORD)
        .await
        .unwrap();
    let grant = |role: &'static str| [("role", role), ("school_id", hillside.as_str())];

    let mut admin = Client::signed_in(&stack.base, &office_email, PASSWORD).await;
    let mine = format!("/admin/staff/{office}/grant");
    let raised = admin.post(&mine, &grant("head_teacher")).await;
    assert_eq!(raised.status, StatusCode::FORBIDDEN, "{}", raised.body);
    assert!(raised.body.contains("nobody changes their own roles"));
    let teacher = format!("/admin/staff/{}/grant", seed.teacher.id);
    assert_eq!(
        admin.post(&teacher, &grant("head_teacher")).await.status,
        StatusCode::FORBIDDEN,
        "a school administrator makes no head teacher"
    );
    assert_eq!(
        admin.post(&teacher, &grant("admin")).await.status,
        StatusCode::FORBIDDEN,
        "nor another school administrator"
    );
    assert_eq!(
        admin.post(&teacher, &grant("middle_leader")).await.status,
        StatusCode::SEE_OTHER,
        "school roles below those are theirs to give"
    );

    let mut head = Client::signed_in(&stack.base, &seed.head.email, PASSWORD).await;
    let own = format!("/admin/staff/{}/grant", seed.head.id);
    assert_eq!(
        head.post(&own, &grant("senior_leader")).await.status,
        StatusCode::FORBIDDEN
    );
    let directory = stack.bootstrap.directory(seed.trust).await.unwrap();
    assert_eq!(directory.staff[&office].grants.len(), 1);
    assert_eq!(directory.staff[&seed.head.id].grants.len(), 1);
    assert!(
        directory.staff[&seed.teacher.id]
            .grants
            .iter()
            .any(|g| g.role == Role::MiddleLeader)
    );
    stack.platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_colleague_who_can_see_an_action_cannot_close_it() {
    let stack = Stack::start().await;
    let seed = &stack.seed;
    let mut head = Client::signed_in(&stack.base, &seed.head.email, PASSWORD).await;
    stack
        .hold_meeting(
            &mut head,
            "4C",
            &crate::stack::day(0),
            &[("Spelling tests weekly", &crate::stack::day(14))],
        )
        .await;
    let mut teacher = Client::signed_in(&stack.base, &seed.teacher.email, PASSWORD).await;
    let list = teacher.get("/actions").await.body;
    let id = list
        .split("href=\"/actions/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the teacher's action")
        .to_owned();
    let page = format!("/actions/{id}");
    assert!(
        teacher.get(&page).await.body.contains("Mark as done"),
        "the owner is offered it"
    );

    // The head, their line manager, sees it and may move it, but it is not theirs to close.
    let seen = head.get(&page).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert!(!seen.body.contains("Mark as done"), "not offered");
    assert!(seen.body.contains("Change the due date"));
    let closed = head
        .post(
            &format!("{page}/complete"),
            &[("impact", "Closed for them")],
        )
        .await;
    assert_eq!(closed.status, StatusCode::FORBIDDEN, "{}", closed.body);
    assert!(
        closed.body.contains("only the action") && closed.body.contains("owner can do this"),
        "{}",
        closed.body
    );
    let dropped = teacher
        .post(&format!("{page}/drop"), &[("reason", "Not needed")])
        .await;
    assert_eq!(
        dropped.status,
        StatusCode::FORBIDDEN,
        "the owner does not drop it alone"
    );
    assert!(
        teacher.get(&page).await.body.contains("Mark as done"),
        "still open"
    );
    stack.platform.stop().await;
}
