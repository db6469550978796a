//! The command line: the global options and the tree of commands, as clap reads them.

use clap::{Args, Parser, Subcommand};

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
}
