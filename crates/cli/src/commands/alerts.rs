//! `auditlog alerts`: the project's alerts, audit filters counted against a condition whose
//! firings the server sends to a stream destination (admins only).
//!
//! Clap refuses conflicting and missing options (a preset and a condition, `--count` without
//! `--window`, a window it cannot read). The remaining flags are checked before the stored
//! sign-in is read and before any request is made ([`check_command`]): the filter by the shared
//! audit query parser, as for `auditlog streams`, and the change a matching entry must record.
//! `auditlog alerts presets` lists the ready-made alerts without asking the server.

use auditlog_shared::wire::{
    alert_presets, AlertChange, AlertCondition, AlertFiring, AlertGroupBy, AlertPreset, AlertRule,
    CreateAlertRule, UpdateAlertRule,
};

use super::streams::{check_filter, status_label};
use super::ProjectSession;
use crate::arguments::{AlertCommand, AlertCreateArguments, AlertGroupByArgument};
use crate::output::{format_instant, format_optional_instant, group_digits, print_json, Table};

/// The most characters of a `--changed` field name or value (the server's limit too).
const MAX_CHANGE_CHARS: usize = 200;

/// A checked `auditlog alerts` command: what to ask the server, or what to print without asking.
#[derive(Debug)]
pub enum AlertAction {
    List,
    Presets,
    Create(Box<CreateAlertRule>),
    Rename { id: i64, name: String },
    Pause(i64),
    Resume(i64),
    Route { id: i64, destination_id: i64 },
    Delete(i64),
    Firings(i64),
}

/// Checks a command's flags and turns them into the request to send; every mistake is an error
/// here, before any request.
pub fn check_command(command: AlertCommand) -> anyhow::Result<AlertAction> {
    Ok(match command {
        AlertCommand::List => AlertAction::List,
        AlertCommand::Presets => AlertAction::Presets,
        AlertCommand::Create(arguments) => {
            AlertAction::Create(Box::new(create_request(*arguments)?))
        }
        AlertCommand::Rename { id, name } => {
            if name.trim().is_empty() {
                anyhow::bail!("the new name is empty");
            }
            AlertAction::Rename { id, name }
        }
        AlertCommand::Pause { id } => AlertAction::Pause(id),
        AlertCommand::Resume { id } => AlertAction::Resume(id),
        AlertCommand::Route { id, destination } => AlertAction::Route {
            id,
            destination_id: destination,
        },
        AlertCommand::Delete { id } => AlertAction::Delete(id),
        AlertCommand::Firings { id } => AlertAction::Firings(id),
    })
}

/// Runs a checked `auditlog alerts` command (`presets` is run without a session by the caller,
/// but runs here too).
pub async fn run_alert_command(
    session: &ProjectSession,
    action: AlertAction,
) -> anyhow::Result<()> {
    match action {
        AlertAction::List => list_alerts(session).await?,
        AlertAction::Presets => print_presets(session.json)?,
        AlertAction::Create(request) => create_alert(session, &request).await?,
        AlertAction::Rename { id, name } => {
            let request = UpdateAlertRule {
                name: Some(name),
                ..UpdateAlertRule::default()
            };
            if let Some(alert) = update_alert(session, id, &request).await? {
                println!("Renamed alert #{} to {}.", alert.id, alert.name);
            }
        }
        AlertAction::Pause(id) => {
            let request = UpdateAlertRule {
                paused: Some(true),
                ..UpdateAlertRule::default()
            };
            if let Some(alert) = update_alert(session, id, &request).await? {
                println!(
                    "Paused alert {} (#{}): it counts nothing until `auditlog alerts resume {}`.",
                    alert.name, alert.id, alert.id
                );
            }
        }
        AlertAction::Resume(id) => {
            let request = UpdateAlertRule {
                paused: Some(false),
                ..UpdateAlertRule::default()
            };
            if let Some(alert) = update_alert(session, id, &request).await? {
                println!(
                    "Resumed alert {} (#{}): it goes on from the entries written while it was \
                     paused.",
                    alert.name, alert.id
                );
            }
        }
        AlertAction::Route { id, destination_id } => {
            let request = UpdateAlertRule {
                destination_id: Some(destination_id),
                ..UpdateAlertRule::default()
            };
            if let Some(alert) = update_alert(session, id, &request).await? {
                println!(
                    "Alert {} (#{}) now notifies stream destination {} (#{}).",
                    alert.name, alert.id, alert.destination_name, alert.destination_id
                );
            }
        }
        AlertAction::Delete(id) => delete_alert(session, id).await?,
        AlertAction::Firings(id) => list_firings(session, id).await?,
    }
    Ok(())
}

/// The body of `POST …/alerts` for `auditlog alerts create`: the preset's, or the one the
/// filter, change and condition flags describe. Clap has already made sure that exactly one of
/// `--preset`, `--any` and `--count` (with `--window`) is given.
fn create_request(arguments: AlertCreateArguments) -> anyhow::Result<CreateAlertRule> {
    if let Some(key) = &arguments.preset {
        let preset = find_preset(key)?;
        let mut request = preset.to_create(arguments.destination);
        if let Some(name) = arguments.name {
            request.name = name;
        }
        return Ok(request);
    }
    let Some(name) = arguments.name else {
        anyhow::bail!("give the alert a name (or start from --preset KEY)");
    };
    let condition = match (arguments.any, arguments.count, arguments.window) {
        (true, _, _) => AlertCondition::Any,
        (false, Some(count), Some(window_seconds)) => AlertCondition::Threshold {
            count,
            window_seconds,
            group_by: arguments.group_by.map(wire_group_by),
        },
        _ => anyhow::bail!("give a condition: --any, or --count N with --window DURATION"),
    };
    if let Some(problem) = condition.problem() {
        anyhow::bail!("invalid condition: {problem}");
    }
    let filter = match &arguments.filter {
        Some(filter) => check_filter(filter)?,
        None => String::new(),
    };
    let changed = arguments.changed.as_deref().map(parse_change).transpose()?;
    Ok(CreateAlertRule {
        name,
        filter,
        changed,
        condition,
        destination_id: arguments.destination,
    })
}

/// The preset with this key (clap only lets known keys through).
fn find_preset(key: &str) -> anyhow::Result<AlertPreset> {
    alert_presets()
        .into_iter()
        .find(|preset| preset.key == key)
        .ok_or_else(|| anyhow::anyhow!("no preset `{key}`: `auditlog alerts presets` lists them"))
}

/// Reads `--changed FIELD[=VALUE]`: a field name of letters, digits and `_`, and the value it
/// must be changed to (any change of the field when there is none).
pub fn parse_change(text: &str) -> anyhow::Result<AlertChange> {
    let (field, to) = match text.split_once('=') {
        Some((field, to)) => (field.trim(), Some(to.trim())),
        None => (text.trim(), None),
    };
    let field_is_a_name = !field.is_empty()
        && field.chars().count() <= MAX_CHANGE_CHARS
        && field
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || character == '_');
    if !field_is_a_name {
        anyhow::bail!(
            "invalid --changed `{text}`: expected FIELD or FIELD=VALUE with a field name of \
             letters, digits and `_`, e.g. 'role=admin'"
        );
    }
    if let Some(to) = to {
        if to.is_empty()
            || to.chars().count() > MAX_CHANGE_CHARS
            || to.chars().any(char::is_control)
        {
            anyhow::bail!(
                "invalid --changed `{text}`: the value after `=` must be 1 to \
                 {MAX_CHANGE_CHARS} characters (leave out `={to}` for any change of `{field}`)"
            );
        }
    }
    Ok(AlertChange {
        field: field.to_string(),
        to: to.map(str::to_string),
    })
}

/// The wire grouping for a grouping given on the command line.
pub fn wire_group_by(group_by: AlertGroupByArgument) -> AlertGroupBy {
    match group_by {
        AlertGroupByArgument::Actor => AlertGroupBy::Actor,
        AlertGroupByArgument::Resource => AlertGroupBy::Resource,
        AlertGroupByArgument::ClientIp => AlertGroupBy::ClientIp,
    }
}

/// What an alert counts, in one cell: its filter (`every entry` when empty) and the change a
/// matching entry must record.
pub fn describe_matching(filter: &str, changed: Option<&AlertChange>) -> String {
    match (filter.is_empty(), changed) {
        (true, None) => "every entry".to_string(),
        (false, None) => filter.to_string(),
        (true, Some(change)) => describe_change(change),
        (false, Some(change)) => format!("{filter}, {}", describe_change(change)),
    }
}

/// A change condition in words: `role changed to admin`, or `role changed`.
pub fn describe_change(change: &AlertChange) -> String {
    match &change.to {
        Some(to) => format!("{} changed to {to}", change.field),
        None => format!("{} changed", change.field),
    }
}

/// The table `auditlog alerts list` prints.
pub fn alert_table(alerts: &[AlertRule]) -> Table {
    let mut table = Table::new(&[
        "ID",
        "NAME",
        "CONDITION",
        "FILTER",
        "DESTINATION",
        "STATUS",
        "FIRED",
        "LAST FIRED",
        "PENDING",
    ]);
    for alert in alerts {
        table.add_row(vec![
            alert.id.to_string(),
            alert.name.clone(),
            alert.condition_text.clone(),
            describe_matching(&alert.filter, alert.changed.as_ref()),
            format!("{} (#{})", alert.destination_name, alert.destination_id),
            status_label(alert.status).to_string(),
            group_digits(u64::try_from(alert.fired_count).unwrap_or(0)),
            format_optional_instant(alert.last_fired_at, "never"),
            group_digits(u64::try_from(alert.pending_notifications).unwrap_or(0)),
        ]);
    }
    table
}

/// The table `auditlog alerts presets` prints.
pub fn preset_table(presets: &[AlertPreset]) -> Table {
    let mut table = Table::new(&["KEY", "NAME", "FILTER", "CONDITION"]);
    for preset in presets {
        let changed = preset_change(preset);
        table.add_row(vec![
            preset.key.to_string(),
            preset.name.to_string(),
            describe_matching(preset.filter, changed.as_ref()),
            preset.condition.describe(),
        ]);
    }
    table
}

/// The change a preset's matching entries must record.
fn preset_change(preset: &AlertPreset) -> Option<AlertChange> {
    preset.changed.map(|(field, to)| AlertChange {
        field: field.to_string(),
        to: Some(to.to_string()),
    })
}

/// The presets as `auditlog --json alerts presets` prints them: the fields of a creation
/// request, with the key and the condition in words.
pub fn presets_json(presets: &[AlertPreset]) -> serde_json::Value {
    let presets = presets
        .iter()
        .map(|preset| {
            serde_json::json!({
                "key": preset.key,
                "name": preset.name,
                "filter": preset.filter,
                "changed": preset_change(preset),
                "condition": preset.condition,
                "condition_text": preset.condition.describe(),
            })
        })
        .collect();
    serde_json::Value::Array(presets)
}

/// The table `auditlog alerts firings` prints. A view path (the server knows no public URL) is
/// made absolute with the server the CLI talks to, which serves the dashboard too.
pub fn firing_table(firings: &[AlertFiring], server_url: &str) -> Table {
    let mut table = Table::new(&[
        "ID", "FIRED AT", "GROUP", "MATCHES", "FIRST", "LAST", "NOTIFIED", "VIEW",
    ]);
    for firing in firings {
        let view = if firing.view_url.starts_with('/') {
            format!("{server_url}{}", firing.view_url)
        } else {
            firing.view_url.clone()
        };
        table.add_row(vec![
            firing.id.to_string(),
            format_instant(firing.fired_at),
            match (&firing.group_label, &firing.group) {
                (Some(label), Some(key)) if label != key => format!("{label} ({key})"),
                (_, Some(key)) => key.clone(),
                _ => "-".to_string(),
            },
            group_digits(u64::try_from(firing.match_count).unwrap_or(0)),
            format_instant(firing.first_entry_at),
            format_instant(firing.last_entry_at),
            format_optional_instant(firing.notified_at, "pending"),
            view,
        ]);
    }
    table
}

/// `auditlog alerts presets`: no request, so no sign-in needed.
pub fn print_presets(json: bool) -> anyhow::Result<()> {
    let presets = alert_presets();
    if json {
        return print_json(&presets_json(&presets));
    }
    print!("{}", preset_table(&presets).render());
    println!();
    println!(
        "Create one with `auditlog alerts create --preset KEY --destination ID` (`auditlog \
         streams list` shows the destinations' ids)."
    );
    Ok(())
}

async fn list_alerts(session: &ProjectSession) -> anyhow::Result<()> {
    let empty = format!("No alerts in project #{}.", session.project_id);
    session.print_list("/alerts", &empty, alert_table).await
}

async fn create_alert(session: &ProjectSession, request: &CreateAlertRule) -> anyhow::Result<()> {
    if let Some(alert) = session.post::<_, AlertRule>("/alerts", request).await? {
        println!(
            "Created alert {} (#{}): {} of {}, sent to stream destination {} (#{}). It counts \
             the entries written from now on.",
            alert.name,
            alert.id,
            alert.condition_text,
            describe_matching(&alert.filter, alert.changed.as_ref()),
            alert.destination_name,
            alert.destination_id
        );
    }
    Ok(())
}

/// Sends a `PATCH`; prints the JSON with `--json` and returns `None`, else returns the changed
/// alert for the caller to describe.
async fn update_alert(
    session: &ProjectSession,
    id: i64,
    request: &UpdateAlertRule,
) -> anyhow::Result<Option<AlertRule>> {
    session.patch(&format!("/alerts/{id}"), request).await
}

async fn delete_alert(session: &ProjectSession, id: i64) -> anyhow::Result<()> {
    let done = format!("Deleted alert #{id} and its firings.");
    session.delete(&format!("/alerts/{id}"), &done).await
}

async fn list_firings(session: &ProjectSession, id: i64) -> anyhow::Result<()> {
    let base_url = session.client.base_url().to_string();
    session
        .print_list(
            &format!("/alerts/{id}/firings"),
            &format!("Alert #{id} has not fired yet."),
            |firings| firing_table(firings, &base_url),
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use auditlog_shared::wire::StreamStatus;
    use chrono::{DateTime, Utc};

    fn instant(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("valid instant")
            .with_timezone(&Utc)
    }

    fn alert(id: i64, name: &str, condition: AlertCondition) -> AlertRule {
        let created = instant("2026-11-01T08:00:00Z");
        AlertRule {
            id,
            name: name.to_string(),
            filter: String::new(),
            changed: None,
            condition_text: condition.describe(),
            condition,
            destination_id: 3,
            destination_name: "SIEM".to_string(),
            paused: false,
            status: StreamStatus::Active,
            evaluated_through_seq: 0,
            fired_count: 0,
            last_fired_at: None,
            pending_notifications: 0,
            last_error: None,
            last_error_at: None,
            created_by: "Ada".to_string(),
            created_at: created,
            updated_at: created,
        }
    }

    fn create_arguments() -> AlertCreateArguments {
        AlertCreateArguments {
            name: Some("Exports".to_string()),
            destination: 3,
            preset: None,
            filter: None,
            changed: None,
            any: true,
            count: None,
            window: None,
            group_by: None,
        }
    }

    #[test]
    fn the_alert_table_shows_the_condition_the_destination_and_the_firings() {
        let tokens = AlertRule {
            filter: "action=api_token.create&status=2xx".to_string(),
            fired_count: 1_204,
            last_fired_at: Some(instant("2026-11-27T09:30:00Z")),
            ..alert(2, "API token created", AlertCondition::Any)
        };
        let sign_ins = AlertRule {
            changed: Some(AlertChange {
                field: "role".to_string(),
                to: Some("admin".to_string()),
            }),
            paused: true,
            status: StreamStatus::Paused,
            pending_notifications: 2,
            ..alert(
                11,
                "Bursts",
                AlertCondition::Threshold {
                    count: 5,
                    window_seconds: 600,
                    group_by: Some(AlertGroupBy::ClientIp),
                },
            )
        };
        assert_eq!(
            alert_table(&[tokens, sign_ins]).render(),
            "ID  NAME               CONDITION                                       FILTER                              DESTINATION  STATUS  FIRED  LAST FIRED               PENDING\n\
             2   API token created  any match                                       action=api_token.create&status=2xx  SIEM (#3)    active  1,204  2026-11-27 09:30:00 UTC  0\n\
             11  Bursts             5 matches within 10 minutes for one IP address  role changed to admin               SIEM (#3)    paused  0      never                    2\n"
        );
    }

    #[test]
    fn the_preset_table_lists_every_preset_by_key() {
        let table = preset_table(&alert_presets()).render();
        let mut lines = table.lines();
        assert_eq!(
            lines.next(),
            Some(
                "KEY                    NAME                                             FILTER                                                     CONDITION"
            )
        );
        assert_eq!(
            lines.next(),
            Some(
                "token-created          API token created                                action=api_token.create&status=2xx                         any match"
            )
        );
        assert_eq!(
            lines.next(),
            Some(
                "role-changed-to-admin  Role changed to admin                            action=user.change_role&status=2xx, role changed to admin  any match"
            )
        );
        let keys: Vec<&str> = table
            .lines()
            .skip(1)
            .filter_map(|line| line.split_whitespace().next())
            .collect();
        assert_eq!(
            keys,
            [
                "token-created",
                "role-changed-to-admin",
                "export-run",
                "failed-sign-ins",
                "verification-failed"
            ]
        );
        assert!(
            table.contains("5 matches within 10 minutes for one actor"),
            "{table}"
        );
        let json = presets_json(&alert_presets());
        assert_eq!(
            json[1]["changed"],
            serde_json::json!({"field": "role", "to": "admin"})
        );
        assert_eq!(
            json[3]["condition"],
            serde_json::json!({
                "type": "threshold", "count": 5, "window_seconds": 600, "group_by": "actor"
            })
        );
    }

    #[test]
    fn the_firing_table_links_to_the_dashboard_view_on_the_server() {
        let firing = AlertFiring {
            id: 7,
            alert_id: 2,
            fired_at: instant("2026-11-27T09:30:01Z"),
            group: None,
            group_label: None,
            match_count: 1,
            first_entry_at: instant("2026-11-27T09:30:00Z"),
            last_entry_at: instant("2026-11-27T09:30:00Z"),
            entry_ids: vec![41],
            view_url: "/projects/1/security/audit-logs?from=2026-11-27T09:30:00Z".to_string(),
            notified_at: None,
        };
        let grouped = AlertFiring {
            id: 8,
            group: Some("ip:10.0.0.7".to_string()),
            match_count: 5,
            notified_at: Some(instant("2026-11-27T09:31:00Z")),
            view_url: "https://audit.example.com/projects/1/security/audit-logs?x=1".to_string(),
            ..firing.clone()
        };
        assert_eq!(
            firing_table(&[grouped, firing], "http://127.0.0.1:8080").render(),
            "ID  FIRED AT                 GROUP        MATCHES  FIRST                    LAST                     NOTIFIED                 VIEW\n\
             8   2026-11-27 09:30:01 UTC  ip:10.0.0.7  5        2026-11-27 09:30:00 UTC  2026-11-27 09:30:00 UTC  2026-11-27 09:31:00 UTC  https://audit.example.com/projects/1/security/audit-logs?x=1\n\
             7   2026-11-27 09:30:01 UTC  -            1        2026-11-27 09:30:00 UTC  2026-11-27 09:30:00 UTC  pending                  http://127.0.0.1:8080/projects/1/security/audit-logs?from=2026-11-27T09:30:00Z\n"
        );
    }

    #[test]
    fn presets_make_the_request_and_a_name_replaces_theirs() {
        let arguments = AlertCreateArguments {
            name: None,
            preset: Some("role-changed-to-admin".to_string()),
            any: false,
            ..create_arguments()
        };
        let request = create_request(arguments.clone()).expect("a preset");
        assert_eq!(
            serde_json::to_value(&request).expect("JSON"),
            serde_json::json!({
                "name": "Role changed to admin",
                "filter": "action=user.change_role&status=2xx",
                "changed": {"field": "role", "to": "admin"},
                "condition": {"type": "any"},
                "destination_id": 3
            })
        );
        let named = AlertCreateArguments {
            name: Some("New admins".to_string()),
            ..arguments
        };
        assert_eq!(
            create_request(named).expect("a named preset").name,
            "New admins"
        );
    }

    #[test]
    fn conditions_filters_and_changes_make_the_request() {
        let arguments = AlertCreateArguments {
            name: Some("Bursts".to_string()),
            filter: Some(" action=session.sign_in_failed ".to_string()),
            changed: Some("role".to_string()),
            any: false,
            count: Some(5),
            window: Some(600),
            group_by: Some(AlertGroupByArgument::ClientIp),
            ..create_arguments()
        };
        let request = create_request(arguments.clone()).expect("a threshold");
        assert_eq!(
            serde_json::to_value(&request).expect("JSON"),
            serde_json::json!({
                "name": "Bursts",
                "filter": "action=session.sign_in_failed",
                "changed": {"field": "role", "to": null},
                "condition": {
                    "type": "threshold", "count": 5, "window_seconds": 600,
                    "group_by": "client_ip"
                },
                "destination_id": 3
            })
        );
        let any = create_request(create_arguments()).expect("any");
        assert_eq!(
            (any.condition, any.filter, any.changed),
            (AlertCondition::Any, String::new(), None)
        );
        let windowed = AlertCreateArguments {
            filter: Some("range=24h".to_string()),
            ..arguments.clone()
        };
        let error = create_request(windowed).expect_err("a window in the filter");
        assert!(
            error
                .to_string()
                .starts_with("invalid --filter: `range` sets a window or a page"),
            "{error}"
        );
        let bad_change = AlertCreateArguments {
            changed: Some("the role=admin".to_string()),
            ..arguments
        };
        let error = create_request(bad_change).expect_err("a bad change");
        assert!(
            error
                .to_string()
                .starts_with("invalid --changed `the role=admin`"),
            "{error}"
        );
    }

    #[test]
    fn changes_are_a_field_and_maybe_a_value() {
        assert_eq!(
            parse_change("role=admin").expect("a value"),
            AlertChange {
                field: "role".to_string(),
                to: Some("admin".to_string())
            }
        );
        assert_eq!(
            parse_change(" can_ingest ").expect("any change"),
            AlertChange {
                field: "can_ingest".to_string(),
                to: None
            }
        );
        for invalid in ["", "=admin", "role name=admin", "rôle", "role="] {
            let error = parse_change(invalid).expect_err(invalid);
            assert!(
                error.to_string().starts_with("invalid --changed"),
                "{invalid}: {error}"
            );
        }
    }

    #[test]
    fn a_new_name_is_not_empty() {
        let error = check_command(AlertCommand::Rename {
            id: 2,
            name: "  ".to_string(),
        })
        .expect_err("an empty name");
        assert_eq!(error.to_string(), "the new name is empty");
    }
}
