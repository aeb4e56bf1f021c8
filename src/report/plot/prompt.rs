//! Prompt tokens by step index, stacked by part (system prompt, tool schemas, history, tool
//! results), with the billed and cached means as lines: how the history grows within a turn,
//! since every step resends all of it.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::canvas::{
    Area, MUTED, PALETTE, PLOT_HEIGHT, PLOT_WIDTH, draw_empty, draw_legend, font, plot_error,
    render, title_style,
};
use crate::report::format::{finite_or_zero, tick};

/// One step index: mean prompt tokens per call, by part, and as billed.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptStep {
    /// Step index (1 = the first call of a turn).
    pub step: u32,
    /// Calls at this step.
    pub calls: u64,
    /// Mean tokens of the system prompt.
    pub system: f64,
    /// Mean tokens of the tool definitions.
    pub tool_schemas: f64,
    /// Mean tokens of user and assistant messages.
    pub history: f64,
    /// Mean tokens of tool results.
    pub tool_results: f64,
    /// Mean cached prompt tokens, as billed.
    pub cached: f64,
}

const TITLE: &str = "Prompt tokens by step (mean per call)";

/// Plots the steps as stacked bars, with the cached tokens as a line.
pub fn plot_prompt_by_step(path: &Path, steps: &[PromptStep]) -> anyhow::Result<()> {
    render(path, PLOT_WIDTH, PLOT_HEIGHT, |root| draw(root, steps))
}

fn draw(root: &Area<'_>, steps: &[PromptStep]) -> anyhow::Result<()> {
    if steps.is_empty() {
        return draw_empty(root, TITLE, "No LLM calls counted");
    }
    let parts =
        |s: &PromptStep| [s.system, s.tool_schemas, s.history, s.tool_results].map(finite_or_zero);
    let top = steps
        .iter()
        .map(|s| parts(s).iter().sum::<f64>())
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.15;
    let last = steps.iter().map(|s| s.step).max().unwrap_or(1);
    let x_range = 0.5..(last as f64 + 0.5);
    let y_fmt = |y: &f64| tick(*y, top);
    let x_fmt = |x: &f64| {
        if (x - x.round()).abs() < 1e-9 && *x >= 1.0 {
            format!("{}", x.round() as u64)
        } else {
            String::new()
        }
    };
    let mut chart = ChartBuilder::on(root)
        .caption(TITLE, title_style())
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(90)
        .build_cartesian_2d(x_range, 0.0..top)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .max_light_lines(1)
        .x_labels((last as usize + 1).min(40))
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .x_desc("Step within a turn")
        .y_desc("Prompt tokens")
        .label_style(font(16))
        .axis_desc_style(font(18))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(plot_error)?;
    let names = ["system prompt", "tool schemas", "history", "tool results"];
    let colors = [PALETTE[0], PALETTE[1], PALETTE[2], PALETTE[3]];
    for (k, name) in names.iter().enumerate() {
        let color = colors[k];
        chart
            .draw_series(steps.iter().map(|s| {
                let p = parts(s);
                let below: f64 = p[..k].iter().sum();
                let x = s.step as f64;
                let mut bar = Rectangle::new(
                    [(x - 0.35, below), (x + 0.35, below + p[k])],
                    color.filled(),
                );
                bar.set_margin(0, 0, 0, 0);
                bar
            }))
            .map_err(plot_error)?
            .label(*name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled()));
    }
    if steps.iter().any(|s| s.cached > 0.0) {
        let line = RGBColor(20, 20, 20);
        chart
            .draw_series(LineSeries::new(
                steps
                    .iter()
                    .map(|s| (s.step as f64, finite_or_zero(s.cached))),
                line.stroke_width(3),
            ))
            .map_err(plot_error)?
            .label("cached (billed)")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 14, y)], line.stroke_width(3))
            });
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperLeft, 16)?;
    let calls: u64 = steps.iter().map(|s| s.calls).sum();
    let (w, _) = root.dim_in_pixel();
    root.draw(&Text::new(
        format!("{calls} calls; step 1 is the first call of each turn"),
        (w as i32 - 40, 80),
        font(16).color(&MUTED).pos(Pos::new(HPos::Right, VPos::Top)),
    ))
    .map_err(plot_error)?;
    Ok(())
}
