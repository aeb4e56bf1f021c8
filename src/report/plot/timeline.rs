//! The per-second timeline: throughput and errors above, p95 latency below, breaker-open
//! periods shaded in both.

use std::path::Path;

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::canvas::{
    Area, PALETTE, PLOT_HEIGHT, PLOT_WIDTH, draw_empty, draw_legend, font, non_empty_range,
    plot_error, render, shorten, title_style,
};
use crate::report::format::tick;

/// One second of the run's timeline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimelinePoint {
    /// Seconds since the start of the run.
    pub second: u64,
    /// LLM calls completed in this second.
    pub calls: u64,
    /// Calls completed in this second that failed.
    pub errors: u64,
    /// 95th percentile latency of this second's calls in milliseconds; `None` when no call
    /// completed (drawn as a gap, not as a misleading zero).
    pub p95_ms: Option<f64>,
}

/// A period during which a circuit breaker was open, shaded on the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenPeriod {
    /// Seconds since the start of the run when the breaker opened.
    pub start_s: f64,
    /// Seconds since the start of the run when it closed (or the run ended).
    pub end_s: f64,
    /// What was open, e.g. the model or endpoint name.
    pub label: String,
}

/// Plots the per-second timeline: throughput and errors (calls/s) in the upper panel, p95
/// latency (ms) in the lower one, with breaker-open periods shaded in both.
pub fn plot_timeline(
    path: &Path,
    points: &[TimelinePoint],
    open_periods: &[OpenPeriod],
) -> anyhow::Result<()> {
    render(path, PLOT_WIDTH, PLOT_HEIGHT, |root| {
        draw_timeline(root, points, open_periods)
    })
}

const BREAKER: RGBColor = RGBColor(214, 39, 40);

/// Most points drawn per timeline line; longer runs are averaged into wider bins so an hour still
/// reads as a line and not as a solid band.
const MAX_TIMELINE_POINTS: u64 = 600;

/// One bin of the timeline as drawn: `width` seconds starting at `start`.
struct TimelineBin {
    start: f64,
    /// Mean completed calls per second over the bin.
    calls_per_s: f64,
    /// Mean errors per second over the bin.
    errors_per_s: f64,
    /// Worst per-second p95 in the bin (the honest summary of a tail), if any second had one.
    p95_ms: Option<f64>,
}

/// Groups per-second points into bins of `width` seconds (1 unless the run is long). Seconds
/// missing from the input count as idle.
fn bin_timeline(points: &[TimelinePoint], first: u64, last: u64) -> (Vec<TimelineBin>, u64) {
    let span = (last - first).saturating_add(1);
    let width = [1u64, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600]
        .into_iter()
        .find(|w| span.div_ceil(*w) <= MAX_TIMELINE_POINTS)
        .unwrap_or_else(|| span.div_ceil(MAX_TIMELINE_POINTS));
    let n = span.div_ceil(width) as usize;
    let mut sums = vec![(0u64, 0u64, None::<f64>); n];
    for p in points {
        let bin = &mut sums[((p.second - first) / width) as usize];
        bin.0 += p.calls;
        bin.1 += p.errors;
        if let Some(v) = p.p95_ms.filter(|v| v.is_finite()) {
            bin.2 = Some(bin.2.map_or(v, |m: f64| m.max(v)));
        }
    }
    let bins = sums
        .into_iter()
        .enumerate()
        .map(|(i, (calls, errors, p95_ms))| {
            let start = first + i as u64 * width;
            // The last bin may be cut short by the end of the run.
            let seconds = width.min(last.saturating_add(1) - start).max(1) as f64;
            TimelineBin {
                start: start as f64,
                calls_per_s: calls as f64 / seconds,
                errors_per_s: errors as f64 / seconds,
                p95_ms,
            }
        })
        .collect();
    (bins, width)
}

/// The axes both panels share, and their labels; a `width` above 1 means each point is the
/// mean (or, for p95, the worst) of that many seconds.
struct TimelineAxes {
    x_lo: f64,
    x_hi: f64,
    calls_hi: f64,
    p95_hi: f64,
    /// Seconds per bin.
    width: u64,
}

impl TimelineAxes {
    fn new(
        bins: &[TimelineBin],
        width: u64,
        first: u64,
        last: u64,
        periods: &[&OpenPeriod],
    ) -> Self {
        let x_lo = periods
            .iter()
            .map(|p| p.start_s)
            .fold(first as f64, f64::min)
            .max(0.0);
        let x_hi = periods
            .iter()
            .map(|p| p.end_s)
            .fold(last as f64 + 1.0, f64::max);
        let (x_lo, x_hi) = non_empty_range(x_lo, x_hi);
        let calls_max = bins
            .iter()
            .map(|b| b.calls_per_s.max(b.errors_per_s))
            .fold(0.0, f64::max);
        // Headroom above the highest point keeps the legend clear of the lines.
        let (_, calls_hi) = non_empty_range(0.0, calls_max * 1.4);
        let p95_max = bins.iter().filter_map(|b| b.p95_ms).fold(0.0, f64::max);
        let (_, p95_hi) = non_empty_range(0.0, p95_max * 1.3);
        TimelineAxes {
            x_lo,
            x_hi,
            calls_hi,
            p95_hi,
            width,
        }
    }

    /// Centre of a bin on the x axis.
    fn mid(&self, b: &TimelineBin) -> f64 {
        b.start + self.width as f64 / 2.0
    }

    fn x_label(&self, x: f64) -> String {
        tick(x, self.x_hi - self.x_lo)
    }
}

fn draw_timeline(
    root: &Area<'_>,
    points: &[TimelinePoint],
    open_periods: &[OpenPeriod],
) -> anyhow::Result<()> {
    let title = "Timeline: throughput, errors and p95 latency";
    let (Some(first), Some(last)) = (
        points.iter().map(|p| p.second).min(),
        points.iter().map(|p| p.second).max(),
    ) else {
        return draw_empty(root, title, "No calls completed");
    };
    let (bins, width) = bin_timeline(points, first, last);
    let periods: Vec<&OpenPeriod> = open_periods
        .iter()
        .filter(|p| p.start_s.is_finite() && p.end_s.is_finite() && p.end_s >= p.start_s)
        .collect();
    let axes = TimelineAxes::new(&bins, width, first, last, &periods);

    let (w, h) = root.dim_in_pixel();
    root.draw(&Text::new(
        title,
        (w as i32 / 2, 30),
        title_style().pos(Pos::new(HPos::Center, VPos::Center)),
    ))
    .map_err(plot_error)?;
    let body = root.margin(55, 10, 10, 20);
    let (upper, lower) = body.split_vertically((h as f64 * 0.5) as i32);
    draw_throughput_panel(&upper, &axes, &bins, &periods)?;
    draw_p95_panel(root, &lower, &axes, &bins, &periods)
}

type Panel<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The upper panel: completed calls and errors per second, breaker-open periods shaded.
fn draw_throughput_panel(
    upper: &Area<'_>,
    axes: &TimelineAxes,
    bins: &[TimelineBin],
    periods: &[&OpenPeriod],
) -> anyhow::Result<()> {
    let calls_hi = axes.calls_hi;
    let x_fmt = |x: &f64| axes.x_label(*x);
    let calls_fmt = |y: &f64| tick(*y, calls_hi);
    let calls_desc = if axes.width == 1 {
        "Calls per second".to_string()
    } else {
        format!("Calls per second ({} s mean)", axes.width)
    };
    let shade = BREAKER.mix(0.15);
    let mut top = ChartBuilder::on(upper)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(90)
        .build_cartesian_2d(axes.x_lo..axes.x_hi, 0.0..calls_hi)
        .map_err(plot_error)?;
    top.configure_mesh()
        .max_light_lines(1)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&calls_fmt)
        .y_desc(calls_desc)
        .label_style(font(15))
        .axis_desc_style(font(17))
        .light_line_style(RGBColor(240, 240, 240))
        .draw()
        .map_err(plot_error)?;
    let shaded = top
        .draw_series(
            periods
                .iter()
                .map(|p| Rectangle::new([(p.start_s, 0.0), (p.end_s, calls_hi)], shade.filled())),
        )
        .map_err(plot_error)?;
    if !periods.is_empty() {
        let label = if periods.len() == 1 {
            "breaker open".to_string()
        } else {
            format!("breaker open ({} periods)", periods.len())
        };
        shaded
            .label(label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 7), (x + 24, y + 7)], shade.filled()));
    }
    top.draw_series(LineSeries::new(
        bins.iter().map(|b| (axes.mid(b), b.calls_per_s)),
        PALETTE[0].stroke_width(2),
    ))
    .map_err(plot_error)?
    .label("completed calls/s")
    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], PALETTE[0].stroke_width(3)));
    top.draw_series(LineSeries::new(
        bins.iter().map(|b| (axes.mid(b), b.errors_per_s)),
        PALETTE[3].stroke_width(2),
    ))
    .map_err(plot_error)?
    .label("errors/s")
    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], PALETTE[3].stroke_width(3)));
    if bins.len() == 1 {
        // A line needs two points: mark the only one.
        top.draw_series(bins.iter().flat_map(|b| {
            [
                Circle::new((axes.mid(b), b.calls_per_s), 5, PALETTE[0].filled()),
                Circle::new((axes.mid(b), b.errors_per_s), 5, PALETTE[3].filled()),
            ]
        }))
        .map_err(plot_error)?;
    }
    draw_legend(&mut top, SeriesLabelPosition::UpperRight, 14)
}

/// The lower panel: p95 latency per bin, a gap where a bin had none, and the names of the
/// breaker-open periods at its foot.
fn draw_p95_panel(
    root: &Area<'_>,
    lower: &Area<'_>,
    axes: &TimelineAxes,
    bins: &[TimelineBin],
    periods: &[&OpenPeriod],
) -> anyhow::Result<()> {
    let p95_hi = axes.p95_hi;
    let x_fmt = |x: &f64| axes.x_label(*x);
    let p95_fmt = |y: &f64| tick(*y, p95_hi);
    let (p95_desc, x_desc) = if axes.width == 1 {
        (
            "p95 latency (ms)".to_string(),
            "Time since start (s)".to_string(),
        )
    } else {
        (
            format!("p95 (ms), worst second of {}", axes.width),
            format!("Time since start (s); each point covers {} s", axes.width),
        )
    };
    let shade = BREAKER.mix(0.15);
    let mut bottom = ChartBuilder::on(lower)
        .margin(10)
        .x_label_area_size(55)
        .y_label_area_size(90)
        .build_cartesian_2d(axes.x_lo..axes.x_hi, 0.0..p95_hi)
        .map_err(plot_error)?;
    bottom
        .configure_mesh()
        .max_light_lines(1)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&p95_fmt)
        .x_desc(x_desc)
        .y_desc(p95_desc)
        .label_style(font(15))
        .axis_desc_style(font(17))
        .light_line_style(RGBColor(240, 240, 240))
        .draw()
        .map_err(plot_error)?;
    bottom
        .draw_series(
            periods
                .iter()
                .map(|p| Rectangle::new([(p.start_s, 0.0), (p.end_s, p95_hi)], shade.filled())),
        )
        .map_err(plot_error)?;
    let p95_color = PALETTE[4];
    for seg in &p95_segments(axes, bins) {
        if seg.len() == 1 {
            bottom
                .draw_series(seg.iter().map(|c| Circle::new(*c, 4, p95_color.filled())))
                .map_err(plot_error)?;
        } else {
            bottom
                .draw_series(LineSeries::new(
                    seg.iter().copied(),
                    p95_color.stroke_width(2),
                ))
                .map_err(plot_error)?;
        }
    }
    bottom
        .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
        .map_err(plot_error)?
        .label("p95 latency")
        .legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 24, y)], p95_color.stroke_width(3))
        });
    draw_legend(&mut bottom, SeriesLabelPosition::UpperRight, 14)?;
    draw_period_labels(root, lower, &bottom, axes, periods)
}

/// The p95 line as runs of consecutive bins that have one. Bins without a p95 break the line:
/// a gap says "no data", a zero would say "fast".
fn p95_segments(axes: &TimelineAxes, bins: &[TimelineBin]) -> Vec<Vec<(f64, f64)>> {
    let mut segments: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut previous_had_p95 = false;
    for b in bins {
        match b.p95_ms {
            Some(v) => {
                let point = (axes.mid(b), v);
                match segments.last_mut() {
                    Some(seg) if previous_had_p95 => seg.push(point),
                    _ => segments.push(vec![point]),
                }
                previous_had_p95 = true;
            }
            None => previous_had_p95 = false,
        }
    }
    segments
}

/// Names the breaker-open periods at the foot of the lower panel's shading.
///
/// Labels sit clear of both legends, on up to three rows stacked upwards: a label takes the
/// first row where it does not run into the previous one, and is left out when none is free
/// (hundreds of short periods would otherwise be an unreadable smear; the legend still counts
/// them). Beyond a couple of dozen periods names stop being readable as a group, so none are
/// drawn.
fn draw_period_labels(
    root: &Area<'_>,
    lower: &Area<'_>,
    bottom: &Panel<'_, '_>,
    axes: &TimelineAxes,
    periods: &[&OpenPeriod],
) -> anyhow::Result<()> {
    const MAX_PERIOD_LABELS: usize = 24;
    let label_font = font(14).color(&BREAKER);
    let mut row_end = [i32::MIN; 3];
    let (plot_right, y_base) = bottom.backend_coord(&(axes.x_hi, 0.0));
    let mut sorted = periods.to_vec();
    sorted.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    if sorted.len() > MAX_PERIOD_LABELS {
        sorted.clear();
    }
    for p in sorted {
        let (x0, _) = bottom.backend_coord(&(p.start_s.max(axes.x_lo), 0.0));
        let text = shorten(&p.label);
        let (tw, th) = lower
            .estimate_text_size(&text, &label_font)
            .map_err(plot_error)?;
        let x = x0 + 3;
        let end = x + tw as i32;
        if end > plot_right {
            continue;
        }
        if let Some(row) = row_end.iter().position(|r| x > r + 6) {
            row_end[row] = end;
            let y = y_base - 6 - th as i32 - (th as i32 + 4) * row as i32;
            root.draw(&Text::new(text, (x, y), label_font.clone()))
                .map_err(plot_error)?;
        }
    }
    Ok(())
}
