//! A run without an SLO can still fail: unstable, no request completed, nothing arrived. Each
//! failure names its reason, exits 1 (as a missed SLO does), and `--no-fail` prints the
//! verdict but exits 0. An SLO is not met by a run in which nothing finished.

use crate::common::{cli, load, model_file, run, scratch, stdout};

fn verdict(out: &std::process::Output) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["verdict"].clone()
}

#[test]
fn unstable_run_without_slo_fails_with_its_reason() {
    let dir = scratch("verdict-unstable");
    let m = model_file(
        &dir,
        "m.ron",
        r#"Topology(duration: "20s", warmup: "2s",
            workloads: {"w": Open(rate: "2000/s", to: "s")},
            components: {"s": Service(cpu: Exp(mean: "1ms"))})"#,
    );
    let out = cli(&["run", &m, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = verdict(&out);
    assert_eq!(v["pass"], false);
    let reasons: Vec<String> = serde_json::from_value(v["reasons"].clone()).unwrap();
    assert!(
        reasons.iter().any(|r| r.starts_with("unstable:")),
        "{reasons:?}"
    );
    // The text prints the verdict line and its reasons.
    let out = cli(&["run", &m]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("Verdict: FAIL\n  unstable: "), "{text}");
}

#[test]
fn no_request_completed_fails_even_without_slo() {
    // Every request times out: 1 s of work, a 100 ms client timeout.
    let dir = scratch("verdict-none-completed");
    let m = model_file(
        &dir,
        "m.ron",
        r#"Topology(duration: "10s", warmup: "1s",
            workloads: {"w": Open(rate: "5/s", to: "s", timeout: "100ms")},
            components: {"s": Service(threads: 100, cpus: 100, cpu: Const("1s"))})"#,
    );
    let out = cli(&["run", &m, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let reasons = verdict(&out)["reasons"].to_string();
    assert!(reasons.contains("no request completed"), "{reasons}");
}

#[test]
fn nothing_arrived_fails_even_without_slo() {
    // One request a day: none arrives in 10 s (fixed seed, so always none).
    let dir = scratch("verdict-nothing");
    let m = model_file(
        &dir,
        "m.ron",
        r#"Topology(duration: "10s", warmup: "1s", seed: 1,
            workloads: {"w": Open(rate: "1/d", to: "s")},
            components: {"s": Service(cpu: Exp(mean: "1ms"))})"#,
    );
    let out = cli(&["run", &m, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let reasons = verdict(&out)["reasons"].to_string();
    assert!(reasons.contains("nothing arrived"), "{reasons}");
    // And the text says "n/a" for latencies that were never measured.
    let text = stdout(&cli(&["run", &m]));
    assert!(text.contains("latency     n/a"), "{text}");
}

#[test]
fn no_fail_prints_the_failed_verdict_and_exits_0() {
    let out = cli(&[
        "run",
        "models/quickstart.ron",
        "--duration",
        "5s",
        "--set",
        "warmup=\"1s\"",
        "--set",
        "slo.p99=\"1ms\"",
        "--no-fail",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(
        text.contains("Verdict: FAIL (--no-fail: exit 0)\n  SLO missed: p99"),
        "{text}"
    );
}

#[test]
fn passing_run_says_so_in_text_and_json() {
    let args = [
        "run",
        "models/mm1.ron",
        "--duration",
        "10s",
        "--set",
        "warmup=\"1s\"",
    ];
    let out = cli(&args);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("Verdict: PASS"));
    let out = cli(&[&args[..], &["--json"]].concat());
    let v = verdict(&out);
    assert_eq!(v["pass"], true);
    assert_eq!(v["reasons"], serde_json::json!([]));
}

#[test]
fn every_request_censored_fails_even_without_slo() {
    // 10 s of work per request and a 1 ms drain: every counted request is still running.
    let dir = scratch("verdict-censored");
    let m = model_file(
        &dir,
        "m.ron",
        r#"Topology(duration: "5s", warmup: "1s", limits: Limits(drain: "1ms"),
            workloads: {"w": Open(rate: "5/s", to: "s")},
            components: {"s": Service(threads: 1000, cpus: 1000, cpu: Const("10s"))})"#,
    );
    let out = cli(&["run", &m, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let reasons = verdict(&out)["reasons"].to_string();
    assert!(reasons.contains("no request completed"), "{reasons}");
    assert!(reasons.contains("censored"), "{reasons}");
}

/// With every counted request censored (none finished), the SLO is not met (the p99 of an
/// empty histogram is 0 and the error rate 0/0 is reported as 0, which would pass).
#[test]
fn the_slo_is_not_met_when_nothing_finished() {
    let topo = load(
        r#"Topology(duration: "10s", warmup: "0s", limits: Limits(drain: "1s"),
            workloads: {"w": Open(rate: "10/s", to: "s")},
            components: {"s": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("1h"))},
            slo: Slo(p99: "100ms", error_rate: 0.001))"#,
    );
    let r = run(&topo, 0);
    assert_eq!(r.end_to_end.completed + r.end_to_end.errors, 0);
    assert!(r.end_to_end.censored > 0);
    let slo = r.slo.expect("the model has targets");
    assert!(
        !slo.pass,
        "SLO passes although not one of {} requests finished: {:?}",
        r.end_to_end.offered, slo.targets
    );
}
