//! `index.html`: one self-contained page a person opens in a browser after a run.
//!
//! The page needs no network: CSS is inline, there is no script, and every plot is embedded as a
//! base64 `data:` URI, so the file can be mailed, attached to a ticket or opened offline and still
//! shows everything. Every string that came from data (model names, prompts, error text) is
//! HTML-escaped, because a prompt may well contain `<script>`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use base64::Engine as _;

use super::atomic;

/// Everything the page shows. Plain strings, so any part of the harness can fill it in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HtmlReport {
    /// Page title and heading, e.g. the scenario name and run time.
    pub title: String,
    /// Short notes shown prominently under the title, e.g. "run interrupted by Ctrl-C" or
    /// "fewer than 100 samples: p99 is not meaningful".
    pub notes: Vec<String>,
    /// The run's settings as key/value pairs, in display order.
    pub settings: Vec<(String, String)>,
    /// The summary table, shown first.
    pub summary: HtmlTable,
    /// Plots, shown after the summary in this order.
    pub images: Vec<HtmlImage>,
    /// Further tables (percentiles, cost by model, what-if, errors), shown after the plots.
    pub tables: Vec<HtmlTable>,
}

/// A table of strings with a title.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HtmlTable {
    /// Heading above the table.
    pub title: String,
    /// Column headers.
    pub headers: Vec<String>,
    /// Rows of cells; a row shorter than `headers` is padded with empty cells.
    pub rows: Vec<Vec<String>>,
}

/// A plot to embed.
#[derive(Debug, Clone, PartialEq)]
pub struct HtmlImage {
    /// Caption shown above the image and used as its alt text.
    pub title: String,
    /// The PNG file to embed.
    pub path: PathBuf,
}

/// Renders the page and writes it to `path` atomically. Fails, naming the file, if a plot
/// cannot be read.
pub fn write_html(path: &Path, report: &HtmlReport) -> anyhow::Result<()> {
    let page = render_html(report)?;
    atomic::write_bytes(path, page.as_bytes())
}

/// Renders the page to a string, reading and embedding every image.
pub fn render_html(report: &HtmlReport) -> anyhow::Result<String> {
    let mut images = Vec::with_capacity(report.images.len());
    for image in &report.images {
        let bytes = std::fs::read(&image.path).with_context(|| {
            format!(
                "reading plot {} to embed in index.html; was it written?",
                image.path.display()
            )
        })?;
        images.push((
            image,
            base64::engine::general_purpose::STANDARD.encode(bytes),
        ));
    }

    let mut out =
        String::with_capacity(images.iter().map(|(_, b)| b.len()).sum::<usize>() + 16_384);
    let title = escape(&report.title);
    // `write!` into a String cannot fail; the results are ignored for that reason.
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n\
         <header><h1>{title}</h1><p class=\"generator\">reactbench report</p></header>\n"
    );
    for note in &report.notes {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", escape(note));
    }

    // A table of contents, so a long page is one click from each section.
    out.push_str("<nav><ul>");
    if !report.summary.rows.is_empty() || !report.summary.headers.is_empty() {
        out.push_str("<li><a href=\"#summary\">Summary</a></li>");
    }
    if !report.settings.is_empty() {
        out.push_str("<li><a href=\"#settings\">Settings</a></li>");
    }
    for (i, image) in report.images.iter().enumerate() {
        let _ = write!(
            out,
            "<li><a href=\"#plot-{i}\">{}</a></li>",
            escape(&image.title)
        );
    }
    for (i, table) in report.tables.iter().enumerate() {
        let _ = write!(
            out,
            "<li><a href=\"#table-{i}\">{}</a></li>",
            escape(&table.title)
        );
    }
    out.push_str("</ul></nav>\n");

    if !report.summary.rows.is_empty() || !report.summary.headers.is_empty() {
        let mut summary = report.summary.clone();
        if summary.title.is_empty() {
            summary.title = "Summary".into();
        }
        write_table(&mut out, "summary", &summary);
    }
    if !report.settings.is_empty() {
        out.push_str("<section id=\"settings\"><h2>Settings</h2>\n<dl class=\"settings\">");
        for (key, value) in &report.settings {
            let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", escape(key), escape(value));
        }
        out.push_str("</dl></section>\n");
    }
    for (i, (image, data)) in images.iter().enumerate() {
        let caption = escape(&image.title);
        let _ = write!(
            out,
            "<section id=\"plot-{i}\" class=\"plot\"><h2>{caption}</h2>\n\
             <img alt=\"{caption}\" src=\"data:image/png;base64,{data}\"></section>\n"
        );
    }
    for (i, table) in report.tables.iter().enumerate() {
        write_table(&mut out, &format!("table-{i}"), table);
    }
    out.push_str("</main>\n</body>\n</html>\n");
    Ok(out)
}

fn write_table(out: &mut String, id: &str, table: &HtmlTable) {
    let _ = write!(
        out,
        "<section id=\"{id}\"><h2>{}</h2>\n<div class=\"scroll\"><table>\n",
        escape(&table.title)
    );
    let columns = table
        .rows
        .iter()
        .map(Vec::len)
        .chain(std::iter::once(table.headers.len()))
        .max()
        .unwrap_or(0);
    if !table.headers.is_empty() {
        out.push_str("<thead><tr>");
        for i in 0..columns {
            let header = table.headers.get(i).map(String::as_str).unwrap_or("");
            // A header sits over its numbers: right-aligned when the column is numeric.
            let mut cells = table
                .rows
                .iter()
                .filter_map(|r| r.get(i))
                .filter(|c| !c.trim().is_empty())
                .peekable();
            let numeric = cells.peek().is_some() && cells.all(|c| looks_numeric(c));
            let class = if numeric { " class=\"num\"" } else { "" };
            let _ = write!(out, "<th{class}>{}</th>", escape(header));
        }
        out.push_str("</tr></thead>\n");
    }
    out.push_str("<tbody>\n");
    if table.rows.is_empty() {
        let _ = writeln!(
            out,
            "<tr><td class=\"empty\" colspan=\"{}\">no rows</td></tr>",
            columns.max(1)
        );
    }
    for row in &table.rows {
        out.push_str("<tr>");
        for i in 0..columns {
            let cell = row.get(i).map(String::as_str).unwrap_or("");
            let class = if looks_numeric(cell) {
                " class=\"num\""
            } else {
                ""
            };
            let _ = write!(out, "<td{class}>{}</td>", escape(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div></section>\n");
}

/// Numbers (with an optional `$`, `%`, sign, thousands separators or a unit such as `ms`) are
/// right-aligned so digits line up.
fn looks_numeric(cell: &str) -> bool {
    let cell = cell.trim();
    let number = cell
        .trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == '/' || c == ' ')
        .trim_start_matches(['$', '-', '+', '−']);
    let number = number.trim_end_matches('%');
    !number.is_empty()
        && number.starts_with(|c: char| c.is_ascii_digit())
        && number
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
}

/// Escapes text for use in HTML element content and in quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Inline style: system fonts only (no web fonts, nothing fetched), readable widths, tables that
/// scroll sideways instead of breaking the layout.
const CSS: &str = "
:root { color-scheme: light; --fg: #1e1e1e; --muted: #666; --line: #ddd; --accent: #1f77b4; }
* { box-sizing: border-box; }
body { margin: 0; background: #f6f7f9; color: var(--fg);
  font: 15px/1.5 system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif; }
main { max-width: 1260px; margin: 0 auto; padding: 24px 28px 64px; }
header { border-bottom: 3px solid var(--accent); margin-bottom: 12px; }
h1 { font-size: 26px; margin: 8px 0 2px; overflow-wrap: anywhere; }
h2 { font-size: 19px; margin: 0 0 10px; overflow-wrap: anywhere; }
.generator { color: var(--muted); margin: 0 0 8px; }
.note { background: #fff4e5; border-left: 4px solid #ff7f0e; padding: 8px 12px; margin: 8px 0;
  overflow-wrap: anywhere; }
nav ul { list-style: none; padding: 0; margin: 8px 0 16px; display: flex; flex-wrap: wrap; gap: 6px; }
nav a { display: inline-block; padding: 3px 10px; border: 1px solid var(--line); border-radius: 12px;
  background: #fff; color: var(--accent); text-decoration: none; font-size: 13px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 16px 18px;
  margin: 16px 0; }
.plot img { display: block; width: 100%; height: auto; border: 1px solid #eee; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: left;
  vertical-align: top; overflow-wrap: anywhere; }
th { background: #eef2f7; position: sticky; top: 0; }
tbody tr:nth-child(even) { background: #fafbfc; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.empty { color: var(--muted); font-style: italic; }
dl.settings { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 0; }
dl.settings dt { font-weight: 600; }
dl.settings dd { margin: 0; overflow-wrap: anywhere; font-family: ui-monospace, 'DejaVu Sans Mono', monospace; }
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_cells_are_recognised() {
        for cell in ["12", "1,234.5", "$0.0042", "-3%", "812 ms", "45.2 calls/s"] {
            assert!(looks_numeric(cell), "{cell}");
        }
        for cell in ["gpt-4o", "", "timeout", "4o-mini", "p95"] {
            assert!(!looks_numeric(cell), "{cell}");
        }
    }

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
    }
}
