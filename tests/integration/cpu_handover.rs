//! The CPU handover (`cpu_passing`): the busy-CPU level integrated by the
//! statistics must equal an independent integral of the bursts actually running (counted
//! from the calls, event by event), and no burst may start while an earlier one waits for a
//! CPU (FIFO), under kills and revives, timeouts, parallel fan-out, thread-pool and async
//! servers, and every thread/CPU shape.
use std::collections::HashSet;

use flashcrowd::components::CallId;
use flashcrowd::engine::{SimTime, StepOutcome};
use flashcrowd::simulation::{RunOptions, Simulation};

use crate::common::load;

fn model(mode: &str, server: &str, threads: &str, cpus: &str, cpu: &str) -> String {
    format!(
        r#"Topology(duration: "3s", warmup: "0.5s", limits: Limits(drain: "10m", max_hops: 6),
        workloads: {{
            "users": Open(rate: "1500/s", arrivals: Deterministic, to: "web", timeout: "20ms"),
            "batch": Closed(users: 6, think: Const("1ms"), to: "web", timeout: "40ms"),
        }},
        components: {{
            "web": Service(replicas: 2, threads: {threads}, cpus: {cpus}, queue_limit: 12, server: {server}, call_mode: {mode}, cpu: {cpu},
                calls: [Call(to: "db", latency: Const("1ms"), timeout: "6ms"), Call(to: "log", wait: false), Call(to: "db", latency: Const("1ms"), probability: 0.4)]),
            "log": Service(threads: 1, cpus: 2, cpu: Const("300us"), queue_limit: 50),
            "db": Service(replicas: 2, threads: {threads}, cpus: {cpus}, queue_limit: 20, cpu: {cpu}),
        }})"#
    )
}

/// Per instance of service `name`: calls running a burst, calls waiting for a CPU (in order).
fn cpu_state(sim: &Simulation, name: &str) -> Vec<(HashSet<CallId>, Vec<CallId>)> {
    sim.instances(name)
        .expect("a service")
        .into_iter()
        .map(|inst| (inst.running.into_iter().collect(), inst.cpu_queue))
        .collect()
}

#[test]
fn cpu_level_matches_running_bursts_and_cpus_serve_fifo() {
    let combos = [
        ("1", "1"),
        ("4", "2"),
        ("2", "4"),
        ("3", "3"),
        ("\"unlimited\"", "2"),
        ("3", "\"unlimited\""),
        ("\"unlimited\"", "\"unlimited\""),
    ];
    for cpu in ["Const(\"1ms\")", "Exp(mean: \"1ms\")"] {
        for mode in ["Sequential", "Parallel"] {
            for server in ["ThreadPool", "Async"] {
                for (threads, cpus) in combos {
                    let what = format!("{cpu} {mode} {server} t{threads} c{cpus}");
                    let topo = load(&model(mode, server, threads, cpus, cpu));
                    let mut sim = Simulation::new(&topo, RunOptions::default());
                    let names = ["web", "db", "log"];
                    let nodes: Vec<u32> = names.iter().map(|n| sim.node_id(n).unwrap()).collect();
                    let (warm, end) = (500_000_000u64, 3_000_000_000u64);
                    let mut area = vec![0u128; nodes.len()];
                    let mut before: Vec<_> = names.iter().map(|n| cpu_state(&sim, n)).collect();
                    let mut t_prev = 0u64;
                    let mut next_cmd = 0.7;
                    let mut k = 0u32;
                    loop {
                        let out = sim.step(SimTime::from_secs_f64(next_cmd), 1);
                        let now = sim.now().as_nanos();
                        // The level held from the last event to this one.
                        let (a, b) = (t_prev.clamp(warm, end), now.clamp(warm, end));
                        for (j, st) in before.iter().enumerate() {
                            let running: u64 = st.iter().map(|(r, _)| r.len() as u64).sum();
                            area[j] += u128::from(running) * u128::from(b - a);
                        }
                        t_prev = now;
                        if out == StepOutcome::Idle {
                            break;
                        }
                        if out == StepOutcome::TimeLimit {
                            k += 1;
                            next_cmd += 0.23;
                            let node = nodes[(k % 2) as usize];
                            let replica = (k / 2) % 2;
                            let cmd = if next_cmd > 2.8 {
                                next_cmd = 1e6;
                                crate::common::revive(&sim, node, replica)
                            } else if k % 3 == 0 {
                                crate::common::revive(&sim, node, replica)
                            } else {
                                crate::common::kill(&sim, node, replica)
                            };
                            let _ = sim.command(&cmd);
                            if next_cmd == 1e6 {
                                for &n in &nodes[..2] {
                                    for r in 0..2 {
                                        let _ = {
                                            let c = crate::common::revive(&sim, n, r);
                                            sim.command(&c)
                                        };
                                    }
                                }
                            }
                        }
                        let after: Vec<_> = names.iter().map(|n| cpu_state(&sim, n)).collect();
                        for (j, (b, a)) in before.iter().zip(&after).enumerate() {
                            for (r, ((run0, q0), (run1, q1))) in b.iter().zip(a).enumerate() {
                                // A burst that started now without having waited...
                                let jumped =
                                    run1.iter().any(|id| !run0.contains(id) && !q0.contains(id));
                                // ...while a call that waited before still waits.
                                let still_waiting = q0.iter().any(|id| q1.contains(id));
                                assert!(
                                    !(jumped && still_waiting),
                                    "{what}: `{}` instance {r} at {now}: a burst jumped the CPU queue",
                                    names[j]
                                );
                                // Waiters leave in order: what is left is a prefix-free suffix.
                                let kept: Vec<_> = q0.iter().filter(|id| q1.contains(id)).collect();
                                let head: Vec<_> = q1.iter().take(kept.len()).collect();
                                assert_eq!(
                                    kept, head,
                                    "{what}: `{}` instance {r}: CPU queue order",
                                    names[j]
                                );
                            }
                        }
                        before = after;
                    }
                    let report = sim.finish();
                    for (j, name) in ["web", "db", "log"].iter().enumerate() {
                        let reported = report.components[*name].figure("mean_busy_cpus").unwrap();
                        let mine = area[j] as f64 / (end - warm) as f64;
                        assert!(
                            (reported - mine).abs() <= 1e-9 * mine.max(1.0),
                            "{what}: {name}: reported mean busy CPUs {reported}, running bursts integrate to {mine}"
                        );
                    }
                }
            }
        }
    }
}
