//! Authorization under hostile spellings: every catalogued route, called by every role through
//! paths spelled differently from the canonical one (percent-encoded letters, doubled and trailing
//! slashes, `;` parameters, other letter case, signed and zero-padded ids). A spelling either
//! reaches the same handler under the same permission — and its entry names the same action and
//! resource — or it is refused with 400, 404 or 405; it never does what the role may not.

use auditlog_api::catalog::{self, Permission};
use auditlog_shared::wire::Role;
use reqwest::Method;

use crate::capture::{body_for, fixtures, ordered_routes};
use crate::helpers::{problem, Backend, TestApp};

/// One way of spelling a route's path.
struct Spelling {
    what: &'static str,
    path: String,
    /// Whether the router reads it as the canonical path (percent-encoded unreserved letters are
    /// decoded before matching), so that it must behave exactly like it.
    same_as_canonical: bool,
    /// Whether the spelling changes the project id so that no project can be named by it.
    bad_project_id: bool,
}

fn encode_all(segment: &str, upper: bool) -> String {
    segment
        .bytes()
        .map(|b| {
            if b.is_ascii_alphabetic() {
                if upper {
                    format!("%{b:02X}")
                } else {
                    format!("%{b:02x}")
                }
            } else {
                (b as char).to_string()
            }
        })
        .collect()
}

/// The spellings of `/api/v1/projects/{project}{suffix}` where `suffix` has literal segments and
/// possibly the id `id`.
fn spellings(project: i64, template: &str, id: i64, export_id: &str) -> Vec<Spelling> {
    let canonical_suffix = template
        .replace("{id}", &id.to_string())
        .replace("{format}", "csv")
        .replace("{export_id}", export_id);
    let base = |project: &str, suffix: &str| format!("/api/v1/projects/{project}{suffix}");
    let p = project.to_string();
    let mut all = Vec::new();
    let mut add = |what, path, same_as_canonical, bad_project_id| {
        all.push(Spelling {
            what,
            path,
            same_as_canonical,
            bad_project_id,
        })
    };

    // Literal segments of the suffix, re-spelled one way at a time.
    let segments: Vec<&str> = canonical_suffix.split('/').skip(1).collect();
    // Ids are not literals, an export id (hex) included.
    let literal = |segment: &str| {
        segment.chars().next().is_some_and(char::is_alphabetic) && segment != export_id
    };
    let respell = |change: &dyn Fn(&str) -> String| -> String {
        let mut out = String::new();
        for segment in &segments {
            out.push('/');
            if literal(segment) {
                out.push_str(&change(segment));
            } else {
                out.push_str(segment);
            }
        }
        out
    };
    if segments.iter().any(|s| literal(s)) {
        add(
            "first letter percent-encoded",
            base(
                &p,
                &respell(&|s| format!("%{:02x}{}", s.as_bytes()[0], &s[1..])),
            ),
            true,
            false,
        );
        add(
            "every letter percent-encoded (upper-case hex)",
            base(&p, &respell(&|s| encode_all(s, true))),
            true,
            false,
        );
        add(
            "first letter upper-case",
            base(
                &p,
                &respell(&|s| format!("{}{}", s[..1].to_uppercase(), &s[1..])),
            ),
            false,
            false,
        );
        add(
            "doubled slash",
            base(&p, &format!("/{canonical_suffix}")),
            false,
            false,
        );
    }
    if segments.len() >= 2 {
        add(
            "encoded slash between segments",
            base(&p, &format!("/{}", segments.join("%2F"))),
            false,
            false,
        );
    }
    add(
        "trailing slash",
        base(&p, &format!("{canonical_suffix}/")),
        false,
        false,
    );
    // On the project itself the parameter lands in the project id.
    add(
        "`;` parameter",
        base(&p, &format!("{canonical_suffix};x=1")),
        false,
        segments.is_empty(),
    );
    if template.contains("{id}") {
        for (what, spelled) in [
            ("id with +", format!("+{id}")),
            ("id with encoded +", format!("%2B{id}")),
            ("id with a leading zero", format!("0{id}")),
            ("id with an encoded leading zero", format!("%30{id}")),
            ("id with a trailing space", format!("{id}%20")),
        ] {
            add(
                what,
                base(&p, &template.replace("{id}", &spelled)),
                false,
                false,
            );
        }
        add(
            "id digits percent-encoded",
            base(
                &p,
                &template.replace(
                    "{id}",
                    &id.to_string()
                        .bytes()
                        .map(|b| format!("%{b:02X}"))
                        .collect::<String>(),
                ),
            ),
            true,
            false,
        );
    }
    add(
        "project id with +",
        base(&format!("%2B{p}"), &canonical_suffix),
        false,
        true,
    );
    add(
        "project id with a leading zero",
        base(&format!("0{p}"), &canonical_suffix),
        false,
        true,
    );
    add(
        "project id percent-encoded",
        base(
            &p.bytes().map(|b| format!("%{b:02x}")).collect::<String>(),
            &canonical_suffix,
        ),
        true,
        false,
    );
    all
}

async fn respelled_paths_never_escape_the_role_check(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let mut checked = 0;

    for (round, role) in [
        ("viewer", Role::Viewer),
        ("developer", Role::Developer),
        ("admin", Role::Admin),
    ] {
        let fixtures = fixtures(&admin, project, round).await;
        let token = app
            .create_token(&admin, project, &format!("{round}-caller"), role, false)
            .await;
        let caller = app.token_caller(&token.secret);

        for (step, route) in ordered_routes().into_iter().enumerate() {
            let collection = format!("/{}", route.template.split('/').nth(1).unwrap_or_default());
            let fixture_id = fixtures.ids.get(collection.as_str()).copied().unwrap_or(1);
            let allowed = match route.permission {
                Permission::AtLeast(needed) => role >= needed,
                Permission::Ingest => false,
            };
            for spelling in spellings(project, route.template, fixture_id, &fixtures.export_id) {
                let what = format!(
                    "{round} {} {} ({})",
                    route.method, spelling.path, spelling.what
                );
                let before = app.entries(project).len();
                let method = Method::from_bytes(route.method.as_bytes()).unwrap();
                let response = caller
                    .send(
                        method,
                        &spelling.path,
                        body_for(route.method, route.template, &fixtures, round, step),
                    )
                    .await;
                let status = response.status().as_u16();
                checked += 1;

                if !allowed {
                    assert!(
                        [400, 403, 404, 405].contains(&status),
                        "{what}: a {round} may not do this, got {status}"
                    );
                }
                if spelling.same_as_canonical {
                    // The router reads it as the canonical path: the same permission applies.
                    if allowed {
                        assert!(
                            (200..300).contains(&status) || [404, 409].contains(&status),
                            "{what}: expected what the canonical spelling gets, got {status}"
                        );
                    } else {
                        assert_eq!(status, 403, "{what}");
                    }
                } else if !(200..300).contains(&status) {
                    assert!(
                        [400, 403, 404, 405].contains(&status),
                        "{what}: got {status}"
                    );
                }
                if status == 400 {
                    problem(response, 400).await;
                }

                let entries = app.entries(project);
                if spelling.bad_project_id {
                    assert_eq!(status, 400, "{what}");
                    assert_eq!(entries.len(), before, "{what}: no project is named");
                    continue;
                }
                assert_eq!(entries.len(), before + 1, "{what}: exactly one new entry");
                let entry = entries.last().unwrap();
                assert_eq!(entry.status_code, i32::from(status), "{what}");
                if (200..300).contains(&status) || status == 403 {
                    assert_eq!(entry.action, route.action, "{what}");
                    assert_eq!(
                        entry.route,
                        format!("{}{}", catalog::PROJECT_SCOPE, route.template),
                        "{what}"
                    );
                    if route.template.contains("{id}") {
                        assert_eq!(entry.resource_id, Some(fixture_id), "{what}");
                    }
                }
                if [404, 405].contains(&status) && !spelling.same_as_canonical {
                    assert_eq!(entry.action, catalog::UNMATCHED.action, "{what}");
                }
            }
        }
    }
    assert!(checked > 1000, "only {checked} spellings were tried");
}

/// A denied or refused request is stored with the action of the route it was meant for, and a
/// misspelled id is refused rather than resolved to another number.
async fn misspelled_ids_are_refused_not_resolved(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let created = admin
        .send(
            Method::POST,
            &format!("/api/v1/projects/{project}/clusters"),
            Some(serde_json::json!({"name": "eu-1", "region": "eu-west-1"})),
        )
        .await;
    let cluster: serde_json::Value = created.json().await.unwrap();
    let id = cluster["id"].as_i64().unwrap();

    for spelled in [format!("%2B{id}"), format!("0{id}"), format!("+{id}")] {
        let response = admin
            .send(
                Method::DELETE,
                &format!("/api/v1/projects/{project}/clusters/{spelled}"),
                None,
            )
            .await;
        let body = problem(response, 400).await;
        assert!(body["detail"].as_str().unwrap().contains("`id`"), "{body}");
        let entry = app.last_entry(project).unwrap();
        assert_eq!(entry.action, "cluster.delete");
        assert_eq!(entry.status_code, 400);
    }
    // The cluster is still there.
    let read = admin
        .get(&format!("/api/v1/projects/{project}/clusters/{id}"))
        .await;
    assert_eq!(read.status(), 200);

    // A percent-encoded action segment is the same route, checked with the same role.
    let viewer = app
        .create_token(&admin, project, "viewer", Role::Viewer, false)
        .await;
    let response = app
        .token_caller(&viewer.secret)
        .get(&format!("/api/v1/projects/{project}/%61udit-logs"))
        .await;
    problem(response, 403).await;
    assert_eq!(app.last_entry(project).unwrap().action, "audit_log.list");
}

/// 405 names the methods a path supports; HEAD works wherever GET does.
async fn methods_are_answered_with_allow_and_head(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let response = admin
        .send(
            Method::PUT,
            &format!("/api/v1/projects/{project}/applications"),
            None,
        )
        .await;
    assert_eq!(
        response.headers()["allow"].to_str().unwrap(),
        "GET, HEAD, POST"
    );
    problem(response, 405).await;
    assert_eq!(
        app.last_entry(project).unwrap().action,
        catalog::UNMATCHED.action
    );

    let head = admin
        .send(
            Method::HEAD,
            &format!("/api/v1/projects/{project}/applications"),
            None,
        )
        .await;
    assert_eq!(head.status(), 200);
    let entry = app.last_entry(project).unwrap();
    assert_eq!(
        (entry.method.as_str(), entry.action.as_str()),
        ("HEAD", "application.list")
    );
}

crate::on_both_backends!(
    respelled_paths_never_escape_the_role_check,
    misspelled_ids_are_refused_not_resolved,
    methods_are_answered_with_allow_and_head,
);
