//! Signing in with OpenID Connect, against a real (local) identity provider.

use std::process::Stdio;
use std::time::Duration;

use fantoccini::Locator;
use tokio::process::{Child, Command};
use waymark_domain::directory::Role;

use crate::browser::Browser;
use crate::stack::Stack;

/// PyPI's `oidc-provider-mock`, installed by the test command.
struct Provider {
    _process: Child,
    issuer: String,
}

async fn provider() -> Provider {
    let program =
        std::env::var("WAYMARK_OIDC_PROVIDER").unwrap_or_else(|_| "oidc-provider-mock".into());
    let port = waymark_testkit::free_port();
    let process = Command::new(&program)
        .args(["--port", &port.to_string(), "--require-nonce", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|error| {
            panic!("cannot start {program} (pip install oidc-provider-mock): {error}")
        });
    let issuer = format!("http://127.0.0.1:{port}");
    let discovery = format!("{issuer}/.well-known/openid-configuration");
    for _ in 0..100 {
        if reqwest::get(&discovery)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Provider {
                _process: process,
                issuer,
            };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the OpenID provider did not start");
}

/// At the provider's page: sign in as `subject`.
async fn authorise(browser: &Browser, subject: &str) {
    let field = browser
        .client
        .wait()
        .for_element(Locator::Css("input[name=sub]"))
        .await
        .unwrap();
    field.send_keys(subject).await.unwrap();
    browser.press_only("Authorize").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_sign_in_with_their_trusts_provider_matched_by_issuer_and_subject() {
    let stack = Stack::start().await;
    let provider = provider().await;
    let seed = &stack.seed;
    let b = &stack.bootstrap;
    b.set_sso(
        seed.trust,
        "microsoft",
        &provider.issuer,
        "waymark",
        "client-secret",
        None,
    )
    .await
    .unwrap();
    let sam = b
        .add_person(
            seed.trust,
            "Sam Single",
            "sam.single@example.org",
            &[(Some(seed.hillside), Role::ClassTeacher)],
        )
        .await
        .unwrap();
    let invitation = b.invite(seed.trust, sam).await.unwrap();

    // The invitation links the provider's account to Sam.
    let mut browser = Browser::start(&stack.base, "single_sign_on").await;
    browser
        .visit(invitation.strip_prefix(&stack.base).unwrap())
        .await;
    browser.press_only("Sign in with Microsoft").await;
    authorise(&browser, "sam-at-the-provider").await;
    browser.check().await;
    assert!(
        browser.text().await.contains("Hello, Sam Single"),
        "{}",
        browser.text().await
    );
    browser.sign_out().await;

    // Next time the sign-in page's button is enough.
    browser.press_only("Sign in with Microsoft").await;
    authorise(&browser, "sam-at-the-provider").await;
    browser.check().await;
    assert!(browser.text().await.contains("Hello, Sam Single"));
    browser.sign_out().await;

    // Someone the provider knows but Waymark does not is turned away, whatever their e-mail.
    browser.press_only("Sign in with Microsoft").await;
    authorise(&browser, "sam.single@example.org").await;
    browser.check().await;
    assert!(
        browser.text().await.contains("not linked to Waymark"),
        "{}",
        browser.text().await
    );

    // Google accounts must belong to the trust's Workspace domain (the `hd` claim).
    b.set_sso(
        seed.trust,
        "google",
        &provider.issuer,
        "waymark-google",
        "client-secret",
        Some("hillside.example"),
    )
    .await
    .unwrap();
    let outside = reqwest::Client::new()
        .put(format!("{}/users/pat-personal", provider.issuer))
        .json(&serde_json::json!({ "email": "pat@gmail.example", "hd": "gmail.example" }))
        .send()
        .await
        .unwrap();
    assert!(outside.status().is_success());
    browser.visit("/sign-in").await;
    browser.press_only("Sign in with Google").await;
    authorise(&browser, "pat-personal").await;
    browser.check().await;
    assert!(
        browser
            .text()
            .await
            .contains("Use your school’s Google account"),
        "{}",
        browser.text().await
    );

    // The invitation was used up.
    let used = reqwest::get(&invitation).await.unwrap();
    assert_eq!(used.status(), reqwest::StatusCode::NOT_FOUND);
    browser.close().await;
    stack.platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trust_cannot_point_sign_in_at_any_other_address() {
    let stack = Stack::start().await;
    let mut admin = crate::http::Client::signed_in(
        &stack.base,
        &stack.seed.admin.email,
        crate::stack::PASSWORD,
    )
    .await;
    let set = |provider: &'static str, issuer: &'static str| {
        [
            ("provider", provider),
            ("issuer", issuer),
            ("client_id", "waymark"),
            ("client_secret", "secret"),
        ]
    };
    // The issuer is fetched by the sign-in pages, unsigned-in: it may only be Microsoft's or
    // Google's (or, in tests, this machine), never the trust's network or cloud metadata.
    for (provider, issuer, says) in [
        ("microsoft", "http://127.0.0.1@10.0.0.5/", "https://"),
        ("microsoft", "https://10.0.0.5/tenant/v2.0", "https://"),
        (
            "microsoft",
            "https://169.254.169.254/latest/meta-data",
            "https://",
        ),
        (
            "microsoft",
            "https://login.evil.example/tenant/v2.0",
            "login.microsoftonline.com",
        ),
        (
            "google",
            "https://accounts.google.com.evil.example",
            "accounts.google.com",
        ),
    ] {
        let refused = admin.post("/admin/sso", &set(provider, issuer)).await;
        assert_eq!(
            refused.status,
            reqwest::StatusCode::UNPROCESSABLE_ENTITY,
            "{issuer}"
        );
        assert!(refused.body.contains(says), "{issuer}: {}", refused.body);
    }
    let page = admin.get("/admin/sso").await.body;
    assert!(
        !page.contains("10.0.0.5") && !page.contains("evil.example"),
        "{page}"
    );
    // Microsoft's address for a tenant is accepted.
    let kept = admin
        .post(
            "/admin/sso",
            &set(
                "microsoft",
                "https://login.microsoftonline.com/3f0c5d1e-1111-4a2b-9c3d-123456789abc/v2.0",
            ),
        )
        .await;
    assert_eq!(kept.status, reqwest::StatusCode::SEE_OTHER, "{}", kept.body);
    stack.platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_finishes_only_in_the_browser_that_started_it() {
    let stack = Stack::start().await;
    let provider = provider().await;
    let trust = stack.seed.trust;
    stack
        .bootstrap
        .set_sso(
            trust,
            "microsoft",
            &provider.issuer,
            "waymark",
            "client-secret",
            None,
        )
        .await
        .unwrap();
    // Someone starts a sign-in in their own browser and has the provider send it back…
    let mut attacker = crate::http::Client::new(&stack.base);
    let started = attacker
        .post_form(
            &format!("/sso/{trust}/microsoft/start"),
            &[("invitation", "")],
        )
        .await;
    assert_eq!(
        started.status,
        reqwest::StatusCode::SEE_OTHER,
        "{}",
        started.body
    );
    assert!(
        attacker
            .cookie
            .as_deref()
            .is_some_and(|c| c.starts_with("waymark_sso="))
    );
    let authorised = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(&started.location)
        .form(&[("sub", "attacker")])
        .send()
        .await
        .unwrap();
    let back = authorised.headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    let callback = crate::http::path_of(&back, &stack.base);
    assert!(callback.starts_with("/sso/callback?code="), "{callback}");
    // …then gets a colleague's browser to open that link: refused, nobody is signed in.
    let mut victim = crate::http::Client::new(&stack.base);
    let refused = victim.get(&callback).await;
    assert_eq!(refused.status, reqwest::StatusCode::FORBIDDEN);
    assert!(
        refused.body.contains("started in another browser"),
        "{}",
        refused.body
    );
    assert!(victim.cookie.is_none(), "no session");
    // In the browser that started it, the same link is taken (and refused for its own
    // reason: that identity is linked to nobody).
    let own = attacker.get(&callback).await;
    assert!(
        !own.body.contains("started in another browser"),
        "{}",
        own.body
    );
    stack.platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_sign_in_page_names_no_trust_and_each_trust_has_its_own() {
    let stack = Stack::start().await;
    let b = &stack.bootstrap;
    let seed = &stack.seed;
    let mut anyone = crate::http::Client::new(&stack.base);
    let tenant = "https://login.microsoftonline.com/11111111-1111-1111-1111-111111111111/v2.0";
    // One trust signs in with a provider: its button is on the public page, unnamed.
    b.set_sso(seed.trust, "microsoft", tenant, "waymark", "secret", None)
        .await
        .unwrap();
    let page = anyone.get("/sign-in").await.body;
    assert!(page.contains("Sign in with Microsoft"), "{page}");
    assert!(!page.contains("Northern Lights"), "{page}");

    // A second does too: the public page shows no buttons and names neither trust; each
    // trust's own page has its own buttons.
    let other = b.create_trust("Quiet Valley Trust").await.unwrap();
    b.set_sso(
        other,
        "google",
        "https://accounts.google.com",
        "waymark",
        "secret",
        Some("quiet.example"),
    )
    .await
    .unwrap();
    let page = anyone.get("/sign-in").await;
    assert_eq!(page.status, reqwest::StatusCode::OK);
    assert!(!page.body.contains("Sign in with"), "{}", page.body);
    assert!(
        !page.body.contains("Northern Lights") && !page.body.contains("Quiet Valley"),
        "{}",
        page.body
    );
    assert!(page.body.contains("your trust’s own sign-in page"));
    let ours = anyone.get(&format!("/sign-in/{}", seed.trust)).await.body;
    assert!(ours.contains("Sign in with Microsoft") && !ours.contains("Sign in with Google"));
    let theirs = anyone.get(&format!("/sign-in/{other}")).await.body;
    assert!(theirs.contains("Sign in with Google") && !theirs.contains("Sign in with Microsoft"));
    // An id that is no trust's shows the page without buttons: nothing tells it apart.
    let nobody = anyone
        .get(&format!("/sign-in/{}", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(nobody.status, reqwest::StatusCode::OK);
    assert!(!nobody.body.contains("Sign in with"));
    stack.platform.stop().await;
}
