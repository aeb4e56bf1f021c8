//! Latency against percentile, one curve per series, in the HdrHistogram style.

use std::path::Path;

use hdrhistogram::Histogram;
use plotters::prelude::*;

use super::canvas::{
    Area, PALETTE, PLOT_HEIGHT, PLOT_WIDTH, draw_empty, draw_legend, font, non_empty_range,
    plot_error, render, shorten, shorten_title, title_style,
};
use crate::report::format::tick;

/// One latency series of a percentile plot: a name (usually the model) and its histogram.
#[derive(Debug, Clone, Copy)]
pub struct LatencySeries<'a> {
    /// Legend label, e.g. the model name.
    pub name: &'a str,
    /// Latencies in integer microseconds.
    pub histogram: &'a Histogram<u64>,
}

/// Plots latency against percentile, one curve per series, in the HdrHistogram style: the x axis
/// is `1/(1-p)` on a log scale so the tail (99%, 99.9%, ...) gets as much room as the median.
pub fn plot_latency_percentiles(
    path: &Path,
    title: &str,
    series: &[LatencySeries<'_>],
) -> anyhow::Result<()> {
    render(path, PLOT_WIDTH, PLOT_HEIGHT, |root| {
        draw_percentiles(root, title, series)
    })
}

/// Percentile labels as HdrHistogram plots them: x = log10(1/(1-p)).
fn percentile_label(x: f64) -> String {
    if x.abs() < 1e-9 {
        return "0%".into();
    }
    if (x - 2f64.log10()).abs() < 1e-6 {
        return "50%".into();
    }
    let k = x.round().max(1.0) as i32;
    let pct = 100.0 * (1.0 - 10f64.powi(-k));
    let decimals = (k - 2).max(0) as usize;
    format!("{pct:.decimals$}%")
}

fn draw_percentiles(
    root: &Area<'_>,
    title: &str,
    series: &[LatencySeries<'_>],
) -> anyhow::Result<()> {
    let drawn: Vec<(usize, &LatencySeries<'_>)> = series
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.histogram.is_empty())
        .collect();
    if drawn.is_empty() {
        return draw_empty(root, title, "No latency samples recorded");
    }
    // Enough decades to show the tail the data can resolve: n samples resolve 1/(1-p) up to n.
    let max_count = drawn
        .iter()
        .map(|(_, s)| s.histogram.len())
        .max()
        .unwrap_or(1);
    let decades = ((max_count as f64).log10().ceil() as i32).clamp(2, 6);
    let x_max = f64::from(decades);
    let max_ms = drawn
        .iter()
        .map(|(_, s)| s.histogram.max() as f64 / 1000.0)
        .fold(0.0, f64::max);
    let (_, y_max) = non_empty_range(0.0, max_ms * 1.08);

    let x_fmt = |x: &f64| percentile_label(*x);
    let y_fmt = |y: &f64| tick(*y, y_max);

    let mut chart = ChartBuilder::on(root)
        .caption(shorten_title(title), title_style())
        .margin(20)
        .margin_right(45)
        .x_label_area_size(60)
        .y_label_area_size(90)
        .build_cartesian_2d(PercentileAxis { decades }, 0.0..y_max)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .y_max_light_lines(1)
        .x_desc("Percentile (log scale of 1/(1-p))")
        .y_desc("Latency (ms)")
        .label_style(font(16))
        .axis_desc_style(font(18))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(plot_error)?;

    let legend_needed = series.len() > 1 || !series.iter().all(|s| s.name.is_empty());
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let h = s.histogram;
        if h.is_empty() {
            continue;
        }
        let points = curve(h, x_max);
        let label = legend_label(s, y_max);
        let style = ShapeStyle::from(&color).stroke_width(3);
        let drawn_series = chart
            .draw_series(LineSeries::new(points.clone(), style))
            .map_err(plot_error)?;
        if legend_needed {
            drawn_series.label(label).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
            });
        }
        if points.len() == 1 {
            // One distinct value: a line needs two points, so mark it.
            chart
                .draw_series(PointSeries::of_element(
                    points,
                    5,
                    color.filled(),
                    &|c, s, st| Circle::new(c, s, st),
                ))
                .map_err(plot_error)?;
        }
    }
    for (i, s) in series.iter().enumerate() {
        if s.histogram.is_empty() {
            let color = PALETTE[i % PALETTE.len()];
            // Keep the series in the legend so a reader sees it was measured and had nothing.
            chart
                .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                .map_err(plot_error)?
                .label(format!("{}  (no samples)", shorten(s.name)))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(1))
                });
        }
    }
    if legend_needed {
        draw_legend(&mut chart, SeriesLabelPosition::UpperLeft, 15)?;
    }
    Ok(())
}

/// The x axis of a percentile plot: `log10(1/(1-p))` from 0 (0%) to `decades` (e.g. 3 is 99.9%),
/// with ticks exactly at 50%, 90%, 99%, ... (plotters' own log axis would pick 2, 5, 20, ...).
#[derive(Clone)]
struct PercentileAxis {
    decades: i32,
}

impl Ranged for PercentileAxis {
    type FormatOption = plotters::coord::ranged1d::NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        plotters::coord::types::RangedCoordf64::from(self.range()).map(value, limit)
    }

    fn key_points<Hint: plotters::coord::ranged1d::KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            // Light grid lines at 75%, 95%, 99.5%, ... halfway between the labelled ticks.
            let mut points = vec![4f64.log10()];
            points.extend((1..self.decades).map(|k| f64::from(k) + 2f64.log10()));
            points
        } else {
            let mut points = vec![0.0, 2f64.log10()];
            points.extend((1..=self.decades).map(f64::from));
            points
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        0.0..f64::from(self.decades)
    }
}

impl plotters::coord::ranged1d::ValueFormatter<f64> for PercentileAxis {
    fn format_ext(&self, value: &f64) -> String {
        percentile_label(*value)
    }
}

/// The points of one curve: every quantile step of the histogram (4 per halving of the tail),
/// at `x = log10(1/(1-p))`, capped at `x_max`, with the latency in milliseconds.
fn curve(h: &Histogram<u64>, x_max: f64) -> Vec<(f64, f64)> {
    h.iter_quantiles(4)
        .map(|v| {
            let q = v.quantile_iterated_to();
            let x = if q >= 1.0 {
                x_max
            } else {
                (1.0 / (1.0 - q)).log10().min(x_max)
            };
            (
                x,
                h.highest_equivalent(v.value_iterated_to()) as f64 / 1000.0,
            )
        })
        .collect()
}

/// A curve's legend entry: its name and its sample count, median, p99 and maximum.
fn legend_label(s: &LatencySeries<'_>, y_max: f64) -> String {
    let h = s.histogram;
    format!(
        "{}  (n={}, p50 {} ms, p99 {} ms, max {} ms)",
        shorten(if s.name.is_empty() { "latency" } else { s.name }),
        h.len(),
        tick(h.value_at_quantile(0.5) as f64 / 1000.0, y_max),
        tick(h.value_at_quantile(0.99) as f64 / 1000.0, y_max),
        tick(h.max() as f64 / 1000.0, y_max),
    )
}
