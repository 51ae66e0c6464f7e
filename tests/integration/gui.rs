//! The desktop GUI, driven headless through egui_kittest (its AccessKit tree: click by label,
//! read labels) with the live run stepped in the test's thread: one series window per
//! frame while playing, so every run is deterministic (no sleeps, no thread timing).

use std::path::{Path, PathBuf};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use flashcrowd::gui::{App, AppOptions, Speed};
use flashcrowd::simulation::{RunOptions, Simulation};
use flashcrowd::topology::{self, Override};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh folder under the target directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flashcrowd-gui-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The quick-start model, shortened to `duration` so a test runs it to the end quickly.
fn quickstart(duration: &str) -> topology::Topology {
    let path = root().join("models/quickstart.ron");
    let text = std::fs::read_to_string(&path).unwrap();
    let set = [Override {
        path: "duration".into(),
        value: format!("\"{duration}\""),
    }];
    topology::load_str(&text, Some(&path), &root().join("models"), &set).unwrap()
}

fn harness(topo: topology::Topology, lessons_dir: &Path, save_dir: &Path) -> Harness<'static, App> {
    let app = App::new(
        topo,
        AppOptions {
            path: root().join("models/quickstart.ron"),
            seed: None,
            play: false,
            speed: Speed::Max,
            lessons_dir: lessons_dir.to_path_buf(),
            save_dir: save_dir.to_path_buf(),
            threaded: false,
            started: None,
        },
        None,
    );
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut App| app.ui(ui), app)
}

fn click(h: &mut Harness<'_, App>, label: &str) {
    h.get_by_label(label).click();
    h.run_steps(2);
}

/// Frames until the run is over (each plays one series window).
fn play_to_the_end(h: &mut Harness<'_, App>) {
    for _ in 0..400 {
        if h.state().latest().is_some_and(|f| f.snapshot.finished) {
            return;
        }
        h.step();
    }
    panic!("the run did not finish");
}

fn end_to_end_throughput(h: &Harness<'_, App>) -> f64 {
    h.state()
        .latest()
        .and_then(|f| f.snapshot.latest.get("users"))
        .map_or(0.0, |p| p.throughput_per_s)
}

#[test]
fn opening_a_lesson_and_pressing_play_makes_throughput_non_zero() {
    // A lessons folder of two models: the whole models/ list is taller than the panel, and a
    // click reaches only what is scrolled into view.
    let dir = scratch("play");
    for m in ["quickstart.ron", "mm1.ron"] {
        std::fs::copy(root().join("models").join(m), dir.join(m)).unwrap();
    }
    let mut h = harness(quickstart("20s"), &dir, &dir);
    h.run_steps(2);
    // The lessons panel lists the bundled models with their descriptions.
    assert!(
        h.query_all_by_label_contains("Users → load balancer")
            .next()
            .is_some()
    );
    click(&mut h, "mm1");
    assert_eq!(h.state().topology().name, "mm1");
    let before = h
        .state()
        .latest()
        .and_then(|f| {
            f.snapshot
                .latest
                .values()
                .next()
                .map(|p| p.throughput_per_s)
        })
        .unwrap_or(0.0);
    assert_eq!(before, 0.0, "nothing runs before Play");
    click(&mut h, "▶ Play");
    h.run_steps(5);
    let frame = h.state().latest().unwrap();
    assert!(frame.playing);
    assert!(frame.snapshot.now_s >= 5.0, "at {} s", frame.snapshot.now_s);
    let tp = frame
        .snapshot
        .latest
        .values()
        .map(|p| p.throughput_per_s)
        .fold(0.0, f64::max);
    assert!(tp > 0.0, "throughput {tp}");
    assert!(h.query_by_label("⏸ Pause").is_some());
}

#[test]
fn killing_a_component_shows_it_down_on_its_card_and_in_the_inspector() {
    let dir = scratch("kill");
    let mut h = harness(quickstart("60s"), &dir, &dir);
    click(&mut h, "▶ Play");
    h.run_steps(3);
    assert!(end_to_end_throughput(&h) > 0.0);
    click(&mut h, "web (up)");
    assert!(h.query_by_label("Service").is_some(), "the kind's label");
    click(&mut h, "Kill");
    h.run_steps(2);
    assert!(h.query_by_label("web (down)").is_some());
    assert_eq!(h.state().latest().unwrap().nodes["web"].instances.len(), 4);
    assert!(h.state().latest().unwrap().nodes["web"].down);
    // Requests now fail: the end-to-end error rate of the latest window shows it.
    h.run_steps(2);
    let e2e = &h.state().latest().unwrap().snapshot.latest["users"];
    assert!(e2e.error_rate > 0.9, "error rate {}", e2e.error_rate);
    click(&mut h, "Revive");
    h.run_steps(2);
    assert!(h.query_by_label("web (up)").is_some());
    // One instance down: the card says degraded.
    click(&mut h, "kill #2");
    assert!(h.query_by_label("web (degraded)").is_some());
    assert!(h.query_by_label("#2 down").is_some());
}

#[test]
fn a_model_that_does_not_load_shows_its_error_and_the_current_one_stays() {
    let dir = scratch("broken");
    std::fs::copy(
        root().join("tests/broken/missing_colon.ron"),
        dir.join("missing_colon.ron"),
    )
    .unwrap();
    let mut h = harness(quickstart("20s"), &dir, &dir);
    click(&mut h, "▶ Play");
    h.run_steps(3);
    click(&mut h, "missing_colon");
    assert!(h.query_by_label_contains("did not load").is_some());
    // The error is located: file, line and column.
    let err = h.state().load_error().unwrap_or_default().to_string();
    assert!(err.contains("missing_colon.ron:"), "{err}");
    assert_eq!(h.state().topology().name, "quickstart");
    // The current run goes on.
    let t = h.state().latest().unwrap().snapshot.now_s;
    h.run_steps(2);
    assert!(h.state().latest().unwrap().snapshot.now_s > t);
}

#[test]
fn a_live_session_saved_as_events_replays_headless_to_the_same_report() {
    let dir = scratch("replay");
    let mut h = harness(quickstart("60s"), &dir, &dir);
    click(&mut h, "▶ Play");
    h.run_steps(4);
    click(&mut h, "web (up)");
    click(&mut h, "kill #1");
    h.run_steps(3);
    click(&mut h, "⚡ Spike ×3");
    h.run_steps(3);
    click(&mut h, "Add latency");
    h.run_steps(2);
    click(&mut h, "revive #1");
    play_to_the_end(&mut h);
    click(&mut h, "💾 Save events");
    let live = h.state().latest().unwrap().snapshot.report.clone();
    // kill, spike, its end, latency, revive.
    assert_eq!(live.events_applied.len(), 5, "{:?}", live.events_applied);
    assert!(live.events_applied.iter().all(|e| e.refused.is_none()));

    let saved = dir.join("quickstart.recorded.ron");
    let topo = topology::load_file(&saved, &[]).unwrap();
    assert_eq!(topo.events.len(), 5);
    let replayed = Simulation::new(&topo, RunOptions::default()).run();
    let json = |r: &flashcrowd::metrics::Report| {
        let mut r = r.clone();
        r.wall_s = 0.0;
        serde_json::to_string_pretty(&r).unwrap()
    };
    assert_eq!(json(&replayed), json(&live));
}

#[test]
fn the_charts_follow_the_selection_and_mark_commands() {
    let dir = scratch("charts");
    let mut h = harness(quickstart("30s"), &dir, &dir);
    click(&mut h, "▶ Play");
    h.run_steps(3);
    assert!(h.query_by_label("Charts — end to end").is_some());
    click(&mut h, "db (up)");
    assert!(h.query_by_label("Charts — db").is_some());
    click(&mut h, "Kill");
    h.run_steps(2);
    assert!(h.query_by_label_contains("kill db @").is_some());
}
