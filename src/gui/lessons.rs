//! The lessons panel: the models under `models/` with what each teaches (`description`) and
//! what to watch (`look_for`); clicking one opens it. A model that does not load shows its
//! located error and leaves the current one running.

use std::path::{Path, PathBuf};

use super::App;

/// A model file the panel lists.
#[derive(Debug, Clone)]
pub struct Lesson {
    /// Its file.
    pub path: PathBuf,
    /// Its name (the file's stem when it does not parse).
    pub name: String,
    /// What it is.
    pub description: String,
    /// What to watch.
    pub look_for: String,
}

/// Where lessons are listed from: `models/` here if it exists, else the opened file's folder.
pub fn default_dir(file: &Path) -> PathBuf {
    let here = PathBuf::from("models");
    if here.is_dir() {
        return here;
    }
    file.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The `.ron` models in `dir` (and `dir/lessons/`), sorted by file name; a file that does
/// not parse is listed by its name (opening it shows why).
pub fn scan(dir: &Path) -> Vec<Lesson> {
    let mut files: Vec<PathBuf> = [dir.to_path_buf(), dir.join("lessons")]
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "ron"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let spec = std::fs::read_to_string(&path)
                .ok()
                .and_then(|text| crate::topology::parse::parse_spec(&text, Some(&path)).ok());
            match spec {
                Some(s) => Lesson {
                    name: if s.name.is_empty() { stem } else { s.name },
                    description: s.description,
                    look_for: s.look_for,
                    path,
                },
                None => Lesson {
                    name: stem,
                    description: String::new(),
                    look_for: String::new(),
                    path,
                },
            }
        })
        .collect()
}

/// The panel.
pub fn lessons_ui(app: &mut App, ui: &mut egui::Ui) {
    ui.heading("Lessons");
    ui.weak(format!("{}", app.options.lessons_dir.display()));
    if let Some(err) = &app.load_error {
        ui.separator();
        ui.colored_label(super::canvas::BAD, "Could not open:");
        ui.label(egui::RichText::new(err.as_str()).monospace().small());
        if ui.small_button("dismiss").clicked() {
            app.load_error = None;
        }
    }
    ui.separator();
    let mut open = None;
    egui::ScrollArea::vertical().show(ui, |ui| {
        for lesson in &app.lessons {
            let current = lesson.path == app.options.path
                || lesson.path.file_name() == app.options.path.file_name()
                    && lesson.name == app.topo.name;
            let button =
                egui::Button::selectable(current, egui::RichText::new(&lesson.name).strong());
            if ui.add(button).clicked() {
                open = Some(lesson.path.clone());
            }
            if !lesson.description.is_empty() {
                ui.label(egui::RichText::new(&lesson.description).small());
            }
            if !lesson.look_for.is_empty() {
                ui.label(
                    egui::RichText::new(format!("Look for: {}", lesson.look_for))
                        .small()
                        .italics(),
                );
            }
            ui.add_space(6.0);
        }
    });
    if let Some(path) = open {
        let ctx = ui.ctx().clone();
        app.open(path, Some(&ctx));
    }
}
