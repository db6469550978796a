//! Turning measurements into the Markdown that `BENCHMARKS.md` keeps: one table per benchmark,
//! with the command, the date and the machine.

use std::path::Path;

/// One row of the table.
#[derive(Clone, Debug)]
pub struct Measurement {
    pub backend: &'static str,
    pub request: &'static str,
    /// "32 clients" or "1,000 req/s".
    pub load: String,
    /// Successful answers per second.
    pub throughput: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// p50, p95 and p99 minus the unaudited baseline's at the same load.
    pub added_ms: Option<[f64; 3]>,
    /// Answers other than 2xx, and requests without an answer.
    pub errors: u64,
    /// The errors by kind (`503: 12, no answer: 1`), empty when there are none.
    pub failures: String,
}

/// The machine and the software the numbers come from.
pub struct Environment {
    pub date: String,
    pub cpus: usize,
    pub cpu_model: String,
    pub memory: String,
    pub kernel: String,
    /// The 1-minute load average when the run started (other work on the machine).
    pub load: String,
    pub sqlite: String,
    pub postgres: Option<String>,
}

impl Environment {
    /// Reads `nproc`, the CPU model (`/proc/cpuinfo`), memory and kernel, and the databases'
    /// versions (PostgreSQL only when given its URL).
    pub fn detect(postgres_url: Option<&str>) -> Environment {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        Environment {
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model: field(&cpuinfo, "model name").unwrap_or_else(|| "unknown CPU".into()),
            memory: field(&meminfo, "MemTotal")
                .and_then(|kb| kb.trim_end_matches(" kB").trim().parse::<f64>().ok())
                .map_or_else(
                    || "unknown".into(),
                    |kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0),
                ),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|k| format!("Linux {}", k.trim()))
                .unwrap_or_else(|_| std::env::consts::OS.into()),
            load: std::fs::read_to_string("/proc/loadavg")
                .ok()
                .and_then(|text| text.split_whitespace().next().map(str::to_string))
                .unwrap_or_else(|| "unknown".into()),
            sqlite: crate::capture::sqlite_version().unwrap_or_else(|| "unknown".into()),
            postgres: postgres_url.map(|url| {
                crate::capture::postgres_version(url).unwrap_or_else(|| "unknown".into())
            }),
        }
    }
}

/// The first value of `name: value` lines (as in `/proc/cpuinfo`).
fn field(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == name).then(|| value.trim().to_string())
    })
}

/// The nearest-rank percentile of sorted values (0 when there are none).
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `12345.6` as `12,346`.
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn signed(ms: f64) -> String {
    format!("{}{ms:.2}", if ms >= 0.0 { "+" } else { "" })
}

/// The Markdown table of the measurements.
pub fn table(rows: &[Measurement]) -> String {
    let mut out = String::from(
        "| Backend | Request | Load | Answers/s | p50 (ms) | p95 (ms) | p99 (ms) | Capture adds p50 / p95 / p99 (ms) | Errors |\n\
         |---|---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in rows {
        let added = row.added_ms.map_or_else(
            || "—".to_string(),
            |[a, b, c]| format!("{} / {} / {}", signed(a), signed(b), signed(c)),
        );
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {} | {} |\n",
            row.backend,
            row.request,
            row.load,
            thousands(row.throughput),
            row.p50_ms,
            row.p95_ms,
            row.p99_ms,
            added,
            if row.errors == 0 {
                "0".to_string()
            } else {
                format!("{} ({})", thousands(row.errors as f64), row.failures)
            },
        ));
    }
    out
}

/// The whole "Capture" section of `BENCHMARKS.md`.
pub fn capture_section(
    table: &str,
    notes: &[String],
    environment: &Environment,
    command: &str,
    parameters: &str,
) -> String {
    let postgres = environment
        .postgres
        .as_ref()
        .map_or_else(String::new, |v| format!(", PostgreSQL {v} (local server)"));
    let mut out = format!(
        "## Capture\n\n\
         What recording every request costs: every audited request is \
         authenticated, authorized against the project, answered, and its audit entry is chained \
         and durably committed before the response goes out. `GET /healthz` skips all of that and \
         is the baseline.\n\n\
         ```sh\n{command}\n```\n\n\
         Measured {date} on {cpus} CPUs (`nproc`), {model}, {memory} RAM, {kernel}, load \
         average {load} at the start; SQLite {sqlite} (WAL, `synchronous=FULL`){postgres}. The server (release build) runs in the \
         benchmark's process on 127.0.0.1 with its default pool of 8 connections, on a fresh \
         database per backend; the load generator (reqwest) shares the same CPUs. {parameters}.\n\n\
         {table}\n",
        date = environment.date,
        cpus = environment.cpus,
        model = environment.cpu_model,
        memory = environment.memory,
        kernel = environment.kernel,
        load = environment.load,
        sqlite = environment.sqlite,
    );
    for note in notes {
        out.push_str(&format!("- {note}\n"));
    }
    out.push_str(
        "\nHow to read it:\n\n\
         - **N clients** (closed loop): each client sends its next request as soon as the last one \
         is answered, for the whole run. *Answers/s* is the throughput; the latencies are those of \
         a saturated server.\n\
         - **N req/s** (open loop): requests are issued at that fixed rate whatever the answers \
         (no coordinated omission); latency runs from issuing a request to the end of its \
         response body, and *Answers/s* counts successful answers over the run including the \
         time to answer the last request. *Capture adds* is the audited request's percentile \
         minus the baseline's at the same rate: the authentication and role lookups, the \
         handler's own query, and the wait for the audit entry's commit. A rate above what the \
         server sustains shows as a backlog: latencies of seconds, 503s, and requests the load \
         generator did not send because 2,000 were already waiting. Rates run from the gentlest, \
         and after each run the benchmark waits until the server answers promptly again.\n\
         - *Errors* counts answers other than 2xx by status (503: the server shed the request, \
         unrecorded), requests without an answer, and requests not sent.\n",
    );
    out
}

/// Replaces the `## {title}` section of a Markdown file (up to the next `## ` heading) with
/// `section`, appending it when absent and creating the file when missing.
pub fn write_section(path: &Path, title: &str, section: &str) -> anyhow::Result<()> {
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::from(
            "# Benchmarks\n\n\
             Numbers measured with `crates/bench` (`auditlog-bench`). Each section says how it \
             was measured and on what; rerun its command to refresh it.\n",
        ),
        Err(error) => return Err(error.into()),
    };
    std::fs::write(path, replace_section(&existing, title, section))?;
    Ok(())
}

fn replace_section(document: &str, title: &str, section: &str) -> String {
    let heading = format!("## {title}");
    let lines: Vec<&str> = document.lines().collect();
    let section = section.trim_end();
    let Some(start) = lines.iter().position(|line| line.trim_end() == heading) else {
        return format!("{}\n\n{section}\n", document.trim_end());
    };
    let end = lines[start + 1..]
        .iter()
        .position(|line| line.starts_with("## "))
        .map_or(lines.len(), |offset| start + 1 + offset);
    let mut out = String::new();
    for line in &lines[..start] {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(section);
    out.push('\n');
    if end < lines.len() {
        out.push('\n');
        for line in &lines[end..] {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 50.0), 50);
        assert_eq!(percentile(&values, 99.0), 99);
        assert_eq!(percentile(&values, 100.0), 100);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0.4), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1_000.0), "1,000");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
    }

    #[test]
    fn a_section_is_replaced_in_place_or_appended() {
        let document = "# Benchmarks\n\nIntro.\n\n## Capture\n\nold\n\n## Query\n\nkept\n";
        assert_eq!(
            replace_section(document, "Capture", "## Capture\n\nnew\n"),
            "# Benchmarks\n\nIntro.\n\n## Capture\n\nnew\n\n## Query\n\nkept\n"
        );
        assert_eq!(
            replace_section("# Benchmarks\n\nIntro.\n", "Capture", "## Capture\n\nnew"),
            "# Benchmarks\n\nIntro.\n\n## Capture\n\nnew\n"
        );
        assert_eq!(
            replace_section("# B\n\n## Capture\n\nold\n", "Capture", "## Capture\n\nnew"),
            "# B\n\n## Capture\n\nnew\n"
        );
    }

    #[test]
    fn cpuinfo_fields_are_read() {
        let text = "processor\t: 0\nmodel name\t: Example CPU @ 2.0GHz\nflags\t: a b\n";
        assert_eq!(
            field(text, "model name").as_deref(),
            Some("Example CPU @ 2.0GHz")
        );
        assert_eq!(field(text, "missing"), None);
    }
}
