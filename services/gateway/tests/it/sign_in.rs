//! Local sign-in, sessions and CSRF.

use reqwest::StatusCode;

use crate::http::Client;
use crate::stack::{PASSWORD, Stack};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_shows_the_home_page_and_wrong_passwords_say_nothing_more() {
    let stack = Stack::start().await;
    let seed = &stack.seed;

    let mut anonymous = Client::new(&stack.base);
    let home = anonymous.get("/").await;
    assert_eq!(home.status, StatusCode::SEE_OTHER);
    assert_eq!(home.location, "/sign-in");

    // A wrong password and an unknown address get the same answer.
    let wrong = anonymous
        .post_form(
            "/sign-in",
            &[
                ("email", &seed.teacher.email),
                ("password", "not it at all"),
            ],
        )
        .await;
    let unknown = anonymous
        .post_form(
            "/sign-in",
            &[
                ("email", "nobody@example.org"),
                ("password", "not it at all"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong
            .body
            .contains("Enter a correct e-mail address and password.")
    );
    assert!(
        unknown
            .body
            .contains("Enter a correct e-mail address and password.")
    );
    assert!(anonymous.cookie.is_none());

    let mut teacher = Client::signed_in(&stack.base, &seed.teacher.email, PASSWORD).await;
    let home = teacher.get("/").await;
    assert!(home.body.contains("Hello, Tom Teacher"), "{}", home.body);
    let headers_ok = home.content_type.starts_with("text/html");
    assert!(headers_ok);

    // Signing out ends the session on the server, not only in the browser.
    let cookie = teacher.cookie.clone();
    let out = teacher.post("/sign-out", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let mut replay = Client::new(&stack.base);
    replay.cookie = cookie;
    assert_eq!(replay.get("/").await.status, StatusCode::SEE_OTHER);
    stack.platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_failures_pause_signing_in() {
    let stack = Stack::start().await;
    let mut client = Client::new(&stack.base);
    for _ in 0..5 {
        let response = client
            .post_form(
                "/sign-in",
                &[
                    ("email", &stack.seed.head.email),
                    ("password", "guess guess guess"),
                ],
            )
            .await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    }
    // Even the right password waits now.
    let response = client
        .post_form(
            "/sign-in",
            &[("email", &stack.seed.head.email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(response.status, StatusCode::TOO_MANY_REQUESTS);
    stack.platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spraying_addresses_from_one_client_pauses_it_and_nobody_else() {
    let stack = Stack::start().await;
    let mut sprayer = Client::from_address(&stack.base, "203.0.113.7");
    // One password tried on thirty addresses (made up, and the head's).
    for n in 0..30 {
        let email = if n == 29 {
            stack.seed.head.email.clone()
        } else {
            format!("guess{n}@hillside.example")
        };
        let response = sprayer
            .post_form(
                "/sign-in",
                &[("email", &email), ("password", "Winter2026!!")],
            )
            .await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "attempt {n}");
    }
    // That client now waits, even with a right password…
    let paused = sprayer
        .post_form(
            "/sign-in",
            &[("email", &stack.seed.teacher.email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(paused.status, StatusCode::TOO_MANY_REQUESTS);
    // …while everyone else signs in, the head included.
    for person in [&stack.seed.head, &stack.seed.teacher] {
        let mut elsewhere = Client::from_address(&stack.base, "198.51.100.20");
        let response = elsewhere
            .post_form(
                "/sign-in",
                &[("email", &person.email), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(response.status, StatusCode::SEE_OTHER, "{}", person.email);
    }
    stack.platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_on_someones_address_does_not_lock_them_out() {
    let stack = Stack::start().await;
    let mut attacker = Client::from_address(&stack.base, "203.0.113.8");
    for _ in 0..6 {
        attacker
            .post_form(
                "/sign-in",
                &[
                    ("email", &stack.seed.head.email),
                    ("password", "wrong wrong wrong"),
                ],
            )
            .await;
    }
    let paused = attacker
        .post_form(
            "/sign-in",
            &[("email", &stack.seed.head.email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(
        paused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the attacker pauses"
    );
    // The head, from their own computer, signs in (a little slowed).
    let mut head = Client::from_address(&stack.base, "198.51.100.21");
    let response = head
        .post_form(
            "/sign-in",
            &[("email", &stack.seed.head.email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(response.status, StatusCode::SEE_OTHER, "{}", response.body);
    stack.platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_sessions_failures_and_unfinished_sign_ins_are_cleared() {
    let stack = Stack::start().await;
    let mut teacher = Client::signed_in(&stack.base, &stack.seed.teacher.email, PASSWORD).await;
    let pool = &stack.platform.db.pool;
    let now = waymark_testkit::time::start();
    let web = waymark_gateway::settings::Web::default();
    let count = |table: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM gateway.{table}"
        )))
        .fetch_one(pool)
        .await
        .unwrap()
    };
    // A failure count and an unfinished sign-in flow, both long ago.
    sqlx::query(
        "INSERT INTO gateway.sign_in_failures (key, window_start, failures) VALUES ('client:192.0.2.1', $1, 3)",
    )
    .bind(now - chrono::Duration::hours(1))
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO gateway.sso_flows (state, trust_id, provider, pkce_verifier, nonce, created_at) \
         VALUES ('old', gen_random_uuid(), 'google', 'v', 'n', $1)",
    )
    .bind(now - chrono::Duration::hours(1))
    .execute(pool)
    .await
    .unwrap();
    let sessions = count("sessions").await;
    assert!(sessions >= 1);
    // Now: nothing of the teacher's session goes; the old rows do.
    let cleared = waymark_gateway::housekeeping::clear(pool, now, &web)
        .await
        .unwrap();
    assert_eq!((cleared.sign_in_failures, cleared.sign_in_flows), (1, 1));
    assert_eq!(teacher.get("/").await.status, StatusCode::OK);
    // Thirteen hours on, every session has run out and is cleared.
    let later = now + chrono::Duration::hours(13);
    let cleared = waymark_gateway::housekeeping::clear(pool, later, &web)
        .await
        .unwrap();
    assert_eq!(cleared.sessions, u64::try_from(sessions).unwrap());
    assert_eq!(count("sessions").await, 0);
    stack.platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_need_our_origin_and_the_session_token() {
    let stack = Stack::start().await;
    let mut teacher = Client::signed_in(&stack.base, &stack.seed.teacher.email, PASSWORD).await;
    let cross_site = teacher
        .post_from(
            "https://evil.example",
            "/sign-out",
            &[("_csrf", &teacher.csrf.clone())],
        )
        .await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
    let no_token = teacher.post_form("/sign-out", &[]).await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    let wrong_token = teacher
        .post_form("/sign-out", &[("_csrf", "guessed")])
        .await;
    assert_eq!(wrong_token.status, StatusCode::FORBIDDEN);
    // Still signed in after all that.
    assert_eq!(teacher.get("/").await.status, StatusCode::OK);
    stack.platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_when_idle_and_after_twelve_hours_whatever() {
    let clock = std::sync::Arc::new(waymark_runtime::ManualClock::new(
        waymark_testkit::time::start(),
    ));
    let stack = Stack::start_with_clock(clock.clone()).await;
    let email = &stack.seed.teacher.email;

    // Thirty minutes without a request ends a session.
    let mut idle = Client::signed_in(&stack.base, email, PASSWORD).await;
    clock.advance(chrono::Duration::minutes(29));
    assert_eq!(idle.get("/").await.status, StatusCode::OK);
    clock.advance(chrono::Duration::minutes(31));
    assert_eq!(idle.get("/").await.status, StatusCode::SEE_OTHER);

    // Busy or not, twelve hours after signing in it ends.
    let mut busy = Client::signed_in(&stack.base, email, PASSWORD).await;
    for _ in 0..35 {
        clock.advance(chrono::Duration::minutes(20));
        assert_eq!(busy.get("/").await.status, StatusCode::OK);
    }
    clock.advance(chrono::Duration::minutes(21));
    let ended = busy.get("/").await;
    assert_eq!(
        (ended.status, ended.location.as_str()),
        (StatusCode::SEE_OTHER, "/sign-in")
    );
    stack.platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_in_two_trusts_is_two_accounts_and_neither_trust_learns_of_the_other() {
    use waymark_domain::directory::Role;

    let stack = Stack::start().await;
    let (b, seed) = (&stack.bootstrap, &stack.seed);
    let other = b.create_trust("Quiet Valley Trust").await.unwrap();
    let valley = b.add_school(other, "Valley Primary").await.unwrap();
    let address = "robin@example.org";
    // Each trust adds Robin; the second is not told the address is used elsewhere.
    let here = b
        .add_person(
            seed.trust,
            "Robin Here",
            address,
            &[(Some(seed.hillside), Role::ClassTeacher)],
        )
        .await
        .unwrap();
    let there = b
        .add_person(
            other,
            "Robin There",
            address,
            &[(Some(valley), Role::ClassTeacher)],
        )
        .await
        .unwrap();
    // Within one trust an address is still one person's.
    assert!(
        b.add_person(
            other,
            "Robin Again",
            address,
            &[(Some(valley), Role::ClassTeacher)]
        )
        .await
        .is_err()
    );
    b.set_password(seed.trust, here, "hillside password")
        .await
        .unwrap();
    b.set_password(other, there, "the valley's password")
        .await
        .unwrap();

    // The password says which account.
    let mut robin = Client::signed_in(&stack.base, address, "hillside password").await;
    assert!(robin.get("/").await.body.contains("Hello, Robin Here"));
    let mut robin = Client::signed_in(&stack.base, address, "the valley's password").await;
    assert!(robin.get("/").await.body.contains("Hello, Robin There"));

    // The same password in both: the public page cannot tell which, the trust's own page can.
    b.set_password(other, there, "hillside password")
        .await
        .unwrap();
    let mut anyone = Client::new(&stack.base);
    let both = anyone
        .post_form(
            "/sign-in",
            &[("email", address), ("password", "hillside password")],
        )
        .await;
    assert_eq!(both.status, StatusCode::CONFLICT);
    assert!(both.body.contains("more than one trust"), "{}", both.body);
    let trust = other.to_string();
    let own_page = anyone
        .post_form(
            "/sign-in",
            &[
                ("email", address),
                ("password", "hillside password"),
                ("trust", &trust),
            ],
        )
        .await;
    assert_eq!(own_page.status, StatusCode::SEE_OTHER, "{}", own_page.body);
    assert!(anyone.get("/").await.body.contains("Hello, Robin There"));
    stack.platform.stop().await;
}
