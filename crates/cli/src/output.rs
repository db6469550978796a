//! Human output: aligned plain-text tables and the formatting of optional values and instants.

use anyhow::Context as _;
use chrono::{DateTime, Utc};

/// A plain-text table: a header row and data rows, each column padded to its widest cell and
/// columns separated by two spaces.
#[derive(Debug)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Starts a table with these column headers.
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|header| header.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row. Missing cells are shown empty; cells beyond the headers are dropped.
    pub fn add_row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as text, one line per row, each line ending in a newline and without trailing
    /// spaces.
    pub fn render(&self) -> String {
        let column_count = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| display_width(h)).collect();
        for row in &self.rows {
            for (column, cell) in row.iter().take(column_count).enumerate() {
                widths[column] = widths[column].max(display_width(cell));
            }
        }
        let mut text = String::new();
        for row in std::iter::once(&self.headers).chain(&self.rows) {
            let mut line = String::new();
            for (column, width) in widths.iter().enumerate() {
                let cell = row.get(column).map(String::as_str).unwrap_or("");
                if column > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                let padding = width.saturating_sub(display_width(cell));
                line.extend(std::iter::repeat_n(' ', padding));
            }
            text.push_str(line.trim_end());
            text.push('\n');
        }
        text
    }
}

/// An instant as people read it: `2026-11-27 09:30:00 UTC`.
pub fn format_instant(instant: DateTime<Utc>) -> String {
    instant.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// An optional instant, or `absent` (such as `never`) when there is none.
pub fn format_optional_instant(instant: Option<DateTime<Utc>>, absent: &str) -> String {
    instant.map_or_else(|| absent.to_string(), format_instant)
}

/// Prints a JSON document the way `--json` shows it: pretty, with a final newline.
pub fn print_json(document: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(document)?);
    Ok(())
}

/// Writes text to standard output. A reader that went away (`auditlog logs list | head`) is not
/// an error: there is nobody left to tell.
pub fn write_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(error).context("cannot write to standard output")
        }
        _ => Ok(()),
    }
}

/// The width of a cell in a terminal, counted in characters (good enough for names and ids).
fn display_width(text: &str) -> usize {
    text.chars().count()
}

/// A count as people read it: `12,345`.
pub fn group_digits(number: u64) -> String {
    let digits = number.to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_padded_to_their_widest_cell() {
        let mut table = Table::new(&["ID", "NAME", "IMAGE"]);
        table.add_row(vec!["1".into(), "shop".into(), "shop:1".into()]);
        table.add_row(vec![
            "12".into(),
            "billing-api".into(),
            "billing:2.0".into(),
        ]);
        assert_eq!(
            table.render(),
            "ID  NAME         IMAGE\n\
             1   shop         shop:1\n\
             12  billing-api  billing:2.0\n"
        );
    }

    #[test]
    fn short_rows_are_padded_and_long_rows_cut() {
        let mut table = Table::new(&["A", "B"]);
        table.add_row(vec!["x".into()]);
        table.add_row(vec!["yy".into(), "z".into(), "dropped".into()]);
        assert_eq!(table.render(), "A   B\nx\nyy  z\n");
    }

    #[test]
    fn widths_count_characters_not_bytes() {
        let mut table = Table::new(&["NAME", "ID"]);
        table.add_row(vec!["café".into(), "1".into()]);
        assert_eq!(table.render(), "NAME  ID\ncafé  1\n");
    }

    #[test]
    fn an_empty_table_is_its_header() {
        assert_eq!(Table::new(&["ID", "NAME"]).render(), "ID  NAME\n");
    }

    #[test]
    fn instants_are_shown_in_utc_to_the_second() {
        let instant = DateTime::parse_from_rfc3339("2026-11-27T10:30:05.123+01:00")
            .expect("valid instant")
            .with_timezone(&Utc);
        assert_eq!(format_instant(instant), "2026-11-27 09:30:05 UTC");
        assert_eq!(format_optional_instant(None, "never"), "never");
    }
}
