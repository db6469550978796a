//! JSON bodies exchanged between the server and its clients (web app and CLI).
//!
//! Database rows never go over the wire: the server maps its rows into these types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `GET /healthz`: the process is up.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Always `"ok"` when the server answers.
    pub status: String,
    /// The server's version.
    pub version: String,
    /// The storage engine in use: `"sqlite"` or `"postgres"`.
    pub database: String,
}

/// `GET /readyz`: the server can reach its database.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    pub status: String,
    pub database: String,
}

/// An RFC 9457 problem document (`application/problem+json`), the body of every error.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// A URI reference naming the kind of problem, such as `/problems/invalid-query`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request path the problem arose on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// For invalid input: which parameters were wrong and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invalid_params: Vec<InvalidParam>,
}

/// One offending parameter of a request.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidParam {
    pub name: String,
    pub reason: String,
    /// For a typed query (`bar`): the characters of the offending token, `[start, end)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span: Option<TextSpan>,
}

/// A range of characters of a text, `[start, end)`.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextSpan {
    pub start: usize,
    pub end: usize,
}

/// `GET /api/v1/projects/{project}/audit-logs/query?bar=<text>`: a typed query read against the
/// project (names resolved to ids).
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BarQuery {
    /// The canonical query string of the view the text describes.
    pub canonical: String,
    /// The same view written back as bar text, with names.
    pub bar: String,
}

/// `GET /api/v1/query/resolve?<audit query>`: how the server reads an audit query.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedQuery {
    /// The canonical query string of the view.
    pub canonical: String,
    /// The window the query covers after retention was applied, RFC 3339 UTC, half-open.
    pub from: chrono::DateTime<chrono::Utc>,
    pub to: chrono::DateTime<chrono::Utc>,
    /// Whether the start of the window was moved to the retention horizon.
    pub clamped_to_retention: bool,
}

// ---------------------------------------------------------------------------------------------
// Identity and projects.

/// A project member's role. Only admins read audit logs; everyone's requests are recorded.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Developer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Developer => "developer",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "viewer" => Some(Role::Viewer),
            "developer" => Some(Role::Developer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// `POST /api/v1/session`: sign in with email and password.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub email: String,
    pub password: String,
}

/// The signed-in user, their projects, and the token that cookie-authenticated writes must echo
/// in the `X-CSRF-Token` header.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub user: UserSummary,
    pub csrf_token: String,
    pub projects: Vec<ProjectSummary>,
}

#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    pub id: i64,
    pub email: String,
    pub display_name: String,
}

/// A project as its member sees it, with the member's role.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectSummary {
    pub id: i64,
    pub name: String,
    pub slug: String,
    pub role: Role,
}

/// `GET|PATCH /api/v1/projects/{project}/settings`.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSettings {
    pub audit_export_enabled: bool,
}

/// `PATCH …/settings`: the settings to change; those left out stay as they are.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsChange {
    #[serde(default)]
    pub audit_export_enabled: Option<bool>,
}

/// A project member.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user_id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
}

/// `POST /api/v1/projects/{project}/members`: invite someone by email. Nobody sets another
/// person's password: the answer is an invitation whose link the invitee opens to join, with a
/// new account (choosing their own password) or with the account they already have.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    #[cfg_attr(
        feature = "openapi",
        schemars(length(max = 254), pattern(EMAIL_PATTERN))
    )]
    pub email: String,
    pub role: Role,
}

/// A pending invitation to a project, as the project's admins see it.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub id: i64,
    pub email: String,
    pub role: Role,
    /// The display name of the admin who invited.
    pub invited_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The answer to inviting someone: the only time the invitation's secret is shown. Hand the link
/// to the invitee; it works once, until `expires_at`.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedInvitation {
    pub invitation: Invitation,
    pub secret: String,
    /// The dashboard page that accepts it: `/invitations/{secret}` (absolute when the server
    /// knows its public URL).
    pub accept_url: String,
}

/// `GET /api/v1/invitations/{secret}`: what the invitee is asked to join.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationDetails {
    pub project_name: String,
    pub email: String,
    pub role: Role,
    pub invited_by: String,
    pub expires_at: DateTime<Utc>,
    /// Whether an account with this email exists: then the invitee accepts with its password;
    /// otherwise they choose a display name and a password for a new account.
    pub account_exists: bool,
}

/// `POST /api/v1/invitations/{secret}/accept`: join the project, signing in. For an existing
/// account `password` is its password; for a new one it is the password being chosen, and
/// `display_name` is required.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitation {
    #[cfg_attr(feature = "openapi", schemars(length(min = 10, max = 1024)))]
    pub password: String,
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schemars(length(min = 1, max = 100), pattern(NAME_PATTERN))
    )]
    pub display_name: Option<String>,
}

/// `POST /api/v1/session/password`: change one's own password. Every session of the account
/// ends; the answer starts a fresh one for the caller.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: String,
    #[cfg_attr(feature = "openapi", schemars(length(min = 10, max = 1024)))]
    pub new_password: String,
}

/// `PATCH /api/v1/projects/{project}/members/{user}`.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateMember {
    pub role: Role,
}

/// An API token, without its secret.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub can_ingest: bool,
    /// The display name of the member who created it (`None` once their account is gone).
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// `POST /api/v1/projects/{project}/tokens`.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    #[cfg_attr(
        feature = "openapi",
        schemars(length(min = 1, max = 100), pattern(NAME_PATTERN))
    )]
    pub name: String,
    pub role: Role,
    /// May post events to the ingest endpoint.
    #[serde(default)]
    pub can_ingest: bool,
    /// Days until the token expires; never when absent.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schemars(range(min = 1, max = 3650)))]
    pub expires_in_days: Option<u32>,
}

/// The answer to creating a token: the only time its secret is shown.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedToken {
    pub token: ApiToken,
    /// Send as `Authorization: Bearer <secret>`.
    pub secret: String,
}

// ---------------------------------------------------------------------------------------------
// Platform resources.

#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    pub id: i64,
    pub name: String,
    pub image: String,
    pub cluster_id: Option<i64>,
    pub deploy_count: i64,
    pub last_deployed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApplication {
    #[cfg_attr(
        feature = "openapi",
        schemars(length(min = 1, max = 100), pattern(NAME_PATTERN))
    )]
    pub name: String,
    #[cfg_attr(feature = "openapi", schemars(pattern(IMAGE_PATTERN)))]
    pub image: String,
    #[serde(default)]
    pub cluster_id: Option<i64>,
}

#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateApplication {
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schemars(length(min = 1, max = 100), pattern(NAME_PATTERN))
    )]
    pub name: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schemars(pattern(IMAGE_PATTERN)))]
    pub image: Option<String>,
}

/// `POST /api/v1/projects/{project}/applications/{id}/deploy`; the image defaults to the current.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployApplication {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schemars(pattern(IMAGE_PATTERN)))]
    pub image: Option<String>,
}

/// What the server takes as a name (and as a platform resource's text attribute), as a JSON
/// Schema pattern: after trimming, at least one character and no control or invisible character
/// (soft hyphen, zero-width and direction marks, word joiners, the byte-order mark). The server's
/// own check is `validation::valid_name`; the length (1 to 100 characters) is the schema's
/// `minLength`/`maxLength`.
pub const NAME_PATTERN: &str = "^\\s*[^\\s\\x00-\\x1f\\x7f-\\x9f\\u00ad\\u061c\\u180e\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\ufeff][^\\x00-\\x1f\\x7f-\\x9f\\u00ad\\u061c\\u180e\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\ufeff]*$";

/// A stream destination's custom header name, as a JSON Schema pattern: an HTTP token of 1 to
/// 100 characters. (The server also refuses the names it sets itself.)
pub const HEADER_NAME_PATTERN: &str = "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$";
/// A custom header's value: 1 to 1,000 printable ASCII characters (spaces included).
pub const HEADER_VALUE_PATTERN: &str = "^[ -~]{1,1000}$";
/// A container image reference as the server takes it: 1 to 300 printable ASCII characters
/// without spaces.
pub const IMAGE_PATTERN: &str = "^[!-~]{1,300}$";
/// An email address as the server takes it: something, `@`, a domain with a dot and no second
/// `@`; no spaces or control characters inside (around it they are trimmed); at most 254
/// characters (the schema's `maxLength`).
pub const EMAIL_PATTERN: &str = "^\\s*[^\\s@\\x00-\\x1f\\x7f-\\x9f]+@[^\\s@\\x00-\\x1f\\x7f-\\x9f]*\\.[^\\s@\\x00-\\x1f\\x7f-\\x9f]*\\s*$";

/// An ingested event's path: starts with `/`, no control or invisible characters.
pub const INGEST_PATH_PATTERN: &str = "^/[^\\x00-\\x1f\\x7f-\\x9f\\u00ad\\u061c\\u180e\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\ufeff]*$";
/// An ingested event's action: an action key in the `ext.` namespace.
pub const INGEST_ACTION_PATTERN: &str = "^ext(\\.[a-z0-9_]+)+$";

/// Declares the wire types of a platform resource that is a name plus text attributes.
macro_rules! named_resource {
    ($wire:ident, $create:ident, $update:ident { $($field:ident),* }) => {
        #[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        pub struct $wire {
            pub id: i64,
            pub name: String,
            $(pub $field: String,)*
            pub created_at: DateTime<Utc>,
            pub updated_at: DateTime<Utc>,
        }

        #[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
        #[derive(Clone, Debug, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $create {
            #[cfg_attr(feature = "openapi", schemars(length(min = 1, max = 100), pattern(NAME_PATTERN)))]
            pub name: String,
            $(
                #[cfg_attr(feature = "openapi", schemars(length(min = 1, max = 100), pattern(NAME_PATTERN)))]
                pub $field: String,
            )*
        }

        #[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
        #[derive(Clone, Debug, Default, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $update {
            #[serde(default)]
            #[cfg_attr(feature = "openapi", schemars(length(min = 1, max = 100), pattern(NAME_PATTERN)))]
            pub name: Option<String>,
            $(
                #[serde(default)]
                #[cfg_attr(feature = "openapi", schemars(length(min = 1, max = 100), pattern(NAME_PATTERN)))]
                pub $field: Option<String>,
            )*
        }
    };
}

named_resource!(Cluster, CreateCluster, UpdateCluster { region });
named_resource!(Datastore, CreateDatastore, UpdateDatastore { engine });
named_resource!(
    EnvironmentGroup,
    CreateEnvironmentGroup,
    UpdateEnvironmentGroup {}
);
named_resource!(
    CloudAccount,
    CreateCloudAccount,
    UpdateCloudAccount {
        provider,
        external_account_id
    }
);
named_resource!(Integration, CreateIntegration, UpdateIntegration { kind });

// ---------------------------------------------------------------------------------------------
// The audit log.

/// `GET /api/v1/projects/{project}/audit-logs/verify?<range>`: the hash chain's verdict.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// True when every entry in the window is present and unaltered.
    pub ok: bool,
    /// Entries checked.
    pub checked: u64,
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    /// The first link found broken, when `ok` is false.
    pub broken: Option<BrokenLink>,
    /// The project's chain head as the server signed it, for clients to keep and compare on
    /// their next verification (a head that went backwards was rolled back), and to check
    /// offline with the keys of `GET /api/v1/audit-log-keys`.
    #[serde(default)]
    pub signed_head: Option<SignedHead>,
}

/// One line of a verification streamed as NDJSON (`Accept: application/x-ndjson`): progress
/// lines while the chain is walked, then the report.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyLine {
    /// `{"progress":{"checked":…,"through_seq":…}}`
    Progress(VerifyProgress),
    /// `{"report":{…}}`, always the last line.
    Report(VerifyReport),
}

/// How far a verification has come.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyProgress {
    /// Entries checked so far.
    pub checked: u64,
    /// The chain position reached.
    pub through_seq: i64,
}

/// A chain head signed with the server's Ed25519 key. The signature covers the canonical JSON
/// `{"kind":"auditlog.head.v1","project_id":…,"chain_seq":…,"entry_hash":"…","signed_at":…}`
/// (keys in that order, no spaces; `signed_at` in microseconds since the epoch).
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedHead {
    pub project_id: i64,
    pub chain_seq: i64,
    pub entry_hash: String,
    /// Microseconds since the Unix epoch.
    pub signed_at: i64,
    pub key_id: String,
    /// The Ed25519 signature, hex.
    pub signature: String,
}

impl SignedHead {
    /// The exact bytes the signature covers (see the type's documentation).
    pub fn statement(&self) -> String {
        head_statement(
            self.project_id,
            self.chain_seq,
            &self.entry_hash,
            self.signed_at,
        )
    }
}

/// The canonical statement of a signed chain head: what the server signs and every client
/// checks. `entry_hash` is lowercase hex, so it needs no escaping.
pub fn head_statement(project_id: i64, chain_seq: i64, entry_hash: &str, signed_at: i64) -> String {
    chain_statement(
        HEAD_STATEMENT_KIND,
        project_id,
        chain_seq,
        entry_hash,
        signed_at,
    )
}

/// The kind of a signed chain head.
pub const HEAD_STATEMENT_KIND: &str = "auditlog.head.v1";
/// The kind of a signed retention watermark: entries up to `chain_seq` were removed on purpose.
pub const RETENTION_STATEMENT_KIND: &str = "auditlog.retention.v1";
/// The kind of a signed conflict: the server found the chain head `(chain_seq, entry_hash)`
/// signed by no trusted key, and appended on top of it. Entries from the statement's position on
/// are not vouched for by the server.
pub const CONFLICT_STATEMENT_KIND: &str = "auditlog.conflict.v1";

/// A signed statement about one position of a project's chain, of the given kind.
pub fn chain_statement(
    kind: &str,
    project_id: i64,
    chain_seq: i64,
    entry_hash: &str,
    signed_at: i64,
) -> String {
    format!(
        r#"{{"kind":"{kind}","project_id":{project_id},"chain_seq":{chain_seq},"entry_hash":"{entry_hash}","signed_at":{signed_at}}}"#
    )
}

/// `GET …/audit-logs/chain/{chain_seq}`: one position of the project's hash chain, for clients
/// that remember a head to check it is still there.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainLink {
    pub chain_seq: i64,
    pub entry_id: i64,
    pub prev_hash: String,
    pub entry_hash: String,
}

/// `GET /api/v1/audit-log-keys`: a public key the server signs chain heads with.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainKey {
    /// The first 16 hex digits of the SHA-256 of the public key.
    pub key_id: String,
    /// Always `ed25519`.
    pub algorithm: String,
    /// The 32-byte public key, hex.
    pub public_key: String,
    /// Whether the server signs with it now (otherwise it is a retired key, still trusted for
    /// what it signed).
    pub current: bool,
}

/// The kind of a signed export manifest.
pub const EXPORT_STATEMENT_KIND: &str = "auditlog.export.v1";

/// `GET …/audit-logs/exports/{export_id}/manifest`: what one export held, signed by the server
/// when the download ended. `auditlog export verify` checks a file against it offline.
///
/// The signature covers [`ExportManifest::statement`]: the compact JSON of every field but
/// `key_id` and `signature`, keys in the order below.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportManifest {
    /// Always `auditlog.export.v1`.
    pub kind: String,
    pub export_id: String,
    pub project_id: i64,
    /// The canonical query string the export answered (its filters, search and window).
    pub query: String,
    /// The window after retention, microseconds since the epoch, half-open `[from, to)`.
    pub from: i64,
    pub to: i64,
    /// `csv` or `ndjson`.
    pub format: String,
    /// Data rows in the file (a CSV file's header row is not one).
    pub rows: u64,
    /// Entries that matched the query; more than `rows` when the export was cut.
    pub matched: u64,
    pub truncated: bool,
    /// The file's length and SHA-256 (lowercase hex).
    pub bytes: u64,
    pub sha256: String,
    /// The lowest and highest chain position among the rows.
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    /// When the export ended, microseconds since the epoch.
    pub created_at: i64,
    /// The project's signed chain head when the export ended.
    pub head: Option<SignedHead>,
    pub key_id: String,
    /// The Ed25519 signature of the statement, hex.
    pub signature: String,
}

impl ExportManifest {
    /// Whether `file` has the length and SHA-256 the manifest states (the signature is checked
    /// apart, with the server's public key).
    pub fn describes(&self, file: &[u8]) -> bool {
        use sha2::Digest as _;
        file.len() as u64 == self.bytes && hex::encode(sha2::Sha256::digest(file)) == self.sha256
    }

    /// The exact bytes the signature covers.
    pub fn statement(&self) -> String {
        #[derive(Serialize)]
        struct Statement<'a> {
            kind: &'a str,
            export_id: &'a str,
            project_id: i64,
            query: &'a str,
            from: i64,
            to: i64,
            format: &'a str,
            rows: u64,
            matched: u64,
            truncated: bool,
            bytes: u64,
            sha256: &'a str,
            first_seq: Option<i64>,
            last_seq: Option<i64>,
            created_at: i64,
            head: Option<&'a SignedHead>,
        }
        serde_json::to_string(&Statement {
            kind: &self.kind,
            export_id: &self.export_id,
            project_id: self.project_id,
            query: &self.query,
            from: self.from,
            to: self.to,
            format: &self.format,
            rows: self.rows,
            matched: self.matched,
            truncated: self.truncated,
            bytes: self.bytes,
            sha256: &self.sha256,
            first_seq: self.first_seq,
            last_seq: self.last_seq,
            created_at: self.created_at,
            head: self.head.as_ref(),
        })
        .expect("plain data serializes")
    }
}

#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokenLink {
    /// Position in the project's chain of the first entry that fails.
    pub chain_seq: i64,
    /// Its id, when the row exists (a deleted row has none).
    pub entry_id: Option<i64>,
    pub reason: String,
}

/// `POST /api/v1/projects/{project}/ingest`: events from an external service.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestBatch {
    #[cfg_attr(feature = "openapi", schemars(length(min = 1, max = 1000)))]
    pub events: Vec<IngestEvent>,
}

/// One external event. The server stamps the receive time; the chain covers it like any entry.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestEvent {
    pub actor: IngestActor,
    #[cfg_attr(
        feature = "openapi",
        schemars(extend("enum" = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]))
    )]
    pub method: String,
    #[cfg_attr(
        feature = "openapi",
        schemars(length(max = 2000), pattern(INGEST_PATH_PATTERN))
    )]
    pub path: String,
    #[cfg_attr(
        feature = "openapi",
        schemars(length(max = 64), pattern(INGEST_ACTION_PATTERN))
    )]
    pub action: String,
    #[cfg_attr(feature = "openapi", schemars(range(min = 100, max = 599)))]
    pub status: u16,
    pub resource: IngestResource,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schemars(extend("anyOf" = [{"format": "ipv4"}, {"format": "ipv6"}])))]
    pub client_ip: Option<String>,
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schemars(length(max = 512), pattern(NAME_PATTERN))
    )]
    pub user_agent: Option<String>,
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schemars(length(max = 100), pattern(NAME_PATTERN))
    )]
    pub request_id: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schemars(range(min = 0, max = 86_400_000)))]
    pub duration_ms: Option<f64>,
}

#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestActor {
    /// `user` or `token`. The actor is as the sending service names it: it has no id here, so
    /// it can never pass for one of this server's users or tokens.
    #[cfg_attr(feature = "openapi", schemars(extend("enum" = ["user", "token"])))]
    pub kind: String,
    #[cfg_attr(
        feature = "openapi",
        schemars(length(max = 200), pattern(NAME_PATTERN))
    )]
    pub name: String,
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schemars(length(max = 254), pattern(NAME_PATTERN))
    )]
    pub email: Option<String>,
}

#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestResource {
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schemars(extend("enum" = crate::ResourceType::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>())))]
    pub kind: String,
    #[serde(default)]
    pub id: Option<i64>,
    #[cfg_attr(
        feature = "openapi",
        schemars(length(max = 200), pattern(NAME_PATTERN))
    )]
    pub name: String,
}

#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestReceipt {
    /// Events stored, all durably, in order.
    pub accepted: usize,
}

/// One audit entry as clients see it.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    /// When the server received the request (UTC, microseconds).
    pub timestamp: DateTime<Utc>,
    pub actor: EntryActor,
    pub source: crate::Source,
    pub method: String,
    /// The request path, query string included with secrets redacted.
    pub path: String,
    /// The route template the request matched.
    pub route: String,
    /// The stable action key, such as `application.deploy`.
    pub action: String,
    /// Its human-readable label, such as "Deploy application".
    pub action_label: String,
    pub status: u16,
    pub resource: EntryResource,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: String,
    pub duration_ms: f64,
    /// For an ingested event (source `ingest`): the id of the API token that sent it.
    #[serde(default)]
    pub ingested_by_token_id: Option<i64>,
    /// The entry's position in its project's hash chain (from 1).
    pub chain_seq: i64,
    /// The hash of the entry before it in the chain (all zeros for the first).
    pub prev_hash: String,
    /// The entry's own hash: see [`crate::chain`] for how anyone recomputes it.
    pub entry_hash: String,
    /// What a state-changing request changed, field by field (none for reads, failures and
    /// requests that changed nothing); covered by the hash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
}

/// One field a request changed: its value before and after, as the resource's API shows it
/// (`None` where it had none). Secrets never appear.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryActor {
    /// `user` or `token`.
    pub kind: String,
    pub id: Option<i64>,
    /// The name as it was when the request was made.
    pub name: String,
    pub email: Option<String>,
}

#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryResource {
    #[serde(rename = "type")]
    pub kind: crate::ResourceType,
    pub id: Option<i64>,
    pub name: String,
}

/// `GET /api/v1/projects/{project}/audit-logs?<query>`: one page, newest first.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    /// How many entries match in the whole window is the histogram's `total`: a page only pages.
    pub entries: Vec<AuditEntry>,
    /// The window after retention, half-open `[from, to)`.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The canonical query string of the next (older) page, when there is one.
    pub next: Option<String>,
    /// The canonical query string of the previous (newer) page, when there is one.
    pub previous: Option<String>,
}

/// `GET /api/v1/projects/{project}/audit-logs/histogram?<query>`: entries per time bucket.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The width of every bucket; buckets start on multiples of it since the Unix epoch (UTC).
    pub bucket_seconds: i64,
    /// Every bucket of the window, empty ones included, oldest first.
    pub buckets: Vec<HistogramBucket>,
    pub total: u64,
}

#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistogramBucket {
    pub start: DateTime<Utc>,
    pub count: u64,
    /// The bucket's entries per status class, 1xx to 5xx (they sum to `count`). Absent in every
    /// bucket of a view filtered on actor, source, resource type, application or cluster alone,
    /// whose counts come from a rollup that knows no status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_status_class: Option<[u64; 5]>,
}

/// `GET /api/v1/projects/{project}/audit-logs/facets?<query>[&facet=…&facet.contains=…&facet.limit=…]`:
/// the values of each filter dimension (or of the one `facet` names) with their counts, each
/// counted with the other dimensions' filters applied.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facets {
    pub dimensions: Vec<FacetDimension>,
}

#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacetDimension {
    /// The query-string key of the dimension, such as `method` or `resource_type`.
    pub key: String,
    /// The most frequent values, most frequent first.
    pub values: Vec<FacetValue>,
    /// How many further values exist (that match `facet.contains`, when given), and how many
    /// entries they hold.
    pub other_values: u64,
    pub other_count: u64,
    /// The values the view itself filters this dimension on (included, then excluded), named and
    /// counted whether or not they are among `values`.
    #[serde(default)]
    pub selected: Vec<FacetValue>,
}

#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacetValue {
    /// The value as the query string spells it (`user:12`, `DELETE`, `5`…).
    pub value: String,
    /// What to show: a name, a label, or the value itself.
    pub label: String,
    pub count: u64,
}

// ---------------------------------------------------------------------------------------------
// Saved views.

/// `GET /api/v1/projects/{project}/saved-views`: a named audit log view, shared by the project's
/// admins.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedView {
    pub id: i64,
    pub name: String,
    /// The view's canonical audit query string (no cursor).
    pub query: String,
    /// Who saved it, as they were named then.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST …/saved-views`.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSavedView {
    /// 1 to 100 characters, unique in the project.
    #[cfg_attr(
        feature = "openapi",
        schemars(length(min = 1, max = 100), pattern(NAME_PATTERN))
    )]
    pub name: String,
    /// An audit query string in any spelling the query language accepts; stored canonical.
    pub query: String,
}

/// `PATCH …/saved-views/{id}`: what changes.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateSavedView {
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schemars(length(min = 1, max = 100), pattern(NAME_PATTERN))
    )]
    pub name: Option<String>,
    #[serde(default)]
    pub query: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Streaming to SIEMs.

/// Where a stream destination delivers, and in which format.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamKind {
    /// NDJSON batches of [`StreamMessage`]s, signed with HMAC-SHA256 (`Auditlog-Signature`).
    Webhook,
    /// Splunk's HTTP Event Collector: `/services/collector/event`, `Authorization: Splunk …`.
    SplunkHec,
    /// RFC 5424 syslog over TCP with TLS (`syslog+tls://host:6514`), one message per entry.
    Syslog,
    /// Datadog's logs intake: `/api/v2/logs`, `DD-API-KEY: …`, a JSON array of logs.
    Datadog,
}

impl StreamKind {
    pub const ALL: [StreamKind; 4] = [
        StreamKind::Webhook,
        StreamKind::SplunkHec,
        StreamKind::Datadog,
        StreamKind::Syslog,
    ];

    /// Whether the kind authenticates with a token the admin gives (Splunk's HEC token,
    /// Datadog's API key).
    pub fn takes_token(self) -> bool {
        matches!(self, StreamKind::SplunkHec | StreamKind::Datadog)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StreamKind::Webhook => "webhook",
            StreamKind::SplunkHec => "splunk_hec",
            StreamKind::Syslog => "syslog",
            StreamKind::Datadog => "datadog",
        }
    }

    pub fn parse(text: &str) -> Option<StreamKind> {
        StreamKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }

    pub fn label(self) -> &'static str {
        match self {
            StreamKind::Webhook => "Webhook",
            StreamKind::SplunkHec => "Splunk HTTP Event Collector",
            StreamKind::Syslog => "Syslog (RFC 5424 over TLS)",
            StreamKind::Datadog => "Datadog logs",
        }
    }
}

/// A destination's health.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamStatus {
    /// Delivering; its last attempt (if any) succeeded.
    Active,
    /// Paused by an admin: nothing is sent, entries wait.
    Paused,
    /// Its last attempts failed; it retries with growing pauses.
    Retrying,
    /// It failed so many times in a row that an admin should look ([`StreamDestination::last_error`]).
    Failing,
}

/// A stream destination: every entry of the project that passes its filter is delivered to it
/// at least once, in chain order.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamDestination {
    pub id: i64,
    pub name: String,
    pub kind: StreamKind,
    pub url: String,
    /// The canonical audit filter (a query string without window or page); empty for every
    /// entry.
    pub filter: String,
    /// The names of the custom headers sent with every delivery (their values are not shown
    /// again).
    pub header_names: Vec<String>,
    pub paused: bool,
    pub status: StreamStatus,
    /// The chain position through which every entry was examined and, when it passed the
    /// filter, delivered.
    pub delivered_through_seq: i64,
    /// Entries written since then (matching the filter or not).
    pub lag_entries: i64,
    /// How long ago the oldest of them was written; 0 when caught up.
    pub lag_seconds: f64,
    /// Entries delivered since the destination was created.
    pub delivered_entries: i64,
    pub last_delivery_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub consecutive_failures: u32,
    /// When the next attempt is due after a failure.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST …/streams`.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateStreamDestination {
    /// 1 to 100 characters, unique in the project.
    #[cfg_attr(
        feature = "openapi",
        schemars(length(min = 1, max = 100), pattern(NAME_PATTERN))
    )]
    pub name: String,
    pub kind: StreamKind,
    /// `https://…` (plain `http://` only to private addresses the server allows). For Splunk,
    /// the collector's base URL; `/services/collector/event` is added when no path is given.
    /// For Datadog, the intake's base URL for the site (`https://http-intake.logs.datadoghq.eu`);
    /// `/api/v2/logs` is added when no path is given. For syslog, `syslog+tls://host:6514` (plain `syslog://host:514` only to private
    /// addresses the server allows).
    pub url: String,
    /// An audit filter; empty delivers every entry.
    #[serde(default)]
    pub filter: String,
    /// Custom headers sent with every delivery (at most 10).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schemars(extend("maxProperties" = 10, "propertyNames" = {"pattern": HEADER_NAME_PATTERN}, "additionalProperties" = {"type": "string", "pattern": HEADER_VALUE_PATTERN})))]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Splunk's HEC token or Datadog's API key (required for `splunk_hec` and `datadog`,
    /// refused for the others).
    #[serde(default)]
    pub token: Option<String>,
    /// Deliver the entries already kept too (oldest first); otherwise only those written from
    /// now on.
    #[serde(default)]
    pub backfill: bool,
}

/// The answer to `POST …/streams`.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CreatedStreamDestination {
    pub destination: StreamDestination,
    /// A webhook's signing secret, shown only here: `Auditlog-Signature` is its HMAC-SHA256.
    pub signing_secret: Option<String>,
}

/// `PATCH …/streams/{id}`: what changes. A new URL is verified again before it is kept.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateStreamDestination {
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schemars(length(min = 1, max = 100), pattern(NAME_PATTERN))
    )]
    pub name: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub filter: Option<String>,
    /// Replaces every custom header.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schemars(extend("maxProperties" = 10, "propertyNames" = {"pattern": HEADER_NAME_PATTERN}, "additionalProperties" = {"type": "string", "pattern": HEADER_VALUE_PATTERN})))]
    pub headers: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default)]
    pub token: Option<String>,
    /// Pauses or resumes delivery (resuming retries at once).
    #[serde(default)]
    pub paused: Option<bool>,
}

/// The answer to `POST …/streams/{id}/test`: how the destination took a test message.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamTestResult {
    pub delivered: bool,
    /// The destination's HTTP status, when it answered.
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: f64,
}

/// One line of a webhook delivery (NDJSON), or the `event` of a Splunk HEC event.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum StreamMessage {
    /// An audit entry. `event_id` (`<project>:<entry id>`) is stable across redeliveries.
    #[serde(rename = "auditlog.entry")]
    Entry {
        event_id: String,
        project_id: i64,
        entry: Box<AuditEntry>,
    },
    /// Sent by "send test event".
    #[serde(rename = "auditlog.test")]
    Test {
        event_id: String,
        project_id: i64,
        sent_at: DateTime<Utc>,
    },
    /// The handshake when a webhook is created or its URL changes: the receiver answers 2xx
    /// with the challenge in its body.
    #[serde(rename = "auditlog.verification")]
    Verification { challenge: String },
    /// An alert fired. `event_id` (`<project>:alert:<firing id>`) is stable across
    /// redeliveries.
    #[serde(rename = "auditlog.alert")]
    Alert(Box<AlertNotification>),
}

// ---------------------------------------------------------------------------------------------
// Alerts.

/// When an alert fires.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AlertCondition {
    /// Every matching entry fires the alert once.
    Any,
    /// Fires when `count` matching entries (of one group, with `group_by`) fall within
    /// `window_seconds`. The group is then quiet until `window_seconds` after the entry that
    /// fired it, so a burst fires once, not once per entry.
    Threshold {
        /// 2 to 10,000.
        #[cfg_attr(feature = "openapi", schemars(range(min = 2, max = 10_000)))]
        count: u32,
        /// 1 second to 7 days.
        #[cfg_attr(feature = "openapi", schemars(range(min = 1, max = 604_800)))]
        window_seconds: u32,
        #[serde(default)]
        group_by: Option<AlertGroupBy>,
    },
}

impl AlertCondition {
    pub const MAX_COUNT: u32 = 10_000;
    pub const MAX_WINDOW_SECONDS: u32 = 7 * 86_400;

    /// Why the condition cannot be used, in words for the person who wrote it.
    pub fn problem(&self) -> Option<String> {
        match self {
            AlertCondition::Any => None,
            AlertCondition::Threshold {
                count,
                window_seconds,
                ..
            } => {
                if !(2..=Self::MAX_COUNT).contains(count) {
                    Some(format!(
                        "count must be 2 to {} (use the condition \"any\" for every match)",
                        Self::MAX_COUNT
                    ))
                } else if !(1..=Self::MAX_WINDOW_SECONDS).contains(window_seconds) {
                    Some(format!(
                        "window_seconds must be 1 to {} (7 days)",
                        Self::MAX_WINDOW_SECONDS
                    ))
                } else {
                    None
                }
            }
        }
    }

    /// The condition in words: "any match", "5 matches within 10 minutes for one actor".
    pub fn describe(&self) -> String {
        match self {
            AlertCondition::Any => "any match".to_string(),
            AlertCondition::Threshold {
                count,
                window_seconds,
                group_by,
            } => {
                let window = if window_seconds % 3_600 == 0 {
                    plural(u64::from(window_seconds / 3_600), "hour")
                } else if window_seconds % 60 == 0 {
                    plural(u64::from(window_seconds / 60), "minute")
                } else {
                    plural(u64::from(*window_seconds), "second")
                };
                let group = match group_by {
                    Some(group) => format!(" for one {}", group.label()),
                    None => String::new(),
                };
                format!("{count} matches within {window}{group}")
            }
        }
    }
}

fn plural(count: u64, unit: &str) -> String {
    if count == 1 {
        format!("1 {unit}")
    } else {
        format!("{count} {unit}s")
    }
}

/// What a threshold counts separately.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertGroupBy {
    /// The entry's actor (a user or token): "5 failed sign-ins for one account".
    Actor,
    /// The resource the request touched.
    Resource,
    /// The client's IP address.
    ClientIp,
}

impl AlertGroupBy {
    pub const ALL: [AlertGroupBy; 3] = [
        AlertGroupBy::Actor,
        AlertGroupBy::Resource,
        AlertGroupBy::ClientIp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertGroupBy::Actor => "actor",
            AlertGroupBy::Resource => "resource",
            AlertGroupBy::ClientIp => "client_ip",
        }
    }

    pub fn parse(text: &str) -> Option<AlertGroupBy> {
        AlertGroupBy::ALL
            .into_iter()
            .find(|group| group.as_str() == text)
    }

    pub fn label(self) -> &'static str {
        match self {
            AlertGroupBy::Actor => "actor",
            AlertGroupBy::Resource => "resource",
            AlertGroupBy::ClientIp => "IP address",
        }
    }
}

/// A field a matching entry must have changed, and to what (the entry's recorded changes):
/// `role` to `admin`.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertChange {
    pub field: String,
    /// The value after the change; `None` for any change of the field.
    #[serde(default)]
    pub to: Option<String>,
}

impl AlertChange {
    /// Whether an entry with these recorded changes matches.
    pub fn matches(&self, changes: &[FieldChange]) -> bool {
        changes.iter().any(|change| {
            change.field == self.field
                && match &self.to {
                    None => change.before != change.after,
                    Some(to) => change.after.as_deref() == Some(to.as_str()),
                }
        })
    }
}

/// An alert: entries that pass `filter` (and `changed`) counted against `condition`; each
/// firing is sent to a stream destination.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertRule {
    pub id: i64,
    pub name: String,
    /// The canonical audit filter (without window or page); empty for every entry.
    pub filter: String,
    pub changed: Option<AlertChange>,
    pub condition: AlertCondition,
    /// The condition in words.
    pub condition_text: String,
    pub destination_id: i64,
    pub destination_name: String,
    pub paused: bool,
    /// The health of its notifications (a paused destination holds them back too).
    pub status: StreamStatus,
    /// The chain position through which every entry was counted.
    pub evaluated_through_seq: i64,
    pub fired_count: i64,
    pub last_fired_at: Option<DateTime<Utc>>,
    /// Firings not yet delivered to the destination.
    pub pending_notifications: i64,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST …/alerts`. The filter, change and condition are fixed once created (the counting
/// state belongs to them): to change them, create another alert.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAlertRule {
    /// 1 to 100 characters, unique in the project.
    #[cfg_attr(
        feature = "openapi",
        schemars(length(min = 1, max = 100), pattern(NAME_PATTERN))
    )]
    pub name: String,
    /// An audit filter; empty counts every entry.
    #[serde(default)]
    pub filter: String,
    #[serde(default)]
    pub changed: Option<AlertChange>,
    pub condition: AlertCondition,
    /// The stream destination notifications are sent to.
    pub destination_id: i64,
}

/// `PATCH …/alerts/{id}`.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateAlertRule {
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schemars(length(min = 1, max = 100), pattern(NAME_PATTERN))
    )]
    pub name: Option<String>,
    #[serde(default)]
    pub destination_id: Option<i64>,
    /// Pauses or resumes the alert. A paused alert counts nothing; resumed, it goes on from
    /// the entries written while it was paused.
    #[serde(default)]
    pub paused: Option<bool>,
}

/// One firing of an alert.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertFiring {
    pub id: i64,
    pub alert_id: i64,
    pub fired_at: DateTime<Utc>,
    /// The group's value (an actor, resource or address key) when the condition groups.
    pub group: Option<String>,
    /// The group as people read it: the actor's or resource's name as recorded, the address.
    pub group_label: Option<String>,
    /// The matching entries that fired it.
    pub match_count: i64,
    pub first_entry_at: DateTime<Utc>,
    pub last_entry_at: DateTime<Utc>,
    /// The ids of those entries (at most the first 20).
    pub entry_ids: Vec<i64>,
    /// The dashboard view of those entries (the alert's filter over their time span): absolute
    /// when the server knows its public URL (`--public-url`), else a path.
    pub view_url: String,
    /// When the destination accepted the notification; `None` while it is pending.
    pub notified_at: Option<DateTime<Utc>>,
}

/// What a destination receives when an alert fires.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertNotification {
    pub event_id: String,
    pub project_id: i64,
    pub alert_id: i64,
    pub alert_name: String,
    pub condition: String,
    pub firing: AlertFiring,
    /// The entries that fired it (at most the first 20).
    pub entries: Vec<AuditEntry>,
}

/// A ready-made alert the dashboard and CLI offer.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertPreset {
    /// A short name for the CLI (`--preset token-created`).
    pub key: &'static str,
    pub name: &'static str,
    pub filter: &'static str,
    pub changed: Option<(&'static str, &'static str)>,
    pub condition: AlertCondition,
}

impl AlertPreset {
    /// The preset as a creation request for `destination_id`.
    pub fn to_create(&self, destination_id: i64) -> CreateAlertRule {
        CreateAlertRule {
            name: self.name.to_string(),
            filter: self.filter.to_string(),
            changed: self.changed.map(|(field, to)| AlertChange {
                field: field.to_string(),
                to: Some(to.to_string()),
            }),
            condition: self.condition.clone(),
            destination_id,
        }
    }
}

/// The alerts most projects want.
pub fn alert_presets() -> Vec<AlertPreset> {
    vec![
        AlertPreset {
            key: "token-created",
            name: "API token created",
            filter: "action=api_token.create&status=2xx",
            changed: None,
            condition: AlertCondition::Any,
        },
        AlertPreset {
            key: "role-changed-to-admin",
            name: "Role changed to admin",
            filter: "action=user.change_role&status=2xx",
            changed: Some(("role", "admin")),
            condition: AlertCondition::Any,
        },
        AlertPreset {
            key: "export-run",
            name: "Audit log exported",
            filter: "action=audit_log.export&status=2xx",
            changed: None,
            condition: AlertCondition::Any,
        },
        AlertPreset {
            key: "failed-sign-ins",
            name: "5 failed sign-ins for one account in 10 minutes",
            filter: "action=session.sign_in_failed",
            changed: None,
            condition: AlertCondition::Threshold {
                count: 5,
                window_seconds: 600,
                group_by: Some(AlertGroupBy::Actor),
            },
        },
        AlertPreset {
            key: "verification-failed",
            name: "Audit log verification failed",
            filter: "action=audit_log.verification_failed",
            changed: None,
            condition: AlertCondition::Any,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_canonical_filters_with_usable_conditions() {
        let presets = alert_presets();
        let keys: std::collections::BTreeSet<&str> = presets.iter().map(|p| p.key).collect();
        assert_eq!(keys.len(), presets.len(), "preset keys are unique");
        for preset in presets {
            let query = crate::AuditQuery::parse_filter(preset.filter).unwrap();
            assert_eq!(query.to_query_string(), preset.filter, "{}", preset.key);
            assert_eq!(preset.condition.problem(), None, "{}", preset.key);
        }
    }

    #[test]
    fn conditions_say_what_is_wrong_and_read_as_words() {
        let threshold = |count, window_seconds| AlertCondition::Threshold {
            count,
            window_seconds,
            group_by: None,
        };
        assert!(threshold(1, 60).problem().unwrap().contains("\"any\""));
        assert!(threshold(2, 0)
            .problem()
            .unwrap()
            .contains("window_seconds"));
        assert!(threshold(2, 8 * 86_400).problem().is_some());
        assert_eq!(threshold(2, 7 * 86_400).problem(), None);
        assert_eq!(threshold(3, 90).describe(), "3 matches within 90 seconds");
        assert_eq!(threshold(3, 7_200).describe(), "3 matches within 2 hours");
        let grouped = AlertCondition::Threshold {
            count: 5,
            window_seconds: 600,
            group_by: Some(AlertGroupBy::ClientIp),
        };
        assert_eq!(
            grouped.describe(),
            "5 matches within 10 minutes for one IP address"
        );
        assert_eq!(
            serde_json::to_value(&grouped).unwrap(),
            serde_json::json!({"type": "threshold", "count": 5, "window_seconds": 600, "group_by": "client_ip"})
        );
        assert!(serde_json::from_str::<AlertCondition>(r#"{"type":"sometimes"}"#).is_err());
    }

    #[test]
    fn a_change_matches_its_field_and_new_value() {
        let change = |field: &str, before: &str, after: &str| FieldChange {
            field: field.into(),
            before: Some(before.into()),
            after: Some(after.into()),
        };
        let to_admin = AlertChange {
            field: "role".into(),
            to: Some("admin".into()),
        };
        assert!(to_admin.matches(&[
            change("name", "a", "b"),
            change("role", "developer", "admin")
        ]));
        assert!(!to_admin.matches(&[change("role", "admin", "viewer")]));
        let any_role = AlertChange {
            field: "role".into(),
            to: None,
        };
        assert!(any_role.matches(&[change("role", "admin", "viewer")]));
        assert!(!any_role.matches(&[change("image", "a", "b")]));
    }
}
