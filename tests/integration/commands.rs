//! The command API: changing a running simulation between steps.

use flashcrowd::components::Command;
use flashcrowd::engine::{SimTime, StepOutcome};
use flashcrowd::simulation::{RunOptions, Simulation};

use crate::common::{errors_of, load};

const MODEL: &str = r#"Topology(duration: "20s", warmup: "0s",
    workloads: {"users": Open(rate: "400/s", to: "lb")},
    components: {
        "lb": LoadBalancer(backends: ["web"]),
        "web": Service(replicas: 2, threads: 8, cpu: Exp(mean: "2ms")),
    })"#;

#[test]
fn killing_an_instance_fails_its_work_and_revive_restores_it() {
    let topo = load(MODEL);
    let mut sim = Simulation::new(&topo, RunOptions::default());
    let web = sim.node_id("web").unwrap();
    assert_eq!(
        sim.step(SimTime::from_secs_f64(5.0), u64::MAX),
        StepOutcome::TimeLimit
    );
    sim.command(Command::KillInstance {
        node: web,
        replica: 1,
    })
    .unwrap();
    sim.step(SimTime::from_secs_f64(10.0), u64::MAX);
    sim.command(Command::ReviveInstance {
        node: web,
        replica: 1,
    })
    .unwrap();
    while sim.step(SimTime::MAX, 10_000) != StepOutcome::Idle {}
    let r = sim.finish();
    let down = errors_of(&r, "instance_down");
    // Round robin sends every other request to replica 1 for the 5 s it is down: ≈ 1000.
    assert!((800..1200).contains(&down), "instance_down errors: {down}");
    assert_eq!(r.end_to_end.errors, down);
}

#[test]
fn traffic_scale_changes_the_rate_at_once() {
    let topo = load(MODEL);
    let mut sim = Simulation::new(&topo, RunOptions::default());
    let users = sim.node_id("users").unwrap();
    sim.step(SimTime::from_secs_f64(10.0), u64::MAX);
    sim.command(Command::SetTrafficScale {
        node: users,
        scale: 2.0,
    })
    .unwrap();
    while sim.step(SimTime::MAX, u64::MAX) != StepOutcome::Idle {}
    let r = sim.finish();
    // 10 s at 400/s and 10 s at 800/s: 12 000 expected, Poisson sd ≈ 110.
    let n = r.end_to_end.offered as f64;
    assert!((n - 12_000.0).abs() < 4.0 * 12_000f64.sqrt(), "offered {n}");
    let web = sim_node_err();
    assert!(web.is_err());
}

fn sim_node_err() -> Result<(), flashcrowd::components::world::CommandError> {
    let topo = load(MODEL);
    let mut sim = Simulation::new(&topo, RunOptions::default());
    let users = sim.node_id("users").unwrap();
    // A workload has no instances to kill.
    sim.command(Command::KillInstance {
        node: users,
        replica: 0,
    })
}

#[test]
fn stepping_by_budget_matches_running_through() {
    let topo = load(MODEL);
    let whole = Simulation::new(&topo, RunOptions::default()).run();
    let mut sim = Simulation::new(&topo, RunOptions::default());
    let mut calls = 0;
    while sim.step(SimTime::MAX, 997) != StepOutcome::Idle {
        calls += 1;
    }
    let stepped = sim.finish();
    assert!(calls > 10);
    assert_eq!(whole.events, stepped.events);
    assert_eq!(
        serde_json::to_string(&whole.components).unwrap(),
        serde_json::to_string(&stepped.components).unwrap()
    );
}

/// The traffic multiplier scales a shaped profile's absolute rates too: a step from 200/s to
/// 600/s at 10 s, doubled from the start, offers 2 × (10 s × 200 + 10 s × 600) = 16 000.
#[test]
fn traffic_scale_multiplies_a_shaped_profile() {
    let topo = load(
        r#"Topology(duration: "20s", warmup: "0s",
            workloads: {"users": Open(rate: "200/s", to: "s", profile: Step(at: "10s", to: "600/s"))},
            components: {"s": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("1ms"))})"#,
    );
    let mut sim = Simulation::new(&topo, RunOptions::default());
    let users = sim.node_id("users").unwrap();
    sim.command(Command::SetTrafficScale {
        node: users,
        scale: 2.0,
    })
    .unwrap();
    while sim.step(SimTime::MAX, u64::MAX) != StepOutcome::Idle {}
    let n = sim.finish().end_to_end.offered as f64;
    // Poisson: sd = √16 000 ≈ 126.
    assert!((n - 16_000.0).abs() < 4.0 * 16_000f64.sqrt(), "offered {n}");
}
