//! Sweeps: points follow theory, an interrupted sweep resumes to the same table, a failing
//! point is recorded while the others run.

use std::path::Path;

use crate::common::{cli, model_file, scratch, stderr};

const MM1: &str = r#"Topology(duration: "6s", warmup: "1s", seed: 21,
    workloads: {"arrivals": Open(rate: "500/s", to: "server")},
    components: {"server": Service(threads: 1, cpus: 1, cpu: Exp(mean: "1ms"))})"#;

fn sweep_file(dir: &Path, vary: &str) -> String {
    model_file(dir, "mm1.ron", MM1);
    model_file(
        dir,
        "sweep.ron",
        &format!(
            r#"Sweep(model: "mm1.ron", vary: [{vary}], replications: 4,
                columns: ["end_to_end.latency_s.mean", "components.server.cpu_utilization"])"#
        ),
    )
}

fn table(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("sweep.json")).unwrap()).unwrap()
}

#[test]
fn each_point_of_a_rate_sweep_agrees_with_mm1_theory() {
    let dir = scratch("sweep-theory");
    let file = sweep_file(
        &dir,
        r#"Vary(path: "workloads.arrivals.rate", range: Linear(from: 300, to: 700, steps: 3, unit: "/s"))"#,
    );
    let out_dir = dir.join("out");
    let out = cli(&["sweep", &file, "--out", out_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let points = table(&out_dir)["points"].as_array().unwrap().clone();
    assert_eq!(points.len(), 3);
    for (p, lambda) in points.iter().zip([300.0, 500.0, 700.0]) {
        assert_eq!(
            p["params"]["workloads.arrivals.rate"],
            format!("{lambda}/s")
        );
        // W = 1/(μ − λ). With 4 replications the half-width is t(0.975; 3) = 3.18 standard
        // errors, so 1.3 half-widths is about 4 standard errors (plus 1 % for the short run's
        // own bias).
        let w = &p["figures"]["end_to_end.latency_s.mean"];
        let (mean, half) = (w["mean"].as_f64().unwrap(), w["ci95"].as_f64().unwrap());
        let theory = 1.0 / (1000.0 - lambda);
        assert!(
            (mean - theory).abs() <= 1.3 * half + 0.01 * theory,
            "λ {lambda}: {mean} ± {half} vs {theory}"
        );
        let u = p["figures"]["components.server.cpu_utilization"]["mean"]
            .as_f64()
            .unwrap();
        assert!((u - lambda / 1000.0).abs() < 0.02, "λ {lambda}: ρ {u}");
    }
    let csv = std::fs::read_to_string(out_dir.join("sweep.csv")).unwrap();
    assert!(csv.starts_with(
        "workloads.arrivals.rate,end_to_end.latency_s.mean,end_to_end.latency_s.mean.ci95,"
    ));
    assert_eq!(csv.lines().count(), 4);
}

#[test]
fn an_interrupted_sweep_resumes_to_the_table_a_whole_run_gives() {
    let dir = scratch("sweep-resume");
    let file = sweep_file(
        &dir,
        r#"Vary(path: "workloads.arrivals.rate", values: ["300/s", "400/s"]),
           Vary(path: "components.server.threads", values: [1, 2])"#,
    );
    let whole = dir.join("whole");
    assert_eq!(
        cli(&["sweep", &file, "--out", whole.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let parts = dir.join("parts");
    let first = cli(&[
        "sweep",
        &file,
        "--out",
        parts.to_str().unwrap(),
        "--stop-after",
        "3",
    ]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(
        !parts.join("sweep.csv").exists(),
        "no table before every point is done"
    );
    assert_eq!(std::fs::read_dir(parts.join("points")).unwrap().count(), 3);
    let rest = cli(&["sweep", &file, "--out", parts.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&rest.stdout).contains("1 run now, 3 from an earlier run"));
    assert_eq!(
        std::fs::read_to_string(whole.join("sweep.csv")).unwrap(),
        std::fs::read_to_string(parts.join("sweep.csv")).unwrap()
    );
}

#[test]
fn a_point_that_fails_is_recorded_and_the_others_run() {
    let dir = scratch("sweep-failing");
    let file = sweep_file(
        &dir,
        r#"Vary(path: "components.server.replicas", values: [1, 0, 2])"#,
    );
    let out_dir = dir.join("out");
    let out = cli(&["sweep", &file, "--out", out_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let points = table(&out_dir)["points"].as_array().unwrap().clone();
    assert!(points[0].get("error").is_none());
    assert!(
        points[1]["error"].as_str().unwrap().contains("replicas"),
        "{}",
        points[1]
    );
    assert!(points[2].get("error").is_none());
    // Zipped lists of different lengths are refused before anything runs.
    let bad = model_file(
        &dir,
        "zip.ron",
        r#"Sweep(model: "mm1.ron", combine: Zip, vary: [
            Vary(path: "components.server.replicas", values: [1, 2]),
            Vary(path: "workloads.arrivals.rate", values: ["300/s"]),
        ])"#,
    );
    let out = cli(&["sweep", &bad, "--out", dir.join("bad").to_str().unwrap()]);
    assert!(
        stderr(&out).contains("Zip needs lists of one length"),
        "{}",
        stderr(&out)
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_bundled_sweeps_load_and_their_models_validate() {
    use flashcrowd::experiments::sweep::Sweep;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/sweeps");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let sweep = Sweep::load(&path).unwrap();
        assert!(!sweep.points().unwrap().is_empty(), "{}", path.display());
        let model = dir.join(&sweep.model);
        flashcrowd::topology::load_file(&model, &[]).unwrap();
        n += 1;
    }
    assert!(n >= 1);
}

#[test]
fn a_sweep_draws_its_charts_as_png_and_svg_and_refuses_a_chart_of_an_unknown_figure() {
    let dir = scratch("sweep-plots");
    model_file(&dir, "mm1.ron", MM1);
    let file = model_file(
        &dir,
        "sweep.ron",
        r#"Sweep(model: "mm1.ron", replications: 3,
            vary: [Vary(path: "workloads.arrivals.rate", values: ["300/s", "600/s", "800/s"])],
            columns: ["end_to_end.latency_s.mean"],
            plots: [Plot(x: "workloads.arrivals.rate", y: "end_to_end.latency_s.mean", log_y: true, file: "w")])"#,
    );
    let out_dir = dir.join("out");
    let out = cli(&["sweep", &file, "--out", out_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let png = std::fs::read(out_dir.join("w.png")).unwrap();
    assert!(
        png.len() > 1000 && png.starts_with(b"\x89PNG"),
        "{} bytes",
        png.len()
    );
    let svg = std::fs::read_to_string(out_dir.join("w.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("end_to_end.latency_s.mean"));
    let bad = model_file(
        &dir,
        "bad.ron",
        r#"Sweep(model: "mm1.ron",
            vary: [Vary(path: "workloads.arrivals.rate", values: ["300/s"])],
            plots: [Plot(x: "workloads.arrivals.rate", y: "components.server.p99", file: "w")])"#,
    );
    let out = cli(&["sweep", &bad, "--out", dir.join("bad").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is not one of the columns"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_sweep_writes_the_same_bytes_on_one_thread_or_several() {
    let dir = scratch("sweep-threads");
    let file = sweep_file(
        &dir,
        r#"Vary(path: "workloads.arrivals.rate", values: ["300/s", "600/s"]),
           Vary(path: "components.server.threads", values: [1, 2])"#,
    );
    let on = |threads: &str| {
        let out_dir = dir.join(format!("t{threads}"));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_flashcrowd"))
            .env("RAYON_NUM_THREADS", threads)
            .args(["sweep", &file, "--out", out_dir.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let read = |name: &str| std::fs::read(out_dir.join(name)).unwrap();
        let points: Vec<Vec<u8>> = (0..4)
            .map(|i| read(&format!("points/{i:05}.json")))
            .collect();
        (read("sweep.json"), read("sweep.csv"), points)
    };
    assert_eq!(on("1"), on("3"));
}

#[test]
fn a_sweep_run_into_the_folder_of_another_sweep_is_refused_not_resumed() {
    let dir = scratch("sweep-other");
    let first = sweep_file(
        &dir,
        r#"Vary(path: "workloads.arrivals.rate", values: ["300/s", "400/s"])"#,
    );
    let out_dir = dir.join("out");
    let run = |file: &str| cli(&["sweep", file, "--out", out_dir.to_str().unwrap()]);
    assert_eq!(run(&first).status.code(), Some(0));
    // Other values into the same folder: its point files are not this sweep's.
    let other = model_file(
        &dir,
        "other.ron",
        r#"Sweep(model: "mm1.ron", replications: 4,
            vary: [Vary(path: "workloads.arrivals.rate", values: ["700/s", "800/s"])])"#,
    );
    let out = run(&other);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is a point of another sweep"),
        "{}",
        stderr(&out)
    );
    // The same values with other replications: refused too; the first sweep still resumes.
    let more = model_file(
        &dir,
        "more.ron",
        r#"Sweep(model: "mm1.ron", replications: 8,
            vary: [Vary(path: "workloads.arrivals.rate", values: ["300/s", "400/s"])],
            columns: ["end_to_end.latency_s.mean", "components.server.cpu_utilization"])"#,
    );
    assert_eq!(run(&more).status.code(), Some(2));
    let again = run(&first);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 run now, 2 from an earlier run"));
}
