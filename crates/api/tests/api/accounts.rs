//! Accounts under attack: invitations instead of admin-set passwords (no account of another
//! project can be taken over or named), password change and "sign out everywhere" ending every
//! session, sign-in throttling, offboarding that revokes and caps tokens, the last-admin check
//! under concurrent demotions, and the deployment facts (`--public-url`, `--trusted-proxy`) that
//! decide the cookie's `Secure` flag and the recorded client address.

use auditlog_shared::wire::{ApiToken, Invitation, InvitationDetails, Role, SessionInfo};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{problem, Backend, Caller, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};

const BOB_EMAIL: &str = "bob@beta.test";
const BOB_PASSWORD: &str = "bob's own long passphrase";

/// A second project, Beta, whose admin is Bob (the operator's `create-admin`).
async fn beta_with_bob(app: &TestApp) -> (i64, Caller) {
    let mut conn = app.pool.get().unwrap();
    let now = chrono::Utc::now().timestamp_micros();
    let setup = auditlog_api::admin::create_admin(
        &mut conn,
        BOB_EMAIL,
        "Bob Beta",
        BOB_PASSWORD,
        "Beta",
        now,
    )
    .expect("Bob is created");
    drop(conn);
    (setup.project_id, app.sign_in(BOB_EMAIL, BOB_PASSWORD).await)
}

async fn sign_in_status(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.anonymous()
        .send(
            Method::POST,
            "/api/v1/session",
            Some(json!({ "email": email, "password": password })),
        )
        .await
}

/// Whether a dashboard caller's session still works.
async fn session_works(caller: &Caller) -> bool {
    let response = caller.get("/api/v1/session").await;
    match response.status().as_u16() {
        200 => true,
        401 => false,
        other => panic!("GET /api/v1/session answered {other}"),
    }
}

async fn an_admin_cannot_set_a_password_or_take_over_another_projects_account(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alpha, ada) = app.project_with_admin("Alpha").await;
    let (beta, bob) = beta_with_bob(&app).await;

    // Adding a member takes an email and a role, nothing else: no password, no name.
    for forged in [
        json!({ "email": "x@other.test", "role": "admin", "password": "chosen by Ada" }),
        json!({ "email": "x@other.test", "role": "admin", "display_name": "X" }),
    ] {
        let response = ada
            .send(
                Method::POST,
                &format!("/api/v1/projects/{alpha}/members"),
                Some(forged),
            )
            .await;
        assert_eq!(response.status(), 400, "a forged member body is refused");
    }

    // Ada invites Bob's email into Alpha: the answer names no account of Beta.
    let invitation = app.invite(&ada, alpha, BOB_EMAIL, Role::Viewer).await;
    let text = serde_json::to_string(&invitation).unwrap();
    assert!(
        !text.contains("Bob Beta"),
        "the invitation names Bob: {text}"
    );
    let listed: Vec<Invitation> = ada
        .get(&format!("/api/v1/projects/{alpha}/invitations"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert!(!serde_json::to_string(&listed).unwrap().contains("Bob Beta"));

    // Ada holds the link, but accepting it needs Bob's own password: she cannot set one.
    let stolen = app
        .accept(
            &invitation.secret,
            "Ada's choice of password",
            Some("Mallory"),
        )
        .await;
    let body = problem(stolen, 400).await;
    assert_eq!(body["invalid_params"][0]["name"], "password", "{body}");
    // The guess is a failed sign-in of Bob's account, recorded where Bob looks.
    let recorded = app.last_entry(beta).unwrap();
    assert_eq!(recorded.action, "session.sign_in_failed", "{recorded:?}");
    // Bob joining with his own password is a sign-in of his account, recorded in Beta too.
    let joined = app.accept(&invitation.secret, BOB_PASSWORD, None).await;
    assert_eq!(joined.status(), 200);
    let recorded = app.last_entry(beta).unwrap();
    assert_eq!(
        (recorded.action.as_str(), recorded.actor_email.as_deref()),
        ("session.sign_in", Some(BOB_EMAIL)),
        "{recorded:?}"
    );
    assert_eq!(
        sign_in_status(&app, BOB_EMAIL, "Ada's choice of password")
            .await
            .status(),
        401
    );
    assert_eq!(
        sign_in_status(&app, BOB_EMAIL, BOB_PASSWORD).await.status(),
        200,
        "Bob's password still works"
    );

    // The reverse: Ada pre-registers an email by accepting her own invitation; when Beta later
    // invites that email, Ada has no way to join Beta, because Beta's link goes to Beta's admin.
    let planted = app.invite(&ada, alpha, "x@other.test", Role::Viewer).await;
    let accepted = app
        .accept(&planted.secret, "a password Ada chose", Some("X"))
        .await;
    assert_eq!(accepted.status(), 200);
    let beta_invitation = app.invite(&bob, beta, "x@other.test", Role::Admin).await;
    let as_x = app.sign_in("x@other.test", "a password Ada chose").await;
    let session: SessionInfo = as_x.get("/api/v1/session").await.json().await.unwrap();
    assert!(
        session.projects.iter().all(|p| p.id != beta),
        "an invitation alone makes nobody a member"
    );
    assert_eq!(
        as_x.get(&format!("/api/v1/projects/{beta}/audit-logs"))
            .await
            .status(),
        404,
        "Beta is not visible before its invitation is accepted"
    );
    drop(beta_invitation);
}

async fn an_invitation_is_single_use_expires_and_can_be_revoked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alpha, ada) = app.project_with_admin("Alpha").await;

    let invitation = app
        .invite(&ada, alpha, "new@alpha.test", Role::Developer)
        .await;
    assert!(invitation
        .accept_url
        .ends_with(&format!("/invitations/{}", invitation.secret)));
    let details: InvitationDetails = app
        .get(&format!("/api/v1/invitations/{}", invitation.secret))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            details.project_name.as_str(),
            details.email.as_str(),
            details.role,
            details.account_exists
        ),
        ("Alpha", "new@alpha.test", Role::Developer, false)
    );

    // A new account needs a display name and an acceptable password; a refusal uses nothing up.
    let nameless = app
        .accept(&invitation.secret, "long enough password", None)
        .await;
    assert_eq!(
        problem(nameless, 400).await["invalid_params"][0]["name"],
        "display_name"
    );
    let short = app.accept(&invitation.secret, "short", Some("Nia")).await;
    assert_eq!(
        problem(short, 400).await["invalid_params"][0]["name"],
        "password"
    );

    let accepted = app
        .accept(&invitation.secret, "long enough password", Some("Nia"))
        .await;
    assert_eq!(accepted.status(), 200);
    let (nia, info) = app.session_caller(accepted).await;
    assert_eq!(
        info.projects
            .iter()
            .map(|p| (p.id, p.role))
            .collect::<Vec<_>>(),
        vec![(alpha, Role::Developer)]
    );
    assert!(session_works(&nia).await);
    let entry = app.last_entry(alpha).unwrap();
    assert_eq!(
        (
            entry.action.as_str(),
            entry.actor_name.as_str(),
            entry.status_code
        ),
        ("user.invitation.accept", "Nia", 200)
    );
    assert_eq!(
        entry.path, "/api/v1/invitations/{secret}/accept",
        "the secret is not stored"
    );

    // Single use: the same link again, for any password.
    let again = app
        .accept(&invitation.secret, "another long password", Some("Eve"))
        .await;
    problem(again, 410).await;
    problem(
        app.get(&format!("/api/v1/invitations/{}", invitation.secret))
            .await,
        410,
    )
    .await;

    // Unknown and malformed secrets are simply not found.
    for secret in ["0".repeat(64), "../../etc/passwd".into(), "%2e%2e".into()] {
        let status = app
            .get(&format!("/api/v1/invitations/{secret}"))
            .await
            .status();
        assert_eq!(status, 404, "{secret}");
    }

    // Revoked: the link stops working at once and leaves the pending list.
    let revoked = app
        .invite(&ada, alpha, "gone@alpha.test", Role::Viewer)
        .await;
    let response = ada
        .send(
            Method::DELETE,
            &format!(
                "/api/v1/projects/{alpha}/invitations/{}",
                revoked.invitation.id
            ),
            None,
        )
        .await;
    assert_eq!(response.status(), 204);
    problem(
        app.accept(&revoked.secret, "long enough password", Some("Gone"))
            .await,
        410,
    )
    .await;
    let pending: Vec<Invitation> = ada
        .get(&format!("/api/v1/projects/{alpha}/invitations"))
        .await
        .json()
        .await
        .unwrap();
    assert!(pending.is_empty(), "{pending:?}");

    // A developer cannot invite.
    let response = nia
        .send(
            Method::POST,
            &format!("/api/v1/projects/{alpha}/members"),
            Some(json!({ "email": "friend@alpha.test", "role": "admin" })),
        )
        .await;
    assert_eq!(response.status(), 403);

    // Expired: a week later the link is gone.
    let late = app
        .invite(&ada, alpha, "late@alpha.test", Role::Viewer)
        .await;
    app.advance_clock(chrono::Duration::days(8));
    problem(
        app.accept(&late.secret, "long enough password", Some("Late"))
            .await,
        410,
    )
    .await;
    assert_eq!(
        sign_in_status(&app, "late@alpha.test", "long enough password")
            .await
            .status(),
        401,
        "no account was created"
    );
}

async fn changing_the_password_or_signing_out_everywhere_ends_every_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alpha, laptop) = app.project_with_admin("Alpha").await;
    let phone = app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;

    // The current password must be right; a wrong one changes nothing.
    let wrong = laptop
        .send(
            Method::POST,
            "/api/v1/session/password",
            Some(json!({ "current_password": "guess", "new_password": "a brand new passphrase" })),
        )
        .await;
    assert_eq!(
        problem(wrong, 400).await["invalid_params"][0]["name"],
        "current_password"
    );
    assert!(session_works(&phone).await);

    let changed = laptop
        .send(
            Method::POST,
            "/api/v1/session/password",
            Some(json!({
                "current_password": ADMIN_PASSWORD,
                "new_password": "a brand new passphrase"
            })),
        )
        .await;
    assert_eq!(changed.status(), 200);
    let (laptop_again, _) = app.session_caller(changed).await;
    assert!(!session_works(&phone).await, "the other session ended");
    assert!(!session_works(&laptop).await, "the old cookie ended too");
    assert!(
        session_works(&laptop_again).await,
        "the answer's new session works"
    );
    let entry = app.last_entry(alpha).unwrap();
    assert_eq!(entry.action, "session.password_change");
    assert_eq!(
        sign_in_status(&app, ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .status(),
        401
    );

    // Sign out everywhere: every session ends, including the one that asked.
    let tablet = app.sign_in(ADMIN_EMAIL, "a brand new passphrase").await;
    let response = laptop_again
        .send(Method::DELETE, "/api/v1/sessions", None)
        .await;
    assert_eq!(response.status(), 204);
    assert!(!session_works(&tablet).await);
    assert!(!session_works(&laptop_again).await);
    assert_eq!(
        app.last_entry(alpha).unwrap().action,
        "session.sign_out_everywhere"
    );

    // Without the CSRF token neither works.
    let session = app.sign_in(ADMIN_EMAIL, "a brand new passphrase").await;
    let forged = session
        .clone()
        .without_csrf()
        .send(Method::DELETE, "/api/v1/sessions", None)
        .await;
    assert_eq!(forged.status(), 403);
    assert!(session_works(&session).await);
}

async fn repeated_wrong_passwords_are_throttled_and_recorded_once_per_doubling(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alpha, _) = app.project_with_admin("Alpha").await;
    let before = app.entries(alpha).len();

    for attempt in 1..=5 {
        let response = sign_in_status(&app, ADMIN_EMAIL, "wrong").await;
        assert_eq!(response.status(), 401, "attempt {attempt}");
    }
    // The sixth attempt is refused before the password is looked at, even the right one.
    for password in ["wrong", ADMIN_PASSWORD] {
        let response = sign_in_status(&app, ADMIN_EMAIL, password).await;
        let retry_after: u64 = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("a Retry-After header in seconds");
        assert!((1..=900).contains(&retry_after), "{retry_after}");
        problem(response, 429).await;
    }
    // Spelling the email differently does not start a fresh count.
    let response = sign_in_status(&app, " ADA@Example.com ", ADMIN_PASSWORD).await;
    assert_eq!(response.status(), 429);

    // Every failure up to the lock is recorded, each with the running count (beyond the limit
    // they would be coalesced).
    let failures: Vec<String> = app.entries(alpha)[before..]
        .iter()
        .filter(|e| e.action == "session.sign_in_failed")
        .map(|e| e.resource_name.clone())
        .collect();
    assert_eq!(failures.len(), 5, "{failures:?}");
    assert!(failures[4].contains("5 failed attempts"), "{failures:?}");
    assert!(app.entries(alpha)[before..]
        .iter()
        .all(|e| e.action != "session.sign_in"));

    // After the wait the right password works again, and the success is recorded.
    app.advance_clock(chrono::Duration::minutes(16));
    let response = sign_in_status(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(response.status(), 200);
    let entry = app.last_entry(alpha).unwrap();
    assert_eq!(
        (
            entry.action.as_str(),
            entry.status_code,
            entry.actor_name.as_str()
        ),
        ("session.sign_in", 200, "Ada Admin")
    );
}

async fn removing_or_demoting_a_member_revokes_or_caps_their_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alpha, ada) = app.project_with_admin("Alpha").await;
    let (olga_id, olga) = app
        .add_member(
            &ada,
            alpha,
            "olga@alpha.test",
            "Olga",
            "olga's passphrase",
            Role::Admin,
        )
        .await;
    let (dev_id, dev) = app
        .add_member(
            &ada,
            alpha,
            "dev@alpha.test",
            "Dev",
            "dev's passphrase!",
            Role::Admin,
        )
        .await;
    let olga_token = app
        .create_token(&olga, alpha, "olga-ci", Role::Admin, false)
        .await;
    let dev_token = app
        .create_token(&dev, alpha, "dev-ci", Role::Admin, true)
        .await;
    // What their tokens make and invite answers to them too.
    let olga_grandchild = app
        .create_token(
            &app.token_caller(&olga_token.secret),
            alpha,
            "olga-child",
            Role::Admin,
            false,
        )
        .await;
    let dev_grandchild = app
        .create_token(
            &app.token_caller(&dev_token.secret),
            alpha,
            "dev-child",
            Role::Admin,
            true,
        )
        .await;
    let olga_invited = app
        .invite(&olga, alpha, "friend@evil.test", Role::Admin)
        .await;
    let olga_token_invited = app
        .invite(
            &app.token_caller(&olga_token.secret),
            alpha,
            "friend2@evil.test",
            Role::Admin,
        )
        .await;
    let ada_token = app
        .create_token(&ada, alpha, "ada-ci", Role::Admin, false)
        .await;

    // The token list names who created each token.
    let tokens: Vec<ApiToken> = ada
        .get(&format!("/api/v1/projects/{alpha}/tokens"))
        .await
        .json()
        .await
        .unwrap();
    let mut creators: Vec<(String, Option<String>)> = tokens
        .iter()
        .map(|t| (t.name.clone(), t.created_by.clone()))
        .collect();
    creators.sort();
    assert_eq!(
        creators,
        vec![
            ("ada-ci".into(), Some("Ada Admin".into())),
            ("dev-child".into(), Some("Dev".into())),
            ("dev-ci".into(), Some("Dev".into())),
            ("olga-child".into(), Some("Olga".into())),
            ("olga-ci".into(), Some("Olga".into())),
        ]
    );

    // Removing Olga revokes her token at once.
    let olga_caller = app.token_caller(&olga_token.secret);
    let audit = format!("/api/v1/projects/{alpha}/audit-logs");
    assert_eq!(olga_caller.get(&audit).await.status(), 200);
    let removed = ada
        .send(
            Method::DELETE,
            &format!("/api/v1/projects/{alpha}/members/{olga_id}"),
            None,
        )
        .await;
    assert_eq!(removed.status(), 204);
    problem(olga_caller.get(&audit).await, 401).await;
    problem(
        app.token_caller(&olga_grandchild.secret).get(&audit).await,
        401,
    )
    .await;
    assert!(
        !session_works(&olga).await,
        "her account is gone with her last project"
    );
    for invited in [&olga_invited, &olga_token_invited] {
        let response = app
            .accept(&invited.secret, "a backdoor passphrase", Some("Backdoor"))
            .await;
        problem(response, 410).await;
    }

    // Demoting Dev to viewer caps his admin token to viewer.
    let demoted = ada
        .send(
            Method::PATCH,
            &format!("/api/v1/projects/{alpha}/members/{dev_id}"),
            Some(json!({ "role": "viewer" })),
        )
        .await;
    assert_eq!(demoted.status(), 200);
    let dev_caller = app.token_caller(&dev_token.secret);
    let applications = format!("/api/v1/projects/{alpha}/applications");
    assert_eq!(
        dev_caller.get(&applications).await.status(),
        200,
        "a viewer reads"
    );
    assert_eq!(
        dev_caller.get(&audit).await.status(),
        403,
        "but not the audit log"
    );
    let create = dev_caller
        .send(
            Method::POST,
            &format!("/api/v1/projects/{alpha}/applications"),
            Some(json!({ "name": "web", "image": "registry/web:1" })),
        )
        .await;
    assert_eq!(create.status(), 403, "the capped token no longer writes");
    let minted = dev_caller
        .send(
            Method::POST,
            &format!("/api/v1/projects/{alpha}/tokens"),
            Some(json!({ "name": "escape", "role": "admin" })),
        )
        .await;
    assert_eq!(minted.status(), 403);
    // The token his token made is capped too, and neither may ingest any more.
    let child = app.token_caller(&dev_grandchild.secret);
    assert_eq!(child.get(&audit).await.status(), 403);
    for token in [&dev_caller, &child] {
        let ingest = token
            .send(
                Method::POST,
                &format!("/api/v1/projects/{alpha}/ingest"),
                Some(json!({"events": [{
                    "actor": {"kind": "user", "name": "x"}, "method": "POST", "path": "/x",
                    "action": "ext.x", "status": 200, "resource": {"type": "integration", "name": "x"}
                }]})),
            )
            .await;
        assert_eq!(
            ingest.status(),
            403,
            "a demoted member's token no longer ingests"
        );
    }

    // Ada's token is untouched.
    let ada_caller = app.token_caller(&ada_token.secret);
    let create = ada_caller
        .send(
            Method::POST,
            &format!("/api/v1/projects/{alpha}/applications"),
            Some(json!({ "name": "web", "image": "registry/web:1" })),
        )
        .await;
    assert_eq!(create.status(), 201);
    drop(dev);
}

async fn member_entries_never_name_users_of_other_projects(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alpha, ada) = app.project_with_admin("Alpha").await;
    let (_, bob) = beta_with_bob(&app).await;
    let bob_info: SessionInfo = bob.get("/api/v1/session").await.json().await.unwrap();
    let bob_id = bob_info.user.id;

    for (method, body) in [
        (Method::PATCH, Some(json!({ "role": "viewer" }))),
        (Method::DELETE, None),
    ] {
        let response = ada
            .send(
                method.clone(),
                &format!("/api/v1/projects/{alpha}/members/{bob_id}"),
                body,
            )
            .await;
        problem(response, 404).await;
        let entry = app.last_entry(alpha).unwrap();
        assert_eq!(entry.resource_id, Some(bob_id), "{method}");
        assert!(
            !entry.resource_name.contains("Bob") && entry.actor_email.as_deref() != Some(BOB_EMAIL),
            "the entry names Beta's admin: {entry:?}"
        );
    }
    assert!(session_works(&bob).await, "Bob is untouched");
}

async fn the_last_admin_cannot_be_demoted_by_two_concurrent_requests(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alpha, ada) = app.project_with_admin("Alpha").await;
    let ada_info: SessionInfo = ada.get("/api/v1/session").await.json().await.unwrap();
    let (olga_id, olga) = app
        .add_member(
            &ada,
            alpha,
            "olga@alpha.test",
            "Olga",
            "olga's passphrase",
            Role::Admin,
        )
        .await;

    for round in 0..5 {
        // Each admin demotes the other at the same moment: at most one may succeed.
        let demote = |caller: Caller, target: i64| async move {
            caller
                .send(
                    Method::PATCH,
                    &format!("/api/v1/projects/{alpha}/members/{target}"),
                    Some(json!({ "role": "viewer" })),
                )
                .await
                .status()
                .as_u16()
        };
        let (first, second) = tokio::join!(
            demote(ada.clone(), olga_id),
            demote(olga.clone(), ada_info.user.id)
        );
        let mut statuses = [first, second];
        statuses.sort_unstable();
        assert!(
            statuses == [200, 403] || statuses == [200, 409] || statuses == [409, 409],
            "round {round}: {statuses:?}"
        );
        let members: Vec<Value> = ada
            .get(&format!("/api/v1/projects/{alpha}/members"))
            .await
            .json()
            .await
            .unwrap();
        let admins = members.iter().filter(|m| m["role"] == "admin").count();
        assert_eq!(
            admins, 1,
            "round {round}: exactly one admin is left: {members:?}"
        );

        // Make both admins again for the next round.
        let admin = if members
            .iter()
            .any(|m| m["role"] == "admin" && m["user_id"] == olga_id)
        {
            &olga
        } else {
            &ada
        };
        for target in [olga_id, ada_info.user.id] {
            let response = admin
                .send(
                    Method::PATCH,
                    &format!("/api/v1/projects/{alpha}/members/{target}"),
                    Some(json!({ "role": "admin" })),
                )
                .await;
            assert_eq!(response.status(), 200);
        }
    }
}

async fn the_cookie_is_secure_only_behind_an_https_public_url(backend: Backend) {
    let cookie_of = |response: &reqwest::Response| {
        response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let plain = TestApp::spawn(backend).await;
    plain.project_with_admin("Alpha").await;
    let response = plain
        .client
        .post(format!("{}/api/v1/session", plain.address))
        .header("x-forwarded-proto", "https")
        .json(&json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD }))
        .send()
        .await
        .unwrap();
    let cookie = cookie_of(&response);
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "a client's X-Forwarded-Proto decides nothing: {cookie}"
    );

    let behind_tls = TestApp::spawn_with(backend, |settings| {
        settings.public_url = Some("https://audit.example.com".into());
    })
    .await;
    let (alpha, admin) = behind_tls.project_with_admin("Alpha").await;
    let response = behind_tls
        .client
        .post(format!("{}/api/v1/session", behind_tls.address))
        .json(&json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD }))
        .send()
        .await
        .unwrap();
    let cookie = cookie_of(&response);
    assert!(cookie.contains("Secure"), "{cookie}");
    let invitation = behind_tls
        .invite(&admin, alpha, "n@alpha.test", Role::Viewer)
        .await;
    assert_eq!(
        invitation.accept_url,
        format!(
            "https://audit.example.com/invitations/{}",
            invitation.secret
        )
    );
}

async fn x_forwarded_for_names_the_client_only_behind_a_trusted_proxy(backend: Backend) {
    async fn recorded_address(app: &TestApp, project: i64, forwarded: &str) -> Option<String> {
        let response = app
            .client
            .post(format!("{}/api/v1/session", app.address))
            .header("x-forwarded-for", forwarded)
            .json(&json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let entry = app.last_entry(project).unwrap();
        assert_eq!(entry.action, "session.sign_in");
        client_ip_of(app, entry.id)
    }

    let direct = TestApp::spawn(backend).await;
    let (alpha, _) = direct.project_with_admin("Alpha").await;
    assert_eq!(
        recorded_address(&direct, alpha, "203.0.113.9")
            .await
            .as_deref(),
        Some("127.0.0.1"),
        "a client cannot name its own address"
    );

    let proxied = TestApp::spawn_with(backend, |settings| {
        settings.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let (alpha, _) = proxied.project_with_admin("Alpha").await;
    assert_eq!(
        recorded_address(&proxied, alpha, "203.0.113.9")
            .await
            .as_deref(),
        Some("203.0.113.9")
    );
    // Only the hop the trusted proxy added counts; what the client prepended does not.
    assert_eq!(
        recorded_address(&proxied, alpha, "198.51.100.1, 203.0.113.9")
            .await
            .as_deref(),
        Some("203.0.113.9")
    );
}

fn client_ip_of(app: &TestApp, entry: i64) -> Option<String> {
    use auditlog_api::db::schema::audit_entries::dsl::*;
    use diesel::prelude::*;
    let mut conn = app.pool.get().unwrap();
    audit_entries
        .find(entry)
        .select(client_ip)
        .first::<Option<String>>(&mut conn)
        .unwrap()
}

/// The role the gate reads is the caller's own membership of the project asked for: not another
/// member's (a viewer is not let in as the project's admin), not one in another project (an
/// admin elsewhere gets 404 here), and none once the member is removed.
async fn only_the_callers_own_membership_lets_them_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, ada) = app.project_with_admin("Acme").await;
    let olga = app.outsider_admin("Olga's").await;
    let applications = format!("/api/v1/projects/{project}/applications");
    problem(olga.get(&applications).await, 404).await;

    let (bob_id, bob) = app
        .add_member(
            &ada,
            project,
            "bob@example.com",
            "Bob",
            "bob's long password",
            Role::Viewer,
        )
        .await;
    assert_eq!(bob.get(&applications).await.status(), 200);
    let created = bob
        .send(
            Method::POST,
            &format!("/api/v1/projects/{project}/clusters"),
            Some(json!({"name": "bob-cluster", "region": "eu-west-1"})),
        )
        .await;
    problem(created, 403).await;

    let removed = ada
        .send(
            Method::DELETE,
            &format!("/api/v1/projects/{project}/members/{bob_id}"),
            None,
        )
        .await;
    assert_eq!(removed.status(), 204);
    let after = bob.get(&applications).await.status();
    assert!(after == 401 || after == 404, "a removed member: {after}");
}

crate::on_both_backends!(
    only_the_callers_own_membership_lets_them_in,
    an_admin_cannot_set_a_password_or_take_over_another_projects_account,
    an_invitation_is_single_use_expires_and_can_be_revoked,
    changing_the_password_or_signing_out_everywhere_ends_every_session,
    repeated_wrong_passwords_are_throttled_and_recorded_once_per_doubling,
    removing_or_demoting_a_member_revokes_or_caps_their_tokens,
    member_entries_never_name_users_of_other_projects,
    the_last_admin_cannot_be_demoted_by_two_concurrent_requests,
    the_cookie_is_secure_only_behind_an_https_public_url,
    x_forwarded_for_names_the_client_only_behind_a_trusted_proxy,
);
