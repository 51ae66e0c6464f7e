//! The call (span) bookkeeping survives kills and revives: calls are freed, levels and
//! balancer connection counts follow the live calls step by step, and the report's
//! conservation and Little's law hold afterwards.

use flashcrowd::engine::{SimTime, StepOutcome};
use flashcrowd::simulation::{RunOptions, Simulation};

use crate::common::load;

fn lifecycle_model(mode: &str, server: &str, policy: &str) -> String {
    format!(
        r#"Topology(duration: "20s", warmup: "2s", limits: Limits(drain: "10m"),
        workloads: {{
            "users": Open(rate: "1500/s", to: "lb", mix: {{"read": 0.8, "write": 0.2}}, timeout: "30ms", sessions: 100),
            "batch": Closed(users: 7, think: Exp(mean: "5ms"), to: "api", timeout: "50ms"),
        }},
        components: {{
            "lb": LoadBalancer(policy: {policy}, backends: ["web", "api"], weights: {{"web": 3}}),
            "web": Service(replicas: 3, threads: 4, cpus: 2, queue_limit: 6, server: {server}, call_mode: {mode}, cpu: Exp(mean: "1ms"),
                calls: [Call(to: "cache", latency: Exp(mean: "200us"), timeout: "2ms"), Call(to: "log", wait: false), Call(to: "db", probability: 0.4, timeout: "10ms"), Call(to: "lb2", probability: 0.1)]),
            "api": Service(replicas: 2, server: {server}, threads: 2, cpu: Erlang(k: 2, mean: "1ms"), call_mode: {mode},
                calls: [Call(to: "log", wait: false, timeout: "1ms"), Call(to: "cache"), Call(to: "db", classes: ["write"], timeout: "5ms")]),
            "lb2": LoadBalancer(policy: {policy}, backends: ["db"]),
            "cache": Service(replicas: 2, threads: 3, cpus: 1, cpu: Uniform(min: "100us", max: "900us"), queue_limit: 3),
            "log": Service(threads: 1, cpu: Exp(mean: "0.5ms"), queue_limit: 50),
            "db": Service(replicas: 2, threads: 2, cpus: 2, queue_limit: 20, cpu: LogNormal(median: "2ms", p99: "15ms")),
        }})"#
    )
}

/// Across sequential/parallel calls, thread-pool/async servers, every balancer policy,
/// fire-and-forget calls, caller timeouts and repeated kill/revive: no call leaks, every level
/// returns to zero, the balancers' active counts equal their live backend calls at every
/// step, the per-instance thread/CPU/queue counters equal their levels, and conservation and
/// Little's law hold on every component.
#[test]
fn call_bookkeeping_stays_consistent_under_kill_and_revive() {
    for mode in ["Sequential", "Parallel"] {
        for server in ["ThreadPool", "Async"] {
            for policy in [
                "RoundRobin",
                "LeastConn",
                "IpHash",
                "Random",
                "PowerOfTwo",
                "PeakEwma",
            ] {
                let topo = load(&lifecycle_model(mode, server, policy));
                let mut sim = Simulation::new(&topo, RunOptions::default());
                let web = sim.node_id("web").unwrap();
                let db = sim.node_id("db").unwrap();
                let mut t = 1.0;
                let mut k = 0u32;
                while sim.step(SimTime::from_secs_f64(t), u64::MAX) != StepOutcome::Idle {
                    t += 0.37;
                    // Balancer connections against their calls out, service counters against
                    // the calls holding threads and CPUs and against the levels, every node's
                    // in-flight level against its live calls (the library's self-check).
                    if let Err(e) = sim.check_invariants() {
                        panic!("{mode} {server} {policy} at {t:.2}s: {e}");
                    }
                    k += 1;
                    if t < 19.0 {
                        let (node, r) = if k % 2 == 0 {
                            (web, k % 3)
                        } else {
                            (db, k % 2)
                        };
                        let cmd = if k % 3 == 0 {
                            crate::common::revive(&sim, node, r)
                        } else {
                            crate::common::kill(&sim, node, r)
                        };
                        sim.command(&cmd).unwrap();
                    } else if t < 20.0 {
                        for node in [web, db] {
                            for r in 0..3 {
                                let _ = {
                                    let c = crate::common::revive(&sim, node, r);
                                    sim.command(&c)
                                };
                            }
                        }
                    }
                }
                // No call leaked; with the self-check passing, every level, balancer
                // connection count and in-flight count (counted or not) follows the calls, so
                // all are zero; and the instances hold nothing.
                let what = format!("{mode} {server} {policy}");
                assert_eq!(sim.calls_in_flight(), 0, "{what}: calls leaked");
                if let Err(e) = sim.check_invariants() {
                    panic!("{what} at the end: {e}");
                }
                for name in sim.names() {
                    for inst in sim.instances(name).unwrap() {
                        assert!(
                            inst.threads_busy == 0
                                && inst.cpus_busy == 0
                                && inst.thread_queue.is_empty()
                                && inst.cpu_queue.is_empty(),
                            "{what}: `{name}` instance {} still busy: {inst:?}",
                            inst.replica
                        );
                    }
                }
                let r = sim.finish();
                let window = r.sim_duration_s - r.warmup_s;
                for (name, c) in &r.components {
                    assert_eq!(c.arrivals, c.completions + c.errors + c.censored, "{name}");
                    let l = c.mean_in_flight;
                    let lw = c.arrivals as f64 / window * c.mean_sojourn_s;
                    assert!(
                        (l - lw).abs() <= 1e-9 * l.max(1.0),
                        "{mode} {server} {policy} {name}: {l} vs {lw}"
                    );
                }
                let e = &r.end_to_end;
                assert_eq!(e.offered, e.completed + e.errors + e.censored);
                assert!(
                    e.errors_by_cause.contains_key("instance_down")
                        && e.errors_by_cause.contains_key("timeout")
                );
            }
        }
    }
}
