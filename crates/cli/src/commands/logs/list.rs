//! `auditlog logs list`: a page of audit log entries, or every page with `--all`.

use std::fmt::Display;

use anyhow::Context as _;
use auditlog_shared::wire::{AuditEntry, AuditPage, Histogram};
use auditlog_shared::{AuditQuery, PageSize, Source, MAX_PAGE_SIZE};
use chrono::{Local, TimeZone};

use super::filters::build_query;
use crate::arguments::ListArguments;
use crate::commands::ProjectSession;
use crate::output::{print_json, write_stdout, Table};

/// The query `auditlog logs list` sends first. With `--all` and no page size given, pages are
/// as large as the server allows, to make as few requests as possible.
pub fn build_list_query(arguments: &ListArguments) -> anyhow::Result<AuditQuery> {
    let mut query = build_query(&arguments.query, arguments.limit.as_deref())?;
    if arguments.all && arguments.limit.is_none() && query.page_size == PageSize::default() {
        if let Some(largest) = PageSize::new(MAX_PAGE_SIZE) {
            query.page_size = largest;
        }
    }
    Ok(query)
}

/// Prints one page of entries (`all` false) or every page, following the `next` links.
///
/// `project_flag` is the `--project` of the command line, repeated in the next-page hint.
pub async fn list_entries(
    session: &ProjectSession,
    query: &AuditQuery,
    all: bool,
    project_flag: Option<i64>,
) -> anyhow::Result<()> {
    if !all {
        if session.json {
            return print_json(&fetch_page(session, query).await?.raw);
        }
        let (page, total) =
            tokio::try_join!(fetch_page(session, query), fetch_total(session, query))?;
        let page = page.value;
        let mut text = describe_entries(&page.entries, total, &Local);
        if let Some(next) = &page.next {
            text.push_str(&next_page_hint(next, project_flag));
        }
        return write_stdout(&text);
    }

    let mut entries: Vec<AuditEntry> = Vec::new();
    let mut raw_entries: Vec<serde_json::Value> = Vec::new();
    let mut current = query.clone();
    loop {
        let answer = fetch_page(session, &current).await?;
        if let Some(serde_json::Value::Array(raw)) = answer.raw.get("entries") {
            raw_entries.extend(raw.iter().cloned());
        }
        let page = answer.value;
        entries.extend(page.entries);
        let Some(next) = page.next else { break };
        let next = AuditQuery::parse(&next)
            .with_context(|| format!("the server sent an invalid next page `{next}`"))?;
        if next == current {
            anyhow::bail!("the server sent the same page as the next one; stopping");
        }
        current = next;
    }
    if session.json {
        return print_json(&serde_json::Value::Array(raw_entries));
    }
    let total = entries.len() as u64;
    write_stdout(&describe_entries(&entries, total, &Local))
}

/// How many entries match the query in its whole window: `GET …/audit-logs/histogram`.
async fn fetch_total(session: &ProjectSession, query: &AuditQuery) -> anyhow::Result<u64> {
    let mut view = query.clone();
    view.cursor = None;
    view.page_size = PageSize::default();
    let canonical = view.to_query_string();
    let mut path = session.project_path("/audit-logs/histogram");
    if !canonical.is_empty() {
        path.push('?');
        path.push_str(&canonical);
    }
    Ok(session
        .client
        .get_json::<Histogram>(&path)
        .await?
        .value
        .total)
}

/// `GET …/audit-logs?<query>`.
async fn fetch_page(
    session: &ProjectSession,
    query: &AuditQuery,
) -> anyhow::Result<crate::client::JsonAnswer<AuditPage>> {
    let canonical = query.to_query_string();
    let mut path = session.project_path("/audit-logs");
    if !canonical.is_empty() {
        path.push('?');
        path.push_str(&canonical);
    }
    session.client.get_json::<AuditPage>(&path).await
}

/// The table of entries and the line that counts them, or a line saying nothing matched.
pub fn describe_entries<Tz>(entries: &[AuditEntry], total: u64, zone: &Tz) -> String
where
    Tz: TimeZone,
    Tz::Offset: Display,
{
    if entries.is_empty() && total == 0 {
        return "No entries match this query.\n".to_string();
    }
    let mut text = if entries.is_empty() {
        String::new()
    } else {
        entry_table(entries, zone).render()
    };
    let noun = if total == 1 { "entry" } else { "entries" };
    text.push_str(&format!("Showing {} of {total} {noun}\n", entries.len()));
    text
}

/// The table `auditlog logs list` prints, with times in `zone`.
pub fn entry_table<Tz>(entries: &[AuditEntry], zone: &Tz) -> Table
where
    Tz: TimeZone,
    Tz::Offset: Display,
{
    let mut table = Table::new(&["TIME", "ACTOR", "METHOD", "STATUS", "RESOURCE", "ACTION"]);
    for entry in entries {
        table.add_row(vec![
            entry
                .timestamp
                .with_timezone(zone)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
            printable(&actor_cell(entry)),
            printable(&entry.method),
            entry.status.to_string(),
            printable(&format!(
                "{}/{}",
                entry.resource.kind.as_str(),
                entry.resource.name
            )),
            printable(&entry.action_label),
        ]);
    }
    table
}

/// The hint that ends a page with a next one: the command that prints it.
pub fn next_page_hint(next: &str, project_flag: Option<i64>) -> String {
    // The canonical form percent-encodes quotes, so the query is safe inside single quotes.
    let project = project_flag.map_or_else(String::new, |id| format!(" --project {id}"));
    format!("next page: auditlog logs list --query '{next}'{project}\n")
}

/// Who made the request: the name, `(token)` for an API token, `[cli]` when sent by the CLI.
fn actor_cell(entry: &AuditEntry) -> String {
    let mut cell = entry.actor.name.clone();
    if entry.actor.kind == "token" {
        cell.push_str(" (token)");
    }
    if entry.source == Source::Cli {
        cell.push_str(" [cli]");
    }
    if entry.source == Source::Ingest {
        cell.push_str(" [ingested]");
    }
    cell
}

/// Text recorded from requests, made safe for a terminal: control characters (escape sequences,
/// line breaks) become `?`.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use auditlog_shared::wire::{EntryActor, EntryResource};
    use auditlog_shared::ResourceType;
    use chrono::{DateTime, FixedOffset, Utc};

    /// An entry by a CLI token creating an application; tests change what they need.
    fn entry(id: i64, at: &str) -> AuditEntry {
        AuditEntry {
            id,
            timestamp: DateTime::parse_from_rfc3339(at)
                .expect("valid instant")
                .with_timezone(&Utc),
            actor: EntryActor {
                kind: "token".to_string(),
                id: Some(1),
                name: "deploy-bot".to_string(),
                email: None,
            },
            source: Source::Cli,
            method: "POST".to_string(),
            path: "/api/v1/projects/1/applications".to_string(),
            route: "/api/v1/projects/{project_id}/applications".to_string(),
            action: "application.create".to_string(),
            action_label: "Create application".to_string(),
            status: 201,
            resource: EntryResource {
                kind: ResourceType::Application,
                id: Some(7),
                name: "web".to_string(),
            },
            client_ip: None,
            user_agent: None,
            request_id: format!("request-{id}"),
            duration_ms: 1.5,
            ingested_by_token_id: None,
            changes: Vec::new(),
            chain_seq: id,
            prev_hash: auditlog_shared::chain::GENESIS_HASH.to_string(),
            entry_hash: auditlog_shared::chain::GENESIS_HASH.to_string(),
        }
    }

    fn entries() -> Vec<AuditEntry> {
        let mut deletion = entry(2, "2026-11-27T09:29:00Z");
        deletion.actor.kind = "user".to_string();
        deletion.actor.name = "Ada".to_string();
        deletion.source = Source::Dashboard;
        deletion.method = "DELETE".to_string();
        deletion.status = 404;
        deletion.resource.kind = ResourceType::Cluster;
        deletion.resource.name = "c1\u{1b}[31m".to_string();
        deletion.action_label = "Delete cluster".to_string();
        vec![entry(3, "2026-11-27T09:30:05.123456Z"), deletion]
    }

    #[test]
    fn the_table_shows_local_time_actor_markers_and_resources() {
        let zone = FixedOffset::east_opt(3600).expect("a valid offset");
        assert_eq!(
            entry_table(&entries(), &zone).render(),
            "TIME                 ACTOR                     METHOD  STATUS  RESOURCE         ACTION\n\
             2026-11-27 10:30:05  deploy-bot (token) [cli]  POST    201     application/web  Create application\n\
             2026-11-27 10:29:00  Ada                       DELETE  404     cluster/c1?[31m  Delete cluster\n"
        );
    }

    #[test]
    fn the_count_follows_the_table() {
        let text = describe_entries(&entries(), 12, &Utc);
        assert!(text.ends_with("\nShowing 2 of 12 entries\n"), "{text}");
        assert!(text.starts_with("TIME "), "{text}");
        assert_eq!(
            describe_entries(&entries()[..1], 1, &Utc).lines().last(),
            Some("Showing 1 of 1 entry")
        );
        assert_eq!(
            describe_entries(&[], 0, &Utc),
            "No entries match this query.\n"
        );
        assert_eq!(describe_entries(&[], 4, &Utc), "Showing 0 of 4 entries\n");
    }

    #[test]
    fn the_hint_repeats_the_query_and_the_project() {
        assert_eq!(
            next_page_hint("range=24h&cursor=abc", None),
            "next page: auditlog logs list --query 'range=24h&cursor=abc'\n"
        );
        assert_eq!(
            next_page_hint("cursor=abc", Some(4)),
            "next page: auditlog logs list --query 'cursor=abc' --project 4\n"
        );
    }

    #[test]
    fn all_pages_use_the_largest_page_unless_told() {
        let mut arguments = ListArguments {
            all: true,
            ..ListArguments::default()
        };
        assert_eq!(
            build_list_query(&arguments)
                .expect("valid")
                .to_query_string(),
            "limit=200"
        );
        arguments.limit = Some("20".to_string());
        assert_eq!(
            build_list_query(&arguments)
                .expect("valid")
                .to_query_string(),
            "limit=20"
        );
        arguments.limit = None;
        arguments.query.query = Some("limit=30".to_string());
        assert_eq!(
            build_list_query(&arguments)
                .expect("valid")
                .to_query_string(),
            "limit=30"
        );
        arguments.all = false;
        arguments.query.query = None;
        assert_eq!(
            build_list_query(&arguments)
                .expect("valid")
                .to_query_string(),
            ""
        );
    }
}
