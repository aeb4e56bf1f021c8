//! What every chart shares: the bundled font, the image size, the palette, text styles, and
//! `render`, which draws into memory, encodes the PNG and writes it atomically.

use std::fmt::Display;
use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Context as _, anyhow};
use image::ImageEncoder as _;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::report::format::finite_or_zero;

/// Family name under which the bundled font is registered. Deliberately not "DejaVu Sans" nor a
/// generic name, so that nothing could ever resolve it to a system font.
pub const FONT_FAMILY: &str = "reactbench-dejavu-sans";

/// The bundled font (DejaVu Sans 2.37; license in `assets/fonts/DejaVuSans-LICENSE.txt`).
static FONT_BYTES: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// Width of every plot, in pixels.
pub const PLOT_WIDTH: u32 = 1200;
/// Height of every plot, in pixels; bar charts with many rows grow taller so labels never overlap.
pub const PLOT_HEIGHT: u32 = 700;

/// Longest name drawn in full; longer names are cut with an ellipsis so they cannot push the
/// chart off the image.
const MAX_LABEL_CHARS: usize = 40;

/// Qualitative palette (Tableau 10): distinct at a glance and for most colour-blind readers.
pub(super) const PALETTE: [RGBColor; 10] = [
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

pub(super) const TEXT: RGBColor = RGBColor(30, 30, 30);
pub(super) const MUTED: RGBColor = RGBColor(110, 110, 110);

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

pub(super) type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Draws a `width` × `height` PNG with `draw` and writes it to `path` atomically.
pub(super) fn render(
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
    crate::report::atomic::write_bytes(path, &png)
}

/// The legend box every chart uses: translucent white on a light grey border.
pub(super) fn draw_legend<'a, CT: CoordTranslate>(
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

pub(super) fn plot_error(e: impl Display) -> anyhow::Error {
    anyhow!("plotting failed: {e}")
}

pub(super) fn font(size: u32) -> TextStyle<'static> {
    (FONT_FAMILY, size).into_font().color(&TEXT)
}

pub(super) fn title_style() -> TextStyle<'static> {
    font(28)
}

/// Cuts a title to what fits across a plot at the title's size.
pub(super) fn shorten_title(title: &str) -> String {
    truncate_chars(title, 80)
}

/// Cuts a name to [`MAX_LABEL_CHARS`] characters, so it cannot push the chart off the image.
pub(super) fn shorten(name: &str) -> String {
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
pub(super) fn non_empty_range(lo: f64, hi: f64) -> (f64, f64) {
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
pub(super) fn draw_empty(root: &Area<'_>, title: &str, message: &str) -> anyhow::Result<()> {
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
