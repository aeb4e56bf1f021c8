//! A table of the run's summary: a header and rows of cells, as aligned text for the terminal
//! or as a Markdown table.

use std::fmt::Write as _;

/// A table: a header and rows of cells; the first column is left-aligned, the rest right.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// Column headings.
    pub header: Vec<String>,
    /// Rows, each as many cells as the header.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub(super) fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub(super) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Aligned text, indented by two spaces.
    pub fn to_text(&self, color: bool) -> String {
        let n = self.header.len();
        let mut widths = vec![0; n];
        for r in std::iter::once(&self.header).chain(&self.rows) {
            for (i, cell) in r.iter().enumerate().take(n) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let line = |cells: &[String]| {
            let mut l = String::from(" ");
            for (i, cell) in cells.iter().enumerate().take(n) {
                let pad = widths[i].saturating_sub(cell.chars().count());
                l.push(' ');
                if i == 0 {
                    l.push_str(cell);
                    l.push_str(&" ".repeat(pad));
                } else {
                    l.push_str(&" ".repeat(pad + 1));
                    l.push_str(cell);
                }
            }
            l.trim_end().to_string()
        };
        let head = line(&self.header);
        if color {
            let _ = writeln!(out, "\x1b[1m{head}\x1b[0m");
        } else {
            let _ = writeln!(out, "{head}");
        }
        for r in &self.rows {
            let _ = writeln!(out, "{}", line(r));
        }
        out
    }

    /// A GitHub-flavoured Markdown table, numbers right-aligned.
    pub fn to_markdown(&self) -> String {
        let esc = |s: &str| s.replace('|', "\\|");
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| {} |",
            self.header
                .iter()
                .map(|h| esc(h))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let align: Vec<&str> = (0..self.header.len())
            .map(|i| if i == 0 { "---" } else { "---:" })
            .collect();
        let _ = writeln!(out, "| {} |", align.join(" | "));
        for r in &self.rows {
            let cells: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(i, c)| match c.strip_prefix("  ") {
                    // Markdown collapses the indent that marks a per-model row; say it.
                    Some(rest) if i == 0 => format!("↳ {}", esc(rest)),
                    _ => esc(c),
                })
                .collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        out
    }
}
