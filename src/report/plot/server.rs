//! The server's own metrics over the run (`server_metrics.png`): one panel per metric, stacked
//! on the same time axis as the timeline (seconds since the run's start), gauges as their
//! value and counters as a rate per second.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::canvas::{
    Area, PALETTE, PLOT_WIDTH, draw_empty, font, non_empty_range, plot_error, render, shorten,
    title_style,
};
use crate::report::format::tick;

/// Most panels drawn; the page's table lists every metric.
pub const MAX_SERVER_PANELS: usize = 6;
/// Height of one panel, pixels.
const PANEL_HEIGHT: u32 = 190;

/// One panel: a metric's values over the run.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerPanel {
    /// Metric name.
    pub name: String,
    /// True for a counter drawn as a rate per second.
    pub rate: bool,
    /// `(seconds since the run's start, value)`.
    pub points: Vec<(f64, f64)>,
}

/// Draws up to [`MAX_SERVER_PANELS`] panels over `0..duration_s`.
pub fn plot_server_metrics(
    path: &Path,
    source: &str,
    panels: &[ServerPanel],
    duration_s: f64,
) -> anyhow::Result<()> {
    let panels = &panels[..panels.len().min(MAX_SERVER_PANELS)];
    let height = 70 + PANEL_HEIGHT * panels.len().max(2) as u32;
    render(path, PLOT_WIDTH, height, |root| {
        draw(root, source, panels, duration_s)
    })
}

fn draw(
    root: &Area<'_>,
    source: &str,
    panels: &[ServerPanel],
    duration_s: f64,
) -> anyhow::Result<()> {
    let title = format!("Server metrics ({})", shorten(source));
    if panels.iter().all(|p| p.points.is_empty()) {
        return draw_empty(root, &title, "No server metrics were scraped");
    }
    let (w, _) = root.dim_in_pixel();
    root.draw(&Text::new(
        title.as_str(),
        (w as i32 / 2, 28),
        title_style().pos(Pos::new(HPos::Center, VPos::Center)),
    ))
    .map_err(plot_error)?;
    let body = root.margin(50, 10, 10, 20);
    let x_max = panels
        .iter()
        .flat_map(|p| p.points.iter().map(|q| q.0))
        .fold(duration_s, f64::max);
    let (x_lo, x_hi) = non_empty_range(0.0, x_max);
    let areas = body.split_evenly((panels.len(), 1));
    for (i, (area, panel)) in areas.iter().zip(panels).enumerate() {
        let y_max = panel
            .points
            .iter()
            .map(|p| p.1)
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max);
        let (_, y_hi) = non_empty_range(0.0, y_max * 1.15);
        let last = i + 1 == panels.len();
        let x_fmt = |x: &f64| tick(*x, x_hi - x_lo);
        let y_fmt = |y: &f64| tick(*y, y_hi);
        let mut chart = ChartBuilder::on(area)
            .margin(6)
            .x_label_area_size(if last { 45 } else { 22 })
            .y_label_area_size(90)
            .build_cartesian_2d(x_lo..x_hi, 0.0..y_hi)
            .map_err(plot_error)?;
        let mut mesh = chart.configure_mesh();
        mesh.max_light_lines(1)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .label_style(font(13))
            .axis_desc_style(font(15))
            .light_line_style(RGBColor(240, 240, 240));
        if last {
            mesh.x_desc("Time since start (s)");
        }
        mesh.draw().map_err(plot_error)?;
        let color = PALETTE[i % PALETTE.len()];
        let label = if panel.rate {
            format!("{} (per second)", shorten(&panel.name))
        } else {
            shorten(&panel.name)
        };
        chart
            .draw_series(LineSeries::new(
                panel.points.iter().copied().filter(|p| p.1.is_finite()),
                color.stroke_width(2),
            ))
            .map_err(plot_error)?;
        if panel.points.len() == 1 {
            chart
                .draw_series(
                    panel
                        .points
                        .iter()
                        .map(|p| Circle::new(*p, 4, color.filled())),
                )
                .map_err(plot_error)?;
        }
        let (aw, _) = area.dim_in_pixel();
        area.draw(&Text::new(
            label,
            (aw as i32 - 20, 14),
            font(15).pos(Pos::new(HPos::Right, VPos::Center)),
        ))
        .map_err(plot_error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_panels_and_survives_odd_input() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.png");
        let panels = vec![
            ServerPanel {
                name: "vllm:num_requests_running".into(),
                rate: false,
                points: vec![(0.0, 0.0), (1.0, 3.0), (2.0, 5.0)],
            },
            ServerPanel {
                name: "vllm:prompt_tokens_total".into(),
                rate: true,
                points: vec![(1.0, f64::NAN)],
            },
        ];
        plot_server_metrics(&path, "embedded mock", &panels, 2.0).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 1000);
        plot_server_metrics(&path, "x", &[], 0.0).unwrap();
    }
}
