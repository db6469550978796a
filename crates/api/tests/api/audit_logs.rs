//! Reading the audit log: list, histogram, facets and export, checked against an oracle that
//! applies the shared query model to every entry in Rust.

use std::collections::HashSet;

use auditlog_shared::wire::{AuditEntry, AuditPage, Facets, Histogram, Role};
use auditlog_shared::{ActorRef, AuditQuery, ResourceType};
use chrono::Duration;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{problem, Backend, Caller, TestApp};

/// A project with varied history over ten days: users and tokens, dashboard, CLI and API,
/// every method, successes, denials and errors, and names that need escaping.
struct Dataset {
    _app: TestApp,
    project: i64,
    admin: Caller,
}

async fn dataset(backend: Backend) -> Dataset {
    dataset_with(backend, |_| {}).await
}

/// [`dataset`] on a server with its settings adjusted.
async fn dataset_with(
    backend: Backend,
    adjust: impl FnOnce(&mut auditlog_api::configuration::Settings),
) -> Dataset {
    let app = TestApp::spawn_with(backend, adjust).await;
    app.advance_clock(-Duration::days(10));
    let (project, admin) = app.project_with_admin("Acme").await;
    let base = format!("/api/v1/projects/{project}");
    let developer = app
        .create_token(&admin, project, "deploy_bot 100%", Role::Developer, false)
        .await;
    let viewer = app
        .create_token(&admin, project, "Read-Only Robot", Role::Viewer, false)
        .await;
    let bot = app.token_caller(&developer.secret);
    let cli = app
        .token_caller(&developer.secret)
        .with_user_agent("auditlog-cli/0.1.0");
    let reader = app.token_caller(&viewer.secret);

    let cluster: Value = admin
        .send(
            Method::POST,
            &format!("{base}/clusters"),
            Some(json!({"name": "Prod-EU", "region": "eu-west-1"})),
        )
        .await
        .json()
        .await
        .unwrap();
    let cluster_id = cluster["id"].as_i64().unwrap();
    let mut apps = Vec::new();
    for name in ["billing", "=HYPERLINK(\"x\")", "café_ünïcode", "web"] {
        let created: Value = bot
            .send(
                Method::POST,
                &format!("{base}/applications"),
                Some(json!({"name": name, "image": "registry/app:1", "cluster_id": cluster_id})),
            )
            .await
            .json()
            .await
            .unwrap();
        apps.push(created["id"].as_i64().unwrap());
    }
    for day in 0..10 {
        app.advance_clock(Duration::hours(23));
        for (i, app_id) in apps.iter().enumerate() {
            if (day + i) % 3 == 0 {
                cli.send(
                    Method::POST,
                    &format!("{base}/applications/{app_id}/deploy"),
                    Some(json!({})),
                )
                .await;
            }
            reader.get(&format!("{base}/applications/{app_id}")).await;
        }
        admin.get(&format!("{base}/clusters")).await;
        reader
            .send(
                Method::DELETE,
                &format!("{base}/applications/{}", apps[0]),
                None,
            )
            .await; // 403
        bot.get(&format!("{base}/applications/999999")).await; // 404
        if day == 5 {
            bot.send(
                Method::PATCH,
                &format!("{base}/applications/{}", apps[3]),
                Some(json!({"image": "registry/web:2"})),
            )
            .await;
        }
        app.advance_clock(Duration::minutes(37));
    }
    // The history took ten days: the first session has expired, so sign in again.
    let admin = app
        .sign_in(crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await;
    let enabled = admin
        .send(
            Method::PATCH,
            &format!("{base}/settings"),
            Some(json!({"audit_export_enabled": true})),
        )
        .await;
    assert_eq!(enabled.status(), 200);
    Dataset {
        _app: app,
        project,
        admin,
    }
}

impl Dataset {
    /// A fixed window covering the whole history, so that the entries the test's own reads add
    /// (the log records them too) stay out of later answers.
    async fn window(&self) -> String {
        let page: AuditPage = self
            .admin
            .get(&self.path("", "range=30d&limit=1"))
            .await
            .json()
            .await
            .unwrap();
        let instant = |t: chrono::DateTime<chrono::Utc>| {
            t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        };
        format!("from={}&to={}", instant(page.from), instant(page.to))
    }

    fn path(&self, endpoint: &str, query: &str) -> String {
        format!(
            "/api/v1/projects/{}/audit-logs{endpoint}?{query}",
            self.project
        )
    }

    /// Every entry the query matches, following `next` links, and how many the histogram
    /// counts for it.
    async fn all_pages(&self, query: &str) -> (Vec<AuditEntry>, u64) {
        let mut entries = Vec::new();
        let mut next = Some(query.to_string());
        while let Some(query) = next {
            let response = self.admin.get(&self.path("", &query)).await;
            assert_eq!(response.status(), 200, "{query}");
            let page: AuditPage = response.json().await.unwrap();
            entries.extend(page.entries);
            next = page.next;
        }
        let response = self.admin.get(&self.path("/histogram", query)).await;
        assert_eq!(response.status(), 200, "{query}");
        let histogram: Histogram = response.json().await.unwrap();
        (entries, histogram.total)
    }
}

/// The oracle: whether an entry passes a query's filters and search (the window aside).
fn matches(entry: &AuditEntry, query: &AuditQuery) -> bool {
    let actor = match (entry.actor.kind.as_str(), entry.actor.id) {
        ("user", Some(id)) => auditlog_shared::EntityId::new(id).map(ActorRef::User),
        ("token", Some(id)) => auditlog_shared::EntityId::new(id).map(ActorRef::Token),
        _ => None,
    };
    let actor_ok = match actor {
        Some(actor) => query.actor.admits(&actor),
        None => query.actor.include.is_empty(),
    };
    let resource_of = |kind: ResourceType| {
        (entry.resource.kind == kind)
            .then_some(entry.resource.id)
            .flatten()
            .and_then(auditlog_shared::EntityId::new)
    };
    let in_filter = |filter: &auditlog_shared::Filter<auditlog_shared::EntityId>,
                     id: Option<auditlog_shared::EntityId>| {
        (filter.include.is_empty() || id.is_some_and(|id| filter.include.contains(&id)))
            && !id.is_some_and(|id| filter.exclude.contains(&id))
    };
    let status_ok = (query.status.include.is_empty()
        || query.status.include.iter().any(|s| s.matches(entry.status)))
        && !query.status.exclude.iter().any(|s| s.matches(entry.status));
    let search_ok = query.search.as_ref().is_none_or(|search| {
        let needle = search.as_str().to_lowercase();
        let mut haystack = vec![entry.path.to_lowercase()];
        // What the table shows: the action's label, and a member's name (nobody in the
        // dataset is renamed or removed, so the recorded name is the current one).
        haystack.push(entry.action_label.to_lowercase());
        if entry.actor.kind == "user" {
            haystack.push(entry.actor.name.to_lowercase());
        }
        haystack.extend(entry.actor.email.as_ref().map(|e| e.to_lowercase()));
        if entry.actor.kind == "token" {
            haystack.push(entry.actor.name.to_lowercase());
        }
        if matches!(
            entry.resource.kind,
            ResourceType::Application | ResourceType::Cluster
        ) {
            haystack.push(entry.resource.name.to_lowercase());
        }
        haystack.iter().any(|h| h.contains(&needle))
    });
    actor_ok
        && query.method.admits(&entry.method.parse().unwrap())
        && query.source.admits(&entry.source)
        && (query.action.include.is_empty()
            || query
                .action
                .include
                .iter()
                .any(|a| a.matches(&entry.action)))
        && !query
            .action
            .exclude
            .iter()
            .any(|a| a.matches(&entry.action))
        && status_ok
        && query.resource_type.admits(&entry.resource.kind)
        && in_filter(&query.application, resource_of(ResourceType::Application))
        && in_filter(&query.cluster, resource_of(ResourceType::Cluster))
        && query
            .request_id
            .as_ref()
            .is_none_or(|id| id.as_str() == entry.request_id)
        && search_ok
}

fn ids(entries: &[AuditEntry]) -> Vec<i64> {
    entries.iter().map(|e| e.id).collect()
}

async fn every_filter_matches_the_oracle(backend: Backend) {
    let data = dataset(backend).await;
    let window = data.window().await;
    let (everything, total) = data.all_pages(&format!("{window}&limit=200")).await;
    assert_eq!(everything.len() as u64, total);
    assert!(total > 80, "the dataset has {total} entries");
    // Newest first, by (timestamp, id).
    for pair in everything.windows(2) {
        assert!((pair[0].timestamp, pair[0].id) > (pair[1].timestamp, pair[1].id));
    }

    let sample =
        |f: &dyn Fn(&AuditEntry) -> bool| everything.iter().find(|e| f(e)).unwrap().clone();
    let token_entry = sample(&|e| e.actor.kind == "token");
    let user_entry = sample(&|e| e.actor.kind == "user");
    let app_entry =
        sample(&|e| e.resource.kind == ResourceType::Application && e.resource.id.is_some());
    let cluster_id =
        sample(&|e| e.resource.kind == ResourceType::Cluster && e.resource.id.is_some())
            .resource
            .id
            .unwrap();
    let app_id = app_entry.resource.id.unwrap();
    let queries = vec![
        format!("actor=token:{}", token_entry.actor.id.unwrap()),
        format!("actor.not=user:{}", user_entry.actor.id.unwrap()),
        format!(
            "actor=user:{}&actor=token:{}",
            user_entry.actor.id.unwrap(),
            token_entry.actor.id.unwrap()
        ),
        "method=POST".into(),
        "method.not=GET".into(),
        "method=DELETE&method=PATCH".into(),
        "source=cli".into(),
        "source.not=dashboard".into(),
        "action=application.deploy".into(),
        "action.not=application.read&action.not=application.deploy".into(),
        "action=application.*".into(),
        "action.not=application.*&method=POST".into(),
        "action=cluster.*&action=application.deploy".into(),
        "action=application.*&action.not=application.deploy".into(),
        "action=nothing_here.*".into(),
        "action.not=nothing_here.*".into(),
        "status=4xx".into(),
        "status.not=2xx".into(),
        "status=403&status=5xx".into(),
        "status=404".into(),
        "resource_type=cluster".into(),
        "resource_type.not=application".into(),
        format!("application={app_id}"),
        format!("application.not={app_id}"),
        format!("cluster={cluster_id}"),
        format!("application={app_id}&cluster={cluster_id}"),
        format!("cluster.not={cluster_id}&method.not=GET"),
        "method.not=GET&source=api&status=2xx".into(),
        "q=DEPLOY".into(),
        "q=100%25".into(),
        "q=_".into(),
        "q=%3DHYPERLINK".into(),
        "q=CAFÉ_Ü".into(),
        "q=\"x\"".into(),
        "q=%5C".into(),
        "q=ada%40example".into(),
        "q=prod-eu".into(),
        "q=Deploy+app".into(),
        "q=ADMIN".into(),
        "q=ada+ad&method.not=GET".into(),
        "q=no+such+thing".into(),
        format!("request_id={}", app_entry.request_id),
        format!("request_id={}&method.not=GET", token_entry.request_id),
        "request_id=no-such-request".into(),
    ];
    for query_string in queries {
        let full = format!("{window}&limit=200&{query_string}");
        let query = AuditQuery::parse(&full).unwrap();
        let expected: Vec<i64> = everything
            .iter()
            .filter(|e| matches(e, &query))
            .map(|e| e.id)
            .collect();
        let (got, total) = data.all_pages(&full).await;
        assert_eq!(ids(&got), expected, "{query_string}");
        assert_eq!(total, expected.len() as u64, "{query_string}");
        let histogram: Histogram = data
            .admin
            .get(&data.path("/histogram", &full))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(histogram.total, total, "histogram of {query_string}");
    }
    // Including an application and a cluster matches nothing, by design.
    let (both, _) = data
        .all_pages(&format!(
            "{window}&application={app_id}&cluster={cluster_id}"
        ))
        .await;
    assert!(both.is_empty());
}

async fn date_ranges_have_exact_edges(backend: Backend) {
    let data = dataset(backend).await;
    let window = data.window().await;
    let (everything, _) = data.all_pages(&format!("{window}&limit=200")).await;
    let to = window.split("&to=").nth(1).unwrap().to_string();
    let pivot = &everything[everything.len() / 2];
    let at = pivot
        .timestamp
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let encoded = at.replace('+', "%2B");
    // `from` is inclusive, `to` exclusive.
    let (from, _) = data
        .all_pages(&format!("from={encoded}&to={to}&limit=200"))
        .await;
    assert!(from.iter().any(|e| e.id == pivot.id));
    assert!(from.iter().all(|e| e.timestamp >= pivot.timestamp));
    let (to, _) = data.all_pages(&format!("to={encoded}&limit=200")).await;
    assert!(to.iter().all(|e| e.timestamp < pivot.timestamp));
    assert_eq!(from.len() + to.len(), everything.len());
    // Presets end now and reach back their length.
    let (day, _) = data.all_pages("range=24h&limit=200").await;
    let (week, _) = data.all_pages("range=7d&limit=200").await;
    assert!(!day.is_empty() && day.len() < week.len());
    let histogram: Histogram = data
        .admin
        .get(&data.path("/histogram", "range=7d"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(histogram.bucket_seconds, 7_200);
    assert!((60..=150).contains(&histogram.buckets.len()));
    assert!(
        histogram.buckets.iter().any(|b| b.count == 0),
        "empty buckets are included"
    );
    // The histogram request came after the list: it counts the list's own entry too.
    assert!(histogram.total as usize >= week.len() && histogram.total as usize <= week.len() + 2);
}

async fn facets_agree_with_filtered_lists(backend: Backend) {
    let data = dataset(backend).await;
    let window = data.window().await;
    let base = format!("{window}&method.not=GET");
    let facets: Facets = data
        .admin
        .get(&data.path("/facets", &base))
        .await
        .json()
        .await
        .unwrap();
    let keys: Vec<&str> = facets.dimensions.iter().map(|d| d.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "actor",
            "method",
            "source",
            "action",
            "status",
            "resource_type",
            "application",
            "cluster"
        ]
    );
    for dimension in &facets.dimensions {
        for value in &dimension.values {
            // Each dimension is counted without its own filter: what clicking the value gives.
            let others = if dimension.key == "method" {
                window.clone()
            } else {
                base.clone()
            };
            let (_, expected) = data
                .all_pages(&format!(
                    "{others}&{}={}&limit=200",
                    dimension.key, value.value
                ))
                .await;
            assert_eq!(
                value.count, expected,
                "{}={} ({})",
                dimension.key, value.value, value.label
            );
        }
    }
    let actor = facets.dimensions.iter().find(|d| d.key == "actor").unwrap();
    assert!(
        actor.values.iter().any(|v| v.label == "deploy_bot 100%"),
        "actors are named"
    );
    let application = facets
        .dimensions
        .iter()
        .find(|d| d.key == "application")
        .unwrap();
    assert!(
        application.values.iter().any(|v| v.label == "billing"),
        "applications are named"
    );
}

/// A picker finds a rare value by part of its name, however many frequent values there are;
/// the view's own filter values are always named.
async fn facet_search_finds_rare_values_by_name(backend: Backend) {
    let data = dataset(backend).await;
    let window = data.window().await;
    let data = &data;
    let facets = |query: String| async move {
        let path = data.path("/facets", &query);
        let response = data.admin.get(&path).await;
        assert_eq!(response.status(), 200, "{path}");
        response.json::<Facets>().await.unwrap()
    };
    let only = |facets: Facets, key: &str| {
        assert_eq!(facets.dimensions.len(), 1, "only the asked dimension");
        let dimension = facets.dimensions.into_iter().next().unwrap();
        assert_eq!(dimension.key, key);
        dimension
    };

    // Applications by a part of their name, in any case: only matches, counted exactly.
    let apps = only(
        facets(format!("{window}&facet=application&facet.contains=BILL")).await,
        "application",
    );
    let labels: Vec<&str> = apps.values.iter().map(|v| v.label.as_str()).collect();
    assert_eq!(labels, ["billing"]);
    let billing = &apps.values[0];
    let (_, expected) = data
        .all_pages(&format!("{window}&application={}&limit=200", billing.value))
        .await;
    assert_eq!(billing.count, expected);
    assert_eq!((apps.other_values, apps.other_count), (0, 0));

    // Actors by their name; the picker never needs the raw id.
    let actors = only(
        facets(format!("{window}&facet=actor&facet.contains=robot")).await,
        "actor",
    );
    assert_eq!(actors.values.len(), 1, "{:?}", actors.values);
    assert_eq!(actors.values[0].label, "Read-Only Robot");
    assert!(actors.values[0].value.starts_with("token:"));

    // Actions by their label, under the navigation default: the rare refused deletes are found,
    // and actions that did not happen in the window are offered with 0.
    let actions = only(
        facets(format!(
            "{window}&method.not=GET&facet=action&facet.contains=delete"
        ))
        .await,
        "action",
    );
    let delete = actions
        .values
        .iter()
        .find(|v| v.value == "application.delete")
        .expect("the deletes are listed");
    assert_eq!(delete.label, "Delete application");
    let (_, deletes) = data
        .all_pages(&format!(
            "{window}&method.not=GET&action=application.delete&limit=200"
        ))
        .await;
    assert_eq!((delete.count, deletes), (10, 10));
    assert!(actions
        .values
        .iter()
        .all(|v| v.label.to_lowercase().contains("delete") || v.value.contains("delete")));
    let never = actions
        .values
        .iter()
        .find(|v| v.value == "cluster.delete")
        .expect("a known action that did not happen");
    assert_eq!(never.count, 0);

    // A value beyond the most frequent ones is found by its name.
    let top = only(
        facets(format!(
            "{window}&method.not=GET&facet=action&facet.limit=1"
        ))
        .await,
        "action",
    );
    assert!(top.values.iter().all(|v| v.value != "application.delete"));
    assert!(top.other_values > 0);
    let found = only(
        facets(format!(
            "{window}&method.not=GET&facet=action&facet.limit=1&facet.contains=delete+app"
        ))
        .await,
        "action",
    );
    assert_eq!(found.values[0].value, "application.delete");
    assert_eq!(found.values[0].count, 10);

    // A limit lists that many values and sums up the rest.
    let all = facets(window.clone()).await;
    let limited = facets(format!("{window}&facet.limit=1")).await;
    assert_eq!(limited.dimensions.len(), 8);
    for (full, one) in all.dimensions.iter().zip(&limited.dimensions) {
        let total: u64 = full.values.iter().map(|v| v.count).sum::<u64>() + full.other_count;
        assert!(one.values.len() <= 1, "{}", one.key);
        if let Some(first) = one.values.first() {
            assert_eq!(first, &full.values[0], "{}", one.key);
            assert_eq!(first.count + one.other_count, total, "{}", one.key);
            assert_eq!(
                one.other_values as usize + 1,
                full.values.len() + full.other_values as usize,
                "{}",
                one.key
            );
        }
    }

    // The view's own values are named, even when they are not among those listed.
    let web = all
        .dimensions
        .iter()
        .find(|d| d.key == "application")
        .unwrap()
        .values
        .iter()
        .find(|v| v.label == "web")
        .unwrap()
        .clone();
    let filtered = facets(format!(
        "{window}&application.not={}&facet=application&facet.contains=bill",
        web.value
    ))
    .await;
    let application = only(filtered, "application");
    assert_eq!(application.selected, std::slice::from_ref(&web));
    let (_, web_entries) = data
        .all_pages(&format!("{window}&application={}&limit=200", web.value))
        .await;
    assert_eq!(web.count, web_entries);
    let status = only(
        facets(format!("{window}&status=4xx&facet=status&facet.limit=1")).await,
        "status",
    );
    let (_, client_errors) = data.all_pages(&format!("{window}&status=4xx")).await;
    assert_eq!(status.selected.len(), 1);
    assert_eq!(
        (status.selected[0].value.as_str(), status.selected[0].count),
        ("4xx", client_errors)
    );

    // Bad facet parameters are refused with the parameter named.
    for (query, name) in [
        ("facet=colour", "facet"),
        ("facet.contains=bill", "facet.contains"),
        ("facet=actor&facet.limit=0", "facet.limit"),
        ("facet=actor&facet.limit=5000", "facet.limit"),
        ("facet=actor&facet=method", "facet"),
        ("facet.sort=count", "facet.sort"),
    ] {
        let body = problem(data.admin.get(&data.path("/facets", query)).await, 400).await;
        assert_eq!(body["invalid_params"][0]["name"], name, "{query}: {body}");
    }
    // The other reads do not take them.
    for endpoint in ["", "/histogram"] {
        problem(
            data.admin.get(&data.path(endpoint, "facet=actor")).await,
            400,
        )
        .await;
    }
}

/// One entry by its id, for a permalink: exactly the entry the list shows, and only in its own
/// project.
async fn an_entry_is_read_by_its_id_in_its_project_only(backend: Backend) {
    let data = dataset(backend).await;
    let window = data.window().await;
    let (everything, _) = data.all_pages(&format!("{window}&limit=200")).await;
    for listed in [&everything[0], &everything[everything.len() / 2]] {
        let response = data
            .admin
            .get(&format!(
                "/api/v1/projects/{}/audit-logs/entries/{}",
                data.project, listed.id
            ))
            .await;
        assert_eq!(response.status(), 200);
        let read: AuditEntry = response.json().await.unwrap();
        assert_eq!(&read, listed);
    }
    // Ada is an admin of a second project too: the id names an entry of the first only. An
    // admin of another project only cannot tell the project exists. Unknown ids are 404s.
    let (other_project, _) = data._app.project_with_admin("Other").await;
    let outsider = data._app.outsider_admin("Olga's").await;
    let id = everything[0].id;
    for (caller, path) in [
        (
            &data.admin,
            format!("/api/v1/projects/{other_project}/audit-logs/entries/{id}"),
        ),
        (
            &outsider,
            format!("/api/v1/projects/{}/audit-logs/entries/{id}", data.project),
        ),
        (
            &data.admin,
            format!(
                "/api/v1/projects/{}/audit-logs/entries/999999999",
                data.project
            ),
        ),
    ] {
        problem(caller.get(&path).await, 404).await;
    }
    for id in ["abc", "-1", "0x10", "1.5"] {
        let response = data
            .admin
            .get(&format!(
                "/api/v1/projects/{}/audit-logs/entries/{id}",
                data.project
            ))
            .await;
        assert!(
            matches!(response.status().as_u16(), 400 | 404),
            "{id}: {}",
            response.status()
        );
    }
}

async fn pages_neither_skip_nor_repeat_while_entries_arrive(backend: Backend) {
    let data = dataset(backend).await;
    let (before, _) = data.all_pages("range=30d&limit=200").await;
    let writer = data.admin.clone();
    let project = data.project;
    let inserting = tokio::spawn(async move {
        for _ in 0..40 {
            writer
                .get(&format!("/api/v1/projects/{project}/clusters"))
                .await;
        }
    });
    let mut seen = Vec::new();
    let mut next = Some("range=30d&limit=7".to_string());
    let mut pages = Vec::new();
    while let Some(query) = next {
        let page: AuditPage = data
            .admin
            .get(&data.path("", &query))
            .await
            .json()
            .await
            .unwrap();
        seen.extend(page.entries.iter().map(|e| (e.timestamp, e.id)));
        pages.push((query, page.previous.clone(), ids(&page.entries)));
        next = page.next;
    }
    inserting.await.unwrap();
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no entry appears twice");
    for pair in seen.windows(2) {
        assert!(pair[0] > pair[1], "strictly newest first");
    }
    let seen_ids: HashSet<i64> = seen.iter().map(|s| s.1).collect();
    for entry in &before {
        assert!(
            seen_ids.contains(&entry.id),
            "entry {} was skipped",
            entry.id
        );
    }
    // `previous` leads back to the page before.
    let (_, previous, _) = &pages[2];
    let back: AuditPage = data
        .admin
        .get(&data.path("", previous.as_ref().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&back.entries), pages[1].2);
}

async fn exports_equal_the_list_and_read_back_in_python(backend: Backend) {
    let data = dataset(backend).await;
    let window = data.window().await;
    let query = &format!("{window}&method.not=GET");
    let (listed, _) = data.all_pages(&format!("{query}&limit=200")).await;

    let ndjson = data.admin.get(&data.path("/export.ndjson", query)).await;
    assert_eq!(ndjson.status(), 200);
    assert_eq!(ndjson.headers()["x-audit-export-truncated"], "false");
    assert_eq!(
        ndjson.headers()["x-audit-export-matched"],
        listed.len().to_string().as_str()
    );
    let disposition = ndjson.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.contains("auditlog-acme-") && disposition.ends_with(".ndjson\""),
        "{disposition}"
    );
    let text = ndjson.text().await.unwrap();
    let exported: Vec<AuditEntry> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(exported, listed);

    let csv = data.admin.get(&data.path("/export.csv", query)).await;
    assert_eq!(csv.status(), 200);
    let body = csv.text().await.unwrap();
    let parsed = python_csv(&body);
    assert_eq!(parsed[0][0], "id");
    assert_eq!(parsed[0][1], "timestamp");
    assert_eq!(parsed.len() - 1, listed.len());
    for (row, entry) in parsed[1..].iter().zip(&listed) {
        assert_eq!(row[0], entry.id.to_string());
        assert_eq!(
            row[1],
            entry
                .timestamp
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        );
        let expected_name = if entry.resource.name.starts_with('=') {
            format!("'{}", entry.resource.name)
        } else {
            entry.resource.name.clone()
        };
        assert_eq!(row[13], expected_name, "resource name, neutralised");
        assert_eq!(row[14], entry.path);
    }
    assert!(
        parsed.iter().any(|row| row[13].starts_with("'=HYPERLINK")),
        "the formula cell is present and neutralised"
    );

    // Unknown formats and disabled export are refused with a clear problem.
    problem(data.admin.get(&data.path("/export.xlsx", query)).await, 400).await;
    data.admin
        .send(
            Method::PATCH,
            &format!("/api/v1/projects/{}/settings", data.project),
            Some(json!({"audit_export_enabled": false})),
        )
        .await;
    let refused = problem(data.admin.get(&data.path("/export.csv", query)).await, 403).await;
    assert!(refused["detail"]
        .as_str()
        .unwrap()
        .contains("audit_export_enabled"));
    // The exports themselves are in the log.
    let (exports, _) = data.all_pages("range=1h&action=audit_log.export").await;
    assert_eq!(exports.len(), 4);
}

fn python_csv(body: &str) -> Vec<Vec<String>> {
    use std::io::Write as _;
    let mut child = std::process::Command::new("python3")
        .args([
            "-c",
            "import csv, json, sys; print(json.dumps(list(csv.reader(sys.stdin))))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    serde_json::from_slice(&output.stdout).unwrap()
}

async fn exports_stop_at_ten_thousand_rows(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Big").await;
    admin
        .send(
            Method::PATCH,
            &format!("/api/v1/projects/{project}/settings"),
            Some(json!({"audit_export_enabled": true})),
        )
        .await;
    let ingest = app
        .create_token(&admin, project, "firehose", Role::Viewer, true)
        .await;
    let firehose = app.token_caller(&ingest.secret);
    let event = json!({
        "actor": {"kind": "token", "name": "firehose"}, "method": "POST", "path": "/x",
        "action": "ext.event", "status": 200, "resource": {"type": "integration", "name": "x"}
    });
    for _ in 0..11 {
        let batch: Vec<Value> = (0..1000).map(|_| event.clone()).collect();
        let response = firehose
            .send(
                Method::POST,
                &format!("/api/v1/projects/{project}/ingest"),
                Some(json!({"events": batch})),
            )
            .await;
        assert_eq!(response.status(), 200);
    }
    let response = admin
        .get(&format!(
            "/api/v1/projects/{project}/audit-logs/export.ndjson?range=1h"
        ))
        .await;
    assert_eq!(response.headers()["x-audit-export-truncated"], "true");
    assert_eq!(response.headers()["x-audit-export-rows"], "10000");
    let matched: u64 = response.headers()["x-audit-export-matched"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(matched > 11_000);
    let lines = response.text().await.unwrap().lines().count();
    assert_eq!(lines, 10_000);
}

async fn only_admins_of_the_project_read_its_log(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let outsider = app.outsider_admin("Other").await;
    let developer = app
        .create_token(&admin, project, "dev", Role::Developer, false)
        .await;
    let viewer = app
        .create_token(&admin, project, "viewer", Role::Viewer, false)
        .await;
    admin
        .send(
            Method::PATCH,
            &format!("/api/v1/projects/{project}/settings"),
            Some(json!({"audit_export_enabled": true})),
        )
        .await;
    for endpoint in [
        "",
        "/histogram",
        "/facets",
        "/verify",
        "/export.csv",
        "/export.ndjson",
    ] {
        let path = format!("/api/v1/projects/{project}/audit-logs{endpoint}?range=24h");
        assert_eq!(admin.get(&path).await.status(), 200, "{endpoint}");
        for caller in [
            app.token_caller(&developer.secret),
            app.token_caller(&viewer.secret),
        ] {
            let body = problem(caller.get(&path).await, 403).await;
            assert!(
                body["detail"].as_str().unwrap().contains("admin"),
                "{endpoint}"
            );
        }
        problem(outsider.get(&path).await, 404).await;
        problem(app.anonymous().get(&path).await, 401).await;
    }
}

async fn bad_input_is_a_400_never_a_500(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    for query in [
        "colour=red",
        "method=FETCH",
        "status=6xx",
        "cursor=garbage",
        "cursor=bzEyMy40NQ",
        "limit=0",
        "limit=1000000000",
        "to=2001-01-01T00:00:00Z",
        "from=2030-01-01T00:00:00Z&to=2020-01-01T00:00:00Z",
        "q=%FF",
        "range=7d&to=2026-01-01T00:00:00Z",
    ] {
        for endpoint in ["", "/histogram", "/facets"] {
            let path = format!("/api/v1/projects/{project}/audit-logs{endpoint}?{query}");
            let body = problem(admin.get(&path).await, 400).await;
            assert!(body["detail"].as_str().is_some(), "{path}");
        }
    }
}

async fn retention_removes_and_hides_old_entries(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.advance_clock(-Duration::days(40));
    let (project, admin) = app.project_with_admin("Acme").await;
    for _ in 0..5 {
        admin
            .get(&format!("/api/v1/projects/{project}/clusters"))
            .await;
    }
    app.advance_clock(Duration::days(40));
    let admin = app
        .sign_in(crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await;
    admin
        .get(&format!("/api/v1/projects/{project}/clusters"))
        .await;
    // Five reads and a sign-in 40 days ago; a sign-in and a read now.
    let stored = app.entries(project).len();
    assert_eq!(stored, 8);
    // Queries never return what retention expires, even before the job runs.
    let page: AuditPage = admin
        .get(&format!(
            "/api/v1/projects/{project}/audit-logs?from=2000-01-01T00:00:00Z"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page.entries.len(), 2, "only the recent sign-in and read");
    let mut conn = app.pool.get().unwrap();
    let now = chrono::Utc::now().timestamp_micros();
    // Export manifests, one from 40 days ago and one from now.
    let manifest_ages = [
        (
            "old-export",
            now - Duration::days(40).num_microseconds().unwrap(),
        ),
        ("new-export", now),
    ];
    {
        use auditlog_api::db::schema::audit_export_manifests;
        use diesel::prelude::*;
        for (export_id, created_at) in manifest_ages {
            diesel::insert_into(audit_export_manifests::table)
                .values((
                    audit_export_manifests::export_id.eq(export_id),
                    audit_export_manifests::project_id.eq(project),
                    audit_export_manifests::created_at.eq(created_at),
                    audit_export_manifests::manifest.eq("{}"),
                ))
                .execute(&mut conn)
                .unwrap();
        }
    }
    let deleted =
        auditlog_api::audit_log::retention::purge_expired(&mut conn, now, &app.chain_signer)
            .unwrap();
    assert_eq!(deleted, 6);
    {
        use auditlog_api::db::schema::audit_export_manifests;
        use diesel::prelude::*;
        let kept: Vec<String> = audit_export_manifests::table
            .select(audit_export_manifests::export_id)
            .load(&mut conn)
            .unwrap();
        assert_eq!(
            kept,
            vec!["new-export".to_string()],
            "manifests age out with the entries"
        );
    }
    // The counts of the expired hours and days went with them; the recent ones stay.
    {
        use auditlog_api::db::schema::{audit_rollups, audit_rollups_daily};
        use diesel::prelude::*;
        let old = now - Duration::days(35).num_microseconds().unwrap();
        let hourly: Vec<i64> = audit_rollups::table
            .filter(audit_rollups::project_id.eq(project))
            .select(audit_rollups::bucket)
            .load(&mut conn)
            .unwrap();
        let daily: Vec<i64> = audit_rollups_daily::table
            .filter(audit_rollups_daily::project_id.eq(project))
            .select(audit_rollups_daily::bucket)
            .load(&mut conn)
            .unwrap();
        assert!(!hourly.is_empty() && !daily.is_empty());
        assert!(hourly.iter().chain(&daily).all(|&bucket| bucket > old));
    }
    drop(conn);
    // The chain still verifies from the oldest retained entry.
    let report = admin.verify(project).await;
    assert!(report.ok, "{report:?}");
}

/// Without the in-memory columns, views with no filter, or one filtered dimension, are answered
/// from the hourly rollups (plus the entries of the window's partial hours). Adding a search
/// every entry matches (`/api/` is in every path) makes the same view read the entries instead:
/// the answers must be identical, bucket by bucket and value by value.
async fn rollups_answer_exactly_as_the_entries_do(backend: Backend) {
    let data = dataset_with(backend, |settings| settings.no_memory_columns = true).await;
    let window = data.window().await;
    let (everything, _) = data.all_pages(&format!("{window}&limit=200")).await;
    let token = everything
        .iter()
        .find(|e| e.actor.kind == "token")
        .and_then(|e| e.actor.id)
        .unwrap();
    let application = everything
        .iter()
        .find(|e| e.resource.kind == ResourceType::Application && e.resource.id.is_some())
        .and_then(|e| e.resource.id)
        .unwrap();
    // Each view, and whether rollups split its bars by status class (views on method, action,
    // both, or status do; a view on another dimension alone comes unsplit).
    for (view, splittable) in [
        (window.clone(), true),
        (format!("{window}&method.not=GET"), true),
        (format!("{window}&status=4xx"), true),
        (format!("{window}&actor=token:{token}"), false),
        (format!("{window}&application.not={application}"), false),
        (format!("{window}&source=cli"), false),
        (
            format!("{window}&resource_type=application&resource_type=cluster"),
            false,
        ),
        // Method and action together are summed from the method-action-class triples.
        (
            format!("{window}&method.not=GET&action.not=audit_log.*"),
            true,
        ),
        (
            format!("{window}&method.not=GET&action.not=application.deploy"),
            true,
        ),
        (
            format!("{window}&method=POST&method=DELETE&action=application.*"),
            true,
        ),
    ] {
        let read = |endpoint: &'static str, query: String| {
            let path = data.path(endpoint, &query);
            let admin = &data.admin;
            async move {
                let response = admin.get(&path).await;
                assert_eq!(response.status(), 200, "{path}");
                response.json::<Value>().await.unwrap()
            }
        };
        let searched = format!("{view}&q=%2Fapi%2F");
        let (rolled, scanned) = (
            read("/histogram", view.clone()).await,
            read("/histogram", searched.clone()).await,
        );
        // Counts agree bucket by bucket, and so do the status classes where rollups split them.
        let buckets = |histogram: &Value| histogram["buckets"].as_array().unwrap().clone();
        for (rolled, scanned) in buckets(&rolled).iter().zip(buckets(&scanned)) {
            assert_eq!(rolled["start"], scanned["start"], "{view}");
            assert_eq!(rolled["count"], scanned["count"], "histogram of {view}");
            let classes = scanned["by_status_class"]
                .as_array()
                .expect("the entries' split");
            let sum: u64 = classes.iter().map(|c| c.as_u64().unwrap()).sum();
            assert_eq!(Some(sum), scanned["count"].as_u64(), "{view}: {scanned}");
            if splittable {
                assert_eq!(
                    rolled["by_status_class"], scanned["by_status_class"],
                    "{view}"
                );
            } else {
                assert!(rolled.get("by_status_class").is_none(), "{view}: {rolled}");
            }
        }
        assert_eq!(buckets(&rolled).len(), buckets(&scanned).len());
        assert!(rolled["total"].as_u64().unwrap() > 0, "{view}");
        let (rolled, scanned) = (
            read("/facets", view.clone()).await,
            read("/facets", searched).await,
        );
        assert_eq!(rolled, scanned, "facets of {view}");
    }
}

/// Views that rollups cannot answer (several filtered dimensions, a search, excludes, status
/// classes, namespaces) are counted from the in-memory columns: the same histograms, facets and
/// export counts as a server that reads the entries, from a server that kept its copy current
/// while the history was written and from one that loaded it from the database at start; and a
/// copy catches up with entries another server wrote before it answers.
async fn memory_columns_answer_exactly_as_the_entries_do(backend: Backend) {
    let data = dataset(backend).await;
    let window = data.window().await;
    let (everything, _) = data.all_pages(&format!("{window}&limit=200")).await;
    let token = everything
        .iter()
        .find(|e| e.actor.kind == "token")
        .and_then(|e| e.actor.id)
        .unwrap();
    let user = everything
        .iter()
        .find(|e| e.actor.kind == "user")
        .and_then(|e| e.actor.id)
        .unwrap();
    let application = everything
        .iter()
        .find(|e| e.resource.kind == ResourceType::Application && e.resource.id.is_some())
        .and_then(|e| e.resource.id)
        .unwrap();
    let deployed = everything
        .iter()
        .find(|e| e.action == "application.deploy" && e.status == 200)
        .and_then(|e| e.resource.id)
        .unwrap();
    let (reads_entries, _entries_dir) = data._app.spawn_server_with(|s| s.no_memory_columns = true);
    let (loaded_at_start, _loaded_dir) = data._app.spawn_server_with(|_| {});
    let on = |address: &str| {
        let mut caller = data.admin.clone();
        caller.address = address.to_string();
        caller
    };
    let (writer, entries, loaded) = (data.admin.clone(), on(&reads_entries), on(&loaded_at_start));
    // The server started on the written history loads its copy in the background; until then it
    // reads the entries.
    let probe = data.path("/histogram", &format!("{window}&q=deploy"));
    let mut waited = 0;
    while timing(&loaded.get(&probe).await) != "columns" {
        assert!(waited < 200, "the copy is never loaded");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        waited += 1;
    }

    let views = [
        // Views rollups answer on the server without columns …
        window.clone(),
        format!("{window}&method.not=GET"),
        format!("{window}&method.not=GET&action.not=audit_log.*"),
        format!("{window}&actor=token:{token}"),
        // … and views it reads the entries for.
        format!("{window}&method.not=GET&source=cli"),
        format!("{window}&actor=token:{token}&actor=user:{user}&status=4xx"),
        format!("{window}&q=deploy"),
        format!("{window}&actor=token:{token}&q=%2Fapi%2F"),
        format!("{window}&status=2xx&resource_type=application&method=POST"),
        format!("{window}&application={application}&status.not=5xx"),
        format!(
            "{window}&application.not={application}&resource_type=application&source.not=dashboard"
        ),
        format!("{window}&action.not=audit_log.*&method.not=GET&status=201"),
        format!("{window}&q=billing&method.not=GET"),
        format!("{window}&status.not=2xx&source.not=dashboard"),
        format!("{window}&action=application.*&status=200&status=204"),
        format!("{window}&q=no-entry-holds-this&method=GET"),
    ];
    let mut totals = Vec::new();
    for view in &views {
        for (endpoint, extra) in [
            ("/histogram", ""),
            ("/facets", ""),
            ("/facets", "&facet=action&facet.contains=appl&facet.limit=3"),
            ("/facets", "&facet=actor&facet.limit=1"),
            ("/export.csv", ""),
        ] {
            let path = data.path(endpoint, &format!("{view}{extra}"));
            let mut answers = Vec::new();
            for (caller, expected) in [
                (&writer, "columns"),
                (&loaded, "columns"),
                (&entries, "entries"),
            ] {
                let response = caller.get(&path).await;
                assert_eq!(response.status(), 200, "{path}");
                if endpoint == "/export.csv" {
                    let matched = response.headers()["x-audit-export-matched"].clone();
                    answers.push(Value::from(matched.to_str().unwrap()));
                } else {
                    let counted_from = timing(&response);
                    if expected == "columns" {
                        assert_eq!(counted_from, expected, "{path}");
                    } else {
                        assert_ne!(counted_from, "columns", "{path}");
                    }
                    let mut answer = response.json::<Value>().await.unwrap();
                    // The window starts at the retention horizon, which moves with each read.
                    if let Some(answer) = answer.as_object_mut() {
                        answer.remove("from");
                    }
                    answers.push(answer);
                }
            }
            // Rollups of one dimension other than method, action and status cannot split a
            // chart's bars by status class; the columns always do.
            if let Some(buckets) = answers[2]["buckets"].as_array().cloned() {
                for answer in &mut answers[..2] {
                    for (bucket, reference) in answer["buckets"]
                        .as_array_mut()
                        .unwrap()
                        .iter_mut()
                        .zip(&buckets)
                    {
                        if reference.get("by_status_class").is_none() {
                            bucket.as_object_mut().unwrap().remove("by_status_class");
                        }
                    }
                }
            }
            assert_eq!(
                answers[0], answers[2],
                "{path}: from memory, then the entries"
            );
            assert_eq!(
                answers[1], answers[2],
                "{path}: loaded at start, then the entries"
            );
            if endpoint == "/histogram" {
                totals.push(answers[0]["total"].as_u64().unwrap());
            }
        }
    }
    // The views are not all empty: most match something, the last nothing.
    assert!(
        totals.iter().filter(|&&total| total > 0).count() >= 12,
        "{totals:?}"
    );
    assert_eq!(totals.last(), Some(&0));

    // Entries written through one server are counted by the others' copies at once.
    let fresh = format!("{}&method.not=GET&q=deploy", "range=24h");
    let histogram = |caller: Caller| {
        let path = data.path("/histogram", &fresh);
        async move {
            caller
                .get(&path)
                .await
                .json::<Histogram>()
                .await
                .unwrap()
                .total
        }
    };
    let before = histogram(loaded.clone()).await;
    for _ in 0..3 {
        let deployed = writer
            .send(
                Method::POST,
                &format!(
                    "/api/v1/projects/{}/applications/{deployed}/deploy",
                    data.project
                ),
                Some(json!({})),
            )
            .await;
        assert_eq!(deployed.status(), 200);
    }
    assert_eq!(histogram(loaded.clone()).await, before + 3);
    assert_eq!(histogram(entries.clone()).await, before + 3);
    assert_eq!(histogram(writer.clone()).await, before + 3);

    // A renamed application is shown by the name on its newest entry of the window, by every
    // server.
    let base = format!("/api/v1/projects/{}/applications/{deployed}", data.project);
    let renamed = writer
        .send(Method::PATCH, &base, Some(json!({"name": "renamed-app"})))
        .await;
    assert_eq!(renamed.status(), 200);
    let redeployed = writer
        .send(Method::POST, &format!("{base}/deploy"), Some(json!({})))
        .await;
    assert_eq!(redeployed.status(), 200);
    let path = data.path(
        "/facets",
        &format!("{fresh}&application={deployed}&facet=application"),
    );
    let mut answers = Vec::new();
    for caller in [&writer, &loaded, &entries] {
        let facets: Value = caller.get(&path).await.json().await.unwrap();
        answers.push(facets["dimensions"][0].clone());
    }
    assert_eq!(
        answers[0]["selected"][0]["label"], "renamed-app",
        "{answers:?}"
    );
    assert_eq!(answers[0], answers[2]);
    assert_eq!(answers[1], answers[2]);
}

/// A project's copy in memory holds its own entries only. Another project's entries are written
/// before, between and after its own, so their chain positions run past its own: a copy caught
/// up by chain position alone would count them. Checked on the server that wrote them, on one
/// that loaded its copies at start, and after more writes to both projects, against the entries.
async fn memory_columns_count_only_their_projects_entries(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (small, ada) = app.project_with_admin("Small").await;
    let (big, olga) = app.outsider_project_with_admin("Big").await;
    let write = |caller: Caller, project: i64, times: usize| async move {
        for _ in 0..times {
            let listed = caller
                .get(&format!("/api/v1/projects/{project}/applications"))
                .await;
            assert_eq!(listed.status(), 200);
        }
    };
    write(ada.clone(), small, 3).await;
    write(olga.clone(), big, 25).await;
    write(ada.clone(), small, 2).await;

    // Counted without the dashboard's own reads, so that reading does not move the numbers.
    let view = "range=24h&action.not=audit_log.*";
    let (reads_entries, _entries_dir) = app.spawn_server_with(|s| s.no_memory_columns = true);
    let on = |caller: &Caller, address: &str| {
        let mut caller = caller.clone();
        caller.address = address.to_string();
        caller
    };
    let answers = |callers: Vec<(Caller, &'static str)>, project: i64| async move {
        let mut answers = Vec::new();
        for (caller, expected) in callers {
            let base = format!("/api/v1/projects/{project}/audit-logs");
            let histogram = caller.get(&format!("{base}/histogram?{view}")).await;
            assert_eq!(histogram.status(), 200);
            assert_eq!(timing(&histogram), expected, "project {project}");
            // The window moves with each read.
            let mut histogram = histogram.json::<Value>().await.unwrap();
            histogram.as_object_mut().unwrap().remove("from");
            histogram.as_object_mut().unwrap().remove("to");
            let facets = caller.get(&format!("{base}/facets?{view}")).await;
            assert_eq!(facets.status(), 200);
            assert_eq!(timing(&facets), expected, "project {project}");
            // The action dimension is counted without its own filter, so it counts these
            // very reads, which each answer adds to.
            let mut facets = facets.json::<Value>().await.unwrap();
            facets["dimensions"]
                .as_array_mut()
                .unwrap()
                .retain(|dimension| dimension["key"] != "action");
            answers.push((histogram, facets));
        }
        answers
    };
    let (loaded_at_start, _loaded_dir) = app.spawn_server_with(|_| {});
    let loaded = on(&ada, &loaded_at_start);
    let mut waited = 0;
    while timing(
        &loaded
            .get(&format!(
                "/api/v1/projects/{small}/audit-logs/histogram?{view}"
            ))
            .await,
    ) != "columns"
    {
        assert!(waited < 200, "the copy is never loaded");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        waited += 1;
    }

    let mut totals = Vec::new();
    for round in 0..2 {
        let small_answers = answers(
            vec![
                (ada.clone(), "columns"),
                (loaded.clone(), "columns"),
                (on(&ada, &reads_entries), "entries"),
            ],
            small,
        )
        .await;
        let big_answers = answers(
            vec![
                (olga.clone(), "columns"),
                (on(&olga, &loaded_at_start), "columns"),
                (on(&olga, &reads_entries), "entries"),
            ],
            big,
        )
        .await;
        for answers in [&small_answers, &big_answers] {
            assert_eq!(answers[0], answers[2], "round {round}: the writer's copy");
            assert_eq!(
                answers[1], answers[2],
                "round {round}: the copy loaded at start"
            );
        }
        // Only the project's own admin acted in it.
        let (histogram, facets) = &small_answers[2];
        let total = histogram["total"].as_u64().unwrap();
        let actors = facets["dimensions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|dimension| dimension["key"] == "actor")
            .unwrap();
        let values = actors["values"].as_array().unwrap();
        assert_eq!(values.len(), 1, "{actors}");
        assert_eq!(values[0]["count"].as_u64(), Some(total));
        totals.push((total, big_answers[2].0["total"].as_u64().unwrap()));

        // More of both, the other project's first and most: the copies catch up by project.
        write(olga.clone(), big, 40).await;
        write(ada.clone(), small, 3).await;
    }
    assert!(totals[0].0 >= 5 && totals[0].1 >= 25, "{totals:?}");
    assert_eq!(totals[1].0 - totals[0].0, 3, "{totals:?}");
    assert_eq!(totals[1].1 - totals[0].1, 40, "{totals:?}");
}

/// Where a histogram's or facets' counts came from: `Server-Timing: columns;dur=…`.
fn timing(response: &reqwest::Response) -> String {
    let header = response.headers()["server-timing"].to_str().unwrap();
    header.split(';').next().unwrap().to_string()
}

/// Search finds what the table shows: an action by its label and a member by their name —
/// this project's members only, and a removed member by the email on their entries, not by a
/// name the project no longer has.
async fn search_finds_action_labels_and_member_names(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (project, admin) = app.project_with_admin("Acme").await;
    let base = format!("/api/v1/projects/{project}");
    let (dana_id, dana) = app
        .add_member(
            &admin,
            project,
            "dq@example.com",
            "Dana Quill",
            "dana's long password",
            Role::Developer,
        )
        .await;
    let app_id = dana
        .create_application(project, "web", "registry/web:1")
        .await;
    let deployed = dana
        .send(
            Method::POST,
            &format!("{base}/applications/{app_id}/deploy"),
            Some(json!({})),
        )
        .await;
    assert_eq!(deployed.status(), 200);
    // Olga, of another project, is named like nothing here but must not be found here either.
    let olga = app.outsider_admin("Other").await;
    olga.get("/api/v1/projects").await;

    // A fixed window, so that the test's own reads (recorded too, with their search in the
    // path) stay out of the answers.
    let first: AuditPage = admin
        .get(&format!("{base}/audit-logs?range=24h&limit=1"))
        .await
        .json()
        .await
        .unwrap();
    let instant =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let window = format!("from={}&to={}", instant(first.from), instant(first.to));
    let ids_of = |entries: &[AuditEntry]| -> Vec<i64> { ids(entries) };
    let read = |query: String| {
        let admin = &admin;
        let base = &base;
        let window = &window;
        async move {
            let response = admin
                .get(&format!("{base}/audit-logs?{window}&limit=200&{query}"))
                .await;
            assert_eq!(response.status(), 200, "{query}");
            let page: AuditPage = response.json().await.unwrap();
            let histogram: Histogram = admin
                .get(&format!("{base}/audit-logs/histogram?{window}&{query}"))
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(
                histogram.total,
                page.entries.len() as u64,
                "histogram of {query}"
            );
            page.entries
        }
    };
    let everything = read(String::new()).await;
    let danas: Vec<AuditEntry> = everything
        .iter()
        .filter(|e| e.actor.id == Some(dana_id) && e.actor.kind == "user")
        .cloned()
        .collect();
    assert!(danas.len() >= 3, "Dana made requests: {danas:?}");
    assert_eq!(ids_of(&read("q=quill".into()).await), ids_of(&danas));
    assert_eq!(ids_of(&read("q=DANA+Q".into()).await), ids_of(&danas));
    let deploys = read("q=deploy+APPLICATION".into()).await;
    assert_eq!(deploys.len(), 1, "{deploys:?}");
    assert_eq!(deploys[0].action, "application.deploy");
    assert!(read("q=olga".into()).await.is_empty());

    let removed = admin
        .send(Method::DELETE, &format!("{base}/members/{dana_id}"), None)
        .await;
    assert_eq!(removed.status(), 204);
    assert!(
        read("q=quill".into()).await.is_empty(),
        "a removed member is not found by name"
    );
    let by_email = read("q=dq%40example".into()).await;
    assert_eq!(
        ids_of(&by_email),
        ids_of(&danas),
        "a removed member is found by the email on their entries"
    );
}

crate::on_both_backends!(
    memory_columns_answer_exactly_as_the_entries_do,
    memory_columns_count_only_their_projects_entries,
    search_finds_action_labels_and_member_names,
    rollups_answer_exactly_as_the_entries_do,
    every_filter_matches_the_oracle,
    date_ranges_have_exact_edges,
    facets_agree_with_filtered_lists,
    facet_search_finds_rare_values_by_name,
    an_entry_is_read_by_its_id_in_its_project_only,
    pages_neither_skip_nor_repeat_while_entries_arrive,
    exports_equal_the_list_and_read_back_in_python,
    exports_stop_at_ten_thousand_rows,
    only_admins_of_the_project_read_its_log,
    bad_input_is_a_400_never_a_500,
    retention_removes_and_hides_old_entries,
);
