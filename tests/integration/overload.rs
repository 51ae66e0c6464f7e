//! Overload never eats memory: the in-flight cap turns it into counted rejections, and the
//! report says the run is unstable; a stable run says nothing of the kind.

use crate::common::{errors_of, load, run};

#[test]
fn in_flight_cap_rejects_and_flags_unstable() {
    let topo = load(
        r#"Topology(duration: "30s", warmup: "1s", limits: Limits(max_in_flight: 500, drain: "1s"),
            workloads: {"w": Open(rate: "2000/s", to: "s")},
            components: {"s": Service(cpu: Exp(mean: "1ms"))})"#,
    );
    let r = run(&topo, 0);
    let overload = errors_of(&r, "overload");
    // Capacity 1000/s of 2000/s offered: about half are refused.
    let frac = overload as f64 / r.end_to_end.offered as f64;
    assert!((frac - 0.5).abs() < 0.05, "overload fraction {frac}");
    assert!(
        r.unstable.iter().any(|n| n.contains("max_in_flight")),
        "{:?}",
        r.unstable
    );
}

#[test]
fn growing_queue_is_reported_unstable() {
    let topo = load(
        r#"Topology(duration: "60s", warmup: "5s", limits: Limits(drain: "1s"),
            workloads: {"w": Open(rate: "1200/s", to: "s")},
            components: {"s": Service(cpu: Exp(mean: "1ms"))})"#,
    );
    let r = run(&topo, 0);
    assert!(
        r.unstable
            .iter()
            .any(|n| n.starts_with("unstable: calls in flight at `s` grew")),
        "{:?}",
        r.unstable
    );
    assert!(r.end_to_end.censored > 0);
    assert!(r.unstable.iter().any(|n| n.starts_with("censored")));
}

#[test]
fn stable_run_is_not_flagged() {
    let topo = load(
        r#"Topology(duration: "60s", warmup: "5s",
            workloads: {"w": Open(rate: "800/s", to: "s")},
            components: {"s": Service(cpu: Exp(mean: "1ms"))})"#,
    );
    let r = run(&topo, 0);
    assert!(r.unstable.is_empty(), "{:?}", r.unstable);
    assert_eq!(r.end_to_end.censored, 0);
    // The run ends with its last request, not at the next series tick.
    assert!(r.end_s - r.sim_duration_s < 0.2, "ended at {}", r.end_s);
}

/// The overload note names the cap that was hit (not the number of calls still in flight
/// when the run ended, often 0).
#[test]
fn the_overload_note_names_the_cap() {
    let topo = load(
        r#"Topology(duration: "30s", warmup: "1s", limits: Limits(max_in_flight: 500, drain: "10m"),
            workloads: {"w": Open(rate: "2000/s", to: "s")},
            components: {"s": Service(cpu: Exp(mean: "1ms"))})"#,
    );
    let r = run(&topo, 0);
    let note = r
        .unstable
        .iter()
        .find(|n| n.contains("max_in_flight"))
        .expect("overload note");
    assert!(note.contains("because 500 calls"), "{note}");
}

#[test]
fn calls_that_multiply_are_capped_like_requests() {
    // Each call makes two more with probability 0.99 (down to limits.max_hops): a request
    // would make billions of calls. Every call alive counts against the cap, so the run
    // stays within it, refuses the excess with `overload`, and ends.
    let topo = load(
        r#"Topology(duration: "2s", warmup: "0s", limits: Limits(max_in_flight: 20000, drain: "5s"),
            workloads: {"w": Open(rate: "50/s", to: "s")},
            components: {"s": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("1ms"), call_mode: Parallel,
                calls: [Call(to: "s", probability: 0.99), Call(to: "s", probability: 0.99)])})"#,
    );
    let mut sim = flashcrowd::simulation::Simulation::new(&topo, Default::default());
    let mut most = 0;
    while sim.step(flashcrowd::engine::SimTime::MAX, 10_000)
        != flashcrowd::engine::StepOutcome::Idle
    {
        most = most.max(sim.calls_in_flight());
    }
    let r = sim.finish();
    // The cap holds (a step may make one more round of calls before it is checked again).
    assert!(most <= 20_000 + 2, "{most} calls alive");
    assert!(
        errors_of(&r, "overload") > 0,
        "{:?}",
        r.end_to_end.errors_by_cause
    );
    assert!(
        r.unstable.iter().any(|n| n.contains("max_in_flight")),
        "{:?}",
        r.unstable
    );
}
