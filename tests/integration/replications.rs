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

#[test]
fn compare_flags_a_real_change_as_significant_and_a_report_against_itself_as_not() {
    let dir = scratch("compare");
    let model = crate::common::model_file(&dir, "mm1.ron", &mm1(11));
    let report = |extra: &[&str], name: &str| {
        let mut args = vec!["run", model.as_str(), "--replications", "5", "--json"];
        args.extend_from_slice(extra);
        let out = cli(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let path = dir.join(name);
        std::fs::write(&path, &out.stdout).unwrap();
        path.to_str().unwrap().to_string()
    };
    let a = report(&[], "a.json");
    // 700/s → 800/s: W goes from 3.33 ms to 5 ms, far beyond either interval.
    let b = report(&["--set", "workloads.arrivals.rate=800/s"], "b.json");
    let out = cli(&["compare", &a, &b, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = |metric: &str| {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["metric"] == metric)
            .unwrap_or_else(|| panic!("no row {metric}"))
            .clone()
    };
    assert_eq!(row("end_to_end.latency_s.mean")["significant"], true);
    assert_eq!(row("end_to_end.throughput_per_s")["significant"], true);
    // A report against itself: no difference anywhere, nothing significant.
    let same = cli(&["compare", &a, &a, "--json", "--all"]);
    let v: serde_json::Value = serde_json::from_slice(&same.stdout).unwrap();
    assert!(v["rows"].as_array().unwrap().len() > 20);
    assert!(
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["diff"] == 0.0 && r["significant"] != true)
    );
    // Not a report: refused with a hint.
    let bad = cli(&["compare", &a, &model]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("not JSON"), "{}", stderr(&bad));
}

#[test]
fn precision_adds_replications_until_every_headline_interval_is_narrow_enough() {
    let dir = scratch("precision");
    let model = crate::common::model_file(&dir, "mm1.ron", &mm1(13));
    let out = cli(&[
        "run",
        &model,
        "--precision",
        "0.05",
        "--replications",
        "4",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = &v["precision"];
    assert_eq!(p["met"], true);
    let n = v["replications"].as_u64().unwrap();
    assert_eq!(p["replications"], n);
    // Whole batches of 4.
    assert_eq!(n % 4, 0);
    // Every headline figure meets ±5 % or its floor: the mean sojourn's among them.
    let mean = at(&v, "end_to_end.latency_s.mean")
        .unwrap()
        .as_f64()
        .unwrap();
    let half = at(&v["ci95"], "end_to_end.latency_s.mean")
        .unwrap()
        .as_f64()
        .unwrap();
    assert!(half <= 0.05 * mean, "{half} vs {mean}");
    assert!(
        p["widest"]["half_width"].as_f64().unwrap() <= p["widest"]["allowed"].as_f64().unwrap()
    );
    // A target out of reach stops at the maximum and says so.
    let capped = cli(&[
        "run",
        &model,
        "--precision",
        "0.0001",
        "--replications",
        "3",
        "--max-replications",
        "6",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&capped.stdout).unwrap();
    assert_eq!(v["precision"]["met"], false);
    assert_eq!(v["replications"], 6);
    let bad = cli(&["run", &model, "--precision", "5"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn an_automatic_warm_up_is_chosen_by_mser_from_a_pilot_and_used() {
    let dir = scratch("warmup-auto");
    let model = crate::common::model_file(
        &dir,
        "mm1.ron",
        &mm1(17).replace("warmup: \"1s\"", "warmup: \"0s\""),
    );
    // 6 s of 1 s windows are too few batches of five to tell a transient: refused.
    let out = cli(&["run", &model, "--warmup", "auto", "--replications", "4"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("needs at least 20 series windows"),
        "{}",
        stderr(&out)
    );
    // A longer run: 60 one-second windows, 12 batches; the choice is a whole number of
    // batches within the first half, and the counting window starts there.
    let long = crate::common::model_file(
        &dir,
        "long.ron",
        &mm1(17)
            .replace("duration: \"6s\"", "duration: \"60s\"")
            .replace("warmup: \"1s\"", "warmup: \"0s\""),
    );
    let out = cli(&[
        "run",
        &long,
        "--warmup",
        "auto",
        "--replications",
        "4",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &v["warmup_auto"];
    assert_eq!(c["method"], "MSER-5");
    assert_eq!(c["batches"], 12);
    let chosen = c["chosen_s"].as_f64().unwrap();
    assert_eq!(chosen, c["truncated_batches"].as_f64().unwrap() * 5.0);
    assert!(chosen <= 30.0);
    assert_eq!(v["warmup_s"].as_f64().unwrap(), chosen);
}

#[test]
fn an_automatic_warm_up_is_refused_for_a_model_whose_rate_changes_or_that_has_events() {
    let out = cli(&["run", "models/flash_crowd.ron", "--warmup", "auto"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("needs a stationary model"),
        "{}",
        stderr(&out)
    );
    let out = cli(&["run", "models/replica_failure.ron", "--warmup", "auto"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("`events` section"),
        "{}",
        stderr(&out)
    );
    let out = cli(&["run", "models/mm1.ron", "--warmup", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--warmup"), "{}", stderr(&out));
}
