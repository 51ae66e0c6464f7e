//! Live charts: the selected node's series windows (end to end — the workloads together —
//! when nothing is selected), accumulated in the GUI from the frames: throughput,
//! P50/P95/P99, error rate, queue length and utilization, with a marker per command applied.

use std::collections::BTreeMap;

use egui_plot::{Legend, Line, Plot, PlotPoints, VLine};

use super::App;
use super::live::command_label;
use crate::metrics::SeriesPoint;

const GREEN: egui::Color32 = egui::Color32::from_rgb(0x3c, 0xb4, 0x4b);
const AMBER: egui::Color32 = egui::Color32::from_rgb(0xf0, 0xa0, 0x20);
const RED: egui::Color32 = egui::Color32::from_rgb(0xe0, 0x40, 0x40);
const BLUE: egui::Color32 = egui::Color32::from_rgb(0x5a, 0x9b, 0xd5);
const GREY: egui::Color32 = egui::Color32::from_rgb(0xa0, 0xa0, 0xa8);

/// Points kept per node; the older half is thinned when full.
const MAX_POINTS: usize = 2000;

/// Series windows received so far, per node, oldest first.
#[derive(Debug, Default)]
pub struct History {
    points: BTreeMap<String, Vec<SeriesPoint>>,
}

impl History {
    /// Append windows (in the order they closed).
    pub fn add(&mut self, points: Vec<(String, SeriesPoint)>) {
        for (name, p) in points {
            let v = self.points.entry(name).or_default();
            // A run's last window can be empty (it closes where arrivals end).
            if p.window_s <= 0.0 || v.last().is_some_and(|l| l.t_s >= p.t_s) {
                continue;
            }
            v.push(p);
            if v.len() > MAX_POINTS {
                // Keep every other point of the older half.
                let half = v.len() / 2;
                let mut k = 0;
                v.retain(|_| {
                    k += 1;
                    k > half || k % 2 == 0
                });
            }
        }
    }

    /// Each node's latest window.
    pub fn latest(&self) -> impl Iterator<Item = (&String, &SeriesPoint)> {
        self.points
            .iter()
            .filter_map(|(k, v)| v.last().map(|p| (k, p)))
    }

    /// One node's latest window.
    pub fn latest_of(&self, name: &str) -> Option<&SeriesPoint> {
        self.points.get(name).and_then(|v| v.last())
    }

    /// One node's windows.
    pub fn of(&self, name: &str) -> &[SeriesPoint] {
        self.points.get(name).map_or(&[], Vec::as_slice)
    }
}

/// The latest end-to-end window (the workloads together).
pub fn latest_end_to_end(app: &App) -> Option<SeriesPoint> {
    end_to_end(app).last().cloned()
}

/// The end-to-end series: the workloads' windows added up (rates summed, error rate and
/// percentiles weighted by throughput — an approximation when there are several).
fn end_to_end(app: &App) -> std::borrow::Cow<'_, [SeriesPoint]> {
    let workloads: Vec<&str> = app
        .topo
        .nodes
        .iter()
        .filter(|n| n.kind.is_workload())
        .map(|n| n.name.as_str())
        .collect();
    if let [one] = workloads.as_slice() {
        return std::borrow::Cow::Borrowed(app.history.of(one));
    }
    let mut by_t: BTreeMap<u64, Vec<&SeriesPoint>> = BTreeMap::new();
    for w in &workloads {
        for p in app.history.of(w) {
            by_t.entry((p.t_s * 1e6) as u64).or_default().push(p);
        }
    }
    by_t.into_values()
        .map(|ps| {
            let mut out = ps[0].clone();
            let tp: f64 = ps.iter().map(|p| p.throughput_per_s).sum();
            let weight = |f: &dyn Fn(&SeriesPoint) -> f64| {
                if tp > 0.0 {
                    ps.iter().map(|p| f(p) * p.throughput_per_s).sum::<f64>() / tp
                } else {
                    0.0
                }
            };
            out.common.arrivals_per_s = ps.iter().map(|p| p.arrivals_per_s).sum();
            out.common.throughput_per_s = tp;
            out.common.error_rate = weight(&|p| p.error_rate);
            out.common.p50_s = weight(&|p| p.p50_s);
            out.common.p95_s = weight(&|p| p.p95_s);
            out.common.p99_s = weight(&|p| p.p99_s);
            out.common.in_flight = ps.iter().map(|p| p.in_flight).sum();
            out
        })
        .collect::<Vec<_>>()
        .into()
}

/// Points drawn per line at most: about one per pixel of a chart. More cost tessellation
/// and rendering time and show nothing more.
const MAX_DRAWN: usize = 400;

fn line<'a>(name: &str, pts: &[SeriesPoint], f: impl Fn(&SeriesPoint) -> f64) -> Line<'a> {
    // Over MAX_DRAWN windows, draw the largest of each run of windows (peaks stay visible).
    let per = pts.len().div_ceil(MAX_DRAWN).max(1);
    let v: Vec<[f64; 2]> = pts
        .chunks(per)
        .filter_map(|c| {
            let last = c.last()?;
            let y = c
                .iter()
                .map(&f)
                .filter(|y| y.is_finite())
                .reduce(f64::max)?;
            Some([last.t_s + last.window_s, y])
        })
        .collect();
    Line::new(name.to_string(), PlotPoints::from(v))
}

/// The panel.
pub fn charts_ui(app: &mut App, ui: &mut egui::Ui) {
    let (title, pts) = match &app.selected {
        Some(name) => (
            name.clone(),
            std::borrow::Cow::Borrowed(app.history.of(name)),
        ),
        None => ("end to end".to_string(), end_to_end(app)),
    };
    let markers: Vec<(f64, String)> = app
        .frame
        .as_ref()
        .map(|f| {
            f.snapshot
                .report
                .events_applied
                .iter()
                .map(|e| (e.at_s, command_label(&e.command)))
                .collect()
        })
        .unwrap_or_default();
    let mut deselect = false;
    ui.horizontal(|ui| {
        ui.label(egui::RichText::new(format!("Charts — {title}")).strong());
        if app.selected.is_some() && ui.small_button("show end to end").clicked() {
            deselect = true;
        }
        if !markers.is_empty() {
            ui.weak(format!(
                "commands: {}",
                markers
                    .iter()
                    .rev()
                    .take(4)
                    .map(|(t, l)| format!("{l} @ {t:.1} s"))
                    .collect::<Vec<_>>()
                    .join(" · ")
            ));
        }
    });
    let has_queue = pts.iter().any(|p| p.figure("mean_queue_len").is_some());
    let has_util = pts.iter().any(|p| {
        p.figure("cpu_utilization")
            .or(p.figure("thread_occupancy"))
            .is_some()
    });
    let height = (ui.available_height() - 6.0).max(150.0);
    let width = (ui.available_width() / 4.0 - 8.0).max(120.0);
    let link = ui.id().with("charts_x");
    let plot = |id: &str, unit: &str| {
        Plot::new(id.to_string())
            .height(height)
            .width(width)
            .legend(
                Legend::default()
                    .position(egui_plot::Corner::LeftTop)
                    .background_alpha(0.4),
            )
            .link_axis(link, [true, false])
            .allow_scroll(false)
            .include_y(0.0)
            .y_axis_label(unit.to_string())
    };
    let marks = |plot_ui: &mut egui_plot::PlotUi<'_>| {
        for (t, _) in &markers {
            plot_ui.vline(
                // No name: the legend lists the series; the header lists the commands.
                VLine::new("", *t)
                    .color(egui::Color32::from_rgb(0xd0, 0x60, 0xd0))
                    .width(1.0),
            );
        }
    };
    ui.horizontal(|ui| {
        plot("throughput", "req/s").show(ui, |p| {
            p.line(line("arrivals", &pts, |p| p.arrivals_per_s).color(GREY));
            p.line(line("answered", &pts, |p| p.throughput_per_s).color(GREEN));
            marks(p);
        });
        plot("latency", "ms").show(ui, |p| {
            p.line(line("p50", &pts, |p| p.p50_s * 1e3).color(GREEN));
            p.line(line("p95", &pts, |p| p.p95_s * 1e3).color(AMBER));
            p.line(line("p99", &pts, |p| p.p99_s * 1e3).color(RED));
            marks(p);
        });
        plot("errors", "%").show(ui, |p| {
            p.line(line("error rate", &pts, |p| p.error_rate * 100.0).color(RED));
            marks(p);
        });
        plot("saturation", if has_util { "% / calls" } else { "calls" }).show(ui, |p| {
            if has_util {
                p.line(
                    line("utilization %", &pts, |p| {
                        p.figure("cpu_utilization")
                            .or(p.figure("thread_occupancy"))
                            .map_or(f64::NAN, |u| u * 100.0)
                    })
                    .color(AMBER),
                );
            }
            if has_queue {
                p.line(
                    line("queue", &pts, |p| {
                        p.figure("mean_queue_len").unwrap_or(f64::NAN)
                    })
                    .color(BLUE),
                );
            }
            p.line(line("in flight", &pts, |p| p.in_flight).color(GREY));
            marks(p);
        });
    });
    drop(pts);
    if deselect {
        app.selected = None;
    }
}
