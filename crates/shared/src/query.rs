//! [`AuditQuery`]: the typed audit log view and its one canonical query-string form.
//!
//! The canonical form, produced by [`AuditQuery::to_query_string`]:
//!
//! * keys in a fixed order: `range`, `from`, `to`, then for each dimension (actor, method, source,
//!   action, status, resource_type, application, cluster) its include key and its `.not` exclude
//!   key, then `request_id`, `q`, `limit`, `cursor`;
//! * one `key=value` pair per value, values of a dimension in their natural sorted order;
//! * defaults (the 7-day range, 50 rows a page) and empty parts left out;
//! * values percent-encoded, a space written as `+`; `:`, `@`, `/` and `*` kept readable.
//!
//! [`AuditQuery::parse`] accepts that form and a few conveniences for people who type queries by
//! hand: a leading `?`, comma-separated lists (`method=POST,DELETE`), case-insensitive enum values
//! (`method=get`, `status=5XX`), any RFC 3339 offset, and the defaults spelled out. Everything else
//! is an error that names the key and the value: unknown keys, repeated single-valued keys, values
//! that are both included and excluded, broken percent-escapes, reversed date ranges, oversized
//! input.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, SecondsFormat, SubsecRound, Utc};

use crate::cursor::Cursor;
use crate::dimension::Dimension;
use crate::urlencoding::{decode, encode};

/// Rows per page when the query does not say.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// The largest page a client may ask for.
pub const MAX_PAGE_SIZE: u32 = 200;
/// The longest search text, in characters.
pub const MAX_SEARCH_CHARS: usize = 200;
/// The most values one include or exclude list may hold.
pub const MAX_FILTER_VALUES: usize = 100;
/// The longest query string [`AuditQuery::parse`] reads, in bytes.
pub const MAX_QUERY_STRING_BYTES: usize = 16 * 1024;
/// How long audit entries are kept and can be queried.
pub const RETENTION_DAYS: i64 = 30;

/// One audit log view: filters, search, date range and page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub range: DateRange,
    pub actor: Filter<ActorRef>,
    pub method: Filter<Method>,
    pub source: Filter<Source>,
    pub action: Filter<ActionMatch>,
    pub status: Filter<StatusMatch>,
    pub resource_type: Filter<ResourceType>,
    /// Entries whose resource is one of these applications.
    pub application: Filter<EntityId>,
    /// Entries whose resource is one of these clusters.
    pub cluster: Filter<EntityId>,
    /// Only the entries of one request (its `X-Request-Id`; an ingested event's own id).
    pub request_id: Option<RequestId>,
    /// Case-insensitive substring over path, user email, token, application and cluster names.
    pub search: Option<SearchText>,
    pub page_size: PageSize,
    pub cursor: Option<Cursor>,
}

/// An include list and an exclude list over one dimension.
///
/// An entry passes when the include list is empty or holds its value, and the exclude list does
/// not hold its value. [`AuditQuery::parse`] never yields a value in both lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter<T: Ord> {
    pub include: BTreeSet<T>,
    pub exclude: BTreeSet<T>,
}

impl<T: Ord> Default for Filter<T> {
    fn default() -> Self {
        Filter {
            include: BTreeSet::new(),
            exclude: BTreeSet::new(),
        }
    }
}

impl<T: Ord> Filter<T> {
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    /// Whether an entry with this value passes the filter.
    pub fn admits(&self, value: &T) -> bool {
        (self.include.is_empty() || self.include.contains(value)) && !self.exclude.contains(value)
    }
}

/// The time window of a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateRange {
    /// The window ending now.
    Last(Preset),
    /// A fixed window.
    Custom(CustomRange),
}

impl Default for DateRange {
    fn default() -> Self {
        DateRange::Last(Preset::Days7)
    }
}

/// The preset windows of the date range picker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Preset {
    Hour1,
    Hours24,
    Days7,
    Days30,
}

impl Preset {
    pub const ALL: [Preset; 4] = [
        Preset::Hour1,
        Preset::Hours24,
        Preset::Days7,
        Preset::Days30,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Hour1 => "1h",
            Preset::Hours24 => "24h",
            Preset::Days7 => "7d",
            Preset::Days30 => "30d",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Preset::Hour1 => "Last hour",
            Preset::Hours24 => "Last 24 hours",
            Preset::Days7 => "Last 7 days",
            Preset::Days30 => "Last 30 days",
        }
    }

    pub fn duration(self) -> Duration {
        match self {
            Preset::Hour1 => Duration::hours(1),
            Preset::Hours24 => Duration::hours(24),
            Preset::Days7 => Duration::days(7),
            Preset::Days30 => Duration::days(30),
        }
    }
}

/// A custom window `[from, to)`: at least one end is set, `from` comes before `to`, and both are
/// whole microseconds (the precision audit entries are stored with).
///
/// A missing `from` means "since the oldest retained entry"; a missing `to` means "until now".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CustomRange {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

impl CustomRange {
    /// Builds a window, truncating both ends to microseconds.
    pub fn new(
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<CustomRange, QueryError> {
        let from = from.map(|t| t.trunc_subsecs(6));
        let to = to.map(|t| t.trunc_subsecs(6));
        match (from, to) {
            (None, None) => Err(QueryError::InvalidRange {
                reason: "a custom range needs `from`, `to` or both".to_string(),
            }),
            (Some(from), Some(to)) if from >= to => Err(QueryError::InvalidRange {
                reason: format!(
                    "`from` ({}) must be before `to` ({})",
                    format_instant(from),
                    format_instant(to)
                ),
            }),
            _ => Ok(CustomRange { from, to }),
        }
    }

    pub fn from(&self) -> Option<DateTime<Utc>> {
        self.from
    }

    pub fn to(&self) -> Option<DateTime<Utc>> {
        self.to
    }
}

/// A date range pinned to instants: the half-open window `[from, to)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResolvedRange {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl DateRange {
    /// Pins the range to instants, given the current time. Presets end now; a custom range
    /// without `from` starts at the retention horizon and one without `to` ends now.
    pub fn resolve(&self, now: DateTime<Utc>) -> ResolvedRange {
        let now = now.trunc_subsecs(6);
        match self {
            DateRange::Last(preset) => ResolvedRange {
                from: now - preset.duration(),
                to: now,
            },
            DateRange::Custom(custom) => ResolvedRange {
                from: custom
                    .from
                    .unwrap_or_else(|| now - Duration::days(RETENTION_DAYS)),
                to: custom.to.unwrap_or(now),
            },
        }
    }
}

/// Who made a request: a user or an API token, by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ActorRef {
    User(EntityId),
    Token(EntityId),
}

/// The HTTP methods the project API serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
    Options,
}

/// Where a request came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// A browser session on the dashboard.
    Dashboard,
    /// The project's CLI, recognised by its User-Agent.
    Cli,
    /// Any other API-token request.
    Api,
    /// An event an external service sent through the ingest endpoint: what it describes was not
    /// observed by this server, only reported to it (by the token the entry names).
    Ingest,
}

/// The kinds of resource an entry can be tied to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceType {
    Application,
    Cluster,
    Datastore,
    EnvironmentGroup,
    Project,
    CloudAccount,
    ApiToken,
    Integration,
    User,
    /// An invitation to join a project.
    Invitation,
    /// A saved audit log view.
    SavedView,
    /// Where the project's entries are streamed (a webhook, a SIEM).
    StreamDestination,
    /// An alert on the project's entries.
    Alert,
}

/// A status code (`404`) or a status class (`5xx`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StatusMatch {
    Code(u16),
    /// The hundreds digit, 1 to 5.
    Class(u8),
}

impl StatusMatch {
    pub fn matches(self, status: u16) -> bool {
        match self {
            StatusMatch::Code(code) => code == status,
            StatusMatch::Class(class) => status / 100 == u16::from(class),
        }
    }
}

/// The positive id of a stored entity (user, token, application, cluster …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntityId(i64);

impl EntityId {
    pub fn new(id: i64) -> Option<EntityId> {
        (id > 0).then_some(EntityId(id))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// A machine action key such as `application.deploy`: lowercase ASCII words of letters, digits
/// and `_`, joined by dots, at most 64 characters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActionKey(String);

impl ActionKey {
    pub fn new(key: &str) -> Option<ActionKey> {
        let well_formed = !key.is_empty()
            && key.len() <= 64
            && key.split('.').all(|word| {
                !word.is_empty()
                    && word
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            });
        well_formed.then(|| ActionKey(key.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An action filter value: one action (`audit_log.list`), or every action of a namespace,
/// written with a trailing `.*` (`audit_log.*` matches `audit_log.list` and
/// `audit_log.export`, not `audit_logs.x`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ActionMatch {
    Key(ActionKey),
    Namespace(ActionKey),
}

impl ActionMatch {
    /// Whether an action (its key) is this one or in this namespace.
    pub fn matches(&self, action: &str) -> bool {
        match self {
            ActionMatch::Key(key) => key.as_str() == action,
            ActionMatch::Namespace(namespace) => in_namespace(action, namespace.as_str()),
        }
    }
}

/// Whether an action key is in a namespace (`audit_log.list` in `audit_log`, not in `audit`).
pub fn in_namespace(action: &str, namespace: &str) -> bool {
    action
        .strip_prefix(namespace)
        .is_some_and(|rest| rest.len() > 1 && rest.starts_with('.'))
}

/// The namespaces an action key is in, innermost first (`ext.billing`, then `ext`, for
/// `ext.billing.invoice_sent`).
pub fn namespaces_of(action: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(
        action.rsplit_once('.').map(|(namespace, _)| namespace),
        |rest| rest.rsplit_once('.').map(|(namespace, _)| namespace),
    )
}

impl ActionMatch {}

/// Search text: 1 to [`MAX_SEARCH_CHARS`] characters, no control characters. It is matched
/// literally: `%`, `_`, `\` and quotes have no special meaning.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SearchText(String);

impl SearchText {
    pub fn new(text: &str) -> Result<SearchText, &'static str> {
        if text.is_empty() {
            Err("search text is empty")
        } else if text.chars().count() > MAX_SEARCH_CHARS {
            Err("search text is longer than 200 characters")
        } else if text.chars().any(char::is_control) {
            Err("search text contains a control character")
        } else {
            Ok(SearchText(text.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A request id to filter on: 1 to [`MAX_REQUEST_ID_CHARS`] characters, no control characters
/// (an ingested event's id may hold spaces). Matched exactly.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestId(String);

/// The longest request id a filter takes (an ingested event's id may be up to 100 characters).
pub const MAX_REQUEST_ID_CHARS: usize = 100;

impl RequestId {
    pub fn new(text: &str) -> Result<RequestId, &'static str> {
        if text.is_empty() {
            Err("a request id is not empty")
        } else if text.chars().count() > MAX_REQUEST_ID_CHARS {
            Err("a request id is at most 100 characters")
        } else if text.chars().any(char::is_control) {
            Err("a request id has no control characters")
        } else {
            Ok(RequestId(text.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Rows per page, 1 to [`MAX_PAGE_SIZE`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PageSize(u32);

impl PageSize {
    pub fn new(rows: u32) -> Option<PageSize> {
        (1..=MAX_PAGE_SIZE)
            .contains(&rows)
            .then_some(PageSize(rows))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for PageSize {
    fn default() -> Self {
        PageSize(DEFAULT_PAGE_SIZE)
    }
}

/// Why a query string was rejected. Every variant names the offending key (and value).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("the query string is longer than {MAX_QUERY_STRING_BYTES} bytes")]
    TooLong,
    #[error("malformed query string near `{fragment}`: {reason}")]
    Malformed { fragment: String, reason: String },
    #[error("unknown query parameter `{key}`")]
    UnknownKey { key: String },
    #[error("query parameter `{key}` may appear only once")]
    Repeated { key: String },
    #[error("invalid value `{value}` for `{key}`: {reason}")]
    InvalidValue {
        key: String,
        value: String,
        reason: String,
    },
    #[error("`{value}` is both included (`{key}`) and excluded (`{key}.not`)")]
    IncludedAndExcluded { key: String, value: String },
    #[error("`{key}` lists more than {MAX_FILTER_VALUES} values")]
    TooManyValues { key: String },
    #[error("`range` cannot be combined with `from` or `to`; use a preset or a custom range")]
    ConflictingRange,
    #[error("invalid date range: {reason}")]
    InvalidRange { reason: String },
    #[error("`{key}` sets a window or a page; a filter matches entries whenever they are written and takes neither")]
    NotAFilterKey { key: String },
}

impl QueryError {
    /// The query parameter the error is about, for problem documents.
    pub fn key(&self) -> Option<&str> {
        match self {
            QueryError::TooLong | QueryError::Malformed { .. } => None,
            QueryError::UnknownKey { key }
            | QueryError::Repeated { key }
            | QueryError::InvalidValue { key, .. }
            | QueryError::IncludedAndExcluded { key, .. }
            | QueryError::TooManyValues { key }
            | QueryError::NotAFilterKey { key } => Some(key),
            QueryError::ConflictingRange | QueryError::InvalidRange { .. } => Some("range"),
        }
    }
}

/// A value of a filter dimension: read from and written to one query-string value.
trait FilterValue: Ord + Sized {
    const EXPECTED: &'static str;
    fn parse_value(text: &str) -> Option<Self>;
    fn write_value(&self) -> String;
}

impl FilterValue for ActorRef {
    const EXPECTED: &'static str = "expected `user:<id>` or `token:<id>`";

    fn parse_value(text: &str) -> Option<Self> {
        let (kind, id) = text.split_once(':')?;
        let id = EntityId::parse_value(id)?;
        match kind.to_ascii_lowercase().as_str() {
            "user" => Some(ActorRef::User(id)),
            "token" => Some(ActorRef::Token(id)),
            _ => None,
        }
    }

    fn write_value(&self) -> String {
        self.to_string()
    }
}

impl FilterValue for EntityId {
    const EXPECTED: &'static str = "expected a positive integer id";

    fn parse_value(text: &str) -> Option<Self> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse().ok().and_then(EntityId::new)
    }

    fn write_value(&self) -> String {
        self.0.to_string()
    }
}

impl FilterValue for ActionMatch {
    const EXPECTED: &'static str =
        "expected an action key such as `application.deploy` (lowercase words joined by dots), or a namespace such as `audit_log.*`";

    fn parse_value(text: &str) -> Option<Self> {
        match text.strip_suffix(".*") {
            Some(namespace) => ActionKey::new(namespace).map(ActionMatch::Namespace),
            None => ActionKey::new(text).map(ActionMatch::Key),
        }
    }

    fn write_value(&self) -> String {
        match self {
            ActionMatch::Key(key) => key.0.clone(),
            ActionMatch::Namespace(namespace) => format!("{}.*", namespace.0),
        }
    }
}

impl FilterValue for StatusMatch {
    const EXPECTED: &'static str = "expected a status code (100-599) or class (1xx-5xx)";

    fn parse_value(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 3 {
            return None;
        }
        if bytes[1..].eq_ignore_ascii_case(b"xx") {
            return match bytes[0] {
                digit @ b'1'..=b'5' => Some(StatusMatch::Class(digit - b'0')),
                _ => None,
            };
        }
        if !bytes.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let code: u16 = text.parse().ok()?;
        (100..=599)
            .contains(&code)
            .then_some(StatusMatch::Code(code))
    }

    fn write_value(&self) -> String {
        self.to_string()
    }
}

/// Declares the fixed spellings of an enum's values, with parsing, display and serde as strings.
macro_rules! spelled_enum {
    ($ty:ident, $expected:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $text),+
                }
            }
        }

        impl FilterValue for $ty {
            const EXPECTED: &'static str = $expected;

            fn parse_value(text: &str) -> Option<Self> {
                $ty::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(text))
            }

            fn write_value(&self) -> String {
                self.as_str().to_string()
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, String> {
                <$ty as FilterValue>::parse_value(text)
                    .ok_or_else(|| format!("invalid value `{text}`: {}", $expected))
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        #[cfg(feature = "openapi")]
        impl schemars::JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($ty).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "enum": [$($text),+]
                })
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

spelled_enum!(Method, "expected one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS", {
    Get => "GET", Post => "POST", Put => "PUT", Patch => "PATCH", Delete => "DELETE",
    Head => "HEAD", Options => "OPTIONS",
});

spelled_enum!(Source, "expected one of dashboard, cli, api, ingest", {
    Dashboard => "dashboard", Cli => "cli", Api => "api", Ingest => "ingest",
});

spelled_enum!(ResourceType,
    "expected one of application, cluster, datastore, environment_group, project, cloud_account, api_token, integration, user, invitation, saved_view, stream_destination, alert", {
    Application => "application", Cluster => "cluster", Datastore => "datastore",
    EnvironmentGroup => "environment_group", Project => "project", CloudAccount => "cloud_account",
    ApiToken => "api_token", Integration => "integration", User => "user",
    Invitation => "invitation", SavedView => "saved_view",
    StreamDestination => "stream_destination", Alert => "alert",
});

impl fmt::Display for ActorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActorRef::User(id) => write!(f, "user:{}", id.0),
            ActorRef::Token(id) => write!(f, "token:{}", id.0),
        }
    }
}

impl fmt::Display for StatusMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusMatch::Code(code) => write!(f, "{code}"),
            StatusMatch::Class(class) => write!(f, "{class}xx"),
        }
    }
}

impl fmt::Display for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Whether `key` (decoded) is a key of the audit query language: a dimension, with or without
/// `.not`, one of `range`, `from`, `to`, `request_id`, `q`, `limit`, `cursor`, or a facets
/// request's `facet`,
/// `facet.contains`, `facet.limit`.
pub fn is_query_key(key: &str) -> bool {
    let dimension = key.strip_suffix(".not").unwrap_or(key);
    Dimension::from_key(dimension).is_some()
        || matches!(
            key,
            "range"
                | "from"
                | "to"
                | "request_id"
                | "q"
                | "limit"
                | "cursor"
                | "facet"
                | "facet.contains"
                | "facet.limit"
        )
}

/// The dashboard's own key beside a view's: the entry its drawer has open (`entry=<id>`). It is
/// not part of the view, so the API never sees it and the CLI drops it from a pasted link.
pub const OPEN_ENTRY_KEY: &str = "entry";

/// Takes the open entry off a dashboard page's query string: the entry's id (when it is a
/// positive integer) and the rest, the view, with its pairs as they were.
pub fn split_open_entry(search: &str) -> (Option<i64>, String) {
    let search = search.strip_prefix('?').unwrap_or(search);
    let mut entry = None;
    let rest: Vec<&str> = search
        .split('&')
        .filter(|pair| {
            if pair.is_empty() {
                return false;
            }
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if decode(key).ok().as_deref() != Some(OPEN_ENTRY_KEY) {
                return true;
            }
            entry = value.parse::<i64>().ok().filter(|id| *id > 0);
            false
        })
        .collect();
    (entry, rest.join("&"))
}

impl AuditQuery {
    /// Parses a query string (with or without the leading `?`).
    pub fn parse(input: &str) -> Result<AuditQuery, QueryError> {
        if input.len() > MAX_QUERY_STRING_BYTES {
            return Err(QueryError::TooLong);
        }
        let input = input.strip_prefix('?').unwrap_or(input);
        let mut query = AuditQuery::default();
        let mut seen_single: BTreeSet<&'static str> = BTreeSet::new();
        let mut preset: Option<Preset> = None;
        let (mut from, mut to) = (None, None);

        for segment in input.split('&').filter(|s| !s.is_empty()) {
            let (raw_key, raw_value) = segment.split_once('=').unwrap_or((segment, ""));
            let key = decode(raw_key).map_err(|reason| QueryError::Malformed {
                fragment: segment.to_string(),
                reason: reason.to_string(),
            })?;
            let value = decode(raw_value).map_err(|reason| QueryError::InvalidValue {
                key: key.clone(),
                value: raw_value.to_string(),
                reason: reason.to_string(),
            })?;
            let (dimension, exclude) = match key.strip_suffix(".not") {
                Some(dimension) => (dimension, true),
                None => (key.as_str(), false),
            };
            if let Some(dimension) = Dimension::from_key(dimension) {
                query.add_filter_values(dimension, exclude, &key, &value)?;
                continue;
            }
            let single = match key.as_str() {
                "range" => "range",
                "from" => "from",
                "to" => "to",
                "request_id" => "request_id",
                "q" => "q",
                "limit" => "limit",
                "cursor" => "cursor",
                _ => return Err(QueryError::UnknownKey { key }),
            };
            if !seen_single.insert(single) {
                return Err(QueryError::Repeated { key });
            }
            let invalid = |reason: &str| QueryError::InvalidValue {
                key: key.clone(),
                value: value.clone(),
                reason: reason.to_string(),
            };
            match single {
                "range" => {
                    preset = Some(
                        Preset::ALL
                            .into_iter()
                            .find(|p| p.as_str().eq_ignore_ascii_case(&value))
                            .ok_or_else(|| invalid("expected one of 1h, 24h, 7d, 30d"))?,
                    );
                }
                "from" | "to" => {
                    let instant = DateTime::parse_from_rfc3339(&value)
                        .map_err(|_| {
                            invalid("expected an RFC 3339 instant such as 2026-11-27T09:30:00Z")
                        })?
                        .with_timezone(&Utc);
                    if single == "from" {
                        from = Some(instant);
                    } else {
                        to = Some(instant);
                    }
                }
                "request_id" => {
                    query.request_id = Some(RequestId::new(&value).map_err(invalid)?);
                }
                "q" => {
                    // An empty search box means no search.
                    if !value.is_empty() {
                        query.search = Some(SearchText::new(&value).map_err(invalid)?);
                    }
                }
                "limit" => {
                    query.page_size = value
                        .parse::<u32>()
                        .ok()
                        .filter(|_| value.bytes().all(|b| b.is_ascii_digit()))
                        .and_then(PageSize::new)
                        .ok_or_else(|| invalid("expected a page size from 1 to 200"))?;
                }
                _ => {
                    query.cursor = Some(
                        Cursor::decode(&value)
                            .ok_or_else(|| invalid("not a cursor issued by this server"))?,
                    );
                }
            }
        }

        query.range = match (preset, from, to) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(QueryError::ConflictingRange)
            }
            (Some(preset), None, None) => DateRange::Last(preset),
            (None, None, None) => DateRange::default(),
            (None, from, to) => DateRange::Custom(CustomRange::new(from, to)?),
        };
        query.check_include_exclude_overlap()?;
        Ok(query)
    }

    /// Parses a *filter*: a query string without a window or a page (`range`, `from`, `to`,
    /// `limit` and `cursor` are refused), as stream destinations hold. It matches entries as
    /// they are written, whenever that is.
    pub fn parse_filter(input: &str) -> Result<AuditQuery, QueryError> {
        let input = input.trim();
        let input = input.strip_prefix('?').unwrap_or(input);
        for segment in input.split('&').filter(|s| !s.is_empty()) {
            let raw_key = segment.split_once('=').map_or(segment, |(key, _)| key);
            if let Ok(key) = decode(raw_key) {
                if matches!(key.as_str(), "range" | "from" | "to" | "limit" | "cursor") {
                    return Err(QueryError::NotAFilterKey { key });
                }
            }
        }
        AuditQuery::parse(input)
    }

    /// The canonical query string, without the leading `?`. Empty for the default view.
    pub fn to_query_string(&self) -> String {
        let mut pairs: Vec<(String, String)> = Vec::new();
        match &self.range {
            DateRange::Last(preset) if *preset == Preset::Days7 => {}
            DateRange::Last(preset) => pairs.push(("range".into(), preset.as_str().into())),
            DateRange::Custom(custom) => {
                if let Some(from) = custom.from {
                    pairs.push(("from".into(), format_instant(from)));
                }
                if let Some(to) = custom.to {
                    pairs.push(("to".into(), format_instant(to)));
                }
            }
        }
        write_filter(&mut pairs, "actor", &self.actor);
        write_filter(&mut pairs, "method", &self.method);
        write_filter(&mut pairs, "source", &self.source);
        write_filter(&mut pairs, "action", &self.action);
        write_filter(&mut pairs, "status", &self.status);
        write_filter(&mut pairs, "resource_type", &self.resource_type);
        write_filter(&mut pairs, "application", &self.application);
        write_filter(&mut pairs, "cluster", &self.cluster);
        if let Some(request_id) = &self.request_id {
            pairs.push(("request_id".into(), request_id.0.clone()));
        }
        if let Some(search) = &self.search {
            pairs.push(("q".into(), search.0.clone()));
        }
        if self.page_size != PageSize::default() {
            pairs.push(("limit".into(), self.page_size.0.to_string()));
        }
        if let Some(cursor) = &self.cursor {
            pairs.push(("cursor".into(), cursor.encode()));
        }
        pairs
            .iter()
            .map(|(key, value)| format!("{key}={}", encode(value)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// A dimension's include and exclude values as the query string spells them (`user:7`,
    /// `DELETE`, `5xx`, `12` …), each in its sorted order.
    pub fn filter_strings(&self, dimension: Dimension) -> (Vec<String>, Vec<String>) {
        fn strings<T: FilterValue>(filter: &Filter<T>) -> (Vec<String>, Vec<String>) {
            (
                filter
                    .include
                    .iter()
                    .map(FilterValue::write_value)
                    .collect(),
                filter
                    .exclude
                    .iter()
                    .map(FilterValue::write_value)
                    .collect(),
            )
        }
        match dimension {
            Dimension::Actor => strings(&self.actor),
            Dimension::Method => strings(&self.method),
            Dimension::Source => strings(&self.source),
            Dimension::Action => strings(&self.action),
            Dimension::Status => strings(&self.status),
            Dimension::ResourceType => strings(&self.resource_type),
            Dimension::Application => strings(&self.application),
            Dimension::Cluster => strings(&self.cluster),
        }
    }

    /// Whether any filter or search narrows the entries (the date range aside).
    pub fn has_filters(&self) -> bool {
        !(self.actor.is_empty()
            && self.method.is_empty()
            && self.source.is_empty()
            && self.action.is_empty()
            && self.status.is_empty()
            && self.resource_type.is_empty()
            && self.application.is_empty()
            && self.cluster.is_empty()
            && self.request_id.is_none()
            && self.search.is_none())
    }

    /// The view that opening Audit logs from the navigation shows: reads hidden, and the audit
    /// log's own requests (the investigator's reads, exports, verifications) too.
    pub fn navigation_default() -> AuditQuery {
        let mut query = AuditQuery::default();
        query.method.exclude.insert(Method::Get);
        query.action.exclude.insert(ActionMatch::Namespace(
            ActionKey::new("audit_log").expect("a well-formed namespace"),
        ));
        query
    }

    fn add_filter_values(
        &mut self,
        dimension: Dimension,
        exclude: bool,
        key: &str,
        value: &str,
    ) -> Result<(), QueryError> {
        match dimension {
            Dimension::Actor => add_values(&mut self.actor, exclude, key, value),
            Dimension::Method => add_values(&mut self.method, exclude, key, value),
            Dimension::Source => add_values(&mut self.source, exclude, key, value),
            Dimension::Action => add_values(&mut self.action, exclude, key, value),
            Dimension::Status => add_values(&mut self.status, exclude, key, value),
            Dimension::ResourceType => add_values(&mut self.resource_type, exclude, key, value),
            Dimension::Application => add_values(&mut self.application, exclude, key, value),
            Dimension::Cluster => add_values(&mut self.cluster, exclude, key, value),
        }
    }

    fn check_include_exclude_overlap(&self) -> Result<(), QueryError> {
        check_overlap("actor", &self.actor)?;
        check_overlap("method", &self.method)?;
        check_overlap("source", &self.source)?;
        check_overlap("action", &self.action)?;
        check_overlap("status", &self.status)?;
        check_overlap("resource_type", &self.resource_type)?;
        check_overlap("application", &self.application)?;
        check_overlap("cluster", &self.cluster)
    }
}

fn add_values<T: FilterValue>(
    filter: &mut Filter<T>,
    exclude: bool,
    key: &str,
    value: &str,
) -> Result<(), QueryError> {
    let set = if exclude {
        &mut filter.exclude
    } else {
        &mut filter.include
    };
    for item in value.split(',') {
        let parsed = T::parse_value(item).ok_or_else(|| QueryError::InvalidValue {
            key: key.to_string(),
            value: item.to_string(),
            reason: T::EXPECTED.to_string(),
        })?;
        set.insert(parsed);
        if set.len() > MAX_FILTER_VALUES {
            return Err(QueryError::TooManyValues {
                key: key.to_string(),
            });
        }
    }
    Ok(())
}

fn check_overlap<T: FilterValue>(key: &str, filter: &Filter<T>) -> Result<(), QueryError> {
    match filter.include.intersection(&filter.exclude).next() {
        Some(value) => Err(QueryError::IncludedAndExcluded {
            key: key.to_string(),
            value: value.write_value(),
        }),
        None => Ok(()),
    }
}

fn write_filter<T: FilterValue>(pairs: &mut Vec<(String, String)>, key: &str, filter: &Filter<T>) {
    for value in &filter.include {
        pairs.push((key.to_string(), value.write_value()));
    }
    for value in &filter.exclude {
        pairs.push((format!("{key}.not"), value.write_value()));
    }
}

fn format_instant(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(input: &str) -> QueryError {
        AuditQuery::parse(input).expect_err(input)
    }

    #[test]
    fn the_default_view_is_the_empty_string() {
        assert_eq!(AuditQuery::default().to_query_string(), "");
        assert_eq!(AuditQuery::parse(""), Ok(AuditQuery::default()));
        assert_eq!(AuditQuery::parse("?"), Ok(AuditQuery::default()));
        assert_eq!(
            AuditQuery::parse("range=7d&limit=50"),
            Ok(AuditQuery::default())
        );
    }

    #[test]
    fn filters_take_dimensions_and_search_but_no_window_or_page() {
        let filter =
            AuditQuery::parse_filter(" ?method.not=GET&source.not=dashboard&q=deploy").unwrap();
        assert_eq!(
            filter.to_query_string(),
            "method.not=GET&source.not=dashboard&q=deploy"
        );
        for refused in [
            "range=24h",
            "from=2026-11-01T00:00:00Z",
            "to=2026-11-01T00:00:00Z",
            "limit=5",
            "cursor=x",
            "%72ange=1h",
        ] {
            let error =
                AuditQuery::parse_filter(&format!("method=POST&{refused}")).expect_err(refused);
            assert!(
                matches!(error, QueryError::NotAFilterKey { .. }),
                "{refused}: {error}"
            );
        }
        assert!(matches!(
            AuditQuery::parse_filter("method=FETCH"),
            Err(QueryError::InvalidValue { .. })
        ));
        assert_eq!(AuditQuery::parse_filter(""), Ok(AuditQuery::default()));
    }

    #[test]
    fn a_typical_view_reads_well_in_the_address_bar() {
        let query = AuditQuery::parse("?q=deploy&status=5xx&method.not=get&range=24h").unwrap();
        assert_eq!(
            query.to_query_string(),
            "range=24h&method.not=GET&status=5xx&q=deploy"
        );
        assert_eq!(
            AuditQuery::navigation_default().to_query_string(),
            "method.not=GET&action.not=audit_log.*"
        );
    }

    #[test]
    fn lists_may_be_repeated_keys_or_commas_and_come_out_sorted() {
        let query =
            AuditQuery::parse("method=DELETE,POST&method=patch&actor=token:3&actor=user:12")
                .unwrap();
        assert_eq!(
            query.to_query_string(),
            "actor=user:12&actor=token:3&method=POST&method=PATCH&method=DELETE"
        );
    }

    #[test]
    fn the_open_entry_is_taken_off_a_page_query_in_any_spelling() {
        assert_eq!(
            split_open_entry("?method.not=GET&entry=42&q=a%26entry%3D1"),
            (Some(42), "method.not=GET&q=a%26entry%3D1".to_string())
        );
        assert_eq!(
            split_open_entry("%65ntry=7&range=24h"),
            (Some(7), "range=24h".to_string())
        );
        assert_eq!(split_open_entry("entry=abc"), (None, String::new()));
        assert!(!is_query_key(OPEN_ENTRY_KEY));
    }

    #[test]
    fn every_key_the_canonical_form_writes_is_a_query_key() {
        let query = AuditQuery::parse(
            "from=2026-11-20T10:00:00Z&to=2026-11-21T00:00:00Z&actor=user:1&actor.not=token:2&method=GET&method.not=POST&source=cli&source.not=api&action=a.b&action.not=c.d&status=5xx&status.not=404&resource_type=cluster&resource_type.not=project&application=1&application.not=2&cluster=3&cluster.not=4&request_id=r+1&q=x&limit=10",
        )
        .unwrap();
        for pair in query.to_query_string().split('&') {
            let key = pair.split_once('=').unwrap().0;
            assert!(is_query_key(key), "{key}");
        }
        assert!(is_query_key("range"));
        for key in ["facet", "facet.contains", "facet.limit", "cursor"] {
            assert!(is_query_key(key), "{key}");
        }
    }

    #[test]
    fn hostile_search_text_survives_the_round_trip() {
        let text = "100% _done_ & a=b + c, \"quoted\" 'x' \\ é ✓ 𝄞";
        let query = AuditQuery {
            search: Some(SearchText::new(text).unwrap()),
            ..AuditQuery::default()
        };
        let encoded = query.to_query_string();
        assert!(!encoded.contains(' '), "{encoded}");
        assert_eq!(AuditQuery::parse(&encoded).unwrap(), query);
    }

    #[test]
    fn custom_ranges_are_utc_microseconds() {
        let query =
            AuditQuery::parse("from=2026-11-20T10:00:00.1234567%2B01:00&to=2026-11-21T00:00:00Z")
                .unwrap();
        assert_eq!(
            query.to_query_string(),
            "from=2026-11-20T09:00:00.123456Z&to=2026-11-21T00:00:00Z"
        );
        let open_ended = AuditQuery::parse("from=2026-11-20T10:00:00Z").unwrap();
        assert_eq!(open_ended.to_query_string(), "from=2026-11-20T10:00:00Z");
    }

    #[test]
    fn resolving_presets_and_open_ranges() {
        let now = DateTime::parse_from_rfc3339("2026-11-27T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let hour = AuditQuery::parse("range=1h").unwrap().range.resolve(now);
        assert_eq!(hour.to - hour.from, Duration::hours(1));
        assert_eq!(hour.to, now);
        let until = AuditQuery::parse("to=2026-11-27T06:00:00Z")
            .unwrap()
            .range
            .resolve(now);
        assert_eq!(until.from, now - Duration::days(RETENTION_DAYS));
    }

    #[test]
    fn errors_name_the_key_and_value() {
        assert_eq!(
            parse_err("colour=red"),
            QueryError::UnknownKey {
                key: "colour".into()
            }
        );
        assert_eq!(
            parse_err("q=a&q=b"),
            QueryError::Repeated { key: "q".into() }
        );
        let invalid = parse_err("status=6xx");
        assert_eq!(invalid.key(), Some("status"));
        assert!(invalid.to_string().contains("`6xx`"), "{invalid}");
        assert!(matches!(
            parse_err("method=FETCH"),
            QueryError::InvalidValue { key, value, .. } if key == "method" && value == "FETCH"
        ));
        assert!(matches!(
            parse_err("method.not=POST&method=post"),
            QueryError::IncludedAndExcluded { key, value } if key == "method" && value == "POST"
        ));
        assert_eq!(
            parse_err("range=7d&from=2026-11-20T10:00:00Z"),
            QueryError::ConflictingRange
        );
        assert!(matches!(
            parse_err("from=2026-11-21T00:00:00Z&to=2026-11-20T00:00:00Z"),
            QueryError::InvalidRange { .. }
        ));
        assert!(matches!(
            parse_err("from=2026-11-21T00:00:00Z&to=2026-11-21T00:00:00Z"),
            QueryError::InvalidRange { .. }
        ));
        assert!(
            matches!(parse_err("range=2w"), QueryError::InvalidValue { key, .. } if key == "range")
        );
        assert!(
            matches!(parse_err("from=yesterday"), QueryError::InvalidValue { key, .. } if key == "from")
        );
        assert!(matches!(parse_err("q=%zz"), QueryError::InvalidValue { key, .. } if key == "q"));
        assert!(matches!(parse_err("q%=x"), QueryError::Malformed { .. }));
        assert!(matches!(parse_err("q=a%0Ab"), QueryError::InvalidValue { key, .. } if key == "q"));
        assert!(
            matches!(parse_err(&format!("q={}", "x".repeat(201))), QueryError::InvalidValue { key, .. } if key == "q")
        );
        assert_eq!(
            parse_err(&"a".repeat(MAX_QUERY_STRING_BYTES + 1)),
            QueryError::TooLong
        );
    }

    #[test]
    fn action_namespaces_match_their_actions_only() {
        let query = AuditQuery::parse("action.not=audit_log.*&action=application.deploy").unwrap();
        assert_eq!(
            query.to_query_string(),
            "action=application.deploy&action.not=audit_log.*"
        );
        let namespace = query.action.exclude.iter().next().unwrap();
        assert!(namespace.matches("audit_log.list"));
        assert!(namespace.matches("audit_log.export_manifest"));
        assert!(!namespace.matches("audit_log"));
        assert!(!namespace.matches("audit_log."));
        assert!(!namespace.matches("audit_logs.list"));
        assert!(!namespace.matches("application.deploy"));
        let nested = AuditQuery::parse("action=ext.billing.*").unwrap();
        let nested = nested.action.include.iter().next().unwrap();
        assert!(nested.matches("ext.billing.invoice_sent"));
        assert!(!nested.matches("ext.billing_v2.x"));
        assert!(
            AuditQuery::parse("action=audit_log.%2A")
                .unwrap()
                .action
                .include
                == AuditQuery::parse("action=audit_log.*")
                    .unwrap()
                    .action
                    .include,
            "an encoded star reads the same"
        );
    }

    #[test]
    fn every_dimension_rejects_values_of_the_wrong_shape() {
        for input in [
            "actor=bob",
            "actor=user:0",
            "actor=user:-1",
            "actor=group:1",
            "method=",
            "method=GET,",
            "source=browser",
            "action=Deploy",
            "action=application..deploy",
            "action=*",
            "action=.*",
            "action=audit_log*",
            "action=audit_log.*.*",
            "action=Audit_log.*",
            "status=99",
            "status=600",
            "status=+404",
            "status=0xx",
            "resource_type=app",
            "application=abc",
            "application=0",
            "application=+5",
            "cluster=99999999999999999999",
            "limit=0",
            "limit=201",
            "limit=1000000000",
            "limit=-1",
            "cursor=abc",
        ] {
            let error = parse_err(input);
            let key = input.split('=').next().unwrap();
            assert_eq!(error.key(), Some(key), "{input}: {error}");
        }
    }

    #[test]
    fn too_many_values_is_an_error() {
        let many: Vec<String> = (1..=101).map(|id| format!("application={id}")).collect();
        assert_eq!(
            parse_err(&many.join("&")),
            QueryError::TooManyValues {
                key: "application".into()
            }
        );
    }

    #[test]
    fn status_matches_codes_and_classes() {
        assert!(StatusMatch::Class(5).matches(503));
        assert!(!StatusMatch::Class(5).matches(404));
        assert!(StatusMatch::Code(404).matches(404));
    }

    #[test]
    fn enums_serialize_as_their_query_spelling() {
        assert_eq!(
            serde_json::to_string(&ResourceType::EnvironmentGroup).unwrap(),
            "\"environment_group\""
        );
        let method: Method = serde_json::from_str("\"DELETE\"").unwrap();
        assert_eq!(method, Method::Delete);
    }
}
