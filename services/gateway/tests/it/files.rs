//! Files attached as evidence, against a local directory and a real S3-compatible server:
//! a photo from the browser loses its location before it is kept, a PDF opens, anything else
//! downloads; the people in the record see them, a colleague who may not read it gets 404;
//! a file of a kind not taken, or too large, is refused and nothing is kept.

use std::sync::Arc;

use object_store::ObjectStoreExt;
use reqwest::StatusCode;
use waymark_domain::testing::phone_photo;
use waymark_testkit::objects::S3Server;

use crate::browser::Browser;
use crate::http::{Client, hidden};
use crate::stack::{PASSWORD, Stack, day};

const LIMIT: usize = 300_000;

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The bytes kept for `kind` files, straight from the store (not through Waymark).
async fn kept(stack: &Stack, prefix: &str) -> Vec<Vec<u8>> {
    let settings =
        waymark_runtime::evidence::EvidenceSettings::from_config(&stack.platform.platform.config)
            .unwrap();
    let store = waymark_runtime::objects::open(&settings.files, true).unwrap();
    let mut listed = Vec::new();
    let mut objects = store.list(Some(&object_store::path::Path::from(prefix)));
    while let Some(object) = futures::TryStreamExt::try_next(&mut objects).await.unwrap() {
        listed.push(object.location);
    }
    let mut files = Vec::new();
    for location in listed {
        files.push(
            store
                .get(&location)
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                .to_vec(),
        );
    }
    files
}

/// The files a record's page links to, in order.
fn links(page: &str, base: &str) -> Vec<String> {
    page.split(&format!("href=\"{base}/files/"))
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|id| format!("{base}/files/{id}"))
        .collect()
}

async fn evidence_on_a_review_and_an_action(store: &[(String, String)]) {
    let limit = LIMIT.to_string();
    let mut values: Vec<(&str, &str)> = vec![("evidence.max_bytes", limit.as_str())];
    values.extend(store.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let stack = Stack::start_configured(Arc::new(waymark_testkit::time::clock()), &values).await;
    let seed = &stack.seed;
    let mut head = Client::signed_in(&stack.base, &seed.head.email, PASSWORD).await;
    let teacher_id = seed.teacher.id.to_string();
    let review = head
        .post(
            "/reviews",
            &[
                ("reviewee_id", &teacher_id),
                ("year_group", "Year 4"),
                ("academic_year", "2026-27"),
                ("window_opens", &day(-3)),
                ("window_closes", &day(10)),
            ],
        )
        .await;
    assert_eq!(review.status, StatusCode::SEE_OTHER, "{}", review.body);
    let review = crate::http::path_of(&review.location, &stack.base);
    stack
        .hold_meeting(
            &mut head,
            "4C",
            &day(0),
            &[("Spelling tests weekly", &day(14))],
        )
        .await;
    let mut teacher = Client::signed_in(&stack.base, &seed.teacher.email, PASSWORD).await;
    let action = teacher
        .get("/actions")
        .await
        .body
        .split("href=\"/actions/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(|id| format!("/actions/{id}"))
        .expect("the teacher's action");

    // The teacher attaches a phone photo to the review and a PDF to the action, in a browser.
    let dir = std::env::temp_dir().join(format!("waymark-upload-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let photo_path = dir.join("IMG_0042.jpg");
    std::fs::write(&photo_path, phone_photo(6)).unwrap();
    let pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".to_vec();
    let pdf_path = dir.join("Book look notes.pdf");
    std::fs::write(&pdf_path, &pdf).unwrap();
    let mut browser = Browser::start(&stack.base, "evidence_files").await;
    browser.sign_in(&seed.teacher.email, PASSWORD).await;
    for (page, path) in [(&review, &photo_path), (&action, &pdf_path)] {
        browser.visit(page).await;
        browser.open("Attach a file").await;
        browser.choose_file("#file", path).await;
        browser.press("Attach").await;
        let shown = browser.text().await;
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(shown.contains(&name), "{page} lists {name}: {shown}");
    }
    browser.close().await;
    std::fs::remove_dir_all(&dir).unwrap();

    // Kept without the photo's location, camera and comment; still the right way up.
    let photos = kept(&stack, "review-dialogue").await;
    assert_eq!(photos.len(), 1);
    for gone in [&b"GPS"[..], b"Cam", b"Acacia", b"xmpmeta"] {
        assert!(
            !contains(&photos[0], gone),
            "{}",
            String::from_utf8_lossy(gone)
        );
    }
    assert!(contains(&photos[0], b"Exif\0\0MM"), "the orientation stays");
    assert_eq!(kept(&stack, "action-tracking").await, vec![pdf.clone()]);

    // Both people in the review see the photo, as a picture; the line manager reads the
    // teacher's PDF in the browser.
    let review_page = head.get(&review).await.body;
    let photo_link = links(&review_page, &review);
    assert_eq!(photo_link.len(), 1, "{review_page}");
    for reader in [&mut head, &mut teacher] {
        let got = reader.get(&photo_link[0]).await;
        assert_eq!(got.status, StatusCode::OK);
        assert_eq!(got.content_type, "image/jpeg");
        assert!(got.disposition.starts_with("inline"), "{}", got.disposition);
        assert_eq!(got.bytes, photos[0]);
    }
    let pdf_link = links(&head.get(&action).await.body, &action);
    let got = head.get(&pdf_link[0]).await;
    assert_eq!(
        (got.status, got.content_type.as_str()),
        (StatusCode::OK, "application/pdf")
    );
    assert!(
        got.disposition.contains("filename=\"Book look notes.pdf\""),
        "{}",
        got.disposition
    );
    assert_eq!(got.bytes, pdf);

    // A Word document is downloaded, never opened in the page.
    let page = teacher.get(&action).await.body;
    let command = hidden(&page, "command_id").unwrap();
    let docx = b"PK\x03\x04 [Content_Types].xml word/document.xml".to_vec();
    let sent = teacher
        .upload(&format!("{action}/files"), &command, "plan.docx", &docx)
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let word = links(&teacher.get(&action).await.body, &action);
    assert_eq!(word.len(), 2);
    let got = teacher.get(&word[1]).await;
    assert!(
        got.disposition.starts_with("attachment"),
        "{}",
        got.disposition
    );

    // A colleague who may not read the review, and a teacher of another school who may not
    // read the action, get "not found" for the files as for the records.
    let mut colleague = Client::signed_in(&stack.base, &seed.colleague.email, PASSWORD).await;
    assert_eq!(
        colleague.get(&photo_link[0]).await.status,
        StatusCode::NOT_FOUND
    );
    let mut other_school =
        Client::signed_in(&stack.base, &seed.riverside_teacher.email, PASSWORD).await;
    assert_eq!(
        other_school.get(&pdf_link[0]).await.status,
        StatusCode::NOT_FOUND
    );
    // Nor may the colleague attach to the review.
    let sent = colleague
        .upload(
            &format!("{review}/files"),
            &uuid::Uuid::new_v4().to_string(),
            "x.pdf",
            &pdf,
        )
        .await;
    assert_ne!(sent.status, StatusCode::SEE_OTHER);

    // A program, a web page and a file over the limit: refused, saying why, nothing kept.
    let page = teacher.get(&review).await.body;
    let command = hidden(&page, "command_id").unwrap();
    for (name, content, why) in [
        (
            "setup.exe",
            b"MZ\x90\0 a program".to_vec(),
            "this kind of file is not taken",
        ),
        (
            "page.html",
            b"<html><script>alert(1)</script>".to_vec(),
            "this kind of file is not taken",
        ),
        (
            "huge.pdf",
            [b"%PDF-1.4\n".to_vec(), vec![b'x'; LIMIT]].concat(),
            "larger than the limit of 300 KB",
        ),
    ] {
        let sent = teacher
            .upload(&format!("{review}/files"), &command, name, &content)
            .await;
        assert_eq!(sent.status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        assert!(sent.body.contains(why), "{name}: {}", sent.body);
    }
    assert_eq!(kept(&stack, "review-dialogue").await.len(), 1);
    assert_eq!(links(&teacher.get(&review).await.body, &review).len(), 1);

    // Whoever attached a file removes it; then nobody reads it.
    let page = teacher.get(&review).await.body;
    let command = hidden(&page, "command_id").unwrap();
    let removed = teacher
        .post(
            &format!("{}/remove", photo_link[0]),
            &[("command_id", &command)],
        )
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.body);
    assert!(links(&head.get(&review).await.body, &review).is_empty());
    assert_eq!(head.get(&photo_link[0]).await.status, StatusCode::NOT_FOUND);
    stack.platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_files_in_a_local_directory() {
    evidence_on_a_review_and_an_action(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_files_in_an_s3_bucket() {
    let s3 = S3Server::start().await;
    s3.bucket("waymark-evidence").await;
    evidence_on_a_review_and_an_action(&s3.config("evidence.files", "waymark-evidence", "trust"))
        .await;
}

/// Visits and meetings take files too: the people in them attach and read them while the
/// record is open; a colleague outside it gets "not found"; a closed meeting takes no more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visits_and_meetings_take_files_from_the_people_in_them() {
    let stack = Stack::start().await;
    let seed = &stack.seed;
    let mut head = Client::signed_in(&stack.base, &seed.head.email, PASSWORD).await;
    let mut teacher = Client::signed_in(&stack.base, &seed.teacher.email, PASSWORD).await;
    let mut colleague = Client::signed_in(&stack.base, &seed.colleague.email, PASSWORD).await;
    let teacher_id = seed.teacher.id.to_string();
    let visit = head
        .post(
            "/visits",
            &[
                ("teacher_id", &teacher_id),
                ("kind", "observation"),
                ("date", &day(3)),
                ("focus", "Questioning"),
            ],
        )
        .await;
    assert_eq!(visit.status, StatusCode::SEE_OTHER, "{}", visit.body);
    let visit = crate::http::path_of(&visit.location, &stack.base);
    let meeting = head
        .post(
            "/meetings",
            &[
                ("teacher_id", &teacher_id),
                ("class_group", "4H"),
                ("assessment_point", "Autumn"),
                ("academic_year", "2026-27"),
                ("date", &day(1)),
            ],
        )
        .await;
    assert_eq!(meeting.status, StatusCode::SEE_OTHER, "{}", meeting.body);
    let meeting = crate::http::path_of(&meeting.location, &stack.base);
    let pdf = b"%PDF-1.4\n%%EOF\n".to_vec();
    // The teacher adds a lesson plan to the visit; the head adds the data to the meeting.
    for (who, record) in [(&mut teacher, &visit), (&mut head, &meeting)] {
        let page = who.get(record).await.body;
        assert!(page.contains("Attach a file"), "{record}");
        let command = hidden(&page, "command_id").unwrap();
        let sent = who
            .upload(&format!("{record}/files"), &command, "plan.pdf", &pdf)
            .await;
        assert_eq!(
            sent.status,
            StatusCode::SEE_OTHER,
            "{record}: {}",
            sent.body
        );
    }
    for record in [&visit, &meeting] {
        let link = links(&head.get(record).await.body, record);
        assert_eq!(link.len(), 1, "{record}");
        assert_eq!(teacher.get(&link[0]).await.bytes, pdf);
        assert_eq!(head.get(&link[0]).await.bytes, pdf);
        assert_eq!(colleague.get(&link[0]).await.status, StatusCode::NOT_FOUND);
        let page = colleague.get(record).await.body;
        let sent = colleague
            .upload(
                &format!("{record}/files"),
                &uuid::Uuid::new_v4().to_string(),
                "x.pdf",
                &pdf,
            )
            .await;
        assert_ne!(sent.status, StatusCode::SEE_OTHER, "{record}: {page}");
    }
    // Once the meeting is closed its files stay, and no more are taken.
    let opened = head.post(&format!("{meeting}/open"), &[]).await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);
    let closed = head.post(&format!("{meeting}/close"), &[]).await;
    assert_eq!(closed.status, StatusCode::SEE_OTHER, "{}", closed.body);
    let page = head.get(&meeting).await.body;
    assert!(!page.contains("Attach a file"));
    assert_eq!(links(&page, &meeting).len(), 1);
    let sent = head
        .upload(
            &format!("{meeting}/files"),
            &uuid::Uuid::new_v4().to_string(),
            "late.pdf",
            &pdf,
        )
        .await;
    assert_eq!(
        sent.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        sent.body
    );
    assert!(sent.body.contains("the meeting is closed"), "{}", sent.body);
    stack.platform.stop().await;
}

/// An audit's files stand behind its ratings: its lead and participants attach them; whoever
/// may read the audit reads them; a leader who reads it but is not in it may not attach, and
/// a colleague who may not read it gets "not found".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_takes_files_from_its_lead_and_participants() {
    let stack = Stack::start().await;
    let seed = &stack.seed;
    let mut head = Client::signed_in(&stack.base, &seed.head.email, PASSWORD).await;
    let mut teacher = Client::signed_in(&stack.base, &seed.teacher.email, PASSWORD).await;
    let mut colleague = Client::signed_in(&stack.base, &seed.colleague.email, PASSWORD).await;
    let mut director = Client::signed_in(&stack.base, &seed.director.email, PASSWORD).await;
    let hillside = seed.hillside.to_string();
    let teacher_id = seed.teacher.id.to_string();
    let started = head
        .post(
            "/audits",
            &[
                ("school_id", hillside.as_str()),
                ("title", "Work scrutiny"),
                ("participant_ids", &teacher_id),
            ],
        )
        .await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let audit = crate::http::path_of(&started.location, &stack.base);
    let pdf = b"%PDF-1.4\n%%EOF\n".to_vec();
    let page = teacher.get(&audit).await.body;
    assert!(page.contains("Attach a file"), "{page}");
    let command = hidden(&page, "command_id").unwrap();
    let sent = teacher
        .upload(&format!("{audit}/files"), &command, "books.pdf", &pdf)
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let link = links(&head.get(&audit).await.body, &audit);
    assert_eq!(link.len(), 1);
    for who in [&mut teacher, &mut head, &mut director] {
        assert_eq!(who.get(&link[0]).await.bytes, pdf);
    }
    assert_eq!(colleague.get(&link[0]).await.status, StatusCode::NOT_FOUND);
    let other = uuid::Uuid::new_v4().to_string();
    let sent = colleague
        .upload(&format!("{audit}/files"), &other, "x.pdf", &pdf)
        .await;
    assert_eq!(sent.status, StatusCode::NOT_FOUND, "{}", sent.body);
    assert!(!director.get(&audit).await.body.contains("Attach a file"));
    let sent = director
        .upload(&format!("{audit}/files"), &other, "x.pdf", &pdf)
        .await;
    assert_eq!(sent.status, StatusCode::FORBIDDEN, "{}", sent.body);
    // The head may not remove the teacher's file; the teacher may.
    let remove = format!("{}/remove", link[0]);
    let refused = head.post(&remove, &[]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let removed = teacher.post(&remove, &[]).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.body);
    assert!(links(&head.get(&audit).await.body, &audit).is_empty());
    stack.platform.stop().await;
}
