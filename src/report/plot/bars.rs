//! Horizontal bar charts of dollars: this run's cost by model, and the what-if comparison of
//! its token mix under other models' prices.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::canvas::{
    Area, PALETTE, PLOT_HEIGHT, PLOT_WIDTH, draw_empty, font, non_empty_range, plot_error, render,
    shorten, title_style,
};
use crate::report::format::{finite_or_zero, usd_compact, usd_tick};

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

/// Height given to one bar (one model) in a horizontal bar chart.
const BAR_ROW_PX: u32 = 34;

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
        draw_dashed_line(root, x, y0, y1)?;
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

/// A dashed vertical line from `y0` down to `y1` at `x`, so a reference value reads as a
/// marker and not as another bar's edge.
fn draw_dashed_line(root: &Area<'_>, x: i32, y0: i32, y1: i32) -> anyhow::Result<()> {
    let mut y = y0;
    while y < y1 {
        root.draw(&PathElement::new(
            vec![(x, y), (x, (y + 8).min(y1))],
            RGBColor(31, 119, 180).stroke_width(2),
        ))
        .map_err(plot_error)?;
        y += 14;
    }
    Ok(())
}
