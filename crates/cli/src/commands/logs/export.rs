//! `auditlog logs export`: the entries of a query as a CSV or NDJSON file, streamed to disk.
//!
//! The download is written to a temporary file next to the target and renamed at the end, so an
//! interrupted download never leaves a partial file under the final name. Like every temporary
//! file, it is readable by its owner only, and so is the export: it holds emails and addresses.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use auditlog_shared::wire::ExportManifest;
use auditlog_shared::{AuditQuery, PageSize};
use reqwest::header::{HeaderMap, CONTENT_DISPOSITION};

use crate::arguments::ExportFormatArgument;
use crate::commands::export::{default_manifest_path, verify_export};
use crate::commands::ProjectSession;
use crate::output::{group_digits, write_stdout};

/// How many entries matched the query (all of them, not only those exported).
const MATCHED_HEADER: &str = "x-audit-export-matched";
/// How many rows the file holds.
const ROWS_HEADER: &str = "x-audit-export-rows";
/// `true` when more entries matched than one file may hold.
const TRUNCATED_HEADER: &str = "x-audit-export-truncated";
/// The id of the export's signed manifest.
const EXPORT_ID_HEADER: &str = "x-audit-export-id";

/// Where the export goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    Stdout,
    File(PathBuf),
}

impl Destination {
    /// `--output`: `-` is standard output, a directory receives the suggested file name, and
    /// without the flag the suggested file name is used in the current directory.
    pub fn choose(output: Option<&Path>, suggested_name: &str) -> Destination {
        match output {
            None => Destination::File(PathBuf::from(suggested_name)),
            Some(path) if path == Path::new("-") => Destination::Stdout,
            Some(path) if path.is_dir() => Destination::File(path.join(suggested_name)),
            Some(path) => Destination::File(path.to_path_buf()),
        }
    }

    fn describe(&self) -> String {
        match self {
            Destination::Stdout => "standard output".to_string(),
            Destination::File(path) => path.display().to_string(),
        }
    }
}

/// Where an export and its manifest go.
pub struct ExportFiles<'a> {
    /// `--output` (see [`Destination::choose`]).
    pub output: Option<&'a Path>,
    /// `--manifest`: by default `<file>.manifest.json`, and none for standard output.
    pub manifest: Option<&'a Path>,
    /// Where the server's signing keys are remembered for `auditlog export verify`.
    pub config_directory: &'a Path,
}

/// Downloads the export of `query` in `format` and writes it where `files` says, with its
/// signed manifest, then reports how many rows were written and whether the server cut the
/// export short.
///
/// The manifest is checked against the file as soon as both are written, with the keys the
/// server publishes (remembered for later offline checks).
pub async fn export_entries(
    session: &ProjectSession,
    query: &AuditQuery,
    format: ExportFormatArgument,
    files: ExportFiles<'_>,
) -> anyhow::Result<()> {
    let output = files.output;
    // An export covers the query's whole window: its page and cursor mean nothing to it.
    let mut query = query.clone();
    query.cursor = None;
    query.page_size = PageSize::default();
    let extension = extension(format);
    let canonical = query.to_query_string();
    let mut path = session.project_path(&format!("/audit-logs/export.{extension}"));
    if !canonical.is_empty() {
        path.push('?');
        path.push_str(&canonical);
    }

    let mut response = session.client.get_download(&path).await?;
    let announced = Announced::read(response.headers());
    let suggested = announced.file_name.as_deref().map_or_else(
        || default_file_name(extension),
        |name| sanitize_file_name(name, extension),
    );
    let destination = Destination::choose(output, &suggested);
    let mut counter = RowCounter::new(format);
    match &destination {
        Destination::Stdout => {
            let mut writer = BufWriter::new(std::io::stdout());
            copy_body(&mut response, &mut writer, &mut counter, "standard output").await?;
            writer.flush().context("cannot write to standard output")?;
        }
        Destination::File(target) => {
            write_file(&mut response, target, &mut counter).await?;
        }
    }

    let manifest_path = match (&destination, files.manifest) {
        (_, Some(path)) => Some(path.to_path_buf()),
        (Destination::File(target), None) => Some(default_manifest_path(target)),
        (Destination::Stdout, None) => None,
    };
    let manifest_written = match (&manifest_path, &announced.export_id) {
        (Some(path), Some(export_id)) => {
            save_manifest(
                session,
                export_id,
                path,
                &destination,
                files.config_directory,
            )
            .await?;
            Some(path.display().to_string())
        }
        _ => None,
    };

    let rows = counter.rows();
    let matched = announced.matched.unwrap_or(rows);
    let truncated = announced.truncated;
    // With the export on standard output, the report goes to standard error.
    let report_to_stderr = destination == Destination::Stdout;
    let report = if session.json {
        let summary = serde_json::json!({
            "file": match &destination {
                Destination::Stdout => "-".to_string(),
                Destination::File(path) => path.display().to_string(),
            },
            "format": extension,
            "rows": rows,
            "matched": matched,
            "truncated": truncated,
            "manifest": manifest_written,
        });
        serde_json::to_string_pretty(&summary)?
    } else {
        let noun = if rows == 1 { "row" } else { "rows" };
        let mut line = format!(
            "Wrote {rows} {noun} to {} ({matched} matched)",
            destination.describe()
        );
        if let Some(path) = &manifest_written {
            line.push_str(&format!(
                "\nWrote the signed manifest to {path} (check the file with `auditlog export verify`)"
            ));
        }
        line
    };
    if report_to_stderr {
        eprintln!("{report}");
    } else {
        write_stdout(&format!("{report}\n"))?;
    }
    if let Some(promised) = announced.rows.filter(|promised| *promised != rows) {
        eprintln!("warning: the server announced {promised} rows but sent {rows}");
    }
    if truncated {
        eprintln!(
            "warning: the export was truncated: only the first {} of {} matching entries were \
             exported. Narrow the range (--range, --from, --to) or add filters to export the rest.",
            group_digits(rows),
            group_digits(matched)
        );
    }
    Ok(())
}

/// Fetches the export's signed manifest, writes it to `path` (mode 0600), and checks the
/// downloaded file against it with the keys the server publishes (and remembers them).
async fn save_manifest(
    session: &ProjectSession,
    export_id: &str,
    path: &Path,
    destination: &Destination,
    config_directory: &Path,
) -> anyhow::Result<()> {
    let answer = session
        .client
        .get_json::<ExportManifest>(
            &session.project_path(&format!("/audit-logs/exports/{export_id}/manifest")),
        )
        .await
        .context("the export's manifest could not be fetched")?;
    let keys = super::fetch_chain_keys(session, config_directory).await?;
    let mut text = serde_json::to_string_pretty(&answer.value)?;
    text.push('\n');
    crate::config::write_private_file(path, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    // Both files stay on disk when they disagree, for `auditlog export verify` to say so again.
    if let Destination::File(target) = destination {
        let file = std::fs::File::open(target)
            .with_context(|| format!("cannot read back {}", target.display()))?;
        if let Err(problem) = verify_export(file, &answer.value, &keys)? {
            anyhow::bail!(
                "the downloaded file does not match the manifest the server signed: {problem}"
            );
        }
    }
    Ok(())
}

/// Streams the body into a temporary file next to `target`, then renames it to `target`. On any
/// error the temporary file is removed and `target` is left as it was.
async fn write_file(
    response: &mut reqwest::Response,
    target: &Path,
    counter: &mut RowCounter,
) -> anyhow::Result<()> {
    let file_name = target
        .file_name()
        .with_context(|| format!("{} does not name a file", target.display()))?;
    let directory = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let temporary = tempfile::Builder::new()
        .prefix(&format!(".{}.", file_name.to_string_lossy()))
        .suffix(".part")
        .tempfile_in(directory)
        .with_context(|| format!("cannot create a file in {}", directory.display()))?;
    let temporary_path = temporary.path().display().to_string();
    let mut writer = BufWriter::new(temporary);
    copy_body(response, &mut writer, counter, &temporary_path).await?;
    let temporary = writer
        .into_inner()
        .map_err(|error| error.into_error())
        .with_context(|| format!("cannot write {temporary_path}"))?;
    temporary
        .as_file()
        .sync_all()
        .with_context(|| format!("cannot write {temporary_path}"))?;
    temporary
        .persist(target)
        .map_err(|error| error.error)
        .with_context(|| format!("cannot move {temporary_path} to {}", target.display()))?;
    Ok(())
}

/// Copies the body of an answer to `writer`, chunk by chunk, counting its rows.
async fn copy_body(
    response: &mut reqwest::Response,
    writer: &mut impl Write,
    counter: &mut RowCounter,
    written_to: &str,
) -> anyhow::Result<()> {
    let url = response.url().to_string();
    while let Some(chunk) = response
        .chunk()
        .await
        .with_context(|| format!("the download from {url} was interrupted"))?
    {
        counter.feed(&chunk);
        writer
            .write_all(&chunk)
            .with_context(|| format!("cannot write {written_to}"))?;
    }
    Ok(())
}

/// What the export's headers announce.
#[derive(Debug, Default, PartialEq, Eq)]
struct Announced {
    matched: Option<u64>,
    rows: Option<u64>,
    truncated: bool,
    /// The file name of `content-disposition`, as the server wrote it.
    file_name: Option<String>,
    /// The id the export's manifest is fetched by.
    export_id: Option<String>,
}

impl Announced {
    fn read(headers: &HeaderMap) -> Announced {
        let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
        let number = |name: &str| text(name).and_then(|value| value.trim().parse::<u64>().ok());
        Announced {
            matched: number(MATCHED_HEADER),
            rows: number(ROWS_HEADER),
            truncated: text(TRUNCATED_HEADER)
                .is_some_and(|value| value.trim().eq_ignore_ascii_case("true")),
            file_name: headers
                .get(CONTENT_DISPOSITION)
                .and_then(|value| value.to_str().ok())
                .and_then(content_disposition_file_name),
            export_id: text(EXPORT_ID_HEADER).map(str::to_string),
        }
    }
}

/// The `filename` parameter of a `content-disposition` header, unquoted.
pub fn content_disposition_file_name(header: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("filename") {
            return None;
        }
        let value = value.trim();
        let Some(quoted) = value.strip_prefix('"') else {
            return Some(value.to_string());
        };
        let mut unquoted = String::new();
        let mut characters = quoted.chars();
        while let Some(character) = characters.next() {
            match character {
                '"' => break,
                '\\' => unquoted.extend(characters.next()),
                other => unquoted.push(other),
            }
        }
        Some(unquoted)
    })
}

/// The longest file name [`sanitize_file_name`] returns, in bytes.
const MAX_FILE_NAME_BYTES: usize = 200;

/// A file name suggested by the server, made a plain file name in the current directory: no
/// directories, no hidden file, only ASCII letters, digits, `.`, `-` and `_` (anything else
/// becomes `_`), at most 200 bytes, ending in `.<extension>`.
pub fn sanitize_file_name(suggested: &str, extension: &str) -> String {
    let last = suggested.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut name = cleaned.trim_matches('.').to_string();
    if !name.chars().any(|c| c.is_ascii_alphanumeric()) {
        return default_file_name(extension);
    }
    let suffix = format!(".{extension}");
    if !name.to_ascii_lowercase().ends_with(&suffix) {
        name.push_str(&suffix);
    }
    if name.len() > MAX_FILE_NAME_BYTES {
        // ASCII only, so any byte index is a character boundary.
        name.truncate(MAX_FILE_NAME_BYTES - suffix.len());
        name.push_str(&suffix);
    }
    name
}

/// The file name used when the server suggests none.
fn default_file_name(extension: &str) -> String {
    format!("auditlog-export.{extension}")
}

fn extension(format: ExportFormatArgument) -> &'static str {
    match format {
        ExportFormatArgument::Csv => "csv",
        ExportFormatArgument::Ndjson => "ndjson",
    }
}

/// Counts the data rows of a CSV (after its header row; line breaks inside quoted cells do not
/// end a row) or NDJSON stream as it goes by.
#[derive(Debug)]
pub struct RowCounter {
    csv: bool,
    in_quotes: bool,
    /// Lines ended so far.
    lines: u64,
    /// Whether the last line has bytes but no line break yet.
    open_line: bool,
}

impl RowCounter {
    pub fn new(format: ExportFormatArgument) -> RowCounter {
        RowCounter {
            csv: format == ExportFormatArgument::Csv,
            in_quotes: false,
            lines: 0,
            open_line: false,
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            // `""` inside a quoted cell toggles twice, so it leaves the state as it was.
            if self.csv && byte == b'"' {
                self.in_quotes = !self.in_quotes;
            }
            if byte == b'\n' && !self.in_quotes {
                self.lines += 1;
                self.open_line = false;
            } else {
                self.open_line = true;
            }
        }
    }

    /// The data rows seen: every record but a CSV file's header.
    pub fn rows(&self) -> u64 {
        let records = self.lines + u64::from(self.open_line);
        if self.csv {
            records.saturating_sub(1)
        } else {
            records
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn suggested_names_become_plain_file_names() {
        assert_eq!(
            sanitize_file_name("auditlog-acme-20261126T120000Z-20261127T120000Z.csv", "csv"),
            "auditlog-acme-20261126T120000Z-20261127T120000Z.csv"
        );
        assert_eq!(sanitize_file_name("../../etc/passwd", "csv"), "passwd.csv");
        assert_eq!(sanitize_file_name("/tmp/x.ndjson", "ndjson"), "x.ndjson");
        assert_eq!(
            sanitize_file_name("..\\..\\windows\\evil.csv", "csv"),
            "evil.csv"
        );
        assert_eq!(sanitize_file_name(".bashrc", "csv"), "bashrc.csv");
        assert_eq!(sanitize_file_name("..", "csv"), "auditlog-export.csv");
        assert_eq!(sanitize_file_name("", "ndjson"), "auditlog-export.ndjson");
        assert_eq!(sanitize_file_name("日本", "csv"), "auditlog-export.csv");
        assert_eq!(
            sanitize_file_name("my report;rm -rf $HOME\n.csv", "csv"),
            "my_report_rm_-rf__HOME_.csv"
        );
        assert_eq!(sanitize_file_name("café.CSV", "csv"), "caf_.CSV");
        assert_eq!(sanitize_file_name("report.exe", "csv"), "report.exe.csv");
        let long = sanitize_file_name(&format!("{}.csv", "a".repeat(500)), "csv");
        assert_eq!(long.len(), 200);
        assert!(long.ends_with("aaa.csv"), "{long}");
    }

    #[test]
    fn the_file_name_is_read_from_content_disposition() {
        assert_eq!(
            content_disposition_file_name("attachment; filename=\"auditlog-acme-1-2.csv\"")
                .as_deref(),
            Some("auditlog-acme-1-2.csv")
        );
        assert_eq!(
            content_disposition_file_name("attachment;FileName=plain.ndjson").as_deref(),
            Some("plain.ndjson")
        );
        assert_eq!(
            content_disposition_file_name(r#"attachment; filename="a \"b\".csv"; size=3"#)
                .as_deref(),
            Some("a \"b\".csv")
        );
        assert_eq!(content_disposition_file_name("attachment"), None);
        assert_eq!(content_disposition_file_name("inline; name=\"x\""), None);
    }

    #[test]
    fn the_announcement_is_read_from_the_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(MATCHED_HEADER, HeaderValue::from_static("12345"));
        headers.insert(ROWS_HEADER, HeaderValue::from_static("10000"));
        headers.insert(TRUNCATED_HEADER, HeaderValue::from_static("true"));
        headers.insert(
            CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment; filename=\"auditlog-acme-a-b.csv\""),
        );
        assert_eq!(
            Announced::read(&headers),
            Announced {
                matched: Some(12_345),
                rows: Some(10_000),
                truncated: true,
                file_name: Some("auditlog-acme-a-b.csv".to_string()),
                export_id: None,
            }
        );
        assert_eq!(Announced::read(&HeaderMap::new()), Announced::default());
    }

    #[test]
    fn destinations_follow_the_output_flag() {
        assert_eq!(
            Destination::choose(None, "a.csv"),
            Destination::File(PathBuf::from("a.csv"))
        );
        assert_eq!(
            Destination::choose(Some(Path::new("-")), "a.csv"),
            Destination::Stdout
        );
        let directory = tempfile::tempdir().expect("a temporary directory");
        assert_eq!(
            Destination::choose(Some(directory.path()), "a.csv"),
            Destination::File(directory.path().join("a.csv"))
        );
        let file = directory.path().join("mine.csv");
        assert_eq!(
            Destination::choose(Some(&file), "a.csv"),
            Destination::File(file.clone())
        );
    }

    #[test]
    fn csv_rows_are_counted_without_the_header_and_across_chunks() {
        let mut counter = RowCounter::new(ExportFormatArgument::Csv);
        counter.feed(b"id,timestamp\n1,\"a\nmulti");
        counter.feed(b"line \"\"quoted\"\" cell\"\r\n2,b\r");
        counter.feed(b"\n3,c");
        assert_eq!(counter.rows(), 3);
        let mut header_only = RowCounter::new(ExportFormatArgument::Csv);
        header_only.feed(b"id,timestamp\n");
        assert_eq!(header_only.rows(), 0);
        assert_eq!(RowCounter::new(ExportFormatArgument::Csv).rows(), 0);
    }

    #[test]
    fn ndjson_rows_are_lines() {
        let mut counter = RowCounter::new(ExportFormatArgument::Ndjson);
        counter.feed(b"{\"path\":\"a\\\"b\\n\"}\n{\"id\"");
        counter.feed(b":2}\n");
        assert_eq!(counter.rows(), 2);
        assert_eq!(RowCounter::new(ExportFormatArgument::Ndjson).rows(), 0);
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(10_000), "10,000");
        assert_eq!(group_digits(1_234_567), "1,234,567");
    }

    #[tokio::test]
    async fn an_interrupted_download_leaves_no_file_behind() {
        use std::io::Read as _;

        // A server that promises 1,000 bytes and sends 9.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let address = listener.local_addr().expect("an address");
        let server = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().expect("a connection");
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request);
            let _ = socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nid,timest");
        });
        let client = reqwest::Client::new();
        let mut response = client
            .get(format!("http://{address}/export.csv"))
            .send()
            .await
            .expect("an answer");
        let directory = tempfile::tempdir().expect("a temporary directory");
        let target = directory.path().join("out.csv");
        let mut counter = RowCounter::new(ExportFormatArgument::Csv);
        let error = write_file(&mut response, &target, &mut counter)
            .await
            .expect_err("the download is cut short");
        assert!(error.to_string().contains("interrupted"), "{error:#}");
        server.join().expect("the server thread ends");
        let left: Vec<_> = std::fs::read_dir(directory.path())
            .expect("the directory")
            .collect();
        assert!(left.is_empty(), "files left behind: {left:?}");
    }
}
