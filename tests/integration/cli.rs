//! The command line as users meet it: the JSON contract, exit codes, overrides.

use std::process::Command;

fn flashcrowd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_flashcrowd"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .unwrap()
}

/// The quick-start model, shortened to 10 s, with extra arguments.
fn quickstart(extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "run",
        "models/quickstart.ron",
        "--duration",
        "10s",
        "--set",
        "warmup=\"1s\"",
    ];
    args.extend_from_slice(extra);
    flashcrowd(&args)
}

#[test]
fn json_report_keeps_its_contract() {
    let out = flashcrowd(&[
        "run",
        "models/quickstart.ron",
        "--duration",
        "20s",
        "--set",
        "warmup=\"2s\"",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "schema_version",
        "model",
        "seed",
        "sim_duration_s",
        "warmup_s",
        "events",
        "wall_s",
        "end_to_end",
        "components",
        "slo",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    let e2e = &v["end_to_end"];
    for key in [
        "offered",
        "completed",
        "errors",
        "censored",
        "throughput_per_s",
        "error_rate",
        "latency_s",
    ] {
        assert!(e2e.get(key).is_some(), "end_to_end.{key} missing");
    }
    for key in ["mean", "p50", "p95", "p99", "p999", "max"] {
        assert!(e2e["latency_s"][key].as_f64().is_some(), "latency_s.{key}");
    }
    let web = &v["components"]["web"];
    for key in [
        "kind",
        "arrivals",
        "completions",
        "errors",
        "throughput_per_s",
        "thread_occupancy",
        "cpu_utilization",
        "mean_queue_len",
        "latency_s",
    ] {
        assert!(web.get(key).is_some(), "components.web.{key} missing");
    }
    assert_eq!(web["kind"], "service");
    assert_eq!(v["slo"]["pass"], true);
    assert_eq!(v["sim_duration_s"], 20.0);
}

#[test]
fn failed_slo_exits_1_and_names_the_target() {
    let out = quickstart(&["--set", "slo.p99=\"1ms\""]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("SLO: FAIL — p99 missed"), "{text}");
}

#[test]
fn overrides_change_the_model_and_bad_ones_exit_2() {
    let out = quickstart(&["--set", "components.web.replicas=3", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["components"]["web"]["replicas"], 3);

    let out = flashcrowd(&[
        "run",
        "models/quickstart.ron",
        "--set",
        "components.web.replica=2",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did you mean `replicas`?"), "{err}");

    let out = flashcrowd(&[
        "run",
        "models/quickstart.ron",
        "--set",
        "components.web.threads=0",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn csv_series_are_written() {
    let dir = std::env::temp_dir().join(format!("fc-csv-{}", std::process::id()));
    let out = flashcrowd(&[
        "run",
        "models/mm1.ron",
        "--duration",
        "10s",
        "--set",
        "warmup=\"1s\"",
        "--csv",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let common = "t_s,window_s,arrivals_per_s,throughput_per_s,error_rate,mean_s,p50_s,p95_s,p99_s,in_flight,completions,errors";
    // A service's file: the common columns, then the service kind's own.
    let text = std::fs::read_to_string(dir.join("server.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        format!("{common},cpu_utilization,mean_queue_len,thread_occupancy")
    );
    assert!(lines.count() >= 10);
    // A workload's (end to end): only the common ones.
    let text = std::fs::read_to_string(dir.join("arrivals.csv")).unwrap();
    assert_eq!(text.lines().next().unwrap(), common);
}

#[test]
fn validate_reports_ok_and_missing_files() {
    let out = flashcrowd(&["validate", "models/quickstart.ron", "models/mm1.ron"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("models/quickstart.ron: ok"));
    let out = flashcrowd(&["validate", "models/nope.ron"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bench_compares_against_another_binary_and_checks_memory() {
    // A tiny bench (figures are printed, never asserted): every case runs, both models get a
    // ratio for this binary and for the `--against` one, and the memory check reports.
    let me = env!("CARGO_BIN_EXE_flashcrowd");
    let out = flashcrowd(&[
        "bench",
        "--requests",
        "2000",
        "--repeat",
        "2",
        "--memory",
        "--against",
        me,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for case in [
        "mm1-baseline",
        "mm1-engine-against",
        "web-engine-against",
        "web-engine-x10",
    ] {
        assert!(text.contains(case), "no {case} row:\n{text}");
    }
    for model in ["mm1", "web"] {
        assert!(
            text.contains(&format!("{model}: --against binary's engine wall")),
            "{text}"
        );
        assert!(
            text.contains(&format!("{model}: peak memory 10× longer")),
            "{text}"
        );
    }
}

#[test]
fn an_absurdly_large_run_is_refused_with_its_estimate_unless_allowed() {
    let out = crate::common::cli(&["run", "models/quickstart.ron", "--duration", "100d"]);
    assert_eq!(out.status.code(), Some(2));
    let err = crate::common::stderr(&out);
    assert!(err.contains("would offer about 1.73e10 requests"), "{err}");
    assert!(err.contains("--allow-huge"), "{err}");
    let out = crate::common::cli(&[
        "validate",
        "models/quickstart.ron",
        "--set",
        "duration=\"100d\"",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = crate::common::cli(&[
        "validate",
        "--allow-huge",
        "models/quickstart.ron",
        "--set",
        "duration=\"100d\"",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        crate::common::stderr(&out)
    );
}

#[test]
fn gui_without_a_display_explains_in_one_line_and_exits_3() {
    // With the GUI built in, there is no display to open; without it, the build says how to
    // get it. Either way: one line, exit 3, no panic.
    let out = Command::new(env!("CARGO_BIN_EXE_flashcrowd"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["gui", "models/quickstart.ron"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    if cfg!(feature = "gui") {
        assert!(err.contains("needs a display"), "{err}");
    } else {
        assert!(err.contains("built without its GUI"), "{err}");
    }
}

#[test]
fn gui_with_a_model_that_does_not_load_exits_2_before_looking_for_a_display() {
    let out = flashcrowd(&["gui", "tests/broken/missing_colon.ron"]);
    let err = String::from_utf8_lossy(&out.stderr);
    if cfg!(feature = "gui") {
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("missing_colon.ron:"), "{err}");
    } else {
        assert_eq!(out.status.code(), Some(3), "{err}");
    }
}
