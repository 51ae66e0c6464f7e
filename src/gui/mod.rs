//! The desktop face (`flashcrowd gui`): open a model, run it live, break it, watch it react.
//! Like `cli/`, it holds no simulation logic: it loads models through `topology`, drives a
//! `Simulation` through its public API on a worker thread ([`live`]), and draws the plain-data
//! frames it gets back. Panels, one file each: the top bar and the window ([`app`]), lessons
//! ([`lessons`]), the topology canvas ([`canvas`]), the inspector ([`inspector`]) and the
//! live charts ([`charts`]).

pub mod app;
pub mod canvas;
pub mod charts;
pub mod inspector;
pub mod lessons;
pub mod live;

use std::path::{Path, PathBuf};

pub use app::{App, AppOptions};
pub use live::Speed;

use crate::topology::{self, Topology, TopologyError};

/// What `flashcrowd gui` was asked for.
#[derive(Debug, Clone)]
pub struct GuiArgs {
    /// The model to open.
    pub file: PathBuf,
    /// Replace the model's seed.
    pub seed: Option<u64>,
    /// Start playing at once.
    pub play: bool,
    /// The speed to start at.
    pub speed: Speed,
    /// Replace the model's `duration` (`--duration 1h`).
    pub duration: Option<String>,
}

/// Open the window and run until it is closed. Returns the exit code: 0, 2 when the model
/// does not load, 3 when there is no display or the window cannot open.
pub fn run(args: &GuiArgs) -> anyhow::Result<u8> {
    let started = std::time::Instant::now();
    let mut overrides = Vec::new();
    if let Some(d) = &args.duration {
        match crate::units::Duration::parse(d) {
            Ok(d) => overrides.push(topology::Override {
                path: "duration".into(),
                value: format!("\"{d}\""),
            }),
            Err(msg) => {
                eprintln!("error: --duration: {msg}");
                return Ok(crate::cli::exit::BAD_INPUT);
            }
        }
    }
    let topo = match load_model_with(&args.file, &overrides) {
        Ok(t) => t,
        Err(msg) => {
            eprintln!("{msg}");
            return Ok(crate::cli::exit::BAD_INPUT);
        }
    };
    if let Some(why) = no_display() {
        eprintln!("error: flashcrowd gui needs a display: {why}");
        return Ok(crate::cli::exit::RUNTIME);
    }
    let title = window_title(&topo.name);
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(title)
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([800.0, 500.0]),
        ..Default::default()
    };
    let app_options = AppOptions {
        path: args.file.clone(),
        seed: args.seed,
        play: args.play,
        speed: args.speed,
        lessons_dir: lessons::default_dir(&args.file),
        save_dir: PathBuf::from("."),
        threaded: true,
        started: Some(started),
    };
    let result = eframe::run_native(
        "flashcrowd",
        options,
        Box::new(move |cc| {
            let app = App::new(topo, app_options, Some(cc.egui_ctx.clone()));
            Ok(Box::new(app))
        }),
    );
    match result {
        Ok(()) => Ok(crate::cli::exit::OK),
        Err(e) => {
            eprintln!("error: flashcrowd gui could not open its window: {e}");
            Ok(crate::cli::exit::RUNTIME)
        }
    }
}

/// The window's title for a model.
pub fn window_title(model: &str) -> String {
    format!("{model} — flashcrowd")
}

/// Why no window can open here, if that is known before trying (no display server named).
fn no_display() -> Option<String> {
    if cfg!(any(target_os = "windows", target_os = "macos")) {
        return None;
    }
    let set = |v: &str| std::env::var_os(v).is_some_and(|s| !s.is_empty());
    if set("DISPLAY") || set("WAYLAND_DISPLAY") {
        None
    } else {
        Some(
            "neither DISPLAY nor WAYLAND_DISPLAY is set (run it in a desktop session, or under \
             Xvfb: `Xvfb :99 & DISPLAY=:99 flashcrowd gui`); `flashcrowd run FILE` works without one"
                .into(),
        )
    }
}

/// Load and validate a model as `run` does (its expectations checked against the report's
/// shape); the error is every located diagnostic, one per line.
pub fn load_model(path: &Path) -> Result<Topology, String> {
    load_model_with(path, &[])
}

/// [`load_model`] with overrides applied (`--duration`).
fn load_model_with(path: &Path, overrides: &[topology::Override]) -> Result<Topology, String> {
    let loaded = topology::read_model(path).and_then(|text| {
        let base = path.parent().unwrap_or(Path::new("."));
        let t = topology::load_str(&text, Some(path), base, overrides)?;
        let problems = crate::simulation::check_expectations(&t);
        if problems.is_empty() {
            Ok(t)
        } else {
            Err(TopologyError::Invalid(problems))
        }
    });
    loaded.map_err(|e| match &e {
        TopologyError::Io { .. } => format!("error: {e}"),
        _ => e
            .diagnostics()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
    })
}
