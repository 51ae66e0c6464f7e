//! Same model and seed ⇒ the same bytes; another seed ⇒ another run; an unrelated component
//! leaves everyone else's draws alone (streams are derived from names, not ids).

use flashcrowd::metrics::Report;

use crate::common::{load, run};

fn json(mut r: Report) -> String {
    r.wall_s = 0.0;
    serde_json::to_string(&r).unwrap()
}

const MODEL: &str = r#"Topology(duration: "20s", warmup: "2s", seed: 7,
    workloads: {"users": Open(rate: "800/s", to: "lb", mix: {"read": 0.9, "write": 0.1}, keys: Zipf(n: 1000, s: 0.9), sessions: 100)},
    components: {
        "lb": LoadBalancer(policy: PowerOfTwo, backends: ["web"]),
        "web": Service(replicas: 3, threads: 4, cpu: Exp(mean: "2ms"), calls: [Call(to: "db", probability: 0.5)]),
        "db": Service(threads: 8, cpus: 2, cpu: Exp(mean: "1ms")),
    })"#;

#[test]
fn same_seed_same_bytes_other_seed_differs() {
    let topo = load(MODEL);
    let a = json(run(&topo, 0));
    let b = json(run(&topo, 0));
    assert_eq!(a, b);
    let mut other = topo.clone();
    other.seed = 8;
    assert_ne!(a, json(run(&other, 0)));
    assert_ne!(a, json(run(&topo, 1)), "replications must differ");
}

#[test]
fn an_unrelated_component_does_not_change_the_others() {
    let base = run(&load(MODEL), 0);
    // Insert a workload and a service whose names sort before and between the others.
    let extended = MODEL
        .replace(
            r#"workloads: {"#,
            r#"workloads: {"aaa": Open(rate: "300/s", to: "cache"), "#,
        )
        .replace(
            r#"components: {"#,
            r#"components: { "cache": Service(cpu: Exp(mean: "1ms")),"#,
        );
    let ext = run(&load(&extended), 0);
    assert!(ext.components.contains_key("cache"));
    for name in ["lb", "web", "db"] {
        assert_eq!(
            serde_json::to_string(&base.components[name]).unwrap(),
            serde_json::to_string(&ext.components[name]).unwrap(),
            "{name} changed"
        );
    }
    assert_eq!(
        serde_json::to_string(&base.workloads["users"]).unwrap(),
        serde_json::to_string(&ext.workloads["users"]).unwrap()
    );
}
