//! The topology canvas: a card per workload and component with its live numbers (arrivals/s,
//! P99, errors, utilization, a bar per instance), coloured by utilization and health, and
//! the validated topology's edges between them, thicker where more flows. Laid out left to
//! right by depth from the workloads. Clicking a card selects it for the inspector.

use std::collections::BTreeMap;

use egui::{Color32, CornerRadius, Pos2, Rect, Sense, Stroke, StrokeKind, Vec2, pos2, vec2};

use super::App;
use super::live::NodeState;
use crate::metrics::SeriesPoint;
use crate::topology::Topology;

/// Healthy.
pub const OK: Color32 = Color32::from_rgb(0x3c, 0xb4, 0x4b);
/// Busy (utilization above 70 %), degraded (some instances down).
pub const WARN: Color32 = Color32::from_rgb(0xf0, 0xa0, 0x20);
/// Saturated, failing or down.
pub const BAD: Color32 = Color32::from_rgb(0xe0, 0x40, 0x40);
/// Down: no instance serves.
pub const DOWN: Color32 = Color32::from_rgb(0x70, 0x70, 0x78);

const CARD: Vec2 = vec2(190.0, 118.0);

/// Seconds as the cards show them (ms below 1 s).
pub fn fmt_secs(s: f64) -> String {
    if !s.is_finite() || s <= 0.0 {
        "–".into()
    } else if s < 1e-3 {
        format!("{:.0} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

/// A rate as the cards show it.
pub fn fmt_rate(r: f64) -> String {
    if r >= 10_000.0 {
        format!("{:.1} k/s", r / 1e3)
    } else {
        format!("{r:.0}/s")
    }
}

/// Column (depth from the workloads, longest path, cycles cut) and row of every node.
pub fn layout(topo: &Topology) -> Vec<(usize, usize)> {
    let n = topo.nodes.len();
    let mut depth: Vec<Option<usize>> = topo
        .nodes
        .iter()
        .map(|node| node.kind.is_workload().then_some(0))
        .collect();
    let edges: Vec<Vec<usize>> = topo
        .nodes
        .iter()
        .map(|node| node.kind.edges().iter().map(|e| e.to as usize).collect())
        .collect();
    // Relax at most n times: a cycle cannot push a node past n − 1.
    for _ in 0..n {
        let mut changed = false;
        for from in 0..n {
            let Some(d) = depth[from] else { continue };
            for &to in &edges[from] {
                if to < n && depth[to].is_none_or(|t| t < d + 1) && d + 1 < n {
                    depth[to] = Some(d + 1);
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let mut rows: BTreeMap<usize, usize> = BTreeMap::new();
    depth
        .into_iter()
        .map(|d| {
            let col = d.unwrap_or(0);
            let row = rows.entry(col).or_insert(0);
            *row += 1;
            (col, *row - 1)
        })
        .collect()
}

/// Utilization shown for a node: CPU, else threads, from its latest window.
fn utilization(p: Option<&SeriesPoint>) -> Option<f64> {
    let p = p?;
    p.figure("cpu_utilization")
        .or_else(|| p.figure("thread_occupancy"))
        .filter(|u| u.is_finite())
}

/// The colour of a node's health: down, failing, saturated, busy, fine.
pub fn health_colour(state: Option<&NodeState>, p: Option<&SeriesPoint>) -> Color32 {
    if state.is_some_and(|s| s.down) {
        return DOWN;
    }
    let errors = p.map_or(0.0, |p| p.error_rate);
    let util = utilization(p).unwrap_or(0.0);
    let degraded = state.is_some_and(|s| s.instances.iter().any(|i| i.down));
    if errors > 0.05 || util > 0.95 {
        BAD
    } else if errors > 0.001 || util > 0.7 || degraded {
        WARN
    } else {
        OK
    }
}

/// A short word for a node's state (also its card's accessible label).
pub fn health_word(state: Option<&NodeState>, p: Option<&SeriesPoint>) -> &'static str {
    let Some(s) = state else { return "up" };
    let down = s.instances.iter().filter(|i| i.down).count();
    if s.down {
        "down"
    } else if down > 0 {
        "degraded"
    } else if p.is_some_and(|p| p.error_rate > 0.001) {
        "shedding errors"
    } else {
        "up"
    }
}

/// The panel.
pub fn canvas_ui(app: &mut App, ui: &mut egui::Ui) {
    let area = ui.available_rect_before_wrap();
    let painter = ui.painter_at(area);
    painter.rect_filled(area, 0.0, ui.visuals().extreme_bg_color);
    let slots = layout(&app.topo);
    let cols = slots.iter().map(|s| s.0).max().unwrap_or(0) + 1;
    let mut per_col = vec![0usize; cols];
    for (c, _) in &slots {
        per_col[*c] += 1;
    }
    let max_rows = per_col.iter().copied().max().unwrap_or(1).max(1);
    // Fit the grid into the panel, cards never bigger than their design size.
    let gap = vec2(48.0, 24.0);
    let need = vec2(
        cols as f32 * (CARD.x + gap.x) - gap.x,
        max_rows as f32 * (CARD.y + gap.y) - gap.y,
    );
    let scale = ((area.width() - 40.0) / need.x)
        .min((area.height() - 40.0) / need.y)
        .clamp(0.45, 1.6);
    let card = CARD * scale;
    let gap = gap * scale;
    let origin = area.center() - vec2(cols as f32 * (card.x + gap.x) - gap.x, 0.0) / 2.0;
    let rects: Vec<Rect> = slots
        .iter()
        .map(|&(col, row)| {
            let n = per_col[col] as f32;
            let col_h = n * (card.y + gap.y) - gap.y;
            let x = origin.x + col as f32 * (card.x + gap.x);
            let y = area.center().y - col_h / 2.0 + row as f32 * (card.y + gap.y);
            Rect::from_min_size(pos2(x, y), card)
        })
        .collect();
    let latest: BTreeMap<&str, &SeriesPoint> =
        app.history.latest().map(|(k, v)| (k.as_str(), v)).collect();
    let states = app.frame.as_ref().map(|f| &f.nodes);
    let time = ui.input(|i| i.time);

    // Edges first, under the cards: thickness by the callee's arrivals.
    let max_rate = latest
        .values()
        .map(|p| p.arrivals_per_s)
        .fold(1.0_f64, f64::max);
    for (from, node) in app.topo.nodes.iter().enumerate() {
        for edge in node.kind.edges() {
            let to = edge.to as usize;
            let (Some(a), Some(b)) = (rects.get(from), rects.get(to)) else {
                continue;
            };
            let rate = app
                .topo
                .nodes
                .get(to)
                .and_then(|n| latest.get(n.name.as_str()))
                .map_or(0.0, |p| p.arrivals_per_s);
            let width = 1.0 + 7.0 * (rate / max_rate).sqrt() as f32;
            let start = pos2(a.right(), a.center().y);
            let end = pos2(b.left(), b.center().y);
            let colour = if rate > 0.0 {
                Color32::from_rgb(0x5a, 0x9b, 0xd5)
            } else {
                Color32::from_gray(110)
            };
            let c1 = start + vec2((end.x - start.x).abs().max(40.0) * 0.5, 0.0);
            let c2 = end - vec2((end.x - start.x).abs().max(40.0) * 0.5, 0.0);
            let curve = egui::epaint::CubicBezierShape::from_points_stroke(
                [start, c1, c2, end],
                false,
                Color32::TRANSPARENT,
                Stroke::new(width, colour),
            );
            painter.add(curve.clone());
            arrow_head(&painter, end, colour, 5.0 + width);
            // Dots travel the edge, more and faster with more traffic.
            if rate > 0.0 {
                let dots = (1.0 + 4.0 * rate / max_rate).round() as usize;
                for k in 0..dots {
                    let t = ((time * 0.4 + k as f64 / dots as f64) % 1.0) as f32;
                    painter.circle_filled(
                        curve.sample(t),
                        2.0 + width * 0.25,
                        Color32::from_rgb(0xd8, 0xec, 0xff),
                    );
                }
            }
        }
    }

    for (i, node) in app.topo.nodes.iter().enumerate() {
        let Some(rect) = rects.get(i).copied() else {
            continue;
        };
        let p = latest.get(node.name.as_str()).copied();
        let state = states.and_then(|s| s.get(&node.name));
        let selected = app.selected.as_deref() == Some(node.name.as_str());
        let word = health_word(state, p);
        let id = ui.id().with(("node", &node.name));
        let response = ui.interact(rect, id, Sense::click());
        let label = format!("{} ({word})", node.name);
        response.widget_info(|| {
            egui::WidgetInfo::selected(egui::WidgetType::Button, true, selected, &label)
        });
        if response.clicked() {
            app.selected = Some(node.name.clone());
        }
        draw_card(
            &painter,
            rect,
            scale,
            node,
            p,
            state,
            selected,
            response.hovered(),
        );
        response.on_hover_text(hover_text(&node.name, p, state));
    }
    if app.topo.nodes.is_empty() {
        painter.text(
            area.center(),
            egui::Align2::CENTER_CENTER,
            "no components",
            egui::FontId::proportional(16.0),
            Color32::GRAY,
        );
    }
    ui.allocate_rect(area, Sense::hover());
}

fn arrow_head(painter: &egui::Painter, tip: Pos2, colour: Color32, size: f32) {
    let back = tip - vec2(size, 0.0);
    painter.add(egui::Shape::convex_polygon(
        vec![
            tip,
            back + vec2(0.0, size * 0.6),
            back - vec2(0.0, size * 0.6),
        ],
        colour,
        Stroke::NONE,
    ));
}

fn hover_text(name: &str, p: Option<&SeriesPoint>, state: Option<&NodeState>) -> String {
    let mut s = format!("{name}: {}", health_word(state, p));
    if let Some(p) = p {
        s += &format!(
            "\narrivals {} · ok {}\np50 {} · p95 {} · p99 {}\nerrors {:.2} % · in flight {:.0}",
            fmt_rate(p.arrivals_per_s),
            fmt_rate(p.throughput_per_s),
            fmt_secs(p.p50_s),
            fmt_secs(p.p95_s),
            fmt_secs(p.p99_s),
            p.error_rate * 100.0,
            p.in_flight,
        );
        for (k, v) in &p.figures {
            s += &format!("\n{k} {v:.3}");
        }
    }
    s
}

#[allow(clippy::too_many_arguments)]
fn draw_card(
    painter: &egui::Painter,
    rect: Rect,
    scale: f32,
    node: &crate::topology::model::Node,
    p: Option<&SeriesPoint>,
    state: Option<&NodeState>,
    selected: bool,
    hovered: bool,
) {
    let colour = health_colour(state, p);
    let down = state.is_some_and(|s| s.down);
    let fill = if down {
        Color32::from_rgb(0x2a, 0x2a, 0x2e)
    } else {
        Color32::from_rgb(0x26, 0x2b, 0x33)
    };
    let radius = CornerRadius::same((8.0 * scale) as u8);
    painter.rect_filled(rect, radius, fill);
    // A band on the left in the health colour.
    let band = Rect::from_min_size(rect.min, vec2(6.0 * scale, rect.height()));
    painter.rect_filled(
        band,
        CornerRadius {
            nw: radius.nw,
            sw: radius.sw,
            ne: 0,
            se: 0,
        },
        colour,
    );
    let border = if selected {
        Stroke::new(2.5, Color32::WHITE)
    } else if hovered {
        Stroke::new(1.5, Color32::from_gray(200))
    } else {
        Stroke::new(1.0, colour.gamma_multiply(0.8))
    };
    painter.rect_stroke(rect, radius, border, StrokeKind::Inside);

    let pad = 10.0 * scale;
    let x = rect.left() + pad + 4.0 * scale;
    let mut y = rect.top() + pad * 0.7;
    let big = egui::FontId::proportional(14.0 * scale);
    let small = egui::FontId::proportional(11.0 * scale);
    let text = Color32::from_gray(230);
    let dim = Color32::from_gray(150);
    let kind = node.kind.kind_name();
    painter.text(
        pos2(x, y),
        egui::Align2::LEFT_TOP,
        &node.name,
        big.clone(),
        text,
    );
    let label = kind_label(kind);
    painter.text(
        pos2(rect.right() - pad, y + 2.0 * scale),
        egui::Align2::RIGHT_TOP,
        label,
        small.clone(),
        dim,
    );
    y += 19.0 * scale;
    if down {
        painter.text(
            pos2(x, y + 6.0 * scale),
            egui::Align2::LEFT_TOP,
            "DOWN",
            egui::FontId::proportional(20.0 * scale),
            BAD,
        );
        y += 30.0 * scale;
    } else if let Some(p) = p {
        let lines = [
            format!(
                "{} in · p99 {}",
                fmt_rate(p.arrivals_per_s),
                fmt_secs(p.p99_s)
            ),
            format!(
                "errors {:.1} %{}",
                p.error_rate * 100.0,
                utilization(Some(p))
                    .map(|u| format!(" · cpu {:.0} %", u * 100.0))
                    .unwrap_or_default()
            ),
        ];
        for l in lines {
            painter.text(pos2(x, y), egui::Align2::LEFT_TOP, l, small.clone(), text);
            y += 15.0 * scale;
        }
        if let Some(q) = p.figure("mean_queue_len").filter(|q| *q >= 0.05) {
            painter.text(
                pos2(x, y),
                egui::Align2::LEFT_TOP,
                format!("queue {q:.1}"),
                small.clone(),
                if q > 10.0 { WARN } else { dim },
            );
        }
        y += 15.0 * scale;
    } else {
        painter.text(
            pos2(x, y),
            egui::Align2::LEFT_TOP,
            "waiting…",
            small.clone(),
            dim,
        );
        y += 30.0 * scale;
    }
    // A bar per instance: height by busy share, grey with a cross when down.
    let Some(state) = state else { return };
    if state.instances.is_empty() {
        return;
    }
    let bottom = rect.bottom() - pad * 0.7;
    let h = (bottom - y).max(8.0 * scale);
    let width = rect.width() - 2.0 * pad - 4.0 * scale;
    let n = state.instances.len().min(40);
    let w = (width / n as f32).min(18.0 * scale);
    for (k, inst) in state.instances.iter().take(n).enumerate() {
        let left = x + k as f32 * w;
        let slot = Rect::from_min_max(pos2(left, bottom - h), pos2(left + w - 2.0, bottom));
        painter.rect_filled(slot, 2.0, Color32::from_gray(55));
        if inst.down {
            painter.rect_filled(slot, 2.0, Color32::from_rgb(0x55, 0x25, 0x25));
            painter.line_segment(
                [slot.left_top(), slot.right_bottom()],
                Stroke::new(1.5, BAD),
            );
            painter.line_segment(
                [slot.left_bottom(), slot.right_top()],
                Stroke::new(1.5, BAD),
            );
            continue;
        }
        let fill_h = (slot.height() * inst.busy as f32).max(1.0);
        let bar = Rect::from_min_max(pos2(slot.left(), slot.bottom() - fill_h), slot.max);
        let c = if inst.busy > 0.95 {
            BAD
        } else if inst.busy > 0.7 {
            WARN
        } else {
            OK
        };
        painter.rect_filled(bar, 2.0, c);
        if inst.queued > 0 {
            painter.circle_filled(pos2(slot.center().x, slot.top() + 3.0), 2.0, WARN);
        }
    }
}

/// A kind's label from the registry (a workload's, for workloads).
pub fn kind_label(kind: &str) -> &'static str {
    kind_meta(kind).map_or("", |m| m.label)
}

/// A kind's description from the registry.
pub fn kind_meta(kind: &str) -> Option<&'static crate::components::KindMeta> {
    crate::components::KINDS
        .iter()
        .find(|k| k.name == kind)
        .map(|k| &k.meta)
        .or_else(|| {
            kind.ends_with("workload")
                .then_some(&crate::components::WORKLOAD_META)
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn nodes_are_laid_out_by_their_longest_path_from_a_workload() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/fanout.ron");
        let topo = crate::topology::load_file(&path, &[]).unwrap();
        let slots = layout(&topo);
        let col = |name: &str| {
            let i = topo.nodes.iter().position(|n| n.name == name).unwrap();
            slots[i].0
        };
        for node in &topo.nodes {
            for e in node.kind.edges() {
                let to = &topo.nodes[e.to as usize].name;
                assert!(col(to) > col(&node.name), "{} → {to}", node.name);
            }
        }
        // Every slot is taken once.
        let mut seen = slots.clone();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), slots.len());
    }
}
