//! Independent replications: their confidence intervals cover the truth as often as they
//! claim, they do not depend on the thread count, and each is the run of its index.

use flashcrowd::experiments::replications::{aggregate, at, run as replicate};
use flashcrowd::metrics::Report;
use flashcrowd::simulation::{RunOptions, Simulation};

use crate::common::{cli, load, scratch, stderr, stdout};

/// M/M/1 at ρ = 0.7 (λ = 700/s, μ = 1000/s): 5 s counted after a 1 s warm-up (relaxation
/// time 1/(μ(1 − √ρ)²) ≈ 37 ms), about 3 500 counted customers per replication.
fn mm1(seed: u64) -> String {
    format!(
        r#"Topology(duration: "6s", warmup: "1s", seed: {seed},
            workloads: {{"arrivals": Open(rate: "700/s", to: "server")}},
            components: {{"server": Service(threads: 1, cpus: 1, cpu: Exp(mean: "1ms"))}})"#
    )
}

#[test]
fn the_95_percent_interval_of_the_mean_sojourn_covers_mm1_theory_about_95_percent_of_the_time() {
    // 400 experiments of 5 replications each; theory W = 1/(μ − λ) = 3.333 ms. With 400
    // trials the observed coverage has a standard error of √(0.95·0.05/400) ≈ 1.1 %, so the
    // band 91–99 % is about ±3.6 standard errors around 95 %.
    let truth = 1.0 / 300.0;
    let trials = 400;
    let mut covered = 0;
    for seed in 1..=trials {
        let topo = load(&mm1(seed));
        let reports = replicate(&topo, &RunOptions::default(), 5);
        let agg = aggregate(&reports);
        let mean = at(&agg, "end_to_end.latency_s.mean")
            .unwrap()
            .as_f64()
            .unwrap();
        let half = at(&agg["ci95"], "end_to_end.latency_s.mean")
            .unwrap()
            .as_f64()
            .unwrap();
        covered += u32::from((mean - truth).abs() <= half);
    }
    let coverage = f64::from(covered) / trials as f64;
    eprintln!("coverage of the mean sojourn's 95 % interval: {coverage} over {trials} experiments");
    assert!(
        (0.91..=0.99).contains(&coverage),
        "coverage {coverage} over {trials} experiments"
    );
}

/// A report's JSON without the wall time (the one figure that differs between runs).
fn without_wall(v: &serde_json::Value) -> String {
    let mut v = v.clone();
    v["wall_s"] = serde_json::Value::Null;
    v["ci95"]["wall_s"] = serde_json::Value::Null;
    v.to_string()
}

#[test]
fn replications_give_the_same_numbers_on_one_thread_or_several() {
    let topo = load(&mm1(7));
    let on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| aggregate(&replicate(&topo, &RunOptions::default(), 6)))
    };
    assert_eq!(without_wall(&on(1)), without_wall(&on(3)));
}

#[test]
fn each_replication_is_the_run_of_its_index_and_they_differ() {
    let topo = load(&mm1(3));
    let reports = replicate(&topo, &RunOptions::default(), 3);
    let alone: Report = Simulation::new(
        &topo,
        RunOptions {
            replication: 2,
            ..Default::default()
        },
    )
    .run();
    assert_eq!(
        reports[2].end_to_end.latency_s.mean,
        alone.end_to_end.latency_s.mean
    );
    assert_eq!(reports[2].end_to_end.offered, alone.end_to_end.offered);
    assert_ne!(reports[0].end_to_end.offered, reports[1].end_to_end.offered);
}

#[test]
fn the_json_keeps_means_as_numbers_with_a_ci95_of_the_same_shape() {
    let dir = scratch("replications-json");
    let model = crate::common::model_file(&dir, "mm1.ron", &mm1(5));
    let out = cli(&["run", &model, "--replications", "4", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["replications"], 4);
    let mean = v["components"]["server"]["throughput_per_s"]
        .as_f64()
        .unwrap();
    let half = v["ci95"]["components"]["server"]["throughput_per_s"]
        .as_f64()
        .unwrap();
    // 700/s over 5 s: a Poisson count's sd is √3500, so the rate's is ≈ 11.8/s per
    // replication; the mean of 4 is within a few of those of 700.
    assert!((mean - 700.0).abs() < 4.0 * 11.8, "{mean}");
    assert!(half > 0.0 && half < 4.0 * 11.8, "{half}");
    assert!(
        v["provenance"]["flags"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("--replications 4"))
    );
    // The text output shows each headline figure with its half-width.
    let text = stdout(&cli(&["run", &model, "--replications", "4"]));
    assert!(text.contains("4 independent replications"), "{text}");
    assert!(text.contains(" ± "), "{text}");
}

#[test]
fn replications_refuse_a_zero_count_and_time_series() {
    let dir = scratch("replications-refused");
    let model = crate::common::model_file(&dir, "mm1.ron", &mm1(5));
    let zero = cli(&["run", &model, "--replications", "0"]);
    assert_eq!(zero.status.code(), Some(2));
    assert!(stderr(&zero).contains("--replications takes 1 to"));
    let csv = dir.join("csv");
    let series = cli(&[
        "run",
        &model,
        "--replications",
        "3",
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(series.status.code(), Some(2));
    assert!(stderr(&series).contains("time series belong to one run"));
}
