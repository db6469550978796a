//! `auditlog streams`: the project's stream destinations, where the server pushes the audit log
//! (webhooks and Splunk's HTTP Event Collector).
//!
//! Every flag is checked before the stored sign-in is read and before any request is made
//! ([`check_command`]): a filter by the shared audit query parser, as `--query` is for
//! `auditlog logs list`, the custom headers, and Splunk's token (read from the environment with
//! `--token-env`, so that it stays out of the shell's history).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::process::ExitCode;

use auditlog_shared::wire::{
    CreateStreamDestination, CreatedStreamDestination, StreamDestination, StreamKind, StreamStatus,
    StreamTestResult, UpdateStreamDestination,
};
use auditlog_shared::AuditQuery;

use super::ProjectSession;
use crate::arguments::{
    StreamCommand, StreamCreateArguments, StreamKindArgument, StreamTokenArguments,
    StreamUpdateArguments,
};
use crate::output::{format_optional_instant, group_digits, print_json, Table};

/// The most characters of a last error the list shows.
const LAST_ERROR_WIDTH: usize = 60;

/// A checked `auditlog streams` command: what to ask the server.
#[derive(Debug)]
pub enum StreamAction {
    List,
    Create(Box<CreateStreamDestination>),
    Update {
        id: i64,
        request: Box<UpdateStreamDestination>,
    },
    Pause(i64),
    Resume(i64),
    Test(i64),
    Delete(i64),
}

/// Checks a command's flags and turns them into the request to send; every mistake is an error
/// here, before any request. Reads the environment for `--token-env`.
pub fn check_command(command: StreamCommand) -> anyhow::Result<StreamAction> {
    check_command_with(command, |name| std::env::var_os(name))
}

fn check_command_with(
    command: StreamCommand,
    environment: impl Fn(&str) -> Option<OsString>,
) -> anyhow::Result<StreamAction> {
    Ok(match command {
        StreamCommand::List => StreamAction::List,
        StreamCommand::Create(arguments) => {
            StreamAction::Create(Box::new(create_request(*arguments, environment)?))
        }
        StreamCommand::Update(arguments) => {
            let id = arguments.id;
            StreamAction::Update {
                id,
                request: Box::new(update_request(*arguments, environment)?),
            }
        }
        StreamCommand::Pause { id } => StreamAction::Pause(id),
        StreamCommand::Resume { id } => StreamAction::Resume(id),
        StreamCommand::Test { id } => StreamAction::Test(id),
        StreamCommand::Delete { id } => StreamAction::Delete(id),
    })
}

/// Runs a checked `auditlog streams` command. The exit code is a failure when a test message
/// was not delivered.
pub async fn run_stream_command(
    session: &ProjectSession,
    action: StreamAction,
) -> anyhow::Result<ExitCode> {
    match action {
        StreamAction::List => list_destinations(session).await?,
        StreamAction::Create(request) => create_destination(session, &request).await?,
        StreamAction::Update { id, request } => {
            let destination = update_destination(session, id, &request).await?;
            if let Some(destination) = destination {
                println!(
                    "Updated stream destination {}.",
                    describe_destination(&destination)
                );
            }
        }
        StreamAction::Pause(id) => {
            let request = UpdateStreamDestination {
                paused: Some(true),
                ..UpdateStreamDestination::default()
            };
            if let Some(destination) = update_destination(session, id, &request).await? {
                println!(
                    "Paused stream destination {} (#{}): entries wait until `auditlog streams \
                     resume {}`.",
                    destination.name, destination.id, destination.id
                );
            }
        }
        StreamAction::Resume(id) => {
            let request = UpdateStreamDestination {
                paused: Some(false),
                ..UpdateStreamDestination::default()
            };
            if let Some(destination) = update_destination(session, id, &request).await? {
                println!(
                    "Resumed stream destination {} (#{}): status {}, {} behind.",
                    destination.name,
                    destination.id,
                    status_label(destination.status),
                    describe_lag(&destination)
                );
            }
        }
        StreamAction::Test(id) => return test_destination(session, id).await,
        StreamAction::Delete(id) => delete_destination(session, id).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The body of `POST …/streams` for `auditlog streams create`.
fn create_request(
    arguments: StreamCreateArguments,
    environment: impl Fn(&str) -> Option<OsString>,
) -> anyhow::Result<CreateStreamDestination> {
    let filter = match arguments.filter {
        Some(filter) => check_filter(&filter)?,
        None => String::new(),
    };
    let headers = parse_headers(&arguments.headers)?;
    let token = read_token(&arguments.token, environment)?;
    let kind = wire_kind(arguments.kind);
    match (kind, &token) {
        (StreamKind::Webhook, Some(_)) => anyhow::bail!(
            "a webhook takes no token: the server makes its signing secret (--token and \
             --token-env are for --kind splunk-hec and datadog)"
        ),
        (StreamKind::SplunkHec, None) => anyhow::bail!(
            "--kind splunk-hec needs the collector's HEC token: pass --token-env VARIABLE (or \
             --token TOKEN)"
        ),
        (StreamKind::Syslog, Some(_)) => anyhow::bail!("a syslog destination takes no token"),
        (StreamKind::Datadog, None) => anyhow::bail!(
            "--kind datadog needs a Datadog API key: pass --token-env VARIABLE (or --token KEY)"
        ),
        _ => {}
    }
    Ok(CreateStreamDestination {
        name: arguments.name,
        kind,
        url: arguments.endpoint,
        filter,
        headers,
        token,
        backfill: arguments.backfill,
    })
}

/// The body of `PATCH …/streams/{id}` for `auditlog streams update`.
fn update_request(
    arguments: StreamUpdateArguments,
    environment: impl Fn(&str) -> Option<OsString>,
) -> anyhow::Result<UpdateStreamDestination> {
    let changes_nothing = arguments.name.is_none()
        && arguments.endpoint.is_none()
        && arguments.filter.is_none()
        && arguments.headers.is_empty()
        && !arguments.no_headers
        && arguments.token.token.is_none()
        && arguments.token.token_env.is_none();
    if changes_nothing {
        anyhow::bail!(
            "nothing to change: give --name, --endpoint, --filter, --header, --no-headers, \
             --token or --token-env (`auditlog streams pause` and `resume` pause and resume)"
        );
    }
    let filter = arguments.filter.as_deref().map(check_filter).transpose()?;
    let headers = if arguments.no_headers {
        Some(BTreeMap::new())
    } else if arguments.headers.is_empty() {
        None
    } else {
        Some(parse_headers(&arguments.headers)?)
    };
    Ok(UpdateStreamDestination {
        name: arguments.name,
        url: arguments.endpoint,
        filter,
        headers,
        token: read_token(&arguments.token, environment)?,
        paused: None,
    })
}

/// Checks a filter with the shared parser (no window, no page) and returns it as given.
pub fn check_filter(text: &str) -> anyhow::Result<String> {
    AuditQuery::parse_filter(text).map_err(|error| anyhow::anyhow!("invalid --filter: {error}"))?;
    Ok(text.trim().to_string())
}

/// Reads `--header 'Name: value'` flags. Names are compared case-insensitively, as HTTP does;
/// the server checks which names and values it accepts.
pub fn parse_headers(values: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut headers = BTreeMap::new();
    for text in values {
        let invalid = || {
            anyhow::anyhow!(
                "invalid --header `{text}`: expected 'Name: value', e.g. 'X-Team: security'"
            )
        };
        let (name, value) = text.split_once(':').ok_or_else(invalid)?;
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() || value.is_empty() || name.contains(char::is_whitespace) {
            return Err(invalid());
        }
        let taken = headers
            .keys()
            .any(|known: &String| known.eq_ignore_ascii_case(name));
        if taken {
            anyhow::bail!("--header `{name}` is given twice");
        }
        headers.insert(name.to_string(), value.to_string());
    }
    Ok(headers)
}

/// Splunk's token: `--token`, or the variable `--token-env` names.
fn read_token(
    arguments: &StreamTokenArguments,
    environment: impl Fn(&str) -> Option<OsString>,
) -> anyhow::Result<Option<String>> {
    if let Some(token) = &arguments.token {
        if token.trim().is_empty() {
            anyhow::bail!("--token is empty");
        }
        return Ok(Some(token.clone()));
    }
    let Some(variable) = &arguments.token_env else {
        return Ok(None);
    };
    let value = environment(variable).ok_or_else(|| {
        anyhow::anyhow!("--token-env: the environment variable `{variable}` is not set")
    })?;
    let token = value.into_string().map_err(|_| {
        anyhow::anyhow!("--token-env: the environment variable `{variable}` is not valid UTF-8")
    })?;
    if token.trim().is_empty() {
        anyhow::bail!("--token-env: the environment variable `{variable}` is empty");
    }
    Ok(Some(token))
}

/// The wire kind for a kind given on the command line.
pub fn wire_kind(kind: StreamKindArgument) -> StreamKind {
    match kind {
        StreamKindArgument::Webhook => StreamKind::Webhook,
        StreamKindArgument::SplunkHec => StreamKind::SplunkHec,
        StreamKindArgument::Syslog => StreamKind::Syslog,
        StreamKindArgument::Datadog => StreamKind::Datadog,
    }
}

/// A status as the API spells it.
pub fn status_label(status: StreamStatus) -> &'static str {
    match status {
        StreamStatus::Active => "active",
        StreamStatus::Paused => "paused",
        StreamStatus::Retrying => "retrying",
        StreamStatus::Failing => "failing",
    }
}

/// The table `auditlog streams list` prints.
pub fn destination_table(destinations: &[StreamDestination]) -> Table {
    let mut table = Table::new(&[
        "ID",
        "NAME",
        "KIND",
        "STATUS",
        "LAG",
        "DELIVERED",
        "LAST DELIVERY",
        "LAST ERROR",
    ]);
    for destination in destinations {
        table.add_row(vec![
            destination.id.to_string(),
            destination.name.clone(),
            destination.kind.as_str().to_string(),
            status_label(destination.status).to_string(),
            format_lag(destination.lag_entries, destination.lag_seconds),
            group_digits(u64::try_from(destination.delivered_entries).unwrap_or(0)),
            format_optional_instant(destination.last_delivery_at, "never"),
            destination.last_error.as_deref().map_or_else(
                || "-".to_string(),
                |error| truncate(error, LAST_ERROR_WIDTH),
            ),
        ]);
    }
    table
}

/// A lag as the list shows it: `0` when caught up, else the entries and the age of the oldest,
/// such as `1,204 (3m 05s)`.
pub fn format_lag(entries: i64, seconds: f64) -> String {
    if entries <= 0 {
        return "0".to_string();
    }
    format!(
        "{} ({})",
        group_digits(u64::try_from(entries).unwrap_or(0)),
        format_duration(seconds)
    )
}

/// A duration as people read it, to its two largest units: `42s`, `3m 05s`, `2h 10m`, `4d 03h`.
pub fn format_duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 1.0 {
        return "<1s".to_string();
    }
    // Whole seconds are precise enough for a lag; the cast saturates.
    let total = seconds as u64;
    let (days, hours, minutes, seconds) = (
        total / 86_400,
        total % 86_400 / 3_600,
        total % 3_600 / 60,
        total % 60,
    );
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, _) => format!("{minutes}m {seconds:02}s"),
        (0, _, _) => format!("{hours}h {minutes:02}m"),
        _ => format!("{days}d {hours:02}h"),
    }
}

/// Text on one line, cut to `width` characters with an ellipsis.
fn truncate(text: &str, width: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= width {
        return line;
    }
    let mut cut: String = line.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// `SIEM (#3): webhook to https://…, every entry, status active`.
fn describe_destination(destination: &StreamDestination) -> String {
    let headers = if destination.header_names.is_empty() {
        String::new()
    } else {
        format!(" with headers {}", destination.header_names.join(", "))
    };
    format!(
        "{} (#{}): {} to {}{headers}, {}, status {}",
        destination.name,
        destination.id,
        destination.kind.as_str(),
        destination.url,
        describe_filter(&destination.filter),
        status_label(destination.status)
    )
}

/// What a filter lets through, in words.
fn describe_filter(filter: &str) -> String {
    if filter.is_empty() {
        "every entry".to_string()
    } else {
        format!("entries matching `{filter}`")
    }
}

/// How far a destination is behind, in words.
fn describe_lag(destination: &StreamDestination) -> String {
    match destination.lag_entries {
        0 => "no entry".to_string(),
        1 => "1 entry".to_string(),
        entries => format!(
            "{} entries",
            group_digits(u64::try_from(entries).unwrap_or(0))
        ),
    }
}

async fn list_destinations(session: &ProjectSession) -> anyhow::Result<()> {
    let empty = format!("No stream destinations in project #{}.", session.project_id);
    session
        .print_list("/streams", &empty, destination_table)
        .await
}

async fn create_destination(
    session: &ProjectSession,
    request: &CreateStreamDestination,
) -> anyhow::Result<()> {
    let Some(created) = session
        .post::<_, CreatedStreamDestination>("/streams", request)
        .await?
    else {
        return Ok(());
    };
    let since = if request.backfill {
        "the entries already kept, oldest first, then those written from now on"
    } else {
        "the entries written from now on"
    };
    println!(
        "Created stream destination {}. It receives {since}.",
        describe_destination(&created.destination)
    );
    if let Some(secret) = &created.signing_secret {
        println!();
        println!("Signing secret (shown once):");
        println!();
        println!("    {secret}");
        println!();
        println!(
            "Every delivery carries `Auditlog-Signature: t=<unix seconds>,v1=<hex>`, the \
             HMAC-SHA256 of `<t>.<body>` keyed with this secret. Store it now: it will not be \
             shown again."
        );
    }
    Ok(())
}

/// Sends a `PATCH`; prints the JSON with `--json` and returns `None`, else returns the changed
/// destination for the caller to describe.
async fn update_destination(
    session: &ProjectSession,
    id: i64,
    request: &UpdateStreamDestination,
) -> anyhow::Result<Option<StreamDestination>> {
    session.patch(&format!("/streams/{id}"), request).await
}

async fn test_destination(session: &ProjectSession, id: i64) -> anyhow::Result<ExitCode> {
    let answer = session
        .client
        .post_json::<_, StreamTestResult>(
            &session.project_path(&format!("/streams/{id}/test")),
            &serde_json::json!({}),
        )
        .await?;
    let result = answer.value;
    if session.json {
        print_json(&answer.raw)?;
    } else {
        println!("{}", describe_test(id, &result));
    }
    Ok(if result.delivered {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The line `auditlog streams test` prints.
pub fn describe_test(id: i64, result: &StreamTestResult) -> String {
    let answer = match result.status {
        Some(status) => format!("HTTP {status}"),
        None => "no answer".to_string(),
    };
    let duration = format!("{:.0} ms", result.duration_ms);
    if result.delivered {
        return format!(
            "Delivered a test message to stream destination #{id}: {answer} in {duration}."
        );
    }
    let error = result
        .error
        .as_deref()
        .map_or_else(String::new, |error| format!(": {error}"));
    format!("Test message NOT delivered to stream destination #{id} ({answer}, {duration}){error}")
}

async fn delete_destination(session: &ProjectSession, id: i64) -> anyhow::Result<()> {
    let done = format!("Deleted stream destination #{id}.");
    session.delete(&format!("/streams/{id}"), &done).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn instant(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("valid instant")
            .with_timezone(&Utc)
    }

    fn destination(id: i64, name: &str) -> StreamDestination {
        let created = instant("2026-11-01T08:00:00Z");
        StreamDestination {
            id,
            name: name.to_string(),
            kind: StreamKind::Webhook,
            url: "https://hooks.example.com/audit".to_string(),
            filter: String::new(),
            header_names: Vec::new(),
            paused: false,
            status: StreamStatus::Active,
            delivered_through_seq: 0,
            lag_entries: 0,
            lag_seconds: 0.0,
            delivered_entries: 0,
            last_delivery_at: None,
            last_error: None,
            last_error_at: None,
            consecutive_failures: 0,
            next_attempt_at: None,
            created_by: "Ada".to_string(),
            created_at: created,
            updated_at: created,
        }
    }

    fn create_arguments(kind: StreamKindArgument) -> StreamCreateArguments {
        StreamCreateArguments {
            name: "SIEM".to_string(),
            kind,
            endpoint: "https://hooks.example.com/audit".to_string(),
            filter: None,
            headers: Vec::new(),
            token: StreamTokenArguments::default(),
            backfill: false,
        }
    }

    fn no_environment(_: &str) -> Option<OsString> {
        None
    }

    #[test]
    fn the_destination_table_shows_health_lag_and_a_short_last_error() {
        let caught_up = StreamDestination {
            delivered_entries: 12_345,
            last_delivery_at: Some(instant("2026-11-27T09:30:00Z")),
            ..destination(3, "SIEM")
        };
        let failing = StreamDestination {
            kind: StreamKind::SplunkHec,
            status: StreamStatus::Failing,
            lag_entries: 1_204,
            lag_seconds: 185.4,
            last_error: Some(
                "the destination answered 503 Service Unavailable:\nupstream is down for \
                 maintenance until further notice"
                    .to_string(),
            ),
            consecutive_failures: 7,
            ..destination(14, "splunk")
        };
        assert_eq!(
            destination_table(&[caught_up, failing]).render(),
            "ID  NAME    KIND        STATUS   LAG             DELIVERED  LAST DELIVERY            LAST ERROR\n\
             3   SIEM    webhook     active   0               12,345     2026-11-27 09:30:00 UTC  -\n\
             14  splunk  splunk_hec  failing  1,204 (3m 05s)  0          never                    the destination answered 503 Service Unavailable: upstream …\n"
        );
    }

    #[test]
    fn durations_read_in_their_two_largest_units() {
        assert_eq!(format_duration(0.2), "<1s");
        assert_eq!(format_duration(42.9), "42s");
        assert_eq!(format_duration(185.0), "3m 05s");
        assert_eq!(format_duration(7_800.0), "2h 10m");
        assert_eq!(format_duration(356_400.0), "4d 03h");
        assert_eq!(format_duration(f64::NAN), "<1s");
    }

    #[test]
    fn filters_are_checked_by_the_shared_parser_and_take_no_window() {
        assert_eq!(
            check_filter(" method.not=GET&action.not=audit_log.* ").expect("a filter"),
            "method.not=GET&action.not=audit_log.*"
        );
        let error = check_filter("range=24h").expect_err("a window").to_string();
        assert!(
            error.starts_with("invalid --filter: `range` sets a window or a page"),
            "{error}"
        );
        let error = check_filter("status=7xx")
            .expect_err("a bad value")
            .to_string();
        assert!(
            error.starts_with("invalid --filter: invalid value `7xx` for `status`"),
            "{error}"
        );
    }

    #[test]
    fn headers_are_name_colon_value_each_name_once() {
        let headers = parse_headers(&["X-Team: security".to_string(), "X-Env:prod".to_string()])
            .expect("valid headers");
        assert_eq!(
            headers.into_iter().collect::<Vec<_>>(),
            vec![
                ("X-Env".to_string(), "prod".to_string()),
                ("X-Team".to_string(), "security".to_string())
            ]
        );
        for invalid in ["X-Team", ": value", "X-Team:", "X Team: a"] {
            let error = parse_headers(&[invalid.to_string()]).expect_err(invalid);
            assert!(
                error.to_string().contains("expected 'Name: value'"),
                "{error}"
            );
        }
        let error =
            parse_headers(&["X-Team: a".to_string(), "x-team: b".to_string()]).expect_err("twice");
        assert_eq!(error.to_string(), "--header `x-team` is given twice");
    }

    #[test]
    fn splunk_needs_a_token_read_from_the_environment_and_webhooks_refuse_one() {
        let mut splunk = create_arguments(StreamKindArgument::SplunkHec);
        let error = create_request(splunk.clone(), no_environment).expect_err("no token");
        assert!(error.to_string().contains("--token-env"), "{error}");

        splunk.token.token_env = Some("HEC_TOKEN".to_string());
        let error = create_request(splunk.clone(), no_environment).expect_err("unset");
        assert_eq!(
            error.to_string(),
            "--token-env: the environment variable `HEC_TOKEN` is not set"
        );
        let request = create_request(splunk, |name| {
            (name == "HEC_TOKEN").then(|| OsString::from("0f3c-secret"))
        })
        .expect("a token from the environment");
        assert_eq!(request.kind, StreamKind::SplunkHec);
        assert_eq!(request.token.as_deref(), Some("0f3c-secret"));

        let mut webhook = create_arguments(StreamKindArgument::Webhook);
        let request = create_request(webhook.clone(), no_environment).expect("a webhook");
        assert_eq!((request.token, request.filter), (None, String::new()));
        webhook.token.token = Some("anything".to_string());
        let error = create_request(webhook, no_environment).expect_err("a webhook's token");
        assert!(
            error.to_string().starts_with("a webhook takes no token"),
            "{error}"
        );
    }

    #[test]
    fn updates_change_only_what_is_given() {
        let arguments = StreamUpdateArguments {
            id: 3,
            name: None,
            endpoint: None,
            filter: Some("source=cli".to_string()),
            headers: Vec::new(),
            no_headers: true,
            token: StreamTokenArguments::default(),
        };
        let nothing = StreamUpdateArguments {
            filter: None,
            no_headers: false,
            ..arguments.clone()
        };
        let error = update_request(nothing, no_environment).expect_err("no change");
        assert!(
            error.to_string().starts_with("nothing to change"),
            "{error}"
        );
        let request = update_request(arguments, no_environment).expect("an update");
        assert_eq!(
            serde_json::to_value(&request).expect("JSON"),
            serde_json::json!({
                "name": null, "url": null, "filter": "source=cli", "headers": {},
                "token": null, "paused": null
            })
        );
    }

    #[test]
    fn test_results_say_whether_the_message_was_delivered() {
        let delivered = StreamTestResult {
            delivered: true,
            status: Some(200),
            error: None,
            duration_ms: 12.4,
        };
        assert_eq!(
            describe_test(3, &delivered),
            "Delivered a test message to stream destination #3: HTTP 200 in 12 ms."
        );
        let refused = StreamTestResult {
            delivered: false,
            status: None,
            error: Some("connection refused".to_string()),
            duration_ms: 3.0,
        };
        assert_eq!(
            describe_test(3, &refused),
            "Test message NOT delivered to stream destination #3 (no answer, 3 ms): connection \
             refused"
        );
    }

    #[test]
    fn command_line_kinds_map_to_wire_kinds() {
        assert_eq!(wire_kind(StreamKindArgument::Webhook), StreamKind::Webhook);
        assert_eq!(
            wire_kind(StreamKindArgument::SplunkHec),
            StreamKind::SplunkHec
        );
    }
}
