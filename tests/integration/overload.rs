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
