//! Threshold verdicts for people and CI: terminal lines, the `summary.md` section and JUnit
//! XML.

use std::fmt::Write as _;

use crate::report::format::figure as format_value;
use crate::report::summary::ThresholdResult;

fn measured_text(r: &ThresholdResult) -> String {
    match r.measured {
        Some(v) => format_value(v),
        None => "n/a".to_string(),
    }
}

fn limit_text(r: &ThresholdResult) -> String {
    // For a baseline condition the resolved limit says more than the formula alone.
    match r.limit {
        Some(l) if r.condition.contains("baseline") => format!(" (limit {})", format_value(l)),
        _ => String::new(),
    }
}

/// One line per threshold for the terminal, and a count line; `color` adds green and red.
pub fn render_terminal(results: &[ThresholdResult], color: bool) -> String {
    let mut out = String::new();
    if results.is_empty() {
        return out;
    }
    let failed = results.iter().filter(|r| !r.passed).count();
    let skipped = results.iter().filter(|r| r.skipped()).count();
    let width = results
        .iter()
        .map(|r| r.metric.chars().count() + r.condition.chars().count() + 1)
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "Thresholds: {} passed, {failed} failed{}",
        results.len() - failed - skipped,
        if skipped > 0 {
            format!(", {skipped} skipped")
        } else {
            String::new()
        }
    );
    for r in results {
        let (word, paint) = if r.skipped() {
            ("skip", "\x1b[33m")
        } else if r.passed {
            ("pass", "\x1b[32m")
        } else {
            ("FAIL", "\x1b[1;31m")
        };
        let word = if color {
            format!("{paint}{word}\x1b[0m")
        } else {
            word.to_string()
        };
        let gate = format!("{} {}", r.metric, r.condition);
        let _ = write!(
            out,
            "  {word}  {gate:<width$}  measured {}{}",
            measured_text(r),
            limit_text(r)
        );
        if let Some(n) = &r.note {
            let _ = write!(out, "  ({n})");
        }
        out.push('\n');
    }
    out
}

/// The `## Thresholds` section of `summary.md`: a table with a verdict per threshold.
pub fn render_markdown(results: &[ThresholdResult]) -> String {
    let mut out = String::new();
    if results.is_empty() {
        return out;
    }
    let failed = results.iter().filter(|r| !r.passed).count();
    let _ = writeln!(out, "\n## Thresholds\n");
    let _ = writeln!(
        out,
        "{}\n",
        if failed == 0 {
            "All thresholds passed.".to_string()
        } else {
            format!("**{failed} of {} thresholds failed.**", results.len())
        }
    );
    let _ = writeln!(out, "| Result | Metric | Condition | Measured |");
    let _ = writeln!(out, "| --- | --- | --- | ---: |");
    for r in results {
        let verdict = if r.skipped() {
            "skipped"
        } else if r.passed {
            "✅ pass"
        } else {
            "❌ **FAIL**"
        };
        let mut measured = format!("{}{}", measured_text(r), limit_text(r));
        if let Some(n) = &r.note {
            let _ = write!(measured, " ({n})");
        }
        let _ = writeln!(
            out,
            "| {verdict} | `{}` | `{}` | {} |",
            r.metric.replace('|', "\\|"),
            r.condition.replace('|', "\\|"),
            measured.replace('|', "\\|")
        );
    }
    out
}

/// JUnit XML for CI systems: one `<testcase>` per threshold; a failed one holds a `<failure>`
/// with the measured value, a skipped one a `<skipped>`.
pub fn junit_xml(results: &[ThresholdResult], suite_name: &str) -> String {
    let failures = results.iter().filter(|r| !r.passed).count();
    let skipped = results.iter().filter(|r| r.skipped()).count();
    let suite = xml_escape(suite_name);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"reactbench\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" \
         skipped=\"{skipped}\">",
        results.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{suite}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" \
         skipped=\"{skipped}\">",
        results.len()
    );
    for r in results {
        let name = xml_escape(&format!("{} {}", r.metric, r.condition));
        let _ = write!(
            out,
            "    <testcase classname=\"reactbench.thresholds\" name=\"{name}\""
        );
        let detail = format!(
            "{} {}: measured {}{}{}",
            r.metric,
            r.condition,
            measured_text(r),
            limit_text(r),
            r.note
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        );
        if r.skipped() {
            let _ = writeln!(out, ">");
            let _ = writeln!(
                out,
                "      <skipped message=\"{}\"/>",
                xml_escape(r.note.as_deref().unwrap_or("skipped"))
            );
            let _ = writeln!(out, "    </testcase>");
        } else if r.passed {
            let _ = writeln!(out, "/>");
        } else {
            let _ = writeln!(out, ">");
            let _ = writeln!(
                out,
                "      <failure type=\"threshold\" message=\"measured {}\">{}</failure>",
                xml_escape(&measured_text(r)),
                xml_escape(&detail)
            );
            let _ = writeln!(out, "    </testcase>");
        }
    }
    let _ = writeln!(out, "  </testsuite>");
    let _ = writeln!(out, "</testsuites>");
    out
}

/// Escapes text for XML attributes and content, and drops characters XML 1.0 cannot hold.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Writes [`junit_xml`] to `path` atomically (for `bench run --junit FILE`).
pub fn write_junit(
    path: &std::path::Path,
    results: &[ThresholdResult],
    suite_name: &str,
) -> anyhow::Result<()> {
    crate::report::atomic::write_bytes(path, junit_xml(results, suite_name).as_bytes())
}
