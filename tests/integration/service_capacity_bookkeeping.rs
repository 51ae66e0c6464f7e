//! A service's thread and CPU bookkeeping is exact at every event: one event at a time, under
//! kills and revives, over sequential and parallel calls, thread-pool and async servers and
//! several thread/CPU shapes, every instance's counters match the calls that hold its threads
//! and CPUs, and the statistics levels match both (a stress test of the thread and CPU
//! handover). The checks themselves are the library's (`Simulation::check_invariants`, which
//! lists them); this test drives the runs into the states they are about.

use flashcrowd::engine::{SimTime, StepOutcome};
use flashcrowd::simulation::{RunOptions, Simulation};

use crate::common::load;

fn model(mode: &str, server: &str, threads: &str, cpus: &str) -> String {
    format!(
        r#"Topology(duration: "6s", warmup: "1s", limits: Limits(drain: "10m", max_hops: 6),
        workloads: {{
            "users": Open(rate: "1800/s", to: "lb", mix: {{"read": 0.8, "write": 0.2}}, timeout: "30ms"),
            "batch": Closed(users: 5, think: Exp(mean: "5ms"), to: "web", timeout: "50ms"),
        }},
        components: {{
            "lb": LoadBalancer(policy: RoundRobin, backends: ["web"]),
            "web": Service(replicas: 2, threads: {threads}, cpus: {cpus}, queue_limit: 8, server: {server}, call_mode: {mode}, cpu: Exp(mean: "1ms"),
                calls: [Call(to: "db", timeout: "5ms"), Call(to: "log", wait: false), Call(to: "web", probability: 0.2, timeout: "20ms"), Call(to: "db", probability: 0.3, classes: ["write"])]),
            "log": Service(threads: 1, cpu: Const("300us"), queue_limit: 50),
            "db": Service(replicas: 2, threads: {threads}, cpus: {cpus}, queue_limit: 10, cpu: Const("700us")),
        }})"#
    )
}

#[test]
fn thread_and_cpu_counters_match_their_holders_at_every_event() {
    let combos = [
        ("4", "2"),
        ("2", "4"),
        ("1", "1"),
        ("3", "3"),
        ("\"unlimited\"", "2"),
        ("3", "\"unlimited\""),
        ("\"unlimited\"", "\"unlimited\""),
    ];
    let mut seen = Seen::default();
    for mode in ["Sequential", "Parallel"] {
        for server in ["ThreadPool", "Async"] {
            for (threads, cpus) in combos {
                let topo = load(&model(mode, server, threads, cpus));
                let mut sim = Simulation::new(&topo, RunOptions::default());
                let web = sim.node_id("web").unwrap();
                let db = sim.node_id("db").unwrap();
                let mut next_cmd = 1.3;
                let mut k = 0u32;
                let mut events = 0u64;
                loop {
                    let out = sim.step(SimTime::from_secs_f64(next_cmd), 1);
                    if out == StepOutcome::Idle {
                        break;
                    }
                    events += 1;
                    check(
                        &sim,
                        &format!("{mode} {server} t{threads} c{cpus} ev{events}"),
                        &mut seen,
                    );
                    if out == StepOutcome::TimeLimit {
                        k += 1;
                        next_cmd += 0.29;
                        if next_cmd < 6.0 {
                            let node = if k % 2 == 0 { web } else { db };
                            let r = k % 2;
                            let cmd = if k % 3 == 0 {
                                crate::common::revive(&sim, node, r)
                            } else {
                                crate::common::kill(&sim, node, r)
                            };
                            let _ = sim.command(&cmd);
                        } else {
                            for node in [web, db] {
                                for r in 0..2 {
                                    let _ = {
                                        let c = crate::common::revive(&sim, node, r);
                                        sim.command(&c)
                                    };
                                }
                            }
                            next_cmd = 1e6;
                        }
                    }
                }
                // Drained: no call is left, and with the checks passing (levels equal the
                // instances' counters, which equal the calls holding them) nothing is busy.
                let what = format!("{mode} {server} t{threads} c{cpus} at the end");
                assert_eq!(sim.calls_in_flight(), 0, "{what}: calls leaked");
                check(&sim, &what, &mut seen);
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
            }
        }
    }
    // The states the invariants are about were reached (else the test would prove nothing).
    assert!(
        seen.thread_queued > 0 && seen.cpu_queued > 0 && seen.down > 0,
        "thread-queued {}, cpu-queued {}, down {}",
        seen.thread_queued,
        seen.cpu_queued,
        seen.down
    );
}

/// How often the states worth checking were seen: a call waiting for a thread, for a CPU, and
/// an instance down.
#[derive(Default)]
struct Seen {
    thread_queued: u64,
    cpu_queued: u64,
    down: u64,
}

/// The library's self-check, and how often the states it is about were seen.
fn check(sim: &Simulation, what: &str, seen: &mut Seen) {
    if let Err(e) = sim.check_invariants() {
        panic!("{what}: {e}");
    }
    for name in sim.names() {
        for inst in sim.instances(name).unwrap() {
            seen.thread_queued += u64::from(!inst.thread_queue.is_empty());
            seen.cpu_queued += u64::from(!inst.cpu_queue.is_empty());
            seen.down += u64::from(inst.down);
        }
    }
}

/// The same checks hold while instances are added and removed (scaled-in instances drain,
/// scaled-out ones start empty, balancers follow), with kills and revives in between.
#[test]
fn the_checks_hold_while_instances_come_and_go() {
    use flashcrowd::topology::events::Command;
    for server in ["ThreadPool", "Async"] {
        for mode in ["Sequential", "Parallel"] {
            let topo = load(&model(mode, server, "3", "2"));
            let mut sim = Simulation::new(&topo, RunOptions::default());
            let web = sim.node_id("web").unwrap();
            let plan = [4, 1, 3, 5, 2, 2, 6, 1, 3];
            let mut at = 1.2;
            let mut events = 0u64;
            let mut k = 0usize;
            let mut seen = Seen::default();
            loop {
                let out = sim.step(SimTime::from_secs_f64(at), 1);
                if out == StepOutcome::Idle {
                    break;
                }
                events += 1;
                check(&sim, &format!("{mode} {server} ev{events}"), &mut seen);
                if out == StepOutcome::TimeLimit {
                    at = if k + 1 < plan.len() { at + 0.4 } else { 1e6 };
                    let cmd = match k % 3 {
                        2 => crate::common::kill(&sim, web, (k % 2) as u32),
                        _ => Command::Replicas {
                            component: "web".into(),
                            count: plan[k],
                        },
                    };
                    let _ = sim.command(&cmd);
                    if k % 3 == 2 {
                        let _ = sim.command(&crate::common::revive(&sim, web, 0));
                    }
                    k += 1;
                }
            }
            assert_eq!(sim.calls_in_flight(), 0, "{mode} {server}: calls leaked");
            assert!(k >= plan.len(), "{mode} {server}: only {k} commands");
        }
    }
}
