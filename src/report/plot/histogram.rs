//! A latency histogram: sample counts over equal-width millisecond buckets.

use std::path::Path;

use hdrhistogram::Histogram;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::canvas::{
    Area, MUTED, PALETTE, PLOT_HEIGHT, PLOT_WIDTH, draw_empty, font, plot_error, render,
    shorten_title, title_style,
};
use crate::report::format::tick;

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

/// Equal-width millisecond buckets over a histogram, up to its 99.9th percentile.
struct Buckets {
    /// Left edge of the first bucket, ms.
    lo: f64,
    /// Bucket width, ms.
    step: f64,
    /// Samples per bucket; the last also holds every sample above the range.
    counts: Vec<u64>,
    /// Samples above the range (counted in the last bucket).
    above: u64,
}

impl Buckets {
    /// Buckets for a non-empty histogram of microseconds.
    fn of(h: &Histogram<u64>) -> Self {
        let min_ms = h.min() as f64 / 1000.0;
        let cut_ms = (h.highest_equivalent(h.value_at_quantile(0.999)) as f64 / 1000.0).max(min_ms);
        // Values are whole microseconds, so no bucket needs to be narrower than 1 µs; when every
        // sample has about the same value, size buckets from the value itself.
        let raw = if cut_ms > min_ms {
            (cut_ms - min_ms) / 40.0
        } else {
            min_ms / 10.0
        };
        let step = nice_step(raw.max(0.001));
        // At least ten buckets, starting a little below the fastest sample, so a lone bar is
        // shown in context and not stretched over the whole plot.
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
        Buckets {
            lo,
            step,
            counts,
            above,
        }
    }
}

fn draw_histogram(root: &Area<'_>, title: &str, h: &Histogram<u64>) -> anyhow::Result<()> {
    if h.is_empty() {
        return draw_empty(root, title, "No latency samples recorded");
    }
    let max_ms = h.highest_equivalent(h.max()) as f64 / 1000.0;
    let Buckets {
        lo,
        step,
        counts,
        above,
    } = Buckets::of(h);
    let hi = lo + step * counts.len() as f64;
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
