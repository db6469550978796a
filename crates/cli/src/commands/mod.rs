//! The commands, and what they share: the global options and the signed-in project session.

mod alerts;
mod applications;
mod clusters;
mod export;
mod logs;
mod members;
mod query;
mod session;
mod status;
mod streams;
mod tokens;

use std::process::ExitCode;

use crate::arguments::{Command, CommandLine, ExportCommand, LogCommand};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::client::{ApiClient, JsonAnswer};
use crate::commands::alerts::AlertAction;
use crate::config::{default_config_directory, load_config};
use crate::output::{print_json, Table};

/// The server the commands that need no sign-in ask when neither `--url` nor a stored sign-in
/// names one.
pub const DEFAULT_SERVER_URL: &str = "http://127.0.0.1:8080";

/// The exit code of `auditlog logs verify` when the hash chain is broken.
pub const EXIT_CODE_CHAIN_BROKEN: u8 = 3;

/// The options every command accepts.
#[derive(Clone, Debug)]
pub struct GlobalOptions {
    /// `--url` or `$AUDITLOG_URL`, when given.
    pub url: Option<String>,
    /// `--project`, when given.
    pub project: Option<i64>,
    /// Whether to print the server's JSON instead of text.
    pub json: bool,
}

/// A client signed in with the stored token, and the project the command works in.
pub struct ProjectSession {
    pub client: ApiClient,
    pub project_id: i64,
    pub json: bool,
}

impl ProjectSession {
    /// The API path of something inside the project, such as `/applications`.
    pub fn project_path(&self, suffix: &str) -> String {
        format!("/api/v1/projects/{}{suffix}", self.project_id)
    }

    /// Prints one of the project's lists (`path` such as `/clusters`): the server's JSON with
    /// `--json`; else `table` of its items, or `empty` when there are none.
    pub async fn print_list<T: DeserializeOwned>(
        &self,
        path: &str,
        empty: &str,
        table: impl FnOnce(&[T]) -> Table,
    ) -> anyhow::Result<()> {
        let answer = self
            .client
            .get_json::<Vec<T>>(&self.project_path(path))
            .await?;
        if self.json {
            return print_json(&answer.raw);
        }
        if answer.value.is_empty() {
            println!("{empty}");
        } else {
            print!("{}", table(&answer.value).render());
        }
        Ok(())
    }

    /// `POST`s `body` to the project's `path`. With `--json` the server's answer is printed and
    /// there is nothing more to say (`None`); else the answer is the command's to describe.
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<Option<T>> {
        let answer = self
            .client
            .post_json(&self.project_path(path), body)
            .await?;
        self.unless_json(answer)
    }

    /// `PATCH`es the project's `path` with `body`; the answer as for [`Self::post`].
    pub async fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<Option<T>> {
        let answer = self
            .client
            .patch_json(&self.project_path(path), body)
            .await?;
        self.unless_json(answer)
    }

    /// Deletes the project's `path` (which answers without a body) and says `done`, unless the
    /// output is `--json`.
    pub async fn delete(&self, path: &str, done: &str) -> anyhow::Result<()> {
        self.client
            .delete_without_answer(&self.project_path(path))
            .await?;
        if !self.json {
            println!("{done}");
        }
        Ok(())
    }

    fn unless_json<T>(&self, answer: JsonAnswer<T>) -> anyhow::Result<Option<T>> {
        if self.json {
            print_json(&answer.raw)?;
            return Ok(None);
        }
        Ok(Some(answer.value))
    }
}

/// Runs a parsed command line and returns the process's exit code.
pub async fn run(command_line: CommandLine) -> anyhow::Result<ExitCode> {
    let options = GlobalOptions {
        url: command_line.url,
        project: command_line.project,
        json: command_line.json,
    };
    match command_line.command {
        Command::Status => status::show_status(&options).await?,
        Command::Login(arguments) => session::log_in(&options, &arguments).await?,
        Command::Logout => session::log_out()?,
        Command::Query { command } => query::run_query_command(&options, command).await?,
        Command::Apps { command } => {
            let session = open_project_session(&options)?;
            applications::run_application_command(&session, command).await?;
        }
        Command::Clusters { command } => {
            let session = open_project_session(&options)?;
            clusters::run_cluster_command(&session, command).await?;
        }
        Command::Members { command } => {
            let session = open_project_session(&options)?;
            members::run_member_command(&session, command).await?;
        }
        Command::Tokens { command } => {
            let session = open_project_session(&options)?;
            tokens::run_token_command(&session, command).await?;
        }
        // The flags of the `logs` commands are checked before the stored sign-in is read, so
        // that a mistake in them is reported first and no request is made.
        Command::Logs {
            command: LogCommand::List(arguments),
        } => {
            let mut arguments = arguments;
            logs::list::build_list_query(&arguments)?;
            logs::views::check_where(&arguments.query)?;
            let session = open_project_session(&options)?;
            logs::views::resolve_view(&session, &mut arguments.query).await?;
            let query = logs::list::build_list_query(&arguments)?;
            logs::list::list_entries(&session, &query, arguments.all, options.project).await?;
        }
        Command::Logs {
            command: LogCommand::Export(arguments),
        } => {
            let mut arguments = arguments;
            logs::filters::build_query(&arguments.query, None)?;
            logs::views::check_where(&arguments.query)?;
            let session = open_project_session(&options)?;
            logs::views::resolve_view(&session, &mut arguments.query).await?;
            let query = logs::filters::build_query(&arguments.query, None)?;
            let directory = default_config_directory()?;
            logs::export::export_entries(
                &session,
                &query,
                arguments.format,
                logs::export::ExportFiles {
                    output: arguments.output.as_deref(),
                    manifest: arguments.manifest.as_deref(),
                    config_directory: &directory,
                },
            )
            .await?;
        }
        Command::Logs {
            command: LogCommand::Verify(arguments),
        } => {
            let query = logs::build_verify_query(&arguments)?;
            let session = open_project_session(&options)?;
            let directory = default_config_directory()?;
            return logs::verify_chain(&session, &query, &directory, arguments.progress).await;
        }
        // As for `logs`, the flags (the filter above all) are checked before the stored sign-in is
        // read, and no request is made when one is wrong.
        Command::Streams { command } => {
            let action = streams::check_command(command)?;
            let session = open_project_session(&options)?;
            return streams::run_stream_command(&session, action).await;
        }
        // As for `streams`, the flags are checked before the stored sign-in is read; the presets
        // are listed without a sign-in, as they need no request.
        Command::Alerts { command } => match alerts::check_command(command)? {
            AlertAction::Presets => alerts::print_presets(options.json)?,
            action => {
                let session = open_project_session(&options)?;
                alerts::run_alert_command(&session, action).await?;
            }
        },
        Command::Export {
            command: ExportCommand::Verify(arguments),
        } => {
            let directory = default_config_directory()?;
            return export::run_verify(&arguments, &directory, options.json);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Opens the signed-in session the project commands use: the stored sign-in, with `--url` and
/// `--project` overriding the stored server and project.
pub fn open_project_session(options: &GlobalOptions) -> anyhow::Result<ProjectSession> {
    let directory = default_config_directory()?;
    let Some(config) = load_config(&directory)? else {
        anyhow::bail!("not signed in: run `auditlog login --url … --token …`");
    };
    let url = options.url.as_deref().unwrap_or(&config.url);
    let client = ApiClient::new(url, Some(&config.token))?;
    Ok(ProjectSession {
        client,
        project_id: options.project.unwrap_or(config.project_id),
        json: options.json,
    })
}

/// A client without a token for the commands that need no sign-in, aimed at `--url`, else the
/// stored server, else [`DEFAULT_SERVER_URL`].
pub fn open_anonymous_client(options: &GlobalOptions) -> anyhow::Result<ApiClient> {
    if let Some(url) = &options.url {
        return ApiClient::new(url, None);
    }
    // Without a configuration directory there can be no stored sign-in, which is not an error
    // for these commands.
    let stored_url = match default_config_directory() {
        Ok(directory) => load_config(&directory)?.map(|config| config.url),
        Err(_) => None,
    };
    ApiClient::new(stored_url.as_deref().unwrap_or(DEFAULT_SERVER_URL), None)
}
