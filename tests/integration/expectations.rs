//! Models' `expect` sections: every bundled model meets what its `look_for` promises, and an
//! expectation that does not hold is reported as such, failing the verdict only when asked.

use std::path::{Path, PathBuf};
use std::process::Command;

use flashcrowd::simulation::{self, RunOptions, Simulation};
use flashcrowd::topology;

use crate::common;

/// models/*.ron (not the benchmark models), sorted.
fn bundled_models() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "ron"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_bundled_model_meets_the_expectations_its_look_for_promises() {
    let files = bundled_models();
    assert!(files.len() >= 9, "{files:?}");
    // The models run as written (full length), two at a time.
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(files.len().div_ceil(2))
            .map(|chunk| {
                s.spawn(move || {
                    let mut failures = Vec::new();
                    for f in chunk {
                        let topo = topology::load_file(f, &[])
                            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
                        let problems = simulation::check_expectations(&topo);
                        assert!(problems.is_empty(), "{}: {problems:?}", f.display());
                        assert!(
                            !topo.expectations.is_empty(),
                            "{} states no expectations",
                            f.display()
                        );
                        let r = Simulation::new(&topo, RunOptions::default()).run();
                        assert_eq!(r.expectations.len(), topo.expectations.len());
                        for e in r.expectations.iter().filter(|e| !e.holds) {
                            failures.push(format!(
                                "{}: {} = {} ({}), expected {}{}",
                                f.display(),
                                e.metric,
                                e.actual,
                                e.unit,
                                e.comparison,
                                e.note
                                    .as_ref()
                                    .map(|n| format!(": {n}"))
                                    .unwrap_or_default()
                            ));
                        }
                    }
                    failures
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// An M/M/1 at ρ = 0.5 (mean sojourn 2 ms) with one true and one false expectation.
const MODEL: &str = r#"Topology(
    name: "expectations",
    duration: "20s", warmup: "2s", seed: 5,
    workloads: { "arrivals": Open(rate: "500/s", to: "server") },
    components: { "server": Service(threads: 1, cpus: 1, cpu: Exp(mean: "1ms")) },
    expect: [
        Expect(metric: "components.server.cpu_utilization", near: 0.5, within: 0.03,
            why: "ρ = λ/μ"),
        Expect(metric: "end_to_end.latency_s.mean", below: "1ms",
            why: "deliberately false: the mean sojourn is 1/(μ − λ) = 2 ms"),
    ],
)
"#;

fn model_file(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fc-expect-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("model.ron");
    std::fs::write(&file, MODEL).unwrap();
    file
}

fn flashcrowd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_flashcrowd"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_false_expectation_is_reported_as_not_holding() {
    let r = common::run(&common::load(MODEL), 0);
    assert_eq!(r.expectations.len(), 2);
    let (held, broken) = (&r.expectations[0], &r.expectations[1]);
    assert!(held.holds, "{held:?}");
    assert_eq!(held.unit, "number");
    assert_eq!(held.low, Some(0.47));
    assert_eq!(held.high, Some(0.53));
    assert!(!broken.holds, "{broken:?}");
    assert_eq!(broken.unit, "s");
    assert_eq!(broken.comparison, "below: \"1ms\"");
    assert_eq!(broken.high, Some(0.001));
    let actual = broken.actual.as_f64().unwrap();
    assert!((0.0015..0.0025).contains(&actual), "{actual}");
    assert!(broken.why.contains("deliberately false"));
    // Reported only: the verdict does not depend on them unless asked.
    assert!(r.verdict.pass, "{:?}", r.verdict);
}

#[test]
fn unmet_expectations_fail_the_run_only_under_check_expect() {
    let file = model_file("cli");
    let path = file.to_str().unwrap();

    let plain = flashcrowd(&["run", path, "--no-progress"]);
    let text = String::from_utf8_lossy(&plain.stdout);
    assert_eq!(plain.status.code(), Some(0), "{text}");
    assert!(text.contains("Expectations (1 of 2 hold)"), "{text}");
    assert!(
        text.contains("✓ components.server.cpu_utilization"),
        "{text}"
    );
    assert!(text.contains("✗ end_to_end.latency_s.mean"), "{text}");
    assert!(text.contains("expected below: \"1ms\""), "{text}");
    assert!(text.contains("1 not met: reported only"), "{text}");

    let checked = flashcrowd(&["run", path, "--no-progress", "--check-expect"]);
    let text = String::from_utf8_lossy(&checked.stdout);
    assert_eq!(checked.status.code(), Some(1), "{text}");
    assert!(text.contains("Verdict: FAIL"), "{text}");
    assert!(
        text.contains("expectations not met: 1 of 2: `end_to_end.latency_s.mean`"),
        "{text}"
    );

    let json = flashcrowd(&["run", path, "--json", "--check-expect"]);
    assert_eq!(json.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let list = v["expectations"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[1]["metric"], "end_to_end.latency_s.mean");
    assert_eq!(list[1]["holds"], false);
    assert_eq!(v["verdict"]["pass"], false);
    assert!(
        v["provenance"]["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "--check-expect")
    );

    // --no-fail still wins over the failed verdict.
    let no_fail = flashcrowd(&["run", path, "--no-progress", "--check-expect", "--no-fail"]);
    assert_eq!(no_fail.status.code(), Some(0));
    std::fs::remove_dir_all(file.parent().unwrap()).ok();
}

#[test]
fn expectations_say_they_describe_the_model_as_written_when_set_changes_it() {
    let file = model_file("set");
    let out = flashcrowd(&[
        "run",
        file.to_str().unwrap(),
        "--no-progress",
        "--set",
        "workloads.arrivals.rate=800/s",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(
            "written for the model as given, not as changed by --set workloads.arrivals.rate=800/s"
        ),
        "{text}"
    );
    assert!(text.contains("Expectations (0 of 2 hold)"), "{text}");
    std::fs::remove_dir_all(file.parent().unwrap()).ok();
}

#[test]
fn a_figure_nothing_measured_is_not_judged_as_zero() {
    // Every request times out, so no latency was measured: `below` must not hold on the
    // summary's placeholder 0; a cause that never happened counts 0.
    let topo = common::load(
        r#"Topology(
    duration: "5s", warmup: "1s",
    workloads: { "users": Open(rate: "100/s", to: "web", timeout: "1ms") },
    components: { "web": Service(threads: 64, cpu: Const("10ms")) },
    expect: [
        Expect(metric: "end_to_end.latency_s.p99", below: "1s"),
        Expect(metric: "end_to_end.errors_by_cause.queue_full", equals: 0),
        Expect(metric: "end_to_end.errors_by_cause.timeout", above: 300),
    ],
)"#,
    );
    let r = common::run(&topo, 0);
    let e = &r.expectations;
    assert!(!e[0].holds, "{:?}", e[0]);
    assert!(e[0].actual.is_null());
    assert!(
        e[0].note.as_deref().unwrap_or("").contains("not measured"),
        "{:?}",
        e[0]
    );
    assert!(e[1].holds, "{:?}", e[1]);
    assert!(e[2].holds, "{:?}", e[2]);
}

#[test]
fn a_metric_a_report_of_the_model_cannot_hold_is_refused_with_a_suggestion() {
    let topo = common::load(
        r#"Topology(
    workloads: { "users": Open(rate: "100/s", to: "web.v2") },
    components: { "web.v2": Service(threads: 4, cpu: Exp(mean: "2ms")) },
    expect: [
        Expect(metric: "components.\"web.v2\".cpu_utilization", below: 0.5),
        Expect(metric: "components.\"web.v2\".thread_ocupancy", below: 0.5),
    ],
)"#,
    );
    let problems = simulation::check_expectations(&topo);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].path.as_deref(), Some("expect.1.metric"));
    assert_eq!(
        problems[0].hint.as_deref(),
        Some("did you mean `thread_occupancy`?")
    );
}

#[test]
fn an_instance_the_models_events_add_can_be_named() {
    let topo = common::load(
        r#"Topology(
    duration: "4s", warmup: "1s",
    workloads: { "users": Open(rate: "200/s", to: "web") },
    components: { "web": Service(replicas: 2, threads: 4, cpu: Exp(mean: "2ms")) },
    events: [("2s", Replicas(component: "web", count: 3))],
    expect: [
        Expect(metric: "components.web.per_replica.2.arrivals", above: 0),
        Expect(metric: "components.web.per_replica.3.arrivals", above: 0),
    ],
)"#,
    );
    let problems = simulation::check_expectations(&topo);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0]
            .message
            .contains("`3` is not an instance of `web`, which has at most 3"),
        "{problems:?}"
    );
    let r = common::run(&topo, 0);
    assert!(r.expectations[0].holds, "{:?}", r.expectations[0]);
}
