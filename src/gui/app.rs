//! The window: the state the panels share, the top bar (run controls, traffic, seed), and
//! the frame loop that takes the live run's frames and lays the panels out. The panels draw
//! from the latest frame only; they never reach into the simulation.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use super::charts::History;
use super::lessons::Lesson;
use super::live::{self, Control, Driver, Frame, Link, Speed};
use crate::topology::Topology;
use crate::topology::events::Command;
use crate::units::Duration;

/// How to start the window.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// The model's file.
    pub path: PathBuf,
    /// Replace the model's seed.
    pub seed: Option<u64>,
    /// Start playing at once.
    pub play: bool,
    /// Initial speed.
    pub speed: Speed,
    /// Where the lessons panel lists models from.
    pub lessons_dir: PathBuf,
    /// Where "Save events" writes.
    pub save_dir: PathBuf,
    /// Run the simulation on a worker thread (the window); `false` steps it in the GUI's
    /// thread one series window per frame while playing (tests: deterministic).
    pub threaded: bool,
    /// When the command started (the stats log reports the first frame's delay).
    pub started: Option<Instant>,
}

/// Values typed into the inspector's break-it controls, kept between frames.
#[derive(Debug, Clone)]
pub struct BreakInputs {
    /// Latency to add, ms.
    pub latency_ms: f64,
    /// For how long, s.
    pub latency_for_s: f64,
    /// Share of answers to fail.
    pub fail_fraction: f64,
    /// For how long, s.
    pub fail_for_s: f64,
    /// Own-command arguments, by (component, command, argument).
    pub own_args: BTreeMap<(String, String, String), String>,
}

impl Default for BreakInputs {
    fn default() -> Self {
        Self {
            latency_ms: 50.0,
            latency_for_s: 10.0,
            fail_fraction: 0.2,
            fail_for_s: 10.0,
            own_args: BTreeMap::new(),
        }
    }
}

/// Frames per second of the window, over the last second.
#[derive(Debug, Default)]
struct FpsMeter {
    since: Option<Instant>,
    frames: u32,
    fps: f64,
    /// Time spent laying the window out (our code, not painting) over the same frames.
    ui_secs: f64,
    ui_ms_per_frame: f64,
}

impl FpsMeter {
    fn tick(&mut self) {
        let now = Instant::now();
        let since = *self.since.get_or_insert(now);
        self.frames += 1;
        let secs = now.duration_since(since).as_secs_f64();
        if secs >= 1.0 {
            self.fps = f64::from(self.frames) / secs;
            self.ui_ms_per_frame = self.ui_secs * 1e3 / f64::from(self.frames);
            self.frames = 0;
            self.ui_secs = 0.0;
            self.since = Some(now);
        }
    }
}

/// The application: the model, the link to its live run, and what the panels show.
pub struct App {
    pub(crate) options: AppOptions,
    pub(crate) topo: Topology,
    link: Link,
    wake: Option<egui::Context>,
    /// The latest frame (its points already moved into `history`).
    pub(crate) frame: Option<Frame>,
    pub(crate) history: History,
    pub(crate) selected: Option<String>,
    pub(crate) traffic_scale: f64,
    seed_text: String,
    pub(crate) lessons: Vec<Lesson>,
    /// Why the last model asked for did not load (the current one stays).
    pub(crate) load_error: Option<String>,
    /// A one-line message: saved, refused...
    pub(crate) status: Option<String>,
    pub(crate) inputs: BreakInputs,
    /// Each instance's busy share, averaged over the last frames.
    busy: BTreeMap<String, Vec<f64>>,
    fps: FpsMeter,
    /// Print fps and simulation speed to stderr every few seconds
    /// (`FLASHCROWD_GUI_STATS=1`, for docs/PERFORMANCE.md).
    stats_log: Option<Instant>,
}

impl App {
    /// A window on `topo` (loaded from `options.path`); `wake` is the context the worker
    /// thread wakes on new frames.
    pub fn new(topo: Topology, options: AppOptions, wake: Option<egui::Context>) -> Self {
        let lessons = super::lessons::scan(&options.lessons_dir);
        let mut app = Self {
            link: Link::stepping(Driver::new(topo.clone(), options.seed)),
            topo,
            wake,
            frame: None,
            history: History::default(),
            selected: None,
            traffic_scale: 1.0,
            seed_text: String::new(),
            lessons,
            load_error: None,
            status: None,
            inputs: BreakInputs::default(),
            busy: BTreeMap::new(),
            fps: FpsMeter::default(),
            stats_log: std::env::var_os("FLASHCROWD_GUI_STATS").map(|_| Instant::now()),
            options,
        };
        app.start_run();
        app
    }

    /// Start the live run of the current model (replacing any other).
    fn start_run(&mut self) {
        let driver = Driver::new(self.topo.clone(), self.options.seed);
        self.link = if self.options.threaded {
            match Link::spawn(driver, self.wake.clone()) {
                Ok(l) => l,
                Err(e) => {
                    self.status = Some(format!("could not start the simulation thread: {e}"));
                    Link::stepping(Driver::new(self.topo.clone(), self.options.seed))
                }
            }
        } else {
            Link::stepping(driver)
        };
        self.frame = None;
        self.history = History::default();
        self.traffic_scale = 1.0;
        self.selected = None;
        self.send(Control::Speed(self.options.speed));
        if self.options.play {
            self.send(Control::Play);
        }
    }

    /// Send a control to the live run.
    pub(crate) fn send(&mut self, control: Control) {
        self.link.send(control);
        if let Some(ctx) = &self.wake {
            ctx.request_repaint();
        }
    }

    /// Send a command (recorded with its simulated time).
    pub(crate) fn command(&mut self, cmd: Command) {
        self.send(Control::Command(cmd));
    }

    /// Open another model; a model that does not load leaves the current one running and
    /// shows why.
    pub fn open(&mut self, path: PathBuf, ctx: Option<&egui::Context>) {
        match super::load_model(&path) {
            Ok(topo) => {
                self.topo = topo;
                self.options.path = path;
                self.options.seed = None;
                self.options.play = false;
                self.load_error = None;
                self.status = None;
                self.start_run();
                if let Some(ctx) = ctx {
                    ctx.send_viewport_cmd(egui::ViewportCommand::Title(super::window_title(
                        &self.topo.name,
                    )));
                }
            }
            Err(msg) => {
                self.load_error = Some(format!("{} did not load:\n{msg}", path.display()));
            }
        }
    }

    /// The model shown.
    pub fn topology(&self) -> &Topology {
        &self.topo
    }

    /// Why the last model asked for did not load, if it did not.
    pub fn load_error(&self) -> Option<&str> {
        self.load_error.as_deref()
    }

    /// The latest frame from the live run.
    pub fn latest(&self) -> Option<&Frame> {
        self.frame.as_ref()
    }

    /// Take the frames that arrived.
    fn receive(&mut self) {
        for mut frame in self.link.frames() {
            let new_run = self.frame.as_ref().is_none_or(|f| f.run != frame.run);
            if new_run {
                self.history = History::default();
            }
            self.history.add(std::mem::take(&mut frame.points));
            self.smooth_instances(&mut frame, new_run);
            if !frame.refusals.is_empty() {
                self.status = Some(format!("refused: {}", frame.refusals.join("; ")));
            }
            // The slider follows the run's scale when the run changes it (a spike, its end,
            // a reset), not while the user drags it.
            if self
                .frame
                .as_ref()
                .is_none_or(|f| f.traffic_scale != frame.traffic_scale || f.run != frame.run)
            {
                self.traffic_scale = frame.traffic_scale;
            }
            self.frame = Some(frame);
        }
    }

    /// An instance's busy share is sampled at one instant (0, ½ or 1 of two CPUs): show a
    /// moving average over the last frames (about a quarter of a second) instead.
    fn smooth_instances(&mut self, frame: &mut Frame, new_run: bool) {
        if new_run {
            self.busy.clear();
        }
        for (name, state) in &mut frame.nodes {
            let kept = self.busy.entry(name.clone()).or_default();
            kept.resize(state.instances.len(), f64::NAN);
            for (inst, k) in state.instances.iter_mut().zip(kept.iter_mut()) {
                *k = if k.is_nan() || inst.down {
                    inst.busy
                } else {
                    0.8 * *k + 0.2 * inst.busy
                };
                inst.busy = *k;
            }
        }
    }

    /// The model with the commands applied so far as its `events` section (RON): the live
    /// session, replayable headless (`flashcrowd run`).
    pub fn recorded_model(&self) -> anyhow::Result<String> {
        let mut spec = self.topo.spec.clone();
        if let Some(f) = &self.frame {
            spec.events = f
                .snapshot
                .report
                .events_applied
                .iter()
                .map(|e| (Duration::from_nanos(e.at_ns), e.command.clone()))
                .collect();
        }
        if let Some(seed) = self.frame.as_ref().map(|f| f.seed) {
            spec.seed = seed;
        }
        Ok(crate::topology::to_ron(&spec)?)
    }

    /// Write [`App::recorded_model`] to `<save_dir>/<model>.recorded.ron`.
    pub fn save_events(&mut self) -> anyhow::Result<PathBuf> {
        use anyhow::Context as _;
        let text = self.recorded_model()?;
        let path = self
            .options
            .save_dir
            .join(format!("{}.recorded.ron", self.topo.name));
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// The whole window, inside `ui` (eframe's root, or a test harness's).
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        let frame_start = Instant::now();
        // egui may lay a frame out twice (a discarded first pass): take frames and count
        // once per painted frame.
        let first_pass = ui.ctx().current_pass_index() == 0;
        if first_pass {
            self.fps.tick();
            self.receive();
            self.log_stats();
        }
        egui::Panel::top("top_bar").show(ui, |ui| self.top_bar_ui(ui));
        egui::Panel::bottom("status_bar").show(ui, |ui| self.status_ui(ui));
        // The charts span the window's width, under the side panels.
        egui::Panel::bottom("charts")
            .resizable(true)
            .min_size(190.0)
            .default_size(220.0)
            .show(ui, |ui| super::charts::charts_ui(self, ui));
        egui::Panel::left("lessons")
            .resizable(true)
            .default_size(230.0)
            .show(ui, |ui| super::lessons::lessons_ui(self, ui));
        egui::Panel::right("inspector")
            .resizable(true)
            .default_size(300.0)
            .show(ui, |ui| super::inspector::inspector_ui(self, ui));
        egui::CentralPanel::default().show(ui, |ui| super::canvas::canvas_ui(self, ui));
        self.fps.ui_secs += frame_start.elapsed().as_secs_f64();
        // While the clock runs the window polls for frames at ~30 fps, counted from this
        // frame's start (the worker wakes it only when it is not polling).
        if first_pass && self.frame.as_ref().is_some_and(|f| f.playing) {
            ui.ctx().request_repaint_after(
                live::REPAINT_INTERVAL.saturating_sub(frame_start.elapsed()),
            );
        }
    }

    fn log_stats(&mut self) {
        let Some(last) = self.stats_log else { return };
        if let Some(started) = self.options.started.take() {
            eprintln!(
                "gui: first frame {:.2} s after start",
                started.elapsed().as_secs_f64()
            );
        }
        if last.elapsed().as_secs_f64() < 5.0 {
            return;
        }
        self.stats_log = Some(Instant::now());
        let (t, eps) = self
            .frame
            .as_ref()
            .map(|f| (f.snapshot.now_s, f.events_per_wall_s))
            .unwrap_or_default();
        eprintln!(
            "gui: {:.1} fps ({:.1} ms of layout a frame), simulated {t:.1} s, {} events, simulation thread {:.0} events/s at max speed",
            self.fps.fps,
            self.fps.ui_ms_per_frame,
            self.frame.as_ref().map_or(0, |f| f.snapshot.report.events),
            eps
        );
    }

    fn top_bar_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            let playing = self.frame.as_ref().is_some_and(|f| f.playing);
            let finished = self.frame.as_ref().is_some_and(|f| f.snapshot.finished);
            if playing {
                if ui.button("⏸ Pause").clicked() {
                    self.send(Control::Pause);
                }
            } else if ui
                .add_enabled(!finished, egui::Button::new("▶ Play"))
                .clicked()
            {
                self.send(Control::Play);
            }
            if ui
                .add_enabled(!finished, egui::Button::new("⏭ Step"))
                .on_hover_text("Advance one series window")
                .clicked()
            {
                self.send(Control::Step);
            }
            if ui
                .button("⟲ Reset")
                .on_hover_text("Start again from 0 s (the recorded commands are cleared)")
                .clicked()
            {
                self.send(Control::Reset);
            }
            ui.separator();
            let speed = self.frame.as_ref().map_or(self.options.speed, |f| f.speed);
            for s in Speed::ALL {
                if ui.selectable_label(speed == s, s.label()).clicked() {
                    self.options.speed = s;
                    self.send(Control::Speed(s));
                }
            }
            ui.separator();
            let (now, end) = self.frame.as_ref().map_or((0.0, 0.0), |f| {
                (f.snapshot.now_s, f.snapshot.report.arrival_window_s)
            });
            let end = if end > 0.0 {
                end
            } else {
                self.topo.duration_ns as f64 / 1e9
            };
            ui.monospace(format!(
                "t = {now:7.1} s / {end:.0} s{}",
                if finished { " · finished" } else { "" }
            ));
            ui.separator();
            ui.label("seed");
            let seed = self.frame.as_ref().map_or(self.topo.seed, |f| f.seed);
            if self.seed_text.is_empty() {
                self.seed_text = seed.to_string();
            }
            let edit = ui.add(egui::TextEdit::singleline(&mut self.seed_text).desired_width(60.0));
            if edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                match self.seed_text.trim().parse::<u64>() {
                    Ok(s) => self.send(Control::Seed(s)),
                    Err(_) => self.status = Some(format!("not a seed: {}", self.seed_text)),
                }
            }
            if !edit.has_focus() && self.seed_text != seed.to_string() {
                self.seed_text = seed.to_string();
            }
            ui.separator();
            ui.label("traffic");
            let mut scale = self.traffic_scale;
            let slider = ui.add(
                egui::Slider::new(&mut scale, 0.0..=5.0)
                    .step_by(0.05)
                    .suffix("×")
                    .text(""),
            );
            if slider.changed() {
                self.traffic_scale = scale;
            }
            if (slider.drag_stopped() || (slider.changed() && !slider.dragged())) && !finished {
                self.command(Command::Traffic {
                    scale: self.traffic_scale,
                    workload: None,
                });
            }
            if ui
                .add_enabled(!finished, egui::Button::new("⚡ Spike ×3"))
                .on_hover_text("Triple the traffic for 10 simulated seconds, then back")
                .clicked()
            {
                self.send(Control::Spike {
                    factor: 3.0,
                    lasting_s: 10.0,
                });
            }
            ui.separator();
            if ui
                .button("💾 Save events")
                .on_hover_text(
                    "Write the model with the commands applied so far as its events section",
                )
                .clicked()
            {
                self.status = Some(match self.save_events() {
                    Ok(p) => format!("saved the recorded events to {}", p.display()),
                    Err(e) => format!("could not save: {e:#}"),
                });
            }
            ui.separator();
            ui.heading(&self.topo.name);
        });
    }

    fn status_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let last = super::charts::latest_end_to_end(self);
            if let Some(f) = &self.frame {
                let verdict = &f.snapshot.report.verdict;
                ui.label(format!("{} events", f.snapshot.report.events));
                if let Some(p) = last {
                    ui.label(format!(
                        "· last window: {:.0} req/s answered · p99 {} · errors {:.2} %",
                        p.throughput_per_s,
                        super::canvas::fmt_secs(p.p99_s),
                        p.error_rate * 100.0
                    ));
                }
                if f.snapshot.finished {
                    let (text, colour) = if verdict.pass {
                        ("verdict: PASS".to_string(), super::canvas::OK)
                    } else {
                        (
                            format!("verdict: FAIL — {}", verdict.reasons.join("; ")),
                            super::canvas::BAD,
                        )
                    };
                    ui.colored_label(colour, text);
                }
            }
            if let Some(s) = &self.status {
                ui.separator();
                ui.label(s);
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.weak(format!("{:.0} fps", self.fps.fps));
                if let Some(f) = &self.frame
                    && f.events_per_wall_s > 0.0
                {
                    ui.weak(format!("{:.1} M events/s", f.events_per_wall_s / 1e6));
                }
            });
        });
    }
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        App::ui(self, ui);
    }
}
