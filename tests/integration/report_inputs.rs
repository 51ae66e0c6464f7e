//! A report says where it comes from and what its windows were: provenance (version, model
//! hash, overrides and flags), `arrival_window_s` beside the model's `duration`, and a
//! `count` beside every latency summary ("n/a" in the text when it is 0).

use crate::common::{cli, model_file, scratch, stdout};

#[test]
fn report_carries_version_model_hash_overrides_and_flags() {
    let out = cli(&[
        "run",
        "models/mm1.ron",
        "--duration",
        "5s",
        "--seed",
        "7",
        "--set",
        "warmup=\"1s\"",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = &v["provenance"];
    assert_eq!(p["flashcrowd_version"], env!("CARGO_PKG_VERSION"));
    let text = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/models/mm1.ron")).unwrap();
    assert_eq!(
        p["model_fnv1a64"],
        format!("{:016x}", flashcrowd::topology::fnv1a64(&text))
    );
    assert_eq!(p["overrides"], serde_json::json!(["warmup=\"1s\""]));
    assert_eq!(p["flags"], serde_json::json!(["--seed 7", "--duration 5s"]));
    // The text names them too.
    let out = cli(&[
        "run",
        "models/mm1.ron",
        "--duration",
        "5s",
        "--set",
        "warmup=\"1s\"",
    ]);
    assert!(stdout(&out).contains("--duration 5s"), "{}", stdout(&out));
}

#[test]
fn arrival_window_is_reported_beside_the_models_duration() {
    // A request budget closes the arrival window long before `duration`.
    let dir = scratch("arrival-window");
    let m = model_file(
        &dir,
        "m.ron",
        r#"Topology(duration: "60s", warmup: "1s", requests: 1000,
            workloads: {"w": Open(rate: "100/s", to: "s")},
            components: {"s": Service(cpu: Exp(mean: "1ms"))})"#,
    );
    let out = cli(&["run", &m, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let arrival = v["arrival_window_s"].as_f64().unwrap();
    assert_eq!(v["model_duration_s"], 60.0);
    assert_eq!(v["sim_duration_s"].as_f64(), Some(arrival));
    // 1000 requests at 100/s after a 1 s warm-up: about 11 s.
    assert!((arrival - 11.0).abs() < 1.0, "{arrival}");
    let text = stdout(&cli(&["run", &m]));
    assert!(
        text.contains("closed early by `requests:` (duration 60.0 s)"),
        "{text}"
    );
    assert!(text.contains("simulated until"), "{text}");
}

#[test]
fn latency_summaries_carry_their_count_and_print_na_when_empty() {
    // Every request fails fast: the only thread is busy and there is no queue.
    let dir = scratch("latency-count");
    let m = model_file(
        &dir,
        "m.ron",
        r#"Topology(duration: "5s", warmup: "1s",
            workloads: {"w": Open(rate: "50/s", to: "s", timeout: "10ms")},
            components: {"s": Service(threads: 1, cpus: 1, cpu: Const("1s"))})"#,
    );
    let out = cli(&["run", &m, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["end_to_end"]["latency_s"]["count"], 0);
    assert_eq!(v["end_to_end"]["latency_s"]["p99"], 0.0);
    assert!(
        v["end_to_end"]["error_latency_s"]["count"]
            .as_u64()
            .unwrap()
            > 100
    );
    let text = stdout(&cli(&["run", &m]));
    assert!(text.contains("n/a (no request succeeded)"), "{text}");
    assert!(!text.contains("p50 0 "), "{text}");
    // An SLO latency target with no success to judge says so instead of printing 0.
    let out = cli(&["run", &m, "--set", "slo=Slo(p99: \"100ms\")"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("p99 n/a, nothing to judge against 100.00 ms"),
        "{text}"
    );
}

#[test]
fn report_schema_says_empty_latencies_mean_nothing() {
    let schema = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/report.schema.json"
    ))
    .unwrap();
    assert!(schema.contains("When `count` is 0 nothing was measured"));
}
