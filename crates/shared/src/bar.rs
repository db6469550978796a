//! The typed query bar: a view written the way people type it, and back.
//!
//! ```text
//! actor:dana -method:GET status:5xx app:billing "payments_v2" after:2026-11-20
//! ```
//!
//! * `key:value` includes a value, `-key:value` excludes it. The keys are the dimensions'
//!   (`actor`, `method`, `source`, `action`, `status`, `resource_type` or `type`, `application`
//!   or `app`, `cluster`), `request` (a request id), `range` (`1h` `24h` `7d` `30d`), and `after`
//!   / `before` (a UTC date such as `2026-11-20`, or an RFC 3339 instant).
//! * Several values: repeat the key or separate them by commas (`method:POST,DELETE`).
//! * A value holding spaces is quoted: `app:"billing v2"`, with `\"` and `\\` inside quotes.
//! * Everything else — words and quoted phrases — is the search text, words joined by one space.
//!
//! Actors, applications and clusters may be written by name (`actor:dana`, `app:billing`) as
//! well as by id (`actor:user:7`, `app:12`); names need the project's members and resources, so
//! [`ParsedBar::to_query`] asks its caller to resolve them (the server does). Every error names
//! the token it is about by its character span, so the bar can underline it.

use std::fmt;
use std::ops::Range;

use chrono::{DateTime, NaiveDate, Utc};

use crate::dimension::Dimension;
use crate::query::{AuditQuery, DateRange, Preset};
use crate::urlencoding::encode;

/// The longest bar text [`ParsedBar::parse`] reads, in characters.
pub const MAX_BAR_CHARS: usize = 2_000;

/// A bar text read into its terms, names not yet resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedBar {
    pub terms: Vec<BarTerm>,
    /// The search text (free words and phrases, joined by one space) and the span of its first
    /// word.
    pub search: Option<(String, Range<usize>)>,
}

/// One `key:value` or `-key:value` term.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BarTerm {
    pub key: BarKey,
    pub exclude: bool,
    /// The value as typed, unquoted (one of a comma-separated list).
    pub value: String,
    /// Where the term is in the bar text, in characters.
    pub span: Range<usize>,
}

/// What a term filters on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarKey {
    Dimension(Dimension),
    RequestId,
    Range,
    After,
    Before,
}

/// A bar text that cannot be read, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BarError {
    pub message: String,
    /// The offending token, in characters of the bar text.
    pub span: Range<usize>,
}

impl fmt::Display for BarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (characters {}–{})",
            self.message, self.span.start, self.span.end
        )
    }
}

impl std::error::Error for BarError {}

impl BarKey {
    /// The key a term is written with, in the bar's short spelling.
    pub fn bar_name(self) -> &'static str {
        match self {
            BarKey::Dimension(Dimension::ResourceType) => "type",
            BarKey::Dimension(Dimension::Application) => "app",
            BarKey::Dimension(dimension) => dimension.key(),
            BarKey::RequestId => "request",
            BarKey::Range => "range",
            BarKey::After => "after",
            BarKey::Before => "before",
        }
    }

    /// The key a bar name stands for (`app` and `application` alike), ignoring case.
    pub fn from_bar_name(name: &str) -> Option<BarKey> {
        let lower = name.to_ascii_lowercase();
        Some(match lower.as_str() {
            "type" | "resource_type" => BarKey::Dimension(Dimension::ResourceType),
            "app" | "application" => BarKey::Dimension(Dimension::Application),
            "request" | "request_id" => BarKey::RequestId,
            "range" => BarKey::Range,
            "after" | "from" => BarKey::After,
            "before" | "to" => BarKey::Before,
            other => BarKey::Dimension(Dimension::from_key(other)?),
        })
    }
}

/// One lexical piece of the bar: a word (which may be `key:value`) or a quoted phrase.
struct Token {
    text: String,
    /// The part before an unquoted `:`, when the word has one: `(key, value, value_quoted)`.
    pair: Option<(String, String)>,
    exclude: bool,
    span: Range<usize>,
}

impl ParsedBar {
    /// Reads a bar text. Unknown keys, unterminated quotes and empty values are errors naming
    /// their token; values are checked by [`ParsedBar::to_query`].
    pub fn parse(text: &str) -> Result<ParsedBar, BarError> {
        let chars: Vec<char> = text.chars().collect();
        if chars.len() > MAX_BAR_CHARS {
            return Err(BarError {
                message: format!("the query is longer than {MAX_BAR_CHARS} characters"),
                span: MAX_BAR_CHARS..chars.len(),
            });
        }
        let mut terms = Vec::new();
        let mut words: Vec<String> = Vec::new();
        let mut search_span: Option<Range<usize>> = None;
        for token in tokenize(&chars)? {
            match token.pair {
                Some((key, value)) => {
                    let Some(bar_key) = BarKey::from_bar_name(&key) else {
                        return Err(BarError {
                            message: format!(
                                "unknown key `{key}`: use actor, method, source, action, status, type, app, cluster, request, range, after or before (or quote the text to search for it)"
                            ),
                            span: token.span,
                        });
                    };
                    let values: Vec<String> = if value.contains(',') && !value.contains(' ') {
                        value.split(',').map(str::to_string).collect()
                    } else {
                        vec![value]
                    };
                    for value in values {
                        if value.is_empty() {
                            return Err(BarError {
                                message: format!("`{key}:` needs a value"),
                                span: token.span.clone(),
                            });
                        }
                        terms.push(BarTerm {
                            key: bar_key,
                            exclude: token.exclude,
                            value,
                            span: token.span.clone(),
                        });
                    }
                }
                None => {
                    search_span.get_or_insert(token.span.clone());
                    words.push(token.text);
                }
            }
        }
        let search = (!words.is_empty()).then(|| (words.join(" "), search_span.unwrap_or(0..0)));
        Ok(ParsedBar { terms, search })
    }

    /// The view the bar describes. `resolve` turns the value of an actor, application or
    /// cluster term into its query-string value (`user:7`, `12`), or says why it cannot; other
    /// values are checked by the query model. The date range defaults to the last 7 days.
    pub fn to_query(
        &self,
        mut resolve: impl FnMut(Dimension, &str) -> Result<String, String>,
    ) -> Result<AuditQuery, BarError> {
        let mut pairs: Vec<(String, String, Range<usize>)> = Vec::new();
        for term in &self.terms {
            let (key, value) = match term.key {
                BarKey::Dimension(dimension) => {
                    let value = match dimension {
                        Dimension::Actor | Dimension::Application | Dimension::Cluster => {
                            resolve(dimension, &term.value).map_err(|message| BarError {
                                message,
                                span: term.span.clone(),
                            })?
                        }
                        _ => term.value.clone(),
                    };
                    let key = if term.exclude {
                        format!("{}.not", dimension.key())
                    } else {
                        dimension.key().to_string()
                    };
                    (key, value)
                }
                other => {
                    if term.exclude {
                        return Err(BarError {
                            message: format!("`{}:` cannot be excluded", other.bar_name()),
                            span: term.span.clone(),
                        });
                    }
                    match other {
                        BarKey::RequestId => ("request_id".to_string(), term.value.clone()),
                        BarKey::Range => ("range".to_string(), term.value.clone()),
                        BarKey::After => ("from".to_string(), instant(&term.value, term)?),
                        BarKey::Before => ("to".to_string(), instant(&term.value, term)?),
                        BarKey::Dimension(_) => unreachable!("handled above"),
                    }
                }
            };
            // Each pair alone first, so that a bad value is reported at its own token.
            AuditQuery::parse(&format!("{}={}", key, encode(&value))).map_err(|error| {
                BarError {
                    message: error.to_string(),
                    span: term.span.clone(),
                }
            })?;
            pairs.push((key, value, term.span.clone()));
        }
        let mut text: Vec<String> = pairs
            .iter()
            .map(|(key, value, _)| format!("{key}={}", encode(value)))
            .collect();
        if let Some((search, _)) = &self.search {
            text.push(format!("q={}", encode(search)));
        }
        AuditQuery::parse(&text.join("&")).map_err(|error| {
            // A conflict between terms: point at the last term of the key it names.
            let key = error.key().unwrap_or_default().to_string();
            let span = if key == "q" {
                self.search.as_ref().map(|(_, span)| span.clone())
            } else {
                pairs
                    .iter()
                    .rev()
                    .find(|(k, _, _)| {
                        *k == key
                            || k.strip_suffix(".not") == Some(key.as_str())
                            || (key == "range" && (k == "from" || k == "to"))
                    })
                    .map(|(_, _, span)| span.clone())
            };
            BarError {
                message: error.to_string(),
                span: span.unwrap_or(0..0),
            }
        })
    }
}

/// A `after:` / `before:` value as an RFC 3339 instant: a date is its UTC midnight.
fn instant(value: &str, term: &BarTerm) -> Result<String, BarError> {
    if let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        let midnight = date
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc();
        return Ok(format_instant(midnight));
    }
    if DateTime::parse_from_rfc3339(value).is_ok() {
        return Ok(value.to_string());
    }
    Err(BarError {
        message: format!(
            "`{}:{value}` is not a date: use 2026-11-20 (UTC) or 2026-11-20T09:30:00Z",
            term.key.bar_name()
        ),
        span: term.span.clone(),
    })
}

fn format_instant(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn tokenize(chars: &[char]) -> Result<Vec<Token>, BarError> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let exclude = chars[i] == '-' && chars.get(i + 1).is_some_and(|c| !c.is_whitespace());
        let mut text = String::new();
        let mut key: Option<String> = None;
        let mut quoted = false;
        if exclude {
            i += 1;
        }
        while i < chars.len() && !chars[i].is_whitespace() {
            match chars[i] {
                '"' => {
                    quoted = true;
                    i += 1;
                    let mut closed = false;
                    while i < chars.len() {
                        match chars[i] {
                            '\\' if i + 1 < chars.len() => {
                                text.push(chars[i + 1]);
                                i += 2;
                            }
                            '"' => {
                                closed = true;
                                i += 1;
                                break;
                            }
                            c => {
                                text.push(c);
                                i += 1;
                            }
                        }
                    }
                    if !closed {
                        return Err(BarError {
                            message: "a quote is not closed".to_string(),
                            span: start..chars.len(),
                        });
                    }
                }
                ':' if key.is_none() && !quoted && !text.is_empty() => {
                    key = Some(std::mem::take(&mut text));
                    i += 1;
                }
                c => {
                    text.push(c);
                    i += 1;
                }
            }
        }
        let span = start..i;
        match key {
            Some(key) => tokens.push(Token {
                text: String::new(),
                pair: Some((key, text)),
                exclude,
                span,
            }),
            None => {
                // A lone `-word` is searched as written.
                let text = if exclude { format!("-{text}") } else { text };
                tokens.push(Token {
                    text,
                    pair: None,
                    exclude: false,
                    span,
                })
            }
        }
    }
    Ok(tokens)
}

/// Writes a view as bar text, the inverse of [`ParsedBar::parse`] + [`ParsedBar::to_query`].
/// `name` gives an actor's, application's or cluster's readable name for a value (`user:7` →
/// "Dana Quill"), when known; the value itself is written otherwise.
pub fn to_bar(
    query: &AuditQuery,
    mut name: impl FnMut(Dimension, &str) -> Option<String>,
) -> String {
    let mut parts: Vec<String> = Vec::new();
    match query.range {
        DateRange::Last(Preset::Days7) => {}
        DateRange::Last(preset) => parts.push(format!("range:{}", preset.as_str())),
        DateRange::Custom(custom) => {
            // A UTC midnight reads best as its date.
            let written = |instant: DateTime<Utc>| {
                if instant.time() == chrono::NaiveTime::MIN {
                    instant.format("%Y-%m-%d").to_string()
                } else {
                    format_instant(instant)
                }
            };
            if let Some(from) = custom.from() {
                parts.push(format!("after:{}", written(from)));
            }
            if let Some(to) = custom.to() {
                parts.push(format!("before:{}", written(to)));
            }
        }
    }
    for dimension in Dimension::ALL {
        let (include, exclude) = query.filter_strings(dimension);
        let key = BarKey::Dimension(dimension).bar_name();
        for (values, sign) in [(include, ""), (exclude, "-")] {
            for value in values {
                let shown = match dimension {
                    Dimension::Actor | Dimension::Application | Dimension::Cluster => {
                        name(dimension, &value).unwrap_or(value)
                    }
                    _ => value,
                };
                parts.push(format!("{sign}{key}:{}", quote(&shown)));
            }
        }
    }
    if let Some(request_id) = &query.request_id {
        parts.push(format!("request:{}", quote(request_id.as_str())));
    }
    if let Some(search) = &query.search {
        let text = search.as_str();
        // Plain words read back as the same search; anything that could be taken for a term,
        // a quote or a sign is quoted whole.
        let plain = text.split(' ').all(|word| {
            !word.is_empty()
                && !word.contains([':', '"', '\\', ','])
                && !word.starts_with('-')
                && !word.chars().any(char::is_whitespace)
        });
        parts.push(if plain {
            text.to_string()
        } else {
            quote_always(text)
        });
    }
    parts.join(" ")
}

/// A term's value as the bar writes it: quoted when it is empty or holds a space, a quote, a
/// backslash or a comma.
pub fn quote(value: &str) -> String {
    if value.is_empty()
        || value.contains([' ', '"', '\\', ','])
        || value.chars().any(char::is_whitespace)
    {
        quote_always(value)
    } else {
        value.to_string()
    }
}

/// Whether a term's value is an id rather than a name: `user:7` or `token:3` for actors, a
/// number for applications and clusters.
pub fn is_id(dimension: Dimension, value: &str) -> bool {
    match dimension {
        Dimension::Actor => value.split_once(':').is_some_and(|(kind, id)| {
            matches!(kind.to_ascii_lowercase().as_str(), "user" | "token")
                && id.parse::<i64>().is_ok()
        }),
        _ => value.parse::<i64>().is_ok(),
    }
}

fn quote_always(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids_only(dimension: Dimension, value: &str) -> Result<String, String> {
        match (dimension, value) {
            (Dimension::Actor, "dana") => Ok("user:7".into()),
            (Dimension::Application, "billing") => Ok("12".into()),
            (Dimension::Application, "billing v2") => Ok("13".into()),
            (_, value) if value.starts_with("user:") || value.parse::<i64>().is_ok() => {
                Ok(value.into())
            }
            (_, value) => Err(format!("no {} named “{value}”", dimension.label())),
        }
    }

    fn canonical(text: &str) -> Result<String, BarError> {
        Ok(ParsedBar::parse(text)?
            .to_query(ids_only)?
            .to_query_string())
    }

    #[test]
    fn the_issue_example_reads_as_its_view() {
        assert_eq!(
            canonical(r#"actor:dana -method:GET status:5xx app:billing "payments_v2" after:2026-11-20"#)
                .unwrap(),
            "from=2026-11-20T00:00:00Z&actor=user:7&method.not=GET&status=5xx&application=12&q=payments_v2"
        );
    }

    #[test]
    fn lists_quotes_and_words() {
        assert_eq!(
            canonical(r#"method:post,DELETE app:"billing v2" deploy  api -x"#).unwrap(),
            "method=POST&method=DELETE&application=13&q=deploy+api+-x"
        );
        assert_eq!(
            canonical(r#"range:24h "a \"quoted\" \\ phrase""#).unwrap(),
            "range=24h&q=a+%22quoted%22+%5C+phrase"
        );
        assert_eq!(
            canonical("-action:audit_log.* type:cluster request:abc").unwrap(),
            "action.not=audit_log.*&resource_type=cluster&request_id=abc"
        );
        assert_eq!(canonical("").unwrap(), "");
    }

    #[test]
    fn errors_point_at_their_token() {
        let error = |text: &str| canonical(text).unwrap_err();
        let span_of = |text: &str, token: &str| {
            let start = text.find(token).unwrap();
            start..start + token.chars().count()
        };
        for (text, token, says) in [
            (
                "actor:dana colour:red",
                "colour:red",
                "unknown key `colour`",
            ),
            ("deploy status:7xx", "status:7xx", "status"),
            ("actor:zed method:GET", "actor:zed", "no Actor named “zed”"),
            ("method:", "method:", "needs a value"),
            ("after:yesterday", "after:yesterday", "not a date"),
            ("-range:24h", "-range:24h", "cannot be excluded"),
            ("method:GET -method:GET", "-method:GET", "both included"),
            ("range:24h after:2026-11-20", "after:2026-11-20", "range"),
        ] {
            let found = error(text);
            assert_eq!(found.span, span_of(text, token), "{text}: {found}");
            assert!(found.message.contains(says), "{text}: {found}");
        }
        let open = error(r#"app:"billing"#);
        assert!(open.message.contains("quote"), "{open}");
        assert_eq!(open.span, 0..12);
    }

    #[test]
    fn views_write_back_as_the_bar_that_reads_them() {
        for raw in [
            "",
            "range=24h&method.not=GET&action.not=audit_log.*",
            "from=2026-11-20T10:00:00Z&to=2026-11-21T00:00:00Z&actor=user:7&status=5xx&status.not=503",
            "application=12&application.not=13&cluster=3&q=deploy+api",
            "source=cli&resource_type=cluster&request_id=r+1&q=a%3Ab+%22c%22",
            "q=-x",
            "from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z",
        ] {
            let query = AuditQuery::parse(raw).unwrap();
            let bar = to_bar(&query, |_, _| None);
            let again = ParsedBar::parse(&bar)
                .unwrap()
                .to_query(ids_only)
                .unwrap();
            assert_eq!(again, query, "{raw} → {bar}");
        }
        let named = to_bar(
            &AuditQuery::parse("actor=user:7&application=13").unwrap(),
            |d, v| match (d, v) {
                (Dimension::Actor, "user:7") => Some("dana".into()),
                (Dimension::Application, "13") => Some("billing v2".into()),
                _ => None,
            },
        );
        assert_eq!(named, r#"actor:dana app:"billing v2""#);
    }
}
