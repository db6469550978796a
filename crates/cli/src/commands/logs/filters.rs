//! The audit query of `auditlog logs list` and `auditlog logs export`: `--query` (a query string
//! or a whole dashboard URL) with the filter flags merged into it.
//!
//! The flags are written as a query string of their own and read by the shared audit query parser,
//! so the CLI never judges a value itself: every mistake is the parser's error, which names the key
//! and the value. The query string of `--query`, less the keys the flags replace, and the flags'
//! query string are then parsed together, which catches the conflicts between the two (a value
//! both included and excluded, a window whose ends are reversed) before any request is made.

use auditlog_shared::{AuditQuery, QueryError};

use crate::arguments::QueryArguments;

/// The query `logs list` or `logs export` sends: `--query` with the flags merged in, and `limit`
/// (the `--limit` of `logs list`) replacing its page size.
///
/// Filter flags add values to the lists of `--query`; `--range` replaces its window, `--from` and
/// `--to` each replace one end of it (and its preset), `--search` replaces its search text.
pub fn build_query(arguments: &QueryArguments, limit: Option<&str>) -> anyhow::Result<AuditQuery> {
    let base = match &arguments.query {
        Some(text) => AuditQuery::parse(&auditlog_shared::split_open_entry(query_part(text)).1)
            .map_err(|error| anyhow::anyhow!("invalid --query: {error}"))?,
        None => AuditQuery::default(),
    };
    let pairs = flag_pairs(arguments, limit);
    let flags = encode_pairs(&pairs)?;
    AuditQuery::parse(&flags).map_err(describe_flag_error)?;

    let replaced = replaced_keys(arguments, limit);
    let base = base.to_query_string();
    let kept = base.split('&').filter(|pair| {
        let key = pair.split_once('=').map_or(*pair, |(key, _)| key);
        !pair.is_empty() && !replaced.contains(&key)
    });
    let combined = kept
        .chain(std::iter::once(flags.as_str()))
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("&");
    AuditQuery::parse(&combined)
        .map_err(|error| anyhow::anyhow!("the flags do not combine with --query: {error}"))
}

/// The query string inside `--query`: the text itself, or the query part of a URL or path such
/// as `https://audit.example.com/projects/1/security/audit-logs?range=24h` (without its
/// `#fragment`). A URL without a query part stands for the default view.
pub fn query_part(text: &str) -> &str {
    let text = text.trim();
    let is_url = ["http://", "https://"].iter().any(|scheme| {
        text.get(..scheme.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(scheme))
    });
    // A query string's first pair has an `=` or is the whole string, so text before a `?` with
    // neither `=` nor `&` is an address: `/projects/1/…?` or `audit.example.com/…?`.
    let address = text
        .split_once('?')
        .filter(|(before, _)| !before.is_empty() && !before.contains(['=', '&']));
    match address {
        Some((_, after)) => after.split_once('#').map_or(after, |(query, _)| query),
        None if is_url => "",
        None => text,
    }
}

/// The flags as query-string pairs, in the canonical key order.
fn flag_pairs<'a>(
    arguments: &'a QueryArguments,
    limit: Option<&'a str>,
) -> Vec<(&'static str, &'a str)> {
    let mut pairs: Vec<(&'static str, &'a str)> = Vec::new();
    let single = [
        ("range", &arguments.range),
        ("from", &arguments.from),
        ("to", &arguments.to),
    ];
    for (key, value) in single {
        if let Some(value) = value {
            pairs.push((key, value));
        }
    }
    let lists = [
        ("actor", &arguments.actor),
        ("actor.not", &arguments.not_actor),
        ("method", &arguments.method),
        ("method.not", &arguments.not_method),
        ("source", &arguments.source),
        ("source.not", &arguments.not_source),
        ("action", &arguments.action),
        ("action.not", &arguments.not_action),
        ("status", &arguments.status),
        ("status.not", &arguments.not_status),
        ("resource_type", &arguments.resource_type),
        ("resource_type.not", &arguments.not_resource_type),
        ("application", &arguments.application),
        ("application.not", &arguments.not_application),
        ("cluster", &arguments.cluster),
        ("cluster.not", &arguments.not_cluster),
    ];
    for (key, values) in lists {
        pairs.extend(values.iter().map(|value| (key, value.as_str())));
    }
    if let Some(request_id) = &arguments.request_id {
        pairs.push(("request_id", request_id));
    }
    if let Some(search) = &arguments.search {
        pairs.push(("q", search));
    }
    if let Some(limit) = limit {
        pairs.push(("limit", limit));
    }
    pairs
}

/// The keys of `--query` that the flags replace rather than add to.
fn replaced_keys(arguments: &QueryArguments, limit: Option<&str>) -> Vec<&'static str> {
    let mut keys = Vec::new();
    if arguments.range.is_some() || arguments.from.is_some() || arguments.to.is_some() {
        keys.push("range");
    }
    if arguments.range.is_some() || arguments.from.is_some() {
        keys.push("from");
    }
    if arguments.range.is_some() || arguments.to.is_some() {
        keys.push("to");
    }
    if arguments.request_id.is_some() {
        keys.push("request_id");
    }
    if arguments.search.is_some() {
        keys.push("q");
    }
    if limit.is_some() {
        keys.push("limit");
    }
    keys
}

/// Writes pairs as a query string with the shared crate's own encoding, which the audit query
/// parser reads back exactly.
fn encode_pairs(pairs: &[(&str, &str)]) -> anyhow::Result<String> {
    Ok(pairs
        .iter()
        .map(|(key, value)| {
            format!(
                "{}={}",
                auditlog_shared::encode_query_component(key),
                auditlog_shared::encode_query_component(value)
            )
        })
        .collect::<Vec<_>>()
        .join("&"))
}

/// An error of the parser about the flags alone, told in terms of the flags.
fn describe_flag_error(error: QueryError) -> anyhow::Error {
    match &error {
        QueryError::ConflictingRange => {
            anyhow::anyhow!("--range cannot be combined with --from or --to: {error}")
        }
        QueryError::InvalidRange { .. } => anyhow::anyhow!("invalid --from/--to: {error}"),
        QueryError::IncludedAndExcluded { key, .. } => {
            let flag = key.replace('_', "-");
            anyhow::anyhow!("--{flag} and --not-{flag} name the same value: {error}")
        }
        _ => match error.key() {
            Some(key) => anyhow::anyhow!("invalid {}: {error}", flag_for_key(key)),
            None => anyhow::anyhow!("invalid flags: {error}"),
        },
    }
}

/// The flag that writes a query-string key: `status.not` is `--not-status`, `q` is `--search`.
fn flag_for_key(key: &str) -> String {
    if key == "q" {
        return "--search".to_string();
    }
    match key.strip_suffix(".not") {
        Some(dimension) => format!("--not-{}", dimension.replace('_', "-")),
        None => format!("--{}", key.replace('_', "-")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dashboard_link_with_an_open_entry_is_its_view() {
        let query = build_query(
            &arguments(
                Some("https://audit.example.com/projects/1/security/audit-logs?method.not=GET&entry=42"),
                &[],
            ),
            None,
        )
        .unwrap();
        assert_eq!(query.to_query_string(), "method.not=GET");
    }

    /// Flags given as `(flag, value)` pairs, the way clap would fill them in.
    fn arguments(query: Option<&str>, flags: &[(&str, &str)]) -> QueryArguments {
        let mut arguments = QueryArguments {
            query: query.map(str::to_string),
            ..QueryArguments::default()
        };
        for (flag, value) in flags {
            let value = value.to_string();
            match *flag {
                "actor" => arguments.actor.push(value),
                "not-actor" => arguments.not_actor.push(value),
                "method" => arguments.method.push(value),
                "not-method" => arguments.not_method.push(value),
                "source" => arguments.source.push(value),
                "not-source" => arguments.not_source.push(value),
                "action" => arguments.action.push(value),
                "not-action" => arguments.not_action.push(value),
                "status" => arguments.status.push(value),
                "not-status" => arguments.not_status.push(value),
                "resource-type" => arguments.resource_type.push(value),
                "not-resource-type" => arguments.not_resource_type.push(value),
                "application" => arguments.application.push(value),
                "not-application" => arguments.not_application.push(value),
                "cluster" => arguments.cluster.push(value),
                "not-cluster" => arguments.not_cluster.push(value),
                "search" => arguments.search = Some(value),
                "range" => arguments.range = Some(value),
                "from" => arguments.from = Some(value),
                "to" => arguments.to = Some(value),
                other => panic!("no flag --{other}"),
            }
        }
        arguments
    }

    fn canonical(query: Option<&str>, flags: &[(&str, &str)]) -> String {
        build_query(&arguments(query, flags), None)
            .unwrap_or_else(|error| panic!("{query:?} {flags:?}: {error}"))
            .to_query_string()
    }

    fn error(query: Option<&str>, flags: &[(&str, &str)]) -> String {
        build_query(&arguments(query, flags), None)
            .map(|query| query.to_query_string())
            .expect_err("invalid flags")
            .to_string()
    }

    #[test]
    fn no_query_and_no_flags_is_the_default_view() {
        assert_eq!(canonical(None, &[]), "");
        assert_eq!(canonical(Some(""), &[]), "");
        assert_eq!(canonical(Some("?"), &[]), "");
    }

    #[test]
    fn every_flag_writes_its_key() {
        let flags = [
            ("actor", "user:12"),
            ("not-actor", "token:3"),
            ("method", "post"),
            ("not-method", "GET"),
            ("source", "cli"),
            ("not-source", "dashboard"),
            ("action", "application.deploy"),
            ("not-action", "application.list"),
            ("status", "5xx"),
            ("not-status", "404"),
            ("resource-type", "application"),
            ("not-resource-type", "api_token"),
            ("application", "7"),
            ("not-application", "8"),
            ("cluster", "2"),
            ("not-cluster", "3"),
            ("search", "deploy api"),
            ("range", "24h"),
        ];
        assert_eq!(
            canonical(None, &flags),
            "range=24h&actor=user:12&actor.not=token:3&method=POST&method.not=GET&source=cli\
             &source.not=dashboard&action=application.deploy&action.not=application.list\
             &status=5xx&status.not=404&resource_type=application&resource_type.not=api_token\
             &application=7&application.not=8&cluster=2&cluster.not=3&q=deploy+api"
        );
    }

    #[test]
    fn flags_repeat_and_take_comma_lists() {
        assert_eq!(
            canonical(
                None,
                &[
                    ("method", "DELETE"),
                    ("method", "post"),
                    ("status", "4xx,5xx")
                ]
            ),
            "method=POST&method=DELETE&status=4xx&status=5xx"
        );
    }

    #[test]
    fn flags_are_merged_into_the_query() {
        assert_eq!(
            canonical(
                Some("?method.not=GET&status=500&range=24h"),
                &[("status", "404"), ("not-actor", "token:3")]
            ),
            "range=24h&actor.not=token:3&method.not=GET&status=404&status=500"
        );
        // The same value twice is one value.
        assert_eq!(
            canonical(Some("method=POST"), &[("method", "POST")]),
            "method=POST"
        );
    }

    #[test]
    fn a_whole_dashboard_url_gives_its_query_part() {
        let url = "http://localhost:8080/projects/1/security/audit-logs?method.not=GET&range=24h";
        assert_eq!(
            canonical(Some(url), &[("source", "cli"), ("not-status", "4xx")]),
            "range=24h&method.not=GET&source=cli&status.not=4xx"
        );
        assert_eq!(
            canonical(
                Some("  HTTPS://audit.example.com/projects/1/security/audit-logs?q=deploy#top "),
                &[]
            ),
            "q=deploy"
        );
        assert_eq!(
            canonical(Some("/projects/1/security/audit-logs?source=cli"), &[]),
            "source=cli"
        );
        assert_eq!(
            canonical(
                Some("audit.example.com/projects/1/security/audit-logs?status=5xx"),
                &[]
            ),
            "status=5xx"
        );
        assert_eq!(
            canonical(
                Some("https://audit.example.com/projects/1/security/audit-logs"),
                &[]
            ),
            ""
        );
        // A `?` inside a value is not an address.
        assert_eq!(canonical(Some("q=why?"), &[]), "q=why%3F");
    }

    #[test]
    fn range_flags_replace_the_window_of_the_query() {
        assert_eq!(canonical(Some("range=24h"), &[("range", "1h")]), "range=1h");
        assert_eq!(
            canonical(Some("range=24h"), &[("from", "2026-11-20T01:00:00+01:00")]),
            "from=2026-11-20T00:00:00Z"
        );
        assert_eq!(
            canonical(
                Some("from=2026-11-20T00:00:00Z&to=2026-11-22T00:00:00Z"),
                &[("to", "2026-11-21T00:00:00Z")]
            ),
            "from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z"
        );
        assert_eq!(
            canonical(
                Some("from=2026-11-20T00:00:00Z&to=2026-11-22T00:00:00Z"),
                &[("range", "7d")]
            ),
            ""
        );
    }

    #[test]
    fn search_and_limit_replace_those_of_the_query() {
        let arguments = arguments(Some("q=old&limit=20"), &[("search", "new text")]);
        let query = build_query(&arguments, Some("100")).expect("valid");
        assert_eq!(query.to_query_string(), "q=new+text&limit=100");
        let kept = build_query(&arguments, None).expect("valid");
        assert_eq!(kept.to_query_string(), "q=new+text&limit=20");
    }

    #[test]
    fn flag_values_are_values_never_query_syntax() {
        let text = "100% & a=b + c, \"quoted\" 'x' é";
        let query = build_query(&arguments(None, &[("search", text)]), None).expect("valid");
        assert_eq!(query.search.expect("a search").as_str(), text);
        // An attempt to smuggle another key in is an invalid method, not a search.
        let smuggled = error(None, &[("method", "POST&q=x")]);
        assert!(
            smuggled.contains("invalid --method") && smuggled.contains("`POST&q=x`"),
            "{smuggled}"
        );
    }

    #[test]
    fn bad_values_are_refused_naming_the_flag_the_key_and_the_value() {
        let status = error(None, &[("status", "7xx")]);
        assert_eq!(
            status,
            "invalid --status: invalid value `7xx` for `status`: expected a status code \
             (100-599) or class (1xx-5xx)"
        );
        let excluded = error(None, &[("not-resource-type", "app")]);
        assert!(
            excluded.starts_with(
                "invalid --not-resource-type: invalid value `app` for `resource_type.not`"
            ),
            "{excluded}"
        );
        assert!(error(None, &[("actor", "bob")]).contains("`bob` for `actor`"));
        assert!(error(None, &[("application", "0")]).contains("`0` for `application`"));
        assert!(error(None, &[("range", "2w")]).starts_with("invalid --range: invalid value `2w`"));
        assert!(error(None, &[("from", "yesterday")])
            .starts_with("invalid --from: invalid value `yesterday` for `from`"));
        assert!(error(None, &[("search", "a\nb")]).starts_with("invalid --search"));
        let limit = build_query(&arguments(None, &[]), Some("0"))
            .expect_err("limit 0")
            .to_string();
        assert!(
            limit.starts_with("invalid --limit: invalid value `0` for `limit`"),
            "{limit}"
        );
    }

    #[test]
    fn conflicting_flags_are_refused() {
        let range = error(None, &[("range", "24h"), ("from", "2026-11-20T00:00:00Z")]);
        assert!(
            range.starts_with("--range cannot be combined with --from or --to"),
            "{range}"
        );
        assert!(
            error(None, &[("range", "24h"), ("to", "2026-11-20T00:00:00Z")])
                .starts_with("--range cannot be combined")
        );
        let reversed = error(
            None,
            &[
                ("from", "2026-11-21T00:00:00Z"),
                ("to", "2026-11-20T00:00:00Z"),
            ],
        );
        assert!(
            reversed.starts_with("invalid --from/--to") && reversed.contains("must be before"),
            "{reversed}"
        );
        let both = error(None, &[("method", "GET"), ("not-method", "get")]);
        assert!(
            both.starts_with("--method and --not-method name the same value: `GET`"),
            "{both}"
        );
    }

    #[test]
    fn flags_that_contradict_the_query_are_refused() {
        let both = error(
            Some("http://localhost:8080/projects/1/security/audit-logs?method.not=GET"),
            &[("method", "GET")],
        );
        assert!(
            both.starts_with("the flags do not combine with --query")
                && both.contains("`GET` is both included (`method`) and excluded (`method.not`)"),
            "{both}"
        );
        let reversed = error(
            Some("from=2026-11-22T00:00:00Z"),
            &[("to", "2026-11-21T00:00:00Z")],
        );
        assert!(
            reversed.starts_with("the flags do not combine with --query")
                && reversed.contains("must be before"),
            "{reversed}"
        );
    }

    #[test]
    fn a_bad_query_is_refused_as_such() {
        assert!(error(Some("colour=red"), &[])
            .starts_with("invalid --query: unknown query parameter `colour`"));
        assert!(error(
            Some("https://audit.example.com/projects/1/security/audit-logs?status=7xx"),
            &[("method", "POST")]
        )
        .starts_with("invalid --query: invalid value `7xx` for `status`"));
    }

    #[test]
    fn a_pasted_next_page_keeps_its_cursor() {
        let cursor = auditlog_shared::Cursor {
            direction: auditlog_shared::CursorDirection::Older,
            timestamp_micros: 1_790_000_000_000_000,
            id: 42,
        }
        .encode();
        let next = format!("range=24h&method.not=GET&cursor={cursor}");
        assert_eq!(
            canonical(Some(&next), &[("source", "cli")]),
            format!("range=24h&method.not=GET&source=cli&cursor={cursor}")
        );
    }
}
