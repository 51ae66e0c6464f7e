//! Live snapshots: a view of a running simulation that changes nothing, and that equals the
//! final report once the run is over.

use flashcrowd::engine::{SimTime, StepOutcome};
use flashcrowd::metrics::Report;
use flashcrowd::simulation::{RunOptions, Simulation};

use crate::common::load;

const MODEL: &str = r#"Topology(duration: "30s", warmup: "3s", seed: 13,
    workloads: {"users": Open(rate: "800/s", to: "gw", mix: {"read": 0.7, "write": 0.3}, timeout: "300ms")},
    components: {
        "gw": Router(routes: [Route(classes: ["write"], to: "writer")], default: "lb"),
        "lb": LoadBalancer(backends: ["web"], policy: LeastConn),
        "web": Service(replicas: 3, threads: 4, cpus: 2, cpu: Exp(mean: "3ms"), calls: [Call(to: "db")]),
        "writer": Service(threads: 8, cpus: 2, cpu: Exp(mean: "2ms"), calls: [Call(to: "db")]),
        "db": Service(threads: 16, cpus: 4, cpu: LogNormal(median: "2ms", p99: "30ms")),
    },
    events: [("10s", Kill(component: "web", instance: 2)), ("20s", Revive(component: "web", instance: 2))])"#;

/// The report's JSON without what differs between identical runs or is not in snapshots.
fn json(r: &Report) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("wall_s");
    o.remove("series");
    v
}

#[test]
fn snapshots_taken_every_few_events_change_nothing() {
    let topo = load(MODEL);
    let straight = Simulation::new(&topo, RunOptions::default()).run();
    let mut sim = Simulation::new(&topo, RunOptions::default());
    let mut taken = 0;
    while sim.step(SimTime::MAX, 97) != StepOutcome::Idle {
        let s = sim.snapshot();
        assert!(!s.finished);
        taken += 1;
    }
    let stepped = sim.finish();
    assert!(taken > 1000, "{taken} snapshots");
    assert_eq!(json(&stepped), json(&straight));
}

#[test]
fn a_snapshot_at_the_end_equals_the_final_report() {
    let topo = load(MODEL);
    let mut sim = Simulation::new(&topo, RunOptions::default());
    let mut mid = None;
    while sim.step(SimTime::MAX, 50_000) != StepOutcome::Idle {
        if mid.is_none() && sim.now() > SimTime::from_secs_f64(15.0) {
            mid = Some(sim.snapshot());
        }
    }
    let mid = mid.expect("a snapshot mid-run");
    // Mid-run: the figures so far, the latest window of each node, nothing censored yet.
    assert!(mid.now_s > 15.0 && mid.now_s < 30.0);
    assert!(mid.report.end_to_end.offered > 0);
    assert_eq!(mid.report.end_to_end.censored, 0);
    assert!(mid.latest.contains_key("db") && mid.latest.contains_key("users"));
    let end = sim.snapshot();
    assert!(end.finished);
    let report = sim.finish();
    assert_eq!(json(&end.report), json(&report));
    assert!(report.end_to_end.errors > 0, "the kill made errors");
}

#[test]
fn a_snapshot_is_plain_data_that_round_trips_through_json() {
    let topo = load(MODEL);
    let mut sim = Simulation::new(&topo, RunOptions::default());
    sim.step(SimTime::from_secs_f64(12.0), u64::MAX);
    let s = sim.snapshot();
    let text = serde_json::to_string(&s).unwrap();
    let back: flashcrowd::simulation::Snapshot = serde_json::from_str(&text).unwrap();
    assert!(
        serde_json::to_string(&back).unwrap() == text,
        "the snapshot changed through JSON"
    );
    assert_eq!(back.report.events_applied.len(), 1, "the kill at 10 s");
}
