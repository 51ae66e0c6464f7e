//! Issue 11: two thread-pool services that call each other fill both pools with calls
//! waiting on answers that queue for those same threads. The run names the deadlock and its
//! components, the verdict fails with it (not with "arrivals exceed capacity"), and
//! validation warns of the cycle. A timeout on the calls breaks the cycle, and async servers
//! keep no thread while they wait: neither is reported.

use flashcrowd::engine::SimTime;
use flashcrowd::simulation::{RunOptions, Simulation};

use crate::common::{cli, errors_of, load, model_file, run, scratch, stderr, stdout};

/// `a` calls `b`, which calls `a` back half the time; one thread each, 1 ms of work, a
/// request every 100 ms. A request either finishes in 2 ms, long before the next arrives, or
/// its call back to `a` queues behind the thread its own request holds: a deadlock. Each
/// request escapes with probability 1/2, so all of the 200 of a 20 s run escape with
/// probability 2⁻²⁰⁰, and the first 50 (by 5 s) with 2⁻⁵⁰.
fn ping_pong(server: &str, timeout: &str, via: &str) -> String {
    format!(
        r#"Topology(duration: "20s", warmup: "1s",
            workloads: {{"users": Open(rate: "10/s", arrivals: Deterministic, to: "a")}},
            components: {{
                "a": Service(threads: 1, server: {server}, cpu: Const("1ms"), calls: [Call(to: "{via}"{timeout})]),
                "lb": LoadBalancer(backends: ["b"]),
                "b": Service(threads: 1, server: {server}, cpu: Const("1ms"), calls: [Call(to: "a", probability: 0.5{timeout})]),
            }})"#
    )
}

#[test]
fn two_thread_pool_services_calling_each_other_deadlock_and_are_named() {
    let topo = load(&ping_pong("ThreadPool", "", "b"));
    let mut sim = Simulation::new(&topo, RunOptions::default());
    sim.step(SimTime::from_secs_f64(5.0), u64::MAX);
    sim.check_invariants().unwrap();
    // A snapshot finds it while the run goes on.
    let live = sim.snapshot().report;
    assert_eq!(live.deadlocked.len(), 1, "{:?}", live.deadlocked);
    assert_eq!(live.deadlocked[0].cycle, ["a", "b"]);
    let r = sim.run();
    assert_eq!(r.deadlocked.len(), 1, "{:?}", r.deadlocked);
    let d = &r.deadlocked[0];
    assert_eq!(d.cycle, ["a", "b"]);
    assert!(d.also.is_empty(), "{:?}", d.also);
    // At least a's thread holder, b's and b's call queued at a; every later request queues.
    assert!(d.stuck_calls >= 3 + r.end_to_end.censored, "{d:?}");
    assert!(
        d.note.starts_with(
            "deadlocked: `a` → `b` → `a`: every thread of `a` (1) waits on `b`, every thread of `b` (1) waits on `a`;"
        ),
        "{}",
        d.note
    );
    assert!(d.note.contains("`timeout`"), "{}", d.note);
    // The verdict fails with it, and no note blames the arrivals.
    assert!(!r.verdict.pass);
    assert!(
        r.verdict.reasons.contains(&d.note),
        "{:?}",
        r.verdict.reasons
    );
    assert!(
        r.verdict
            .reasons
            .iter()
            .all(|n| !n.contains("arrivals exceed capacity")),
        "{:?}",
        r.verdict.reasons
    );
}

#[test]
fn a_deadlock_through_a_load_balancer_names_every_component_of_the_cycle() {
    let r = run(&load(&ping_pong("ThreadPool", "", "lb")), 0);
    assert_eq!(r.deadlocked.len(), 1, "{:?}", r.deadlocked);
    assert_eq!(r.deadlocked[0].cycle, ["a", "lb", "b"]);
    assert!(
        r.deadlocked[0]
            .note
            .contains("`a` → `lb` → `b` → `a`: every thread of `a` (1) waits on `lb`, the calls of `lb` wait on `b`, every thread of `b` (1) waits on `a`"),
        "{}",
        r.deadlocked[0].note
    );
}

#[test]
fn a_timeout_on_the_calls_breaks_the_deadlock() {
    let r = run(
        &load(&ping_pong("ThreadPool", r#", timeout: "50ms""#, "b")),
        0,
    );
    assert!(r.deadlocked.is_empty(), "{:?}", r.deadlocked);
    // The cycles formed (see `ping_pong`) and their timeouts broke them.
    assert!(errors_of(&r, "timeout") > 0, "{:?}", r.end_to_end);
    assert_eq!(r.end_to_end.censored, 0);
    assert!(r.verdict.reasons.iter().all(|n| !n.contains("deadlocked")));
}

#[test]
fn async_servers_keep_no_thread_while_waiting_and_do_not_deadlock() {
    let r = run(&load(&ping_pong("Async", "", "b")), 0);
    assert!(r.deadlocked.is_empty(), "{:?}", r.deadlocked);
    assert_eq!(r.end_to_end.censored, 0);
    assert!(r.end_to_end.completed > 0);
}

/// The issue's case: eight threads each, 500 requests a second.
const ISSUE_CASE: &str = r#"Topology(duration: "20s", warmup: "2s",
    workloads: { "users": Open(rate: "500/s", to: "a") },
    components: {
        "a": Service(threads: 8, cpu: Exp(mean: "1ms"), calls: [Call(to: "b")]),
        "b": Service(threads: 8, cpu: Exp(mean: "1ms"), calls: [Call(to: "a", probability: 0.5)]),
    },
)"#;

#[test]
fn the_cli_fails_a_deadlocked_run_with_its_reason_and_exit_code_1() {
    let dir = scratch("deadlock-cli");
    let m = model_file(&dir, "cycle.ron", ISSUE_CASE);
    let out = cli(&["run", &m, "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["deadlocked"][0]["cycle"], serde_json::json!(["a", "b"]));
    let reasons: Vec<String> = serde_json::from_value(v["verdict"]["reasons"].clone()).unwrap();
    assert!(
        reasons.iter().any(|r| r.starts_with(
            "deadlocked: `a` → `b` → `a`: every thread of `a` (8) waits on `b`, every thread of `b` (8) waits on `a`"
        )),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .all(|r| !r.contains("arrivals exceed capacity")),
        "{reasons:?}"
    );
    let out = cli(&["run", &m, "--no-progress"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("\n  deadlocked: `a` → `b` → `a`"));
}

#[test]
fn validation_warns_of_a_cycle_of_waiting_thread_pool_calls() {
    let dir = scratch("deadlock-validate");
    let m = model_file(&dir, "cycle.ron", ISSUE_CASE);
    let out = cli(&["validate", &m]);
    assert_eq!(out.status.code(), Some(0), "a warning, not an error");
    let err = stderr(&out);
    assert!(
        err.contains("warning: the call cycle `a` → `b` → `a` can deadlock under load"),
        "{err}"
    );
    assert!(
        err.contains("hint: give a call in the cycle a `timeout`"),
        "{err}"
    );
    // One timeout in the cycle, or async servers throughout, and there is no risk.
    for safe in [
        ISSUE_CASE.replace(r#"Call(to: "b")"#, r#"Call(to: "b", timeout: "1s")"#),
        ISSUE_CASE.replace("threads: 8,", "threads: 8, server: Async,"),
    ] {
        let m = model_file(&dir, "safe.ron", &safe);
        let out = cli(&["validate", &m]);
        assert_eq!(out.status.code(), Some(0));
        assert!(!stderr(&out).contains("can deadlock"), "{}", stderr(&out));
    }
}
