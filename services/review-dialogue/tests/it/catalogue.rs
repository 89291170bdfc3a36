use tonic::Code;
use uuid::Uuid;
use waymark_proto::review_dialogue::v1 as pb;
use waymark_testkit::services::TestPlatform;

use crate::support::*;

#[tokio::test]
async fn a_trust_changes_its_look_fors_without_changing_old_reviews() {
    let mut platform = TestPlatform::start(None).await;
    let address = platform.serve(waymark_review_dialogue::run).await;
    let team = Team::new(&platform).await;
    let mut manager = client(&platform, address, team.manager);
    let mut teacher = client(&platform, address, team.teacher);
    let mut admin = client(&platform, address, team.admin);

    let defaults = manager
        .get_catalogue(pb::GetCatalogueRequest {})
        .await
        .unwrap()
        .into_inner();
    let count = |kind: &str| defaults.items.iter().filter(|i| i.kind == kind).count();
    assert_eq!((count("look_for"), count("source")), (8, 5));

    let review = manager
        .schedule_review(schedule(&team, Uuid::new_v4(), "Year 7"))
        .await
        .unwrap()
        .into_inner()
        .id;
    discussed(&mut manager, &review).await;
    let homework = catalogue_id(&mut manager, "look_for", "Homework").await;
    agree(
        &mut manager,
        &mut teacher,
        &review,
        vec![entry(&homework, true, false)],
    )
    .await;

    admin
        .rename_catalogue_item(pb::RenameCatalogueItemRequest {
            command_id: command(),
            id: homework.clone(),
            label: "Independent study".into(),
        })
        .await
        .unwrap();
    let oracy = admin
        .add_catalogue_item(pb::AddCatalogueItemRequest {
            command_id: command(),
            kind: "look_for".into(),
            label: "Oracy".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    let challenge = catalogue_id(&mut manager, "look_for", "Challenge").await;
    admin
        .retire_catalogue_item(pb::CatalogueItemRequest {
            command_id: command(),
            id: challenge.clone(),
        })
        .await
        .unwrap();

    let catalogue = manager
        .get_catalogue(pb::GetCatalogueRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(
        catalogue
            .items
            .iter()
            .any(|i| i.id == homework && i.label == "Independent study")
    );
    assert!(
        catalogue
            .items
            .iter()
            .any(|i| i.id == oracy && i.label == "Oracy")
    );
    assert!(
        catalogue
            .items
            .iter()
            .any(|i| i.id == challenge && i.retired)
    );
    let old = manager
        .get_review(pb::GetRecordRequest { id: review })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        old.look_fors[0].label, "Homework",
        "the agreed record keeps the name it used"
    );

    // A retired look-for is not used in new records; a duplicate name is refused.
    let next = manager
        .schedule_review(schedule(&team, Uuid::new_v4(), "Year 7"))
        .await
        .unwrap()
        .into_inner()
        .id;
    discussed(&mut manager, &next).await;
    let retired = manager
        .draft_record(pb::DraftRecordRequest {
            command_id: command(),
            review_id: next.clone(),
            look_fors: vec![entry(&challenge, false, true)],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(retired.code(), Code::InvalidArgument);
    assert!(retired.message().contains("retired"));
    let duplicate = admin
        .add_catalogue_item(pb::AddCatalogueItemRequest {
            command_id: command(),
            kind: "look_for".into(),
            label: "oracy".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (duplicate.code(), code(&duplicate)),
        (Code::AlreadyExists, "catalogue.duplicate_label")
    );
    platform.stop().await;
}
