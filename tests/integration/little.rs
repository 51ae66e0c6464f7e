//! Little's law as an exact sample-path identity: for every component and end to end,
//! (time-averaged calls in flight) = (arrival rate) × (mean time inside), when every counted
//! call has finished. The two sides are computed independently — one integrates a counter
//! over time, the other sums per-call timestamps — so a bookkeeping slip on any path
//! (rejections, timeouts, fan-out, balancer hops) breaks it.

use crate::common::{load, run};

#[test]
fn littles_law_holds_exactly_on_every_component() {
    let topo = load(
        r#"Topology(duration: "30s", warmup: "3s", limits: Limits(drain: "10m"),
            workloads: {
                "users": Open(rate: "1300/s", to: "lb", mix: {"read": 0.8, "write": 0.2}, timeout: "40ms"),
                "batch": Closed(users: 5, think: Exp(mean: "20ms"), to: "api"),
            },
            components: {
                "lb": LoadBalancer(policy: LeastConn, backends: ["web"]),
                "web": Service(replicas: 3, threads: 4, cpus: 1, queue_limit: 8, cpu: Exp(mean: "2ms"),
                    calls: [Call(to: "cache", latency: Exp(mean: "200us")), Call(to: "db", probability: 0.3, timeout: "15ms")]),
                "api": Service(server: Async, threads: 2, cpu: Erlang(k: 2, mean: "1ms"), call_mode: Parallel,
                    calls: [Call(to: "cache"), Call(to: "db", classes: ["default"])]),
                "cache": Service(threads: "unlimited", cpus: "unlimited", cpu: Uniform(min: "100us", max: "300us")),
                "db": Service(threads: 2, cpus: 2, queue_limit: 20, cpu: LogNormal(median: "2ms", p99: "15ms")),
            })"#,
    );
    let r = run(&topo, 0);
    assert_eq!(
        r.end_to_end.censored, 0,
        "the drain must finish everything for the identity"
    );
    let window = r.sim_duration_s - r.warmup_s;
    let mut checked = 0;
    for (name, c) in &r.components {
        assert_eq!(
            c.arrivals,
            c.completions + c.errors + c.censored,
            "{name}: conservation"
        );
        let lambda = c.arrivals as f64 / window;
        let l = c.mean_in_flight;
        let w = c.mean_sojourn_s;
        assert!(l > 0.0, "{name} saw no traffic");
        assert!(
            (l - lambda * w).abs() <= 1e-9 * l.max(1.0),
            "{name}: L = {l} but λW = {}",
            lambda * w
        );
        checked += 1;
    }
    assert_eq!(checked, 5);
    let e = &r.end_to_end;
    let lambda = e.offered as f64 / window;
    assert!((e.mean_in_flight - lambda * e.mean_sojourn_s).abs() <= 1e-9 * e.mean_in_flight);
    // The model really exercised the error paths.
    assert!(
        e.errors_by_cause.contains_key("timeout"),
        "{:?}",
        e.errors_by_cause
    );
    assert!(
        r.components
            .values()
            .any(|c| c.errors_by_cause.contains_key("queue_full"))
    );
}
