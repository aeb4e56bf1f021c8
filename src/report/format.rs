//! How figures read: dollars, counts, durations and plain numbers, for every printed table,
//! plot label and page. One module, so a rule lives in one place.
//!
//! Files for machines never go through here: the CSVs and `summary.json` hold unrounded
//! numbers (`Display` of `f64`, the shortest text that reads back the same).
//!
//! Dollars have several forms, each named for where it is shown. They differ on purpose and
//! cannot be merged without changing printed figures that users and tests already read:
//! - [`usd_summary`]: the run's own tables (terminal, `summary.md`, the page's summary tables)
//!   and the progress line. `$0` for zero; two decimals from $1, four from 1¢, six below (a
//!   per-conversation cost is often a fraction of a cent); no thousands separators.
//! - [`usd_prices`] and [`usd_prices_signed`]: `bench prices`, whose monthly figures run into
//!   millions: thousands separated by commas, `$0.00` for zero, otherwise the decimals of
//!   [`usd_summary`].
//! - [`usd_compact`]: plot notes and the page's price comparison: four significant digits
//!   below $1 with trailing zeros dropped (`$0.004213`, `$0.50`), cents from $1, whole
//!   dollars with separators from $1,000.
//! - [`usd_tick`]: axis ticks, where every tick of one axis has the same decimals so the
//!   labels line up.
//! - [`usd_figure`]: `bench compare`, a `$` before a [`figure`] (six significant digits), so
//!   a small change between two runs still shows.

/// `v`, or 0 when it is NaN or infinite: a label never shows `NaN`.
pub fn finite_or_zero(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}

/// A whole number with commas between thousands: `1,234,567`.
pub fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `x` with `decimals` decimals and commas between thousands; a negative number that rounds
/// to zero loses its sign (`-0.0001` with two decimals is `0.00`).
pub fn grouped(x: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, x.abs());
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i.to_string(), Some(f.to_string())),
        None => (s, None),
    };
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let nonzero = grouped
        .chars()
        .chain(frac.as_deref().unwrap_or("").chars())
        .any(|c| c.is_ascii_digit() && c != '0');
    let sign = if x < 0.0 && nonzero { "-" } else { "" };
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// Decimals for a dollar amount in a table: two from $1 (and for zero), four from 1¢, six
/// below, so a fraction of a cent still shows its digits.
fn table_decimals(abs: f64) -> usize {
    if abs == 0.0 || abs >= 1.0 {
        2
    } else if abs >= 0.01 {
        4
    } else {
        6
    }
}

/// Dollars in the run's tables and progress line: `$0`, `$12.35`, `$0.1234`, `$0.001234`
/// (no thousands separators; see the module docs).
pub fn usd_summary(x: f64) -> String {
    if x == 0.0 {
        "$0".to_string()
    } else {
        let decimals = table_decimals(x.abs());
        format!("${x:.decimals$}")
    }
}

/// Dollars in `bench prices`: `$0.00`, `$2,400.00`, `$0.5000`, `$0.008000`.
pub fn usd_prices(x: f64) -> String {
    format!("${}", grouped(x, table_decimals(x.abs())))
}

/// A saving in `bench prices`, always signed: `+$3.00`, `-$0.0012`.
pub fn usd_prices_signed(x: f64) -> String {
    let body = usd_prices(x.abs());
    if x < 0.0 {
        format!("-{body}")
    } else {
        format!("+{body}")
    }
}

/// Dollars with as many decimals as the magnitude needs: `$1,234`, `$12.35`, `$0.004213`.
pub fn usd_compact(usd: f64) -> String {
    let usd = finite_or_zero(usd);
    let sign = if usd < 0.0 { "-" } else { "" };
    let a = usd.abs();
    let body = if a >= 1000.0 {
        group_thousands(a.round() as u64)
    } else if a >= 1.0 || a == 0.0 {
        format!("{a:.2}")
    } else {
        // Four significant digits: enough to tell cheap models apart.
        let decimals = (3 - a.log10().floor() as i32).clamp(2, 10) as usize;
        let mut text = format!("{a:.decimals$}");
        // Drop trailing zeros but keep cents: "$0.0412", "$0.50".
        while text.ends_with('0') && text.len() > "0.00".len() {
            text.pop();
        }
        text
    };
    format!("{sign}${body}")
}

/// Dollars for an axis tick: the same number of decimals on every tick of an axis spanning
/// `span` dollars, so the labels line up ("$0.00, $0.50, $1.00", not "$0.5000, $1.00").
pub fn usd_tick(usd: f64, span: f64) -> String {
    let sign = if usd < -1e-12 { "-" } else { "" };
    let a = usd.abs();
    if span >= 1000.0 {
        return format!("{sign}${}", group_thousands(a.round() as u64));
    }
    let decimals = if span >= 1.0 {
        2
    } else {
        (2 - span.log10().floor() as i32).clamp(2, 10) as usize
    };
    format!("{sign}${a:.decimals$}")
}

/// Dollars as a [`figure`]: `$0.0123457`.
pub fn usd_figure(v: f64) -> String {
    format!("${}", figure(v))
}

/// A number for people: up to six significant digits, no exponent for everyday magnitudes.
pub fn figure(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v == 0.0 {
        return "0".to_string();
    }
    // Round to 6 significant digits, then print the shortest form of that.
    let rounded: f64 = format!("{v:.5e}").parse().unwrap_or(v);
    if rounded.abs() >= 1e-4 && rounded.abs() < 1e15 {
        format!("{rounded}")
    } else {
        format!("{rounded:e}")
    }
}

/// A tick label for an axis spanning `span`: no decimals for wide ranges (thousands
/// separated), more for narrow ones.
pub fn tick(value: f64, span: f64) -> String {
    let v = if value.abs() < 1e-12 { 0.0 } else { value };
    if span >= 20.0 {
        if v.abs() >= 1000.0 {
            let sign = if v < 0.0 { "-" } else { "" };
            format!("{sign}{}", group_thousands(v.abs().round() as u64))
        } else {
            format!("{v:.0}")
        }
    } else if span >= 2.0 {
        format!("{v:.1}")
    } else if span >= 0.2 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// A price per million tokens, with as many decimals as it needs (0.028, 2.50, 15.00).
pub fn price_per_mtok(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0');
    match s.split_once('.') {
        Some((_, frac)) if frac.len() < 2 => format!("{x:.2}"),
        _ => s.to_string(),
    }
}

/// A fraction as a percentage with two decimals: `0.0123` is `1.23%`.
pub fn percent(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

/// Milliseconds in the run's latency table, no unit: three significant-ish digits (`1234`,
/// `56.7`, `0.891`).
pub fn ms_table(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 1.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.3}")
    }
}

/// Milliseconds with one decimal and the unit, for the page's percentile table: `12.3 ms`.
pub fn ms_unit(x: f64) -> String {
    format!("{x:.1} ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_tables_group_thousands_and_keep_small_amounts_readable() {
        for (x, d, want) in [
            (1234567.891, 2, "1,234,567.89"),
            (999.0, 0, "999"),
            (-1000.5, 1, "-1,000.5"),
            (-0.0001, 2, "0.00"),
        ] {
            assert_eq!(grouped(x, d), want, "{x}");
        }
        assert_eq!(usd_prices(0.008), "$0.008000");
        assert_eq!(usd_prices(2400.0), "$2,400.00");
        assert_eq!(usd_prices(0.5), "$0.5000");
        assert_eq!(usd_prices(6.0), "$6.00");
        assert_eq!(usd_prices_signed(-3.0), "-$3.00");
        assert_eq!(price_per_mtok(0.028), "0.028");
        assert_eq!(price_per_mtok(2.5), "2.50");
        assert_eq!(price_per_mtok(15.0), "15.00");
    }

    #[test]
    fn each_dollar_form_keeps_its_own_rule() {
        assert_eq!(usd_summary(0.0), "$0");
        assert_eq!(usd_summary(2400.0), "$2400.00");
        assert_eq!(usd_summary(0.001234), "$0.001234");
        assert_eq!(usd_compact(1234.4), "$1,234");
        assert_eq!(usd_compact(0.004213), "$0.004213");
        assert_eq!(usd_compact(0.5), "$0.50");
        assert_eq!(usd_compact(f64::NAN), "$0.00");
        assert_eq!(usd_tick(0.5, 1.0), "$0.50");
        assert_eq!(usd_tick(0.005, 0.01), "$0.0050");
        assert_eq!(usd_figure(0.012345678), "$0.0123457");
    }

    #[test]
    fn ticks_and_figures_read_as_before() {
        assert_eq!(tick(12345.0, 50000.0), "12,345");
        assert_eq!(tick(1.25, 5.0), "1.2");
        assert_eq!(tick(0.05, 0.1), "0.0500");
        assert_eq!(figure(1e-7), "1e-7");
        assert_eq!(figure(2.5), "2.5");
        assert_eq!(percent(0.0123), "1.23%");
        assert_eq!(ms_table(1234.4), "1234");
        assert_eq!(ms_unit(12.34), "12.3 ms");
    }
}
