//! The command line: the global options and the tree of commands, as clap reads them.

use auditlog_shared::wire::{alert_presets, AlertCondition};
use clap::{ArgGroup, Args, Parser, Subcommand};

/// The Auditlog command-line client.
#[derive(Debug, Parser)]
#[command(name = "auditlog", version, about = "The Auditlog command-line client")]
pub struct CommandLine {
    /// The server's base URL. Overrides the URL stored by `auditlog login`.
    #[arg(long, global = true, env = "AUDITLOG_URL")]
    pub url: Option<String>,
    /// The project to work in. Overrides the project stored by `auditlog login`.
    #[arg(long, global = true, value_parser = clap::value_parser!(i64).range(1..))]
    pub project: Option<i64>,
    /// Print the JSON the server returned instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check that the server is up and its database reachable.
    Status,
    /// Check an API token against the server and store it for the other commands.
    Login(LoginArguments),
    /// Forget the stored server URL, token and project.
    Logout,
    /// Work with audit log queries (the query string of the dashboard's URL).
    Query {
        #[command(subcommand)]
        command: QueryCommand,
    },
    /// Manage the project's applications.
    Apps {
        #[command(subcommand)]
        command: ApplicationCommand,
    },
    /// Manage the project's clusters.
    Clusters {
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// See the project's members and invite new ones.
    Members {
        #[command(subcommand)]
        command: MemberCommand,
    },
    /// Manage the project's API tokens.
    Tokens {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Work with the project's audit log.
    Logs {
        #[command(subcommand)]
        command: LogCommand,
    },
    /// Work with exported files (`auditlog logs export` downloads them).
    Export {
        #[command(subcommand)]
        command: ExportCommand,
    },
    /// Manage the project's stream destinations: webhooks and Splunk collectors the server
    /// pushes the audit log to (admins only).
    Streams {
        #[command(subcommand)]
        command: StreamCommand,
    },
    /// Manage the project's alerts: audit filters counted against a condition, whose firings
    /// are sent to a stream destination (admins only).
    Alerts {
        #[command(subcommand)]
        command: AlertCommand,
    },
}

/// The commands under `auditlog export`.
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Check an exported file offline against its signed manifest; exits with code 3 when it is
    /// not the export the server signed (altered, cut short, or rows altered before export).
    Verify(ExportVerifyArguments),
}

/// The arguments of `auditlog export verify`.
#[derive(Clone, Debug, Args)]
pub struct ExportVerifyArguments {
    /// The exported CSV or NDJSON file.
    pub file: std::path::PathBuf,
    /// The manifest; `<FILE>.manifest.json` by default.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<std::path::PathBuf>,
    /// The server's public keys, as `GET /api/v1/audit-log-keys` answers them. By default, the
    /// keys this client saw when it exported or verified (kept in its configuration directory).
    #[arg(long, value_name = "FILE")]
    pub keys: Option<std::path::PathBuf>,
}

/// The arguments of `auditlog login`; the server URL and the project are global options.
#[derive(Debug, Args)]
pub struct LoginArguments {
    /// The API token to sign in with, as shown once when it was created.
    #[arg(long)]
    pub token: String,
}

/// The commands under `auditlog query`.
#[derive(Debug, Subcommand)]
pub enum QueryCommand {
    /// Check a query string and print its canonical form and the window it covers.
    Check {
        /// A query string, with or without the leading `?`, e.g. 'range=24h&method.not=GET'.
        query: String,
        /// Only check locally, without asking the server.
        #[arg(long)]
        offline: bool,
    },
}

/// The commands under `auditlog apps`.
#[derive(Debug, Subcommand)]
pub enum ApplicationCommand {
    /// List the project's applications.
    List,
    /// Create an application.
    Create {
        /// The application's name.
        name: String,
        /// The container image to run, e.g. 'registry.example.com/shop:1.4.2'.
        #[arg(long)]
        image: String,
        /// The id of the cluster to run it on.
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..))]
        cluster: Option<i64>,
    },
    /// Deploy an application, optionally with a new image.
    Deploy {
        /// The application's id.
        #[arg(value_parser = clap::value_parser!(i64).range(1..))]
        id: i64,
        /// The image to deploy; the application's current image when left out.
        #[arg(long)]
        image: Option<String>,
    },
    /// Delete an application.
    Delete {
        /// The application's id.
        #[arg(value_parser = clap::value_parser!(i64).range(1..))]
        id: i64,
    },
}

/// The commands under `auditlog clusters`.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// List the project's clusters.
    List,
    /// Create a cluster.
    Create {
        /// The cluster's name.
        name: String,
        /// The region it runs in, e.g. 'eu-west-1'.
        #[arg(long)]
        region: String,
    },
    /// Delete a cluster.
    Delete {
        /// The cluster's id.
        #[arg(value_parser = clap::value_parser!(i64).range(1..))]
        id: i64,
    },
}

/// The roles a token can be given on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleArgument {
    Viewer,
    Developer,
    Admin,
}

/// The commands under `auditlog members`.
#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// List the project's members and their roles.
    List,
    /// Invite someone by email and print the link they join with (shown once).
    Invite {
        /// The invitee's email address.
        email: String,
        /// Their role once they join.
        #[arg(long, value_enum)]
        role: RoleArgument,
    },
    /// List the invitations nobody has accepted yet.
    Invitations,
    /// Revoke a pending invitation: its link stops working at once.
    RevokeInvitation {
        /// The invitation's id.
        #[arg(value_parser = clap::value_parser!(i64).range(1..))]
        id: i64,
    },
}

/// The commands under `auditlog tokens`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// List the project's API tokens (never their secrets).
    List,
    /// Create an API token and print its secret, once.
    Create {
        /// A name that says who or what uses the token.
        name: String,
        /// What the token may do in the project.
        #[arg(long, value_enum)]
        role: RoleArgument,
        /// Allow the token to post events to the ingest endpoint.
        #[arg(long)]
        ingest: bool,
        /// Days until the token expires; it never expires when left out.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        expires_in_days: Option<u32>,
    },
    /// Revoke an API token; requests carrying it are refused from then on.
    Revoke {
        /// The token's id.
        #[arg(value_parser = clap::value_parser!(i64).range(1..))]
        id: i64,
    },
}

/// The kinds of stream destination, as given on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StreamKindArgument {
    /// NDJSON batches, signed with HMAC-SHA256 (the server makes the signing secret).
    Webhook,
    /// Splunk's HTTP Event Collector (needs the collector's token).
    #[value(alias = "splunk_hec")]
    SplunkHec,
    /// RFC 5424 syslog over TLS (`syslog+tls://host:6514`); no token, no headers.
    Syslog,
    /// Datadog's logs intake (needs an API key).
    Datadog,
}

/// Splunk's HEC token, given as is or read from an environment variable (which keeps it out of
/// the shell's history and the process list).
#[derive(Clone, Debug, Default, Args)]
pub struct StreamTokenArguments {
    /// Splunk's HEC token (splunk-hec only). Prefer --token-env: a token given here stays in the
    /// shell's history.
    #[arg(long, value_name = "TOKEN", conflicts_with = "token_env")]
    pub token: Option<String>,
    /// Read Splunk's HEC token from this environment variable, e.g. --token-env SPLUNK_HEC_TOKEN.
    #[arg(long, value_name = "VARIABLE")]
    pub token_env: Option<String>,
}

/// The commands under `auditlog streams`. A destination is named by its id, as `auditlog
/// streams list` shows it.
#[derive(Debug, Subcommand)]
pub enum StreamCommand {
    /// List the project's stream destinations with their health and how far behind they are.
    List,
    /// Create a stream destination; the server first checks that it answers. A webhook's signing
    /// secret is printed once.
    Create(Box<StreamCreateArguments>),
    /// Change a stream destination: a new endpoint, token or headers is checked by the server
    /// before it is kept.
    Update(Box<StreamUpdateArguments>),
    /// Pause a stream destination: nothing is sent, entries wait until it is resumed.
    Pause {
        /// The destination's id.
        #[arg(value_parser = clap::value_parser!(i64).range(1..))]
        id: i64,
    },
    /// Resume a paused stream destination: delivery (and any retry) starts at once.
    Resume {
        /// The destination's id.
        #[arg(value_parser = clap::value_parser!(i64).range(1..))]
        id: i64,
    },
    /// Send one test message to a stream destination now; exits with code 1 when it was not
    /// delivered.
    Test {
        /// The destination's id.
        #[arg(value_parser = clap::value_parser!(i64).range(1..))]
        id: i64,
    },
    /// Delete a stream destination: nothing more is sent to it.
    Delete {
        /// The destination's id.
        #[arg(value_parser = clap::value_parser!(i64).range(1..))]
        id: i64,
    },
}

/// The arguments of `auditlog streams create`.
#[derive(Clone, Debug, Args)]
pub struct StreamCreateArguments {
    /// The destination's name, unique in the project.
    pub name: String,
    /// What the endpoint is.
    #[arg(long, value_enum)]
    pub kind: StreamKindArgument,
    /// Where deliveries go: https://… (plain http:// only to private addresses the server
    /// allows). For splunk-hec, the collector's base URL is enough.
    #[arg(long, value_name = "URL")]
    pub endpoint: String,
    /// Deliver only the entries this audit filter matches (a query string without range, from,
    /// to, limit or cursor), e.g. 'method.not=GET&action.not=audit_log.*'. Every entry when left
    /// out.
    #[arg(long, value_name = "FILTER")]
    pub filter: Option<String>,
    /// A custom header sent with every delivery, as 'Name: value'; may be repeated.
    #[arg(long = "header", value_name = "'NAME: VALUE'")]
    pub headers: Vec<String>,
    #[command(flatten)]
    pub token: StreamTokenArguments,
    /// Deliver the entries already kept too, oldest first; otherwise only those written from
    /// now on.
    #[arg(long)]
    pub backfill: bool,
}

/// The arguments of `auditlog streams update`: at least one change.
#[derive(Clone, Debug, Args)]
pub struct StreamUpdateArguments {
    /// The destination's id.
    #[arg(value_parser = clap::value_parser!(i64).range(1..))]
    pub id: i64,
    /// A new name.
    #[arg(long)]
    pub name: Option<String>,
    /// A new endpoint URL.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// A new audit filter; '' delivers every entry.
    #[arg(long, value_name = "FILTER")]
    pub filter: Option<String>,
    /// The custom headers, as 'Name: value' (repeat for several); they replace every custom
    /// header the destination had.
    #[arg(
        long = "header",
        value_name = "'NAME: VALUE'",
        conflicts_with = "no_headers"
    )]
    pub headers: Vec<String>,
    /// Remove every custom header.
    #[arg(long)]
    pub no_headers: bool,
    #[command(flatten)]
    pub token: StreamTokenArguments,
}

/// The commands under `auditlog alerts`. An alert is named by its id, as `auditlog alerts list`
/// shows it; a stream destination by its id, as `auditlog streams list` shows it.
#[derive(Debug, Subcommand)]
pub enum AlertCommand {
    /// List the project's alerts with their condition, destination and how often they fired.
    List,
    /// List the ready-made alerts `auditlog alerts create --preset KEY` creates.
    Presets,
    /// Create an alert, from a preset or from a filter and a condition. It counts the entries
    /// written from now on; its filter and condition cannot be changed afterwards.
    Create(Box<AlertCreateArguments>),
    /// Rename an alert.
    Rename {
        /// The alert's id.
        #[arg(value_parser = clap::value_parser!(i64).range(1..))]
        id: i64,
        /// The new name, unique in the project.
        name: String,
    },
    /// Pause an alert: it counts nothing until it is resumed.
    Pause {
        /// The alert's id.
        #[arg(value_parser = clap::value_parser!(i64).range(1..))]
        id: i64,
    },
    /// Resume a paused alert: it goes on from the entries written while it was paused.
    Resume {
        /// The alert's id.
        #[arg(value_parser = clap::value_parser!(i64).range(1..))]
        id: i64,
    },
    /// Send an alert's notifications to another stream destination.
    Route {
        /// The alert's id.
        #[arg(value_parser = clap::value_parser!(i64).range(1..))]
        id: i64,
        /// The id of the stream destination to send its notifications to.
        #[arg(long, value_name = "ID", value_parser = clap::value_parser!(i64).range(1..))]
        destination: i64,
    },
    /// Delete an alert and its firings.
    Delete {
        /// The alert's id.
        #[arg(value_parser = clap::value_parser!(i64).range(1..))]
        id: i64,
    },
    /// List an alert's firings, newest first, with the dashboard view of the entries that fired
    /// each.
    Firings {
        /// The alert's id.
        #[arg(value_parser = clap::value_parser!(i64).range(1..))]
        id: i64,
    },
}

/// What a threshold counts separately, as given on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AlertGroupByArgument {
    /// The entry's actor (a user or a token).
    Actor,
    /// The resource the request touched.
    Resource,
    /// The client's IP address.
    #[value(name = "client_ip", alias = "client-ip")]
    ClientIp,
}

/// The arguments of `auditlog alerts create`: a preset, or a condition (`--any`, or `--count`
/// with `--window`) with an optional filter and change.
#[derive(Clone, Debug, Args)]
#[command(group(
    ArgGroup::new("condition")
        .args(["preset", "any", "count"])
        .required(true)
        .multiple(false)
))]
pub struct AlertCreateArguments {
    /// The alert's name, unique in the project; the preset's name when left out with --preset.
    #[arg(required_unless_present = "preset")]
    pub name: Option<String>,
    /// The id of the stream destination its notifications are sent to (`auditlog streams
    /// list` shows the ids).
    #[arg(long, value_name = "ID", value_parser = clap::value_parser!(i64).range(1..))]
    pub destination: i64,
    /// Start from a ready-made alert (`auditlog alerts presets` lists them), which sets the
    /// filter, change and condition.
    #[arg(
        long,
        value_name = "KEY",
        value_parser = clap::builder::PossibleValuesParser::new(
            alert_presets().into_iter().map(|preset| preset.key)
        ),
        conflicts_with_all = ["filter", "changed", "window", "group_by"]
    )]
    pub preset: Option<String>,
    /// Count only the entries this audit filter matches (a query string without range, from,
    /// to, limit or cursor), e.g. 'action=api_token.create&status=2xx'. Every entry when left
    /// out.
    #[arg(long, value_name = "FILTER")]
    pub filter: Option<String>,
    /// Count only the entries whose recorded changes set this field, to VALUE when given, e.g.
    /// 'role=admin' (or 'role' for any change of the role).
    #[arg(long, value_name = "FIELD[=VALUE]")]
    pub changed: Option<String>,
    /// Fire once for every matching entry.
    #[arg(long, conflicts_with_all = ["window", "group_by"])]
    pub any: bool,
    /// Fire when this many matching entries (2 to 10,000) fall within --window.
    #[arg(
        long,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(2..=i64::from(AlertCondition::MAX_COUNT)),
        requires = "window"
    )]
    pub count: Option<u32>,
    /// The window of --count, a number and a unit: 90s, 10m, 2h or 1d (at most 7d).
    #[arg(
        long,
        value_name = "DURATION",
        value_parser = parse_window,
        requires = "count"
    )]
    pub window: Option<u32>,
    /// Count each actor, resource or client IP address separately (with --count).
    #[arg(long, value_enum, value_name = "GROUP", requires = "count")]
    pub group_by: Option<AlertGroupByArgument>,
}

/// Reads a window such as `90s`, `10m`, `2h` or `1d` as seconds: a whole number and one unit,
/// from 1 second to 7 days.
pub fn parse_window(text: &str) -> Result<u32, String> {
    let expected = "expected a whole number and a unit (s, m, h or d), e.g. 90s, 10m, 2h or 1d";
    let text = text.trim();
    let Some(unit) = text.chars().last() else {
        return Err(format!("the window is empty: {expected}"));
    };
    let seconds_per_unit: u64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => return Err(format!("`{text}` has no unit: {expected}")),
    };
    let number = &text[..text.len() - unit.len_utf8()];
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("`{text}` is not a duration: {expected}"));
    }
    // A number too large for u64 is too long a window anyway.
    let seconds = number
        .parse::<u64>()
        .ok()
        .and_then(|number| number.checked_mul(seconds_per_unit))
        .unwrap_or(u64::MAX);
    match u32::try_from(seconds) {
        Ok(0) => Err("the window must be at least 1 second".to_string()),
        Ok(seconds) if seconds <= AlertCondition::MAX_WINDOW_SECONDS => Ok(seconds),
        _ => Err(format!(
            "`{text}` is longer than 7 days (7d), the longest window"
        )),
    }
}

/// The commands under `auditlog logs`.
#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// List audit log entries, newest first, a page at a time (or every page with --all).
    ///
    /// The filter flags are merged into --query: each adds values to its include or exclude
    /// list, may be repeated and takes comma-separated lists. --range replaces the window of
    /// --query, --from and --to each replace one end of it, --search and --limit replace its
    /// search text and page size.
    List(Box<ListArguments>),
    /// Download the entries of a query as a CSV or NDJSON file (at most 10,000 rows).
    ///
    /// The filter flags are merged into --query as for `auditlog logs list`. The file is written
    /// under a temporary name and renamed when complete, so an interrupted download never leaves
    /// a partial file under the final name.
    Export(Box<ExportArguments>),
    /// Verify the audit log's hash chain over a window; exits with code 3 when it is broken.
    Verify(VerifyArguments),
}

/// The audit query of `auditlog logs list` and `auditlog logs export`: `--query`, with the filter
/// flags merged into it.
///
/// Filter flags add values to the query's include and exclude lists; each may be repeated and
/// takes comma-separated lists. `--range` replaces the query's window, `--from` and `--to` each
/// replace one end of it, and `--search` replaces its search text. Every value is checked by the
/// audit query parser before any request is made.
#[derive(Clone, Debug, Default, Args)]
pub struct QueryArguments {
    /// An audit query string, with or without the leading '?', or a whole dashboard URL whose
    /// query part is used, e.g. 'https://audit.example.com/projects/1/security/audit-logs?range=24h'.
    #[arg(long, value_name = "QUERY", conflicts_with = "view")]
    pub query: Option<String>,
    /// Start from the project's saved view with this name (as `--query` would, with its query);
    /// the filter flags add to it.
    #[arg(long, value_name = "NAME", conflicts_with = "where_")]
    pub view: Option<String>,
    /// Start from a typed query, as the dashboard's query bar reads it, e.g.
    /// 'actor:dana -method:GET status:5xx app:billing "payments" after:2026-11-20'; names are
    /// read by the server against the project. The filter flags add to it.
    #[arg(
        long = "where",
        value_name = "TEXT",
        conflicts_with = "query",
        allow_hyphen_values = true
    )]
    pub where_: Option<String>,
    /// Only entries by this actor: user:<id> or token:<id>.
    #[arg(long, value_name = "ACTOR", help_heading = "Filters")]
    pub actor: Vec<String>,
    /// Leave out entries by this actor.
    #[arg(long, value_name = "ACTOR", help_heading = "Filters")]
    pub not_actor: Vec<String>,
    /// Only requests with this HTTP method (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS).
    #[arg(long, value_name = "METHOD", help_heading = "Filters")]
    pub method: Vec<String>,
    /// Leave out requests with this HTTP method.
    #[arg(long, value_name = "METHOD", help_heading = "Filters")]
    pub not_method: Vec<String>,
    /// Only requests from this source: dashboard, cli or api.
    #[arg(long, value_name = "SOURCE", help_heading = "Filters")]
    pub source: Vec<String>,
    /// Leave out requests from this source.
    #[arg(long, value_name = "SOURCE", help_heading = "Filters")]
    pub not_source: Vec<String>,
    /// Only this action, e.g. application.deploy, or a namespace, e.g. audit_log.*.
    #[arg(long, value_name = "ACTION", help_heading = "Filters")]
    pub action: Vec<String>,
    /// Leave out this action or namespace (audit_log.* hides the audit log's own requests).
    #[arg(long, value_name = "ACTION", help_heading = "Filters")]
    pub not_action: Vec<String>,
    /// Only this status code or class, e.g. 404 or 5xx.
    #[arg(long, value_name = "STATUS", help_heading = "Filters")]
    pub status: Vec<String>,
    /// Leave out this status code or class.
    #[arg(long, value_name = "STATUS", help_heading = "Filters")]
    pub not_status: Vec<String>,
    /// Only this resource type, e.g. application, cluster, api_token.
    #[arg(long, value_name = "TYPE", help_heading = "Filters")]
    pub resource_type: Vec<String>,
    /// Leave out this resource type.
    #[arg(long, value_name = "TYPE", help_heading = "Filters")]
    pub not_resource_type: Vec<String>,
    /// Only entries about the application with this id.
    #[arg(long, value_name = "ID", help_heading = "Filters")]
    pub application: Vec<String>,
    /// Leave out entries about the application with this id.
    #[arg(long, value_name = "ID", help_heading = "Filters")]
    pub not_application: Vec<String>,
    /// Only entries about the cluster with this id.
    #[arg(long, value_name = "ID", help_heading = "Filters")]
    pub cluster: Vec<String>,
    /// Leave out entries about the cluster with this id.
    #[arg(long, value_name = "ID", help_heading = "Filters")]
    pub not_cluster: Vec<String>,
    /// Only the entries of this request (its X-Request-Id, or an ingested event's id).
    #[arg(long, value_name = "ID", help_heading = "Filters")]
    pub request_id: Option<String>,
    /// Search text, matched literally and case-insensitively in paths, emails and names.
    #[arg(long, value_name = "TEXT", help_heading = "Filters")]
    pub search: Option<String>,
    /// A window ending now: 1h, 24h, 7d or 30d.
    #[arg(long, help_heading = "Window")]
    pub range: Option<String>,
    /// The start of a custom window, an RFC 3339 instant such as 2026-11-20T00:00:00Z.
    #[arg(long, value_name = "INSTANT", help_heading = "Window")]
    pub from: Option<String>,
    /// The end of a custom window (exclusive), an RFC 3339 instant.
    #[arg(long, value_name = "INSTANT", help_heading = "Window")]
    pub to: Option<String>,
}

/// The arguments of `auditlog logs list`.
#[derive(Clone, Debug, Default, Args)]
pub struct ListArguments {
    #[command(flatten)]
    pub query: QueryArguments,
    /// Entries per page, 1 to 200 (50 unless the query says otherwise; 200 with --all).
    #[arg(long, value_name = "N")]
    pub limit: Option<String>,
    /// Follow the next-page links and print every matching entry.
    #[arg(long)]
    pub all: bool,
}

/// The file formats of `auditlog logs export`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormatArgument {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Ndjson,
}

/// The arguments of `auditlog logs export`.
#[derive(Clone, Debug, Args)]
pub struct ExportArguments {
    /// The file format.
    #[arg(long, value_enum)]
    pub format: ExportFormatArgument,
    /// Where to write the file: a path, a directory to put the server's suggested file name in,
    /// or '-' for standard output. By default, the suggested file name in the current directory.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Where to write the export's signed manifest (for `auditlog export verify`). By default
    /// `<FILE>.manifest.json` next to the file; with '-o -', only when this flag is given.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub query: QueryArguments,
}

/// The window `auditlog logs verify` checks.
///
/// The flags override the range of `--query`: `--range` replaces it with a preset, and `--from`
/// and `--to` each replace one end of a custom window.
#[derive(Clone, Debug, Default, Args)]
pub struct VerifyArguments {
    /// An audit query string, e.g. 'range=24h' or 'from=2026-11-20T00:00:00Z'.
    #[arg(long)]
    pub query: Option<String>,
    /// The start of the window, an RFC 3339 instant such as 2026-11-20T00:00:00Z.
    #[arg(long)]
    pub from: Option<String>,
    /// The end of the window (exclusive), an RFC 3339 instant.
    #[arg(long)]
    pub to: Option<String>,
    /// A window ending now: 1h, 24h, 7d or 30d.
    #[arg(long)]
    pub range: Option<String>,
    /// Show the progress on standard error (shown anyway when it is a terminal).
    #[arg(long)]
    pub progress: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_well_formed() {
        CommandLine::command().debug_assert();
    }

    #[test]
    fn streams_take_one_token_source_and_the_api_spelling_of_kinds() {
        let parse = |args: &[&str]| CommandLine::try_parse_from(args);
        let error = parse(&[
            "auditlog",
            "streams",
            "update",
            "3",
            "--token",
            "a",
            "--token-env",
            "B",
        ])
        .expect_err("two token sources");
        assert_eq!(error.kind(), clap::error::ErrorKind::ArgumentConflict);
        let parsed = parse(&[
            "auditlog",
            "--url",
            "http://127.0.0.1:8080",
            "streams",
            "create",
            "splunk",
            "--kind",
            "splunk_hec",
            "--endpoint",
            "https://splunk.example.com:8088",
            "--token-env",
            "HEC_TOKEN",
        ])
        .expect("a Splunk destination");
        assert_eq!(parsed.url.as_deref(), Some("http://127.0.0.1:8080"));
        let Command::Streams {
            command: StreamCommand::Create(arguments),
        } = parsed.command
        else {
            panic!("not `streams create`: {parsed:?}");
        };
        assert_eq!(arguments.kind, StreamKindArgument::SplunkHec);
        assert_eq!(arguments.token.token_env.as_deref(), Some("HEC_TOKEN"));
    }

    /// Parses `auditlog alerts create …` and returns its arguments, or clap's error.
    fn parse_alert_create(args: &[&str]) -> Result<AlertCreateArguments, clap::Error> {
        let mut command_line = vec!["auditlog", "alerts", "create"];
        command_line.extend_from_slice(args);
        let parsed = CommandLine::try_parse_from(command_line)?;
        let Command::Alerts {
            command: AlertCommand::Create(arguments),
        } = parsed.command
        else {
            panic!("not `alerts create`: {parsed:?}");
        };
        Ok(*arguments)
    }

    #[test]
    fn alerts_take_a_preset_or_exactly_one_condition() {
        let preset = parse_alert_create(&["--preset", "token-created", "--destination", "3"])
            .expect("a preset without a name");
        assert_eq!(
            (preset.name, preset.preset.as_deref(), preset.destination),
            (None, Some("token-created"), 3)
        );
        let threshold = parse_alert_create(&[
            "Bursts of sign-in failures",
            "--destination",
            "3",
            "--filter",
            "action=session.sign_in_failed",
            "--changed",
            "role=admin",
            "--count",
            "5",
            "--window",
            "10m",
            "--group-by",
            "client_ip",
        ])
        .expect("a threshold");
        assert_eq!(
            threshold.name.as_deref(),
            Some("Bursts of sign-in failures")
        );
        assert_eq!(
            (threshold.count, threshold.window, threshold.group_by),
            (Some(5), Some(600), Some(AlertGroupByArgument::ClientIp))
        );
        assert_eq!(threshold.changed.as_deref(), Some("role=admin"));
        let any = parse_alert_create(&["Exports", "--destination", "3", "--any"]).expect("any");
        assert!(any.any && any.count.is_none() && any.preset.is_none());
        let dashed = parse_alert_create(&[
            "By address",
            "--destination",
            "3",
            "--count",
            "2",
            "--window",
            "1h",
            "--group-by",
            "client-ip",
        ])
        .expect("the dashed spelling of client_ip");
        assert_eq!(dashed.group_by, Some(AlertGroupByArgument::ClientIp));

        use clap::error::ErrorKind;
        let refused: [(&[&str], ErrorKind); 13] = [
            (
                &["a", "--destination", "3"],
                ErrorKind::MissingRequiredArgument,
            ),
            (
                &["--destination", "3", "--any"],
                ErrorKind::MissingRequiredArgument,
            ),
            (&["a", "--any"], ErrorKind::MissingRequiredArgument),
            (
                &["--preset", "token-created", "--destination", "3", "--any"],
                ErrorKind::ArgumentConflict,
            ),
            (
                &[
                    "--preset",
                    "export-run",
                    "--destination",
                    "3",
                    "--filter",
                    "source=cli",
                ],
                ErrorKind::ArgumentConflict,
            ),
            (
                &[
                    "a",
                    "--destination",
                    "3",
                    "--any",
                    "--count",
                    "5",
                    "--window",
                    "1m",
                ],
                ErrorKind::ArgumentConflict,
            ),
            (
                &["a", "--destination", "3", "--count", "5"],
                ErrorKind::MissingRequiredArgument,
            ),
            (
                &["a", "--destination", "3", "--any", "--window", "5m"],
                ErrorKind::ArgumentConflict,
            ),
            (
                &["a", "--destination", "3", "--window", "5m"],
                ErrorKind::MissingRequiredArgument,
            ),
            (
                &["a", "--destination", "3", "--any", "--group-by", "actor"],
                ErrorKind::ArgumentConflict,
            ),
            (
                &["--preset", "nope", "--destination", "3"],
                ErrorKind::InvalidValue,
            ),
            (
                &["a", "--destination", "3", "--count", "1", "--window", "1m"],
                ErrorKind::ValueValidation,
            ),
            (
                &["a", "--destination", "0", "--any"],
                ErrorKind::ValueValidation,
            ),
        ];
        for (args, kind) in refused {
            let error = parse_alert_create(args).expect_err(&args.join(" "));
            assert_eq!(error.kind(), kind, "{}: {error}", args.join(" "));
        }
        let error =
            parse_alert_create(&["a", "--destination", "3", "--count", "5", "--window", "10x"])
                .expect_err("a bad window");
        assert_eq!(error.kind(), ErrorKind::ValueValidation);
        assert!(
            error
                .to_string()
                .contains("`10x` has no unit: expected a whole number and a unit"),
            "{error}"
        );
    }

    #[test]
    fn alerts_are_changed_by_id() {
        let parsed =
            CommandLine::try_parse_from(["auditlog", "alerts", "route", "4", "--destination", "2"])
                .expect("route");
        let Command::Alerts {
            command: AlertCommand::Route { id, destination },
        } = parsed.command
        else {
            panic!("not `alerts route`: {parsed:?}");
        };
        assert_eq!((id, destination), (4, 2));
        let parsed = CommandLine::try_parse_from(["auditlog", "alerts", "rename", "4", "New name"])
            .expect("rename");
        let Command::Alerts {
            command: AlertCommand::Rename { id, name },
        } = parsed.command
        else {
            panic!("not `alerts rename`: {parsed:?}");
        };
        assert_eq!((id, name.as_str()), (4, "New name"));
        let error = CommandLine::try_parse_from(["auditlog", "alerts", "route", "4"])
            .expect_err("no destination");
        assert_eq!(
            error.kind(),
            clap::error::ErrorKind::MissingRequiredArgument
        );
    }

    #[test]
    fn windows_are_a_whole_number_and_a_unit_up_to_seven_days() {
        assert_eq!(parse_window("90s"), Ok(90));
        assert_eq!(parse_window("10m"), Ok(600));
        assert_eq!(parse_window(" 2h "), Ok(7_200));
        assert_eq!(parse_window("1d"), Ok(86_400));
        assert_eq!(parse_window("7d"), Ok(604_800));
        assert_eq!(parse_window("604800s"), Ok(604_800));
        assert_eq!(
            parse_window("8d"),
            Err("`8d` is longer than 7 days (7d), the longest window".to_string())
        );
        assert_eq!(
            parse_window("99999999999999999999999h"),
            Err(
                "`99999999999999999999999h` is longer than 7 days (7d), the longest window"
                    .to_string()
            )
        );
        assert_eq!(
            parse_window("0m"),
            Err("the window must be at least 1 second".to_string())
        );
        for no_unit in ["10", "10x", "10M", "1w"] {
            let error = parse_window(no_unit).expect_err(no_unit);
            assert!(error.contains("has no unit"), "{no_unit}: {error}");
        }
        for not_a_duration in ["m", "-5m", "+5m", "1.5h", "10ms", "1 h", "1h30m"] {
            let error = parse_window(not_a_duration).expect_err(not_a_duration);
            assert!(
                error.contains("is not a duration"),
                "{not_a_duration}: {error}"
            );
        }
        assert!(parse_window("")
            .expect_err("empty")
            .starts_with("the window is empty"));
    }
}
