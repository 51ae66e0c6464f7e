//! A request budget (`requests: N`) ends the counting window just after the N-th counted
//! arrival: what finishes at that instant is outside the window, and the drain is measured
//! from there.

use crate::common::{load, run};

/// `requests: N` ends the window just after the N-th counted arrival (t + 1 ns). A success at
/// exactly t + 1 ns lies outside [warmup, t + 1 ns) and does not count as a departure, even
/// when its event runs before the window's closing edge at that instant.
#[test]
fn a_success_at_the_budget_window_end_is_not_a_departure() {
    // Arrivals every 1 ms from 1 ms; constant work 1 ms + 1 ns, so arrival k finishes at
    // (k + 1) ms + 1 ns. The 10th arrival is at 10 ms: the window is [0, 10 ms + 1 ns) and
    // holds the completions of arrivals 1..=8; arrival 9 finishes exactly at its end.
    let topo = load(
        r#"Topology(duration: "1s", warmup: "0s", requests: 10,
            workloads: {"w": Open(rate: "1000/s", to: "s", arrivals: Deterministic)},
            components: {"s": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("1000001ns"))})"#,
    );
    let r = run(&topo, 0);
    assert_eq!(r.sim_duration_s, 0.010000001);
    let len = r.sim_duration_s - r.warmup_s;
    let departures = |x: f64| (x * len).round() as u64;
    assert_eq!(departures(r.components["s"].throughput_per_s), 8);
    assert_eq!(departures(r.end_to_end.throughput_per_s), 8);
}

/// `requests: N` ends the counting window at the N-th counted arrival; the drain is then
/// bounded by `limits.drain` from there, not from the model's original `duration`.
#[test]
fn the_drain_after_a_request_budget_counts_from_the_window_end() {
    let topo = load(
        r#"Topology(duration: "1000s", warmup: "0s", requests: 5, limits: Limits(drain: "1s"),
            workloads: {"w": Open(rate: "10/s", to: "s", arrivals: Deterministic)},
            components: {"s": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("1h"))})"#,
    );
    let r = run(&topo, 0);
    assert_eq!(r.end_to_end.offered, 5);
    assert!(r.sim_duration_s < 0.6, "window end {}", r.sim_duration_s);
    assert!(
        r.end_s <= r.sim_duration_s + 1.0 + 1e-6,
        "the run drained until {} s, {} s after the window ended (limits.drain = 1 s)",
        r.end_s,
        r.end_s - r.sim_duration_s
    );
}
