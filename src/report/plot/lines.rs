//! Figures against a load (a capacity sweep): one line per series with its points marked, an
//! optional horizontal target line; and a cost-against-latency scatter with its Pareto front.

use std::path::Path;

use plotters::prelude::*;

use super::canvas::{
    Area, MUTED, PALETTE, PLOT_HEIGHT, PLOT_WIDTH, draw_empty, draw_legend, font, non_empty_range,
    plot_error, render, shorten, shorten_title, title_style,
};
use crate::report::format::tick;

/// One line of a [`plot_lines`] chart.
#[derive(Debug, Clone)]
pub struct Line {
    /// Legend label.
    pub name: String,
    /// Points (x, y), drawn in x order.
    pub points: Vec<(f64, f64)>,
}

/// A chart of lines against a shared x axis, with an optional labelled horizontal line (a
/// target).
pub fn plot_lines(
    path: &Path,
    title: &str,
    (x_desc, y_desc): (&str, &str),
    lines: &[Line],
    target: Option<(f64, &str)>,
) -> anyhow::Result<()> {
    render(path, PLOT_WIDTH, PLOT_HEIGHT, |root| {
        draw_lines(root, title, (x_desc, y_desc), lines, target)
    })
}

fn draw_lines(
    root: &Area<'_>,
    title: &str,
    (x_desc, y_desc): (&str, &str),
    lines: &[Line],
    target: Option<(f64, &str)>,
) -> anyhow::Result<()> {
    let all: Vec<(f64, f64)> = lines
        .iter()
        .flat_map(|l| l.points.iter().copied())
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    if all.is_empty() {
        return draw_empty(root, title, "No steps finished");
    }
    let x_max = all.iter().map(|p| p.0).fold(0.0, f64::max);
    let mut y_max = all.iter().map(|p| p.1).fold(0.0, f64::max);
    if let Some((t, _)) = target {
        y_max = y_max.max(t);
    }
    let (_, x_max) = non_empty_range(0.0, x_max * 1.05);
    let (_, y_max) = non_empty_range(0.0, y_max * 1.08);
    let x_fmt = |x: &f64| tick(*x, x_max);
    let y_fmt = |y: &f64| tick(*y, y_max);
    let mut chart = ChartBuilder::on(root)
        .caption(shorten_title(title), title_style())
        .margin(20)
        .margin_right(45)
        .x_label_area_size(60)
        .y_label_area_size(90)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style(font(16))
        .axis_desc_style(font(18))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(plot_error)?;
    if let Some((t, label)) = target {
        let style = ShapeStyle::from(&MUTED).stroke_width(2);
        chart
            .draw_series(LineSeries::new(vec![(0.0, t), (x_max, t)], style))
            .map_err(plot_error)?
            .label(label.to_string())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
    }
    for (i, line) in lines.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let mut points = line.points.clone();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let style = ShapeStyle::from(&color).stroke_width(3);
        chart
            .draw_series(LineSeries::new(points.clone(), style))
            .map_err(plot_error)?
            .label(shorten(&line.name))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
        chart
            .draw_series(points.iter().map(|p| Circle::new(*p, 5, color.filled())))
            .map_err(plot_error)?;
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperLeft, 16)
}

/// One model's answer in a [`plot_pareto`] chart.
#[derive(Debug, Clone)]
pub struct Choice {
    /// The model.
    pub name: String,
    /// Its latency at the load compared (ms).
    pub latency_ms: f64,
    /// Its dollars per month at that load.
    pub usd_per_month: f64,
}

/// The models compared: dollars per month against latency, each a labelled point, the Pareto
/// front (no other model is both cheaper and faster) joined by a line.
pub fn plot_pareto(path: &Path, title: &str, choices: &[Choice]) -> anyhow::Result<()> {
    render(path, PLOT_WIDTH, PLOT_HEIGHT, |root| {
        draw_pareto(root, title, choices)
    })
}

/// The indices of `choices` on the Pareto front of (latency, cost), by latency.
pub fn pareto_front(choices: &[Choice]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..choices.len()).collect();
    idx.sort_by(|&a, &b| {
        choices[a]
            .latency_ms
            .total_cmp(&choices[b].latency_ms)
            .then(
                choices[a]
                    .usd_per_month
                    .total_cmp(&choices[b].usd_per_month),
            )
    });
    let mut front = Vec::new();
    let mut best = f64::INFINITY;
    for i in idx {
        if choices[i].usd_per_month < best {
            best = choices[i].usd_per_month;
            front.push(i);
        }
    }
    front
}

fn draw_pareto(root: &Area<'_>, title: &str, choices: &[Choice]) -> anyhow::Result<()> {
    if choices.is_empty() {
        return draw_empty(root, title, "No model met the SLO");
    }
    let x_max = choices.iter().map(|c| c.latency_ms).fold(0.0, f64::max);
    let y_max = choices.iter().map(|c| c.usd_per_month).fold(0.0, f64::max);
    let (_, x_max) = non_empty_range(0.0, x_max * 1.15);
    let (_, y_max) = non_empty_range(0.0, y_max * 1.15);
    let x_fmt = |x: &f64| tick(*x, x_max);
    let y_fmt = |y: &f64| format!("${}", tick(*y, y_max));
    let mut chart = ChartBuilder::on(root)
        .caption(shorten_title(title), title_style())
        .margin(20)
        .margin_right(45)
        .x_label_area_size(60)
        .y_label_area_size(110)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .x_desc("Conversation latency p95 at the load (ms)")
        .y_desc("Dollars per month at the load")
        .label_style(font(16))
        .axis_desc_style(font(18))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(plot_error)?;
    let front: Vec<(f64, f64)> = pareto_front(choices)
        .into_iter()
        .map(|i| (choices[i].latency_ms, choices[i].usd_per_month))
        .collect();
    let style = ShapeStyle::from(&MUTED).stroke_width(2);
    chart
        .draw_series(LineSeries::new(front, style))
        .map_err(plot_error)?
        .label("Pareto front")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
    for (i, c) in choices.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let p = (c.latency_ms, c.usd_per_month);
        chart
            .draw_series(std::iter::once(Circle::new(p, 8, color.filled())))
            .map_err(plot_error)?;
        chart
            .draw_series(std::iter::once(Text::new(
                shorten(&c.name),
                p,
                font(16).pos(plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Left,
                    plotters::style::text_anchor::VPos::Bottom,
                )),
            )))
            .map_err(plot_error)?;
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight, 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_front_keeps_only_models_no_other_beats_on_both() {
        let c = |name: &str, latency_ms: f64, usd_per_month: f64| Choice {
            name: name.into(),
            latency_ms,
            usd_per_month,
        };
        let choices = [
            c("fast-dear", 100.0, 900.0),
            c("slow-cheap", 400.0, 100.0),
            c("dominated", 450.0, 950.0),
            c("middle", 200.0, 300.0),
        ];
        assert_eq!(pareto_front(&choices), vec![0, 3, 1]);
    }
}
