//! Charts of a sweep's table, drawn with plotters to PNG and SVG with a bundled font (no
//! system fonts needed): one line per value of a `series` field, the y figure's 95 %
//! half-width as error bars, optional log axes, and a colour-blind-safe palette (Okabe–Ito).

use std::path::Path;

use plotters::coord::ranged1d::AsRangedCoord;
use plotters::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A chart a sweep draws.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Plot {
    /// The x axis: a varied field's path (its values must be numbers, with or without a unit:
    /// `"2000/s"` reads as 2000).
    pub x: String,
    /// The y axis: one of the sweep's `columns`.
    pub y: String,
    /// Another varied field: one line per value of it; none by default.
    #[serde(default)]
    pub series: Option<String>,
    /// A logarithmic x axis.
    #[serde(default)]
    pub log_x: bool,
    /// A logarithmic y axis.
    #[serde(default)]
    pub log_y: bool,
    /// The file name without extension (`p99_by_rate` writes `p99_by_rate.png` and `.svg`).
    pub file: String,
}

/// Okabe–Ito: distinguishable with the common colour-vision deficiencies.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(0, 0, 0),
];

/// The number a table cell holds (`2000`, `"2000/s"`, `"250ms"` → 250).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            let end = s
                .find(|c: char| {
                    !(c.is_ascii_digit() || c == '.' || c == '-' || c == 'e' || c == '+')
                })
                .unwrap_or(s.len());
            s[..end].parse().ok()
        }
        _ => None,
    }
}

/// One line: its label and its (x, y, half-width) points, by x.
type Line = (String, Vec<(f64, f64, f64)>);

/// The lines of `plot` from the sweep's rows (failed points and missing figures left out).
fn lines(plot: &Plot, rows: &[Value]) -> Vec<Line> {
    let mut out: Vec<Line> = Vec::new();
    for row in rows.iter().filter(|r| r.get("error").is_none()) {
        let (Some(x), Some(y)) = (
            number(&row["params"][&plot.x]),
            row["figures"][&plot.y]["mean"].as_f64(),
        ) else {
            continue;
        };
        let half = row["figures"][&plot.y]["ci95"].as_f64().unwrap_or(0.0);
        let label = match &plot.series {
            Some(s) => match &row["params"][s] {
                Value::String(t) => format!("{s} = {t}"),
                other => format!("{s} = {other}"),
            },
            None => plot.y.clone(),
        };
        match out.iter_mut().find(|(l, _)| *l == label) {
            Some((_, pts)) => pts.push((x, y, half)),
            None => out.push((label, vec![(x, y, half)])),
        }
    }
    for (_, pts) in &mut out {
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

/// Draw `plot` of `rows` into `dir` as PNG and SVG.
pub fn draw(plot: &Plot, rows: &[Value], dir: &Path) -> Result<(), String> {
    static FONT: std::sync::Once = std::sync::Once::new();
    FONT.call_once(|| {
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            epaint_default_fonts::UBUNTU_LIGHT,
        );
    });
    let lines = lines(plot, rows);
    let all = || lines.iter().flat_map(|(_, p)| p.iter());
    if all().next().is_none() {
        return Err(format!(
            "plot `{}`: no point has both `{}` and `{}`",
            plot.file, plot.x, plot.y
        ));
    }
    let (mut x0, mut x1) = all().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    if plot.log_x && x0 <= 0.0 || plot.log_y && all().any(|p| p.1 <= 0.0) {
        return Err(format!(
            "plot `{}`: a log axis needs values above 0 (`{}` has one at or below 0)",
            plot.file,
            if plot.log_x && x0 <= 0.0 {
                &plot.x
            } else {
                &plot.y
            }
        ));
    }
    // On a log axis an error bar that reaches 0 or below is cut at the axis: the range
    // comes from the bars' ends above 0, and from the points themselves.
    let low = |p: &(f64, f64, f64)| {
        if plot.log_y && p.1 - p.2 <= 0.0 {
            p.1
        } else {
            p.1 - p.2
        }
    };
    let (mut y0, mut y1) = all().fold((f64::MAX, f64::MIN), |(a, b), p| {
        (a.min(low(p)), b.max(p.1 + p.2))
    });
    let pad = |lo: &mut f64, hi: &mut f64, log: bool| {
        if log {
            *lo /= 1.2;
            *hi *= 1.2;
        } else {
            let d = (*hi - *lo).max(hi.abs() * 0.05).max(1e-12);
            *lo -= 0.05 * d;
            *hi += 0.05 * d;
        }
    };
    pad(&mut x0, &mut x1, plot.log_x);
    pad(&mut y0, &mut y1, plot.log_y);
    if !plot.log_y && y0 < 0.0 && all().all(|p| p.1 - p.2 >= 0.0) {
        y0 = 0.0;
    }
    let png = dir.join(format!("{}.png", plot.file));
    let svg = dir.join(format!("{}.svg", plot.file));
    macro_rules! on_both {
        ($x:expr, $y:expr) => {{
            chart(
                BitMapBackend::new(&png, (1000, 640)).into_drawing_area(),
                $x,
                $y,
                plot,
                &lines,
            )?;
            chart(
                SVGBackend::new(&svg, (1000, 640)).into_drawing_area(),
                $x,
                $y,
                plot,
                &lines,
            )?;
        }};
    }
    match (plot.log_x, plot.log_y) {
        (false, false) => on_both!(x0..x1, y0..y1),
        (true, false) => on_both!((x0..x1).log_scale(), y0..y1),
        (false, true) => on_both!(x0..x1, (y0..y1).log_scale()),
        (true, true) => on_both!((x0..x1).log_scale(), (y0..y1).log_scale()),
    }
    Ok(())
}

fn chart<DB, X, Y>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    x: X,
    y: Y,
    plot: &Plot,
    lines: &[Line],
) -> Result<(), String>
where
    DB: DrawingBackend,
    X: AsRangedCoord<Value = f64> + Clone,
    Y: AsRangedCoord<Value = f64> + Clone,
    X::CoordDescType: plotters::coord::ranged1d::ValueFormatter<f64>,
    Y::CoordDescType: plotters::coord::ranged1d::ValueFormatter<f64>,
{
    let e = |err: &dyn std::fmt::Display| format!("plot `{}`: {err}", plot.file);
    root.fill(&WHITE).map_err(|err| e(&err))?;
    let mut c = ChartBuilder::on(&root)
        .caption(format!("{} by {}", plot.y, plot.x), ("sans-serif", 26))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(90)
        .build_cartesian_2d(x, y)
        .map_err(|err| e(&err))?;
    c.configure_mesh()
        .x_desc(plot.x.as_str())
        .y_desc(plot.y.as_str())
        .label_style(("sans-serif", 16))
        .draw()
        .map_err(|err| e(&err))?;
    let floor = c.y_range().start;
    for (i, (label, pts)) in lines.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        c.draw_series(LineSeries::new(
            pts.iter().map(|p| (p.0, p.1)),
            colour.stroke_width(2),
        ))
        .map_err(|err| e(&err))?
        .label(label.as_str())
        .legend(move |(lx, ly)| {
            PathElement::new(vec![(lx, ly), (lx + 20, ly)], colour.stroke_width(2))
        });
        c.draw_series(
            pts.iter()
                .map(|p| Circle::new((p.0, p.1), 4, colour.filled())),
        )
        .map_err(|err| e(&err))?;
        c.draw_series(pts.iter().filter(|p| p.2 > 0.0).map(|p| {
            let low = if plot.log_y {
                (p.1 - p.2).max(floor)
            } else {
                p.1 - p.2
            };
            ErrorBar::new_vertical(p.0, low, p.1, p.1 + p.2, colour.stroke_width(1), 8)
        }))
        .map_err(|err| e(&err))?;
    }
    c.configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .draw()
        .map_err(|err| e(&err))?;
    root.present().map_err(|err| e(&err))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(x: f64, y: f64, half: f64) -> Value {
        serde_json::json!({"params": {"x": x}, "figures": {"y": {"mean": y, "ci95": half}}})
    }

    fn plot(log_y: bool) -> Plot {
        Plot {
            x: "x".into(),
            y: "y".into(),
            series: None,
            log_x: false,
            log_y,
            file: "p".into(),
        }
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("fc-plot-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_log_axis_takes_error_bars_that_reach_below_zero() {
        // A small error rate with a wide interval: the bar is cut at the axis, the chart drawn.
        let dir = scratch("log-bars");
        let rows = [row(1.0, 0.001, 0.002), row(2.0, 0.01, 0.004)];
        draw(&plot(true), &rows, &dir).unwrap();
        assert!(std::fs::metadata(dir.join("p.png")).unwrap().len() > 1000);
        // A point at 0 cannot be on a log axis: refused, naming the axis.
        let e = draw(&plot(true), &[row(1.0, 0.0, 0.0), row(2.0, 0.5, 0.1)], &dir).unwrap_err();
        assert!(e.contains("log axis") && e.contains("`y`"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_constant_series_is_drawn() {
        let dir = scratch("constant");
        for y in [0.0, 2.5] {
            let rows = [row(1.0, y, 0.0), row(2.0, y, 0.0), row(3.0, y, 0.0)];
            draw(&plot(false), &rows, &dir).unwrap();
            let svg = std::fs::read_to_string(dir.join("p.svg")).unwrap();
            assert!(svg.contains("<svg"), "{svg}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
