//! PNG plots of a run: latency percentile curves, a latency histogram, the per-second timeline,
//! cost by model and the what-if price comparison.
//!
//! Every function takes plain data (no dependency on the metrics or pricing types), draws with
//! plotters into an in-memory RGB buffer, encodes it as PNG and writes it through [`super::atomic`] (temporary
//! file in the same directory, then rename), so an interrupted run never leaves half an image.
//!
//! Text is drawn with DejaVu Sans, shipped in `assets/fonts/` and embedded in the binary: plotters'
//! `ab_glyph` backend only draws fonts registered from bytes, so no system font is looked up and a
//! machine without fonts still gets labelled plots.
//!
//! Inputs are never trusted to be tidy: empty histograms, a single point, all-zero values,
//! non-finite numbers and very long names all produce a readable image instead of a panic.

use std::fmt::Display;
use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Context as _, anyhow};
use hdrhistogram::Histogram;
use image::ImageEncoder as _;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::format::{finite_or_zero, tick, usd_compact, usd_tick};

/// Family name under which the bundled font is registered. Deliberately not "DejaVu Sans" nor a
/// generic name, so that nothing could ever resolve it to a system font.
pub const FONT_FAMILY: &str = "reactbench-dejavu-sans";

/// The bundled font (DejaVu Sans 2.37; license in `assets/fonts/DejaVuSans-LICENSE.txt`).
static FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Width of every plot, in pixels.
pub const PLOT_WIDTH: u32 = 1200;
/// Height of every plot, in pixels; bar charts with many rows grow taller so labels never overlap.
pub const PLOT_HEIGHT: u32 = 700;

/// Longest name drawn in full; longer names are cut with an ellipsis so they cannot push the
/// chart off the image.
const MAX_LABEL_CHARS: usize = 40;
/// Height given to one bar (one model) in a horizontal bar chart.
const BAR_ROW_PX: u32 = 34;

/// Qualitative palette (Tableau 10): distinct at a glance and for most colour-blind readers.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
const TEXT: RGBColor = RGBColor(30, 30, 30);
const MUTED: RGBColor = RGBColor(110, 110, 110);
const BREAKER: RGBColor = RGBColor(214, 39, 40);

/// One latency series of a percentile plot: a name (usually the model) and its histogram.
#[derive(Debug, Clone, Copy)]
pub struct LatencySeries<'a> {
    /// Legend label, e.g. the model name.
    pub name: &'a str,
    /// Latencies in integer microseconds.
    pub histogram: &'a Histogram<u64>,
}

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

/// Cost of one model in this run.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelCost {
    /// Model that answered the calls.
    pub model: String,
    /// Total cost in US dollars.
    pub usd: f64,
}

/// One row of the what-if comparison: the run's token mix priced under one model.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceComparisonRow {
    /// Model whose prices were applied.
    pub model: String,
    /// Cost of 1,000 conversations in US dollars.
    pub usd_per_1k_conversations: f64,
    /// Whether this is the reference model the others are compared against.
    pub is_reference: bool,
}

/// Registers the bundled font with plotters once per process.
pub fn ensure_font_registered() -> anyhow::Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, FONT_BYTES).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(anyhow!(
            "the bundled font assets/fonts/DejaVuSans.ttf could not be parsed; rebuild from a \
             clean checkout"
        ))
    }
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

/// Plots a latency histogram: bar heights are sample counts over equal-width millisecond buckets.
/// The x range ends at the 99.9th percentile so one outlier cannot squash every other bar into
/// the first one; samples above it are counted in the last bar and said so in a note.
pub fn plot_latency_histogram(
    path: &Path,
    title: &str,
    histogram: &Histogram<u64>,
) -> anyhow::Result<()> {
    render(path, PLOT_WIDTH, PLOT_HEIGHT, |root| {
        draw_histogram(root, title, histogram)
    })
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

/// Plots this run's cost per model as horizontal bars (USD), most expensive first.
pub fn plot_cost_by_model(path: &Path, costs: &[ModelCost]) -> anyhow::Result<()> {
    let mut bars: Vec<Bar> = costs
        .iter()
        .map(|c| Bar {
            name: c.model.clone(),
            value: finite_or_zero(c.usd),
            color: PALETTE[0],
            note: usd_compact(finite_or_zero(c.usd)),
        })
        .collect();
    bars.sort_by(|a, b| b.value.total_cmp(&a.value));
    let chart = BarChart {
        title: "Cost by model (this run)",
        x_desc: "Cost (USD)",
        bars,
        reference: None,
    };
    let height = bar_chart_height(chart.bars.len());
    render(path, PLOT_WIDTH, height, |root| draw_bars(root, &chart))
}

/// Plots the what-if comparison: cost per 1,000 conversations under each model's prices, cheapest
/// first. The reference model is drawn in its own colour and marked by a dashed line; the others
/// are green when cheaper and red when dearer, with the difference in percent.
pub fn plot_price_comparison(path: &Path, rows: &[PriceComparisonRow]) -> anyhow::Result<()> {
    let reference = rows
        .iter()
        .find(|r| r.is_reference)
        .map(|r| finite_or_zero(r.usd_per_1k_conversations));
    let mut bars: Vec<Bar> = rows
        .iter()
        .map(|r| {
            let value = finite_or_zero(r.usd_per_1k_conversations);
            let (color, note, name) = if r.is_reference {
                (
                    RGBColor(31, 119, 180),
                    format!("{} (reference)", usd_compact(value)),
                    r.model.clone(),
                )
            } else {
                let versus = reference.filter(|v| *v > 0.0).map(|reference| {
                    let pct = (value - reference) / reference * 100.0;
                    format!(" ({pct:+.0}%)")
                });
                let color = match reference {
                    Some(reference) if value < reference => RGBColor(44, 160, 44),
                    Some(reference) if value > reference => RGBColor(214, 39, 40),
                    _ => RGBColor(127, 127, 127),
                };
                (
                    color,
                    format!("{}{}", usd_compact(value), versus.unwrap_or_default()),
                    r.model.clone(),
                )
            };
            Bar {
                name,
                value,
                color,
                note,
            }
        })
        .collect();
    bars.sort_by(|a, b| a.value.total_cmp(&b.value));
    let chart = BarChart {
        title: "What-if: this run's token mix priced per model",
        x_desc: "Cost per 1,000 conversations (USD)",
        bars,
        reference,
    };
    let height = bar_chart_height(chart.bars.len());
    render(path, PLOT_WIDTH, height, |root| draw_bars(root, &chart))
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Draws a `width` × `height` PNG with `draw` and writes it to `path` atomically.
fn render(
    path: &Path,
    width: u32,
    height: u32,
    draw: impl FnOnce(&Area<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    ensure_font_registered()?;
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        draw(&root).with_context(|| format!("drawing {}", path.display()))?;
        root.present().map_err(plot_error)?;
    }
    let mut png = Vec::new();
    // Fast deflate with the Sub filter: a third of the default's encoding time (it dominated
    // debug-build tests) for files of about 100-200 kB; adaptive filtering halves the size but
    // costs as much time as default compression.
    image::codecs::png::PngEncoder::new_with_quality(
        &mut png,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::Sub,
    )
    .write_image(&rgb, width, height, image::ColorType::Rgb8)
    .with_context(|| format!("encoding {} as PNG", path.display()))?;
    super::atomic::write_bytes(path, &png)
}

/// The legend box every chart uses: translucent white on a light grey border.
fn draw_legend<'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, BitMapBackend<'a>, CT>,
    position: SeriesLabelPosition,
    font_size: u32,
) -> anyhow::Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .label_font(font(font_size))
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(200, 200, 200))
        .draw()
        .map_err(plot_error)
}

fn plot_error(e: impl Display) -> anyhow::Error {
    anyhow!("plotting failed: {e}")
}

fn font(size: u32) -> TextStyle<'static> {
    (FONT_FAMILY, size).into_font().color(&TEXT)
}

fn title_style() -> TextStyle<'static> {
    font(28)
}

/// Cuts a title to what fits across a plot at the title's size.
fn shorten_title(title: &str) -> String {
    truncate_chars(title, 80)
}

/// Cuts a name to [`MAX_LABEL_CHARS`] characters, so it cannot push the chart off the image.
fn shorten(name: &str) -> String {
    truncate_chars(name, MAX_LABEL_CHARS)
}

/// The first `max` characters of `text`, the last replaced by an ellipsis when cut.
fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// Returns `(lo, hi)` widened so that it is never empty: a single value or all zeros still get
/// an axis.
fn non_empty_range(lo: f64, hi: f64) -> (f64, f64) {
    let (lo, hi) = (finite_or_zero(lo), finite_or_zero(hi));
    if hi > lo {
        (lo, hi)
    } else if lo == 0.0 {
        (0.0, 1.0)
    } else {
        (lo - lo.abs() * 0.5, hi + hi.abs() * 0.5)
    }
}

/// Draws the title and a centred message, for inputs with nothing to plot.
fn draw_empty(root: &Area<'_>, title: &str, message: &str) -> anyhow::Result<()> {
    let (w, h) = root.dim_in_pixel();
    root.draw(&Text::new(
        shorten_title(title),
        (w as i32 / 2, 30),
        title_style().pos(Pos::new(HPos::Center, VPos::Center)),
    ))
    .map_err(plot_error)?;
    root.draw(&Text::new(
        message.to_string(),
        (w as i32 / 2, h as i32 / 2),
        font(22)
            .color(&MUTED)
            .pos(Pos::new(HPos::Center, VPos::Center)),
    ))
    .map_err(plot_error)?;
    Ok(())
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
        let points: Vec<(f64, f64)> = h
            .iter_quantiles(4)
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
            .collect();
        let label = format!(
            "{}  (n={}, p50 {} ms, p99 {} ms, max {} ms)",
            shorten(if s.name.is_empty() { "latency" } else { s.name }),
            h.len(),
            tick(h.value_at_quantile(0.5) as f64 / 1000.0, y_max),
            tick(h.value_at_quantile(0.99) as f64 / 1000.0, y_max),
            tick(h.max() as f64 / 1000.0, y_max),
        );
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

/// Rounds a raw bucket width up to 1, 2 or 5 times a power of ten, so bucket edges are round.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let pow = 10f64.powf(raw.log10().floor());
    let m = raw / pow;
    let nice = if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * pow
}

fn draw_histogram(root: &Area<'_>, title: &str, h: &Histogram<u64>) -> anyhow::Result<()> {
    if h.is_empty() {
        return draw_empty(root, title, "No latency samples recorded");
    }
    let min_ms = h.min() as f64 / 1000.0;
    let max_ms = h.highest_equivalent(h.max()) as f64 / 1000.0;
    let cut_ms = (h.highest_equivalent(h.value_at_quantile(0.999)) as f64 / 1000.0).max(min_ms);
    // Values are whole microseconds, so no bucket needs to be narrower than 1 µs; when every
    // sample has about the same value, size buckets from the value itself.
    let raw = if cut_ms > min_ms {
        (cut_ms - min_ms) / 40.0
    } else {
        min_ms / 10.0
    };
    let step = nice_step(raw.max(0.001));
    // At least ten buckets, starting a little below the fastest sample, so a lone bar is shown
    // in context and not stretched over the whole plot.
    let lo = ((min_ms / step).floor() - 2.0).max(0.0) * step;
    let buckets = (((cut_ms - lo) / step).floor() as usize + 1).clamp(10, 200);
    let mut counts = vec![0u64; buckets];
    let mut above = 0u64;
    for v in h.iter_recorded() {
        let ms = h.median_equivalent(v.value_iterated_to()) as f64 / 1000.0;
        let i = ((ms - lo) / step).floor().max(0.0) as usize;
        if i >= buckets {
            above += v.count_at_value();
        }
        counts[i.min(buckets - 1)] += v.count_at_value();
    }
    let hi = lo + step * buckets as f64;
    // Counts are whole numbers: at least 0..5 on the axis, and no label between integers.
    let y_max = (counts.iter().copied().max().unwrap_or(0) as f64 * 1.1).max(5.0);
    let x_fmt = |x: &f64| tick(*x, hi - lo);
    let y_fmt = |y: &f64| {
        if (y - y.round()).abs() < 1e-9 {
            tick(y.round(), 20.0)
        } else {
            String::new()
        }
    };

    let mut chart = ChartBuilder::on(root)
        .caption(shorten_title(title), title_style())
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(90)
        .build_cartesian_2d(lo..hi, 0.0..y_max)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .max_light_lines(1)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .x_desc(format!("Latency (ms), buckets of {} ms", tick(step, step)))
        .y_desc("Calls (count)")
        .label_style(font(16))
        .axis_desc_style(font(18))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(plot_error)?;
    chart
        .draw_series(
            counts
                .iter()
                .enumerate()
                .filter(|(_, c)| **c > 0)
                .map(|(i, c)| {
                    let x0 = lo + step * i as f64;
                    let mut bar =
                        Rectangle::new([(x0, 0.0), (x0 + step, *c as f64)], PALETTE[0].filled());
                    bar.set_margin(0, 0, 1, 1);
                    bar
                }),
        )
        .map_err(plot_error)?;

    let mut note = format!(
        "n = {}   p50 {} ms   p95 {} ms   p99 {} ms   max {} ms",
        h.len(),
        tick(h.value_at_quantile(0.5) as f64 / 1000.0, hi - lo),
        tick(h.value_at_quantile(0.95) as f64 / 1000.0, hi - lo),
        tick(h.value_at_quantile(0.99) as f64 / 1000.0, hi - lo),
        tick(max_ms, hi - lo),
    );
    if above > 0 {
        note.push_str(&format!(
            "\n{above} sample(s) above {} ms are counted in the last bar",
            tick(hi, hi - lo)
        ));
    }
    let (w, _) = root.dim_in_pixel();
    for (i, line) in note.lines().enumerate() {
        root.draw(&Text::new(
            line.to_string(),
            (w as i32 - 40, 80 + 22 * i as i32),
            font(16).color(&MUTED).pos(Pos::new(HPos::Right, VPos::Top)),
        ))
        .map_err(plot_error)?;
    }
    Ok(())
}

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
    let half = width as f64 / 2.0;
    let periods: Vec<&OpenPeriod> = open_periods
        .iter()
        .filter(|p| p.start_s.is_finite() && p.end_s.is_finite() && p.end_s >= p.start_s)
        .collect();
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
    let x_fmt = |x: &f64| tick(*x, (x_hi - x_lo).max(20.0));
    let calls_fmt = |y: &f64| tick(*y, calls_hi);
    let p95_fmt = |y: &f64| tick(*y, p95_hi);
    let (calls_desc, p95_desc, x_desc) = if width == 1 {
        (
            "Calls per second".to_string(),
            "p95 latency (ms)".to_string(),
            "Time since start (s)".to_string(),
        )
    } else {
        (
            format!("Calls per second ({width} s mean)"),
            format!("p95 (ms), worst second of {width}"),
            format!("Time since start (s); each point covers {width} s"),
        )
    };

    let (w, h) = root.dim_in_pixel();
    root.draw(&Text::new(
        title,
        (w as i32 / 2, 30),
        title_style().pos(Pos::new(HPos::Center, VPos::Center)),
    ))
    .map_err(plot_error)?;
    let body = root.margin(55, 10, 10, 20);
    let (upper, lower) = body.split_vertically((h as f64 * 0.5) as i32);
    let shade = BREAKER.mix(0.15);

    let mut top = ChartBuilder::on(&upper)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(90)
        .build_cartesian_2d(x_lo..x_hi, 0.0..calls_hi)
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
        bins.iter().map(|b| (b.start + half, b.calls_per_s)),
        PALETTE[0].stroke_width(2),
    ))
    .map_err(plot_error)?
    .label("completed calls/s")
    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], PALETTE[0].stroke_width(3)));
    top.draw_series(LineSeries::new(
        bins.iter().map(|b| (b.start + half, b.errors_per_s)),
        PALETTE[3].stroke_width(2),
    ))
    .map_err(plot_error)?
    .label("errors/s")
    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], PALETTE[3].stroke_width(3)));
    if bins.len() == 1 {
        // A line needs two points: mark the only one.
        top.draw_series(bins.iter().flat_map(|b| {
            [
                Circle::new((b.start + half, b.calls_per_s), 5, PALETTE[0].filled()),
                Circle::new((b.start + half, b.errors_per_s), 5, PALETTE[3].filled()),
            ]
        }))
        .map_err(plot_error)?;
    }
    draw_legend(&mut top, SeriesLabelPosition::UpperRight, 14)?;

    let mut bottom = ChartBuilder::on(&lower)
        .margin(10)
        .x_label_area_size(55)
        .y_label_area_size(90)
        .build_cartesian_2d(x_lo..x_hi, 0.0..p95_hi)
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
    // Bins without a p95 break the line: a gap says "no data", a zero would say "fast".
    let mut segments: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut previous_had_p95 = false;
    for b in &bins {
        match b.p95_ms {
            Some(v) => {
                let point = (b.start + half, v);
                match segments.last_mut() {
                    Some(seg) if previous_had_p95 => seg.push(point),
                    _ => segments.push(vec![point]),
                }
                previous_had_p95 = true;
            }
            None => previous_had_p95 = false,
        }
    }
    let p95_color = PALETTE[4];
    for seg in &segments {
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

    // Period labels sit at the foot of the lower panel's shading (clear of both legends), on up
    // to three rows stacked upwards: a label takes the first row where it does not run into the
    // previous one, and is left out when none is free (hundreds of short periods would otherwise
    // be an unreadable smear; the legend still counts them). Beyond a couple of dozen periods
    // names stop being readable as a group, so none are drawn.
    const MAX_PERIOD_LABELS: usize = 24;
    let label_font = font(14).color(&BREAKER);
    let mut row_end = [i32::MIN; 3];
    let (plot_right, y_base) = bottom.backend_coord(&(x_hi, 0.0));
    let mut sorted = periods.clone();
    sorted.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    if sorted.len() > MAX_PERIOD_LABELS {
        sorted.clear();
    }
    for p in sorted {
        let (x0, _) = bottom.backend_coord(&(p.start_s.max(x_lo), 0.0));
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

/// One bar of a horizontal bar chart.
struct Bar {
    name: String,
    value: f64,
    color: RGBColor,
    /// Text drawn after the bar's end, e.g. the formatted value.
    note: String,
}

struct BarChart<'a> {
    title: &'a str,
    x_desc: &'a str,
    /// Drawn top to bottom in this order.
    bars: Vec<Bar>,
    /// Value marked by a dashed vertical line, if any.
    reference: Option<f64>,
}

fn bar_chart_height(rows: usize) -> u32 {
    let needed = 190u32.saturating_add(BAR_ROW_PX.saturating_mul(rows as u32));
    needed.clamp(PLOT_HEIGHT, 20_000)
}

fn draw_bars(root: &Area<'_>, chart_data: &BarChart<'_>) -> anyhow::Result<()> {
    if chart_data.bars.is_empty() {
        return draw_empty(root, chart_data.title, "No models to show");
    }
    let names: Vec<String> = chart_data.bars.iter().map(|b| shorten(&b.name)).collect();
    let name_font = font(16);
    let mut name_width = 0;
    for n in &names {
        let (w, _) = root.estimate_text_size(n, &name_font).map_err(plot_error)?;
        name_width = name_width.max(w);
    }
    let note_font = font(15);
    let mut note_width = 0;
    for b in &chart_data.bars {
        let (w, _) = root
            .estimate_text_size(&b.note, &note_font)
            .map_err(plot_error)?;
        note_width = note_width.max(w);
    }
    let lo = chart_data.bars.iter().map(|b| b.value).fold(0.0, f64::min);
    let hi = chart_data
        .bars
        .iter()
        .map(|b| b.value)
        .chain(chart_data.reference)
        .fold(0.0, f64::max);
    let (lo, hi) = non_empty_range(lo, hi);
    // Leave room right of the longest bar for its note.
    let (w, _) = root.dim_in_pixel();
    let plot_px = (f64::from(w) - f64::from(name_width) - 80.0).max(200.0);
    let note_frac = (f64::from(note_width) + 16.0) / plot_px;
    let hi = hi + (hi - lo) * (note_frac / (1.0 - note_frac).max(0.3));
    let n = chart_data.bars.len() as f64;
    let x_fmt = |x: &f64| usd_tick(*x, hi - lo);

    let mut chart = ChartBuilder::on(root)
        .caption(chart_data.title, title_style())
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(name_width + 20)
        .build_cartesian_2d(lo..hi, 0.0..n)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .max_light_lines(1)
        .y_labels(0)
        .x_label_formatter(&x_fmt)
        .x_desc(chart_data.x_desc)
        .label_style(font(16))
        .axis_desc_style(font(18))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(plot_error)?;
    // Row 0 is at the top: the y axis counts up, so bar i is centred on n-i-0.5. Bars fill
    // 64% of their row but never grow thicker than 40 px, so three models do not look like
    // three walls.
    let (_, y_top) = chart.backend_coord(&(lo, n));
    let (_, y_bottom) = chart.backend_coord(&(lo, 0.0));
    let row_px = f64::from((y_bottom - y_top).max(1)) / n;
    let half = (20.0 / row_px).min(0.32);
    chart
        .draw_series(chart_data.bars.iter().enumerate().map(|(i, b)| {
            let mid = n - i as f64 - 0.5;
            let mut rect =
                Rectangle::new([(0.0, mid + half), (b.value, mid - half)], b.color.filled());
            rect.set_margin(0, 0, 0, 0);
            rect
        }))
        .map_err(plot_error)?;
    if let Some(reference) = chart_data.reference {
        let (x, y0) = chart.backend_coord(&(reference, n));
        let (_, y1) = chart.backend_coord(&(reference, 0.0));
        let mut y = y0;
        // Dashed, so the line reads as a marker and not as another bar's edge.
        while y < y1 {
            root.draw(&PathElement::new(
                vec![(x, y), (x, (y + 8).min(y1))],
                RGBColor(31, 119, 180).stroke_width(2),
            ))
            .map_err(plot_error)?;
            y += 14;
        }
    }
    for (i, (b, name)) in chart_data.bars.iter().zip(&names).enumerate() {
        let mid = n - i as f64 - 0.5;
        let (x_axis, y) = chart.backend_coord(&(lo, mid));
        root.draw(&Text::new(
            name.clone(),
            (x_axis - 10, y),
            name_font.clone().pos(Pos::new(HPos::Right, VPos::Center)),
        ))
        .map_err(plot_error)?;
        let (x_end, _) = chart.backend_coord(&(b.value.max(0.0), mid));
        root.draw(&Text::new(
            b.note.clone(),
            (x_end + 8, y),
            note_font.clone().pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(plot_error)?;
    }
    Ok(())
}
