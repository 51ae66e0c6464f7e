//! The inspector: the selected node's kind (label and summary from the registry), its live
//! figures (latest window and the run so far, common and the kind's own), and the break-it
//! controls: kill and revive (the whole component or one instance), instance count, added
//! latency and failures for a while, and the kind's own commands from the registry.

use egui::RichText;

use super::App;
use super::canvas::{self, BAD, fmt_rate, fmt_secs};
use crate::components::FigureUnit;
use crate::topology::events::{Command, CommandArgs};
use crate::units::Duration;

/// The panel.
pub fn inspector_ui(app: &mut App, ui: &mut egui::Ui) {
    let Some(name) = app.selected.clone() else {
        ui.heading("Inspector");
        ui.label("Click a card on the canvas to inspect it and break it.");
        ui.add_space(8.0);
        ui.label(RichText::new("Component kinds").strong());
        for k in crate::components::KINDS {
            ui.label(RichText::new(format!("{} — {}", k.meta.label, k.meta.summary)).small());
        }
        return;
    };
    let Some(node) = app.topo.nodes.iter().find(|n| n.name == name).cloned() else {
        app.selected = None;
        return;
    };
    let kind = node.kind.kind_name();
    let meta = canvas::kind_meta(kind);
    ui.heading(&name);
    if let Some(m) = meta {
        ui.label(RichText::new(m.label).strong());
        ui.label(RichText::new(m.summary).small());
    }
    let state = app.frame.as_ref().and_then(|f| f.nodes.get(&name)).cloned();
    let point = app.history.latest_of(&name).cloned();
    let word = canvas::health_word(state.as_ref(), point.as_ref());
    ui.horizontal(|ui| {
        ui.label("state:");
        ui.colored_label(
            canvas::health_colour(state.as_ref(), point.as_ref()),
            RichText::new(word).strong(),
        );
    });
    ui.separator();
    egui::ScrollArea::vertical().show(ui, |ui| {
        // Own id scopes: the figures' rows come and go, and must not shift the ids of the
        // buttons below (a click is delivered to an id).
        // The break-it controls first, where they are seen without scrolling.
        if node.kind.is_workload() {
            ui.label(RichText::new("Traffic").strong());
            ui.label("Use the traffic slider and the spike button in the top bar.");
        } else {
            ui.push_id("break_it", |ui| break_it_ui(app, ui, &node, state.as_ref()));
        }
        ui.separator();
        ui.push_id("figures", |ui| figures_ui(app, ui, &name, point.as_ref()));
    });
}

fn figures_ui(
    app: &App,
    ui: &mut egui::Ui,
    name: &str,
    point: Option<&crate::metrics::SeriesPoint>,
) {
    ui.label(RichText::new("Last window").strong());
    egui::Grid::new("latest_figures")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            let Some(p) = point else {
                ui.label("no window closed yet");
                ui.end_row();
                return;
            };
            let rows = [
                ("window", format!("{:.1} s from {:.1} s", p.window_s, p.t_s)),
                ("arrivals", fmt_rate(p.arrivals_per_s)),
                ("answered", fmt_rate(p.throughput_per_s)),
                ("errors", format!("{:.2} %", p.error_rate * 100.0)),
                ("p50", fmt_secs(p.p50_s)),
                ("p95", fmt_secs(p.p95_s)),
                ("p99", fmt_secs(p.p99_s)),
                ("in flight", format!("{:.0}", p.in_flight)),
            ];
            for (k, v) in rows {
                ui.label(k);
                ui.monospace(v);
                ui.end_row();
            }
            for (k, v) in &p.figures {
                ui.label(k.as_str());
                ui.monospace(format!("{v:.3}"));
                ui.end_row();
            }
        });
    let Some(f) = &app.frame else { return };
    let report = &f.snapshot.report;
    ui.add_space(6.0);
    ui.label(RichText::new("Run so far (counting window)").strong());
    egui::Grid::new("run_figures")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            if let Some(c) = report.components.get(name) {
                let rows = [
                    ("instances", c.replicas.to_string()),
                    ("arrivals", c.arrivals.to_string()),
                    ("errors", c.errors.to_string()),
                    ("throughput", fmt_rate(c.throughput_per_s)),
                    ("p99", fmt_secs(c.latency_s.p99)),
                ];
                for (k, v) in rows {
                    ui.label(k);
                    ui.monospace(v);
                    ui.end_row();
                }
                for (cause, n) in &c.errors_by_cause {
                    ui.label(format!("  {cause}"));
                    ui.monospace(n.to_string());
                    ui.end_row();
                }
                let figures = canvas::kind_meta(&c.kind).map_or(&[][..], |m| m.figures);
                for fig in figures {
                    let Some(v) = c.figures.get(fig.name) else {
                        continue;
                    };
                    let shown = match fig.unit {
                        FigureUnit::Ratio => v.as_f64().map(|x| format!("{:.1} %", x * 100.0)),
                        FigureUnit::Number => v.as_f64().map(|x| format!("{x:.2}")),
                        FigureUnit::Count => v.as_u64().map(|x| x.to_string()),
                        FigureUnit::Latency => v
                            .get("p99")
                            .and_then(serde_json::Value::as_f64)
                            .map(|x| format!("p99 {}", fmt_secs(x))),
                        _ => None,
                    };
                    if let Some(s) = shown {
                        ui.label(fig.name).on_hover_text(fig.summary);
                        ui.monospace(s);
                        ui.end_row();
                    }
                }
            } else if let Some(w) = report.workloads.get(name) {
                let rows = [
                    ("offered", w.offered.to_string()),
                    ("completed", w.completed.to_string()),
                    ("errors", w.errors.to_string()),
                    ("throughput", fmt_rate(w.throughput_per_s)),
                    ("p99", fmt_secs(w.latency_s.p99)),
                ];
                for (k, v) in rows {
                    ui.label(k);
                    ui.monospace(v);
                    ui.end_row();
                }
            }
        });
}

fn break_it_ui(
    app: &mut App,
    ui: &mut egui::Ui,
    node: &crate::topology::model::Node,
    state: Option<&super::live::NodeState>,
) {
    let name = node.name.clone();
    let finished = app.frame.as_ref().is_some_and(|f| f.snapshot.finished);
    ui.label(RichText::new("Break it").strong().color(BAD));
    if finished {
        ui.label("The run is over: reset to break it again.");
        return;
    }
    let mut send = Vec::new();
    ui.horizontal(|ui| {
        if ui.button("Kill").on_hover_text("Every instance").clicked() {
            send.push(Command::Kill {
                component: name.clone(),
                instance: None,
            });
        }
        if ui.button("Revive").clicked() {
            send.push(Command::Revive {
                component: name.clone(),
                instance: None,
            });
        }
    });
    if let Some(s) = state
        && s.instances.len() > 1
    {
        ui.label("Instances");
        egui::Grid::new("instances").num_columns(3).show(ui, |ui| {
            for (i, inst) in s.instances.iter().enumerate() {
                let i = i as u32;
                ui.label(format!(
                    "#{i} {}",
                    if inst.down {
                        "down".to_string()
                    } else {
                        format!("{:.0} % busy", inst.busy * 100.0)
                    }
                ));
                if ui.small_button(format!("kill #{i}")).clicked() {
                    send.push(Command::Kill {
                        component: name.clone(),
                        instance: Some(i),
                    });
                }
                if ui.small_button(format!("revive #{i}")).clicked() {
                    send.push(Command::Revive {
                        component: name.clone(),
                        instance: Some(i),
                    });
                }
                ui.end_row();
                if i >= 15 {
                    break;
                }
            }
        });
    }
    if node.kind.scalable() {
        let count = app
            .frame
            .as_ref()
            .and_then(|f| f.snapshot.report.components.get(&name))
            .map_or(node.kind.instances(), |c| c.replicas);
        ui.horizontal(|ui| {
            ui.label(format!("instances: {count}"));
            if ui.add_enabled(count > 1, egui::Button::new("−")).clicked() {
                send.push(Command::Replicas {
                    component: name.clone(),
                    count: count - 1,
                });
            }
            if ui.button("+").clicked() {
                send.push(Command::Replicas {
                    component: name.clone(),
                    count: count + 1,
                });
            }
        });
    }
    let inputs = &mut app.inputs;
    ui.horizontal(|ui| {
        ui.label("add");
        ui.add(
            egui::DragValue::new(&mut inputs.latency_ms)
                .range(0.0..=60_000.0)
                .suffix(" ms"),
        );
        ui.label("for");
        ui.add(
            egui::DragValue::new(&mut inputs.latency_for_s)
                .range(0.1..=3600.0)
                .suffix(" s"),
        );
        if ui.button("Add latency").clicked() {
            send.push(Command::AddLatency {
                component: name.clone(),
                latency: Duration::from_nanos((inputs.latency_ms * 1e6) as u64),
                lasting: Some(Duration::from_nanos((inputs.latency_for_s * 1e9) as u64)),
            });
        }
    });
    ui.horizontal(|ui| {
        ui.label("fail");
        ui.add(
            egui::DragValue::new(&mut inputs.fail_fraction)
                .range(0.0..=1.0)
                .speed(0.01),
        );
        ui.label("for");
        ui.add(
            egui::DragValue::new(&mut inputs.fail_for_s)
                .range(0.1..=3600.0)
                .suffix(" s"),
        );
        if ui.button("Fail requests").clicked() {
            send.push(Command::FailFraction {
                component: name.clone(),
                fraction: inputs.fail_fraction,
                lasting: Some(Duration::from_nanos((inputs.fail_for_s * 1e9) as u64)),
            });
        }
    });
    // The kind's own commands, from the registry: a button and a field per argument.
    let own = node.kind.own_commands();
    if !own.is_empty() {
        ui.add_space(4.0);
        ui.label(
            RichText::new(format!(
                "{} commands",
                canvas::kind_label(node.kind.kind_name())
            ))
            .strong(),
        );
    }
    for c in own {
        ui.group(|ui| {
            let summary = canvas::kind_meta(node.kind.kind_name())
                .and_then(|m| m.commands.iter().find(|i| i.name == c.name))
                .map_or(c.summary, |i| i.summary);
            let mut args = CommandArgs::new();
            for (arg, what) in c.args {
                let key = (name.clone(), c.name.to_string(), (*arg).to_string());
                let text = inputs.own_args.entry(key).or_default();
                ui.horizontal(|ui| {
                    ui.label(*arg);
                    ui.add(
                        egui::TextEdit::singleline(text)
                            .hint_text(*what)
                            .desired_width(120.0),
                    )
                    .on_hover_text(*what);
                });
                let t = text.trim();
                if !t.is_empty() {
                    let v = t
                        .parse::<u64>()
                        .map(serde_json::Value::from)
                        .unwrap_or_else(|_| serde_json::Value::from(t));
                    args.insert((*arg).to_string(), v);
                }
            }
            if ui.button(c.name).on_hover_text(summary).clicked() {
                send.push(Command::Do {
                    component: name.clone(),
                    command: c.name.to_string(),
                    args,
                });
            }
        });
    }
    for cmd in send {
        app.command(cmd);
    }
}
