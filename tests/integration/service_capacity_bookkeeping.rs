//! A service's thread and CPU bookkeeping is exact at every event: one event at a time, under
//! kills and revives, over sequential and parallel calls, thread-pool and async servers and
//! several thread/CPU shapes, every instance's counters match the calls that hold its threads
//! and CPUs, and the statistics levels match both (a stress test of the thread and CPU
//! handover).

use flashcrowd::components::Live;
use flashcrowd::components::service::downstream_step;
use flashcrowd::engine::{SimTime, StepOutcome};
use flashcrowd::simulation::{RunOptions, Simulation};
use flashcrowd::topology::spec::ServerModel;

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
                let w = sim.world();
                assert_eq!(w.core.calls.len(), 0);
                for (i, n) in w.nodes.iter().map(|n| &n.live).enumerate() {
                    if let Live::Service(_) = n {
                        assert_eq!(w.nodes[i].stats.threads_busy.value(), 0);
                        assert_eq!(w.nodes[i].stats.cpus_busy.value(), 0);
                        assert_eq!(w.nodes[i].stats.queue_len.value(), 0);
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

fn check(sim: &Simulation, what: &str, seen: &mut Seen) {
    let w = sim.world();
    for (i, n) in w.nodes.iter().map(|n| &n.live).enumerate() {
        let Live::Service(s) = n else { continue };
        let (mut tb, mut cb, mut q) = (0u64, 0u64, 0u64);
        for (r, inst) in s.instances.iter().enumerate() {
            let r = r as u32;
            tb += u64::from(inst.threads_busy);
            cb += u64::from(inst.cpus_busy);
            q += inst.thread_queue.len() as u64;
            seen.thread_queued += u64::from(!inst.thread_queue.is_empty());
            seen.cpu_queued += u64::from(!inst.cpu_queue.is_empty());
            seen.down += u64::from(inst.down);
            assert!(
                inst.threads_busy <= s.model.threads,
                "{what}: threads over cap"
            );
            assert!(inst.cpus_busy <= s.model.cpus, "{what}: cpus over cap");
            if !inst.thread_queue.is_empty() {
                assert_eq!(
                    inst.threads_busy, s.model.threads,
                    "{what}: queued with a free thread"
                );
            }
            if !inst.cpu_queue.is_empty() {
                assert_eq!(
                    inst.cpus_busy, s.model.cpus,
                    "{what}: cpu-queued with a free cpu"
                );
            }
            if inst.down {
                continue;
            }
            let mine = |c: &flashcrowd::components::Call| {
                c.callee as usize == i
                    && c.replica == r
                    && c.delivered
                    && c.outcome.is_none()
                    && c.incarnation == inst.incarnation
            };
            let holders = w
                .core
                .calls
                .iter()
                .filter(|(_, c)| mine(c) && c.holds_capacity)
                .count() as u32;
            assert_eq!(holders, inst.threads_busy, "{what}: svc {i} r{r} holders");
            let leaf = s.model.calls.is_empty();
            let cpu_phase = w
                .core
                .calls
                .iter()
                .filter(|(_, c)| mine(c) && c.holds_capacity && (leaf || downstream_step(c) == 0))
                .count() as u64;
            assert_eq!(
                cpu_phase,
                u64::from(inst.cpus_busy) + inst.cpu_queue.len() as u64,
                "{what}: svc {i} r{r} cpu phase"
            );
            for (id, _, _) in &inst.cpu_queue {
                let c = w.core.calls.get(*id).expect("cpu-queued call alive");
                assert!(c.holds_capacity && c.outcome.is_none());
            }
            for id in &inst.thread_queue {
                let c = w.core.calls.get(*id).expect("thread-queued call alive");
                assert!(!c.holds_capacity && c.outcome.is_none());
            }
        }
        // What answering relies on (`Service::finish` skips the thread look-up when the call
        // was just read to hold none): only a live, unanswered call of the current
        // incarnation holds a thread; past its CPU burst, a thread-pool call still holds its
        // thread and an async call holds none.
        for (_, c) in w.core.calls.iter().filter(|(_, c)| c.callee as usize == i) {
            let Some(inst) = s.instances.get(c.replica as usize) else {
                continue;
            };
            let current = !inst.down && c.incarnation == inst.incarnation;
            if c.holds_capacity {
                assert!(
                    current && c.outcome.is_none(),
                    "{what}: stray thread holder"
                );
            }
            if current && c.delivered && c.outcome.is_none() && downstream_step(c) > 0 {
                assert_eq!(
                    c.holds_capacity,
                    s.model.server == ServerModel::ThreadPool,
                    "{what}: a call waiting on its downstream calls"
                );
            }
        }
        assert_eq!(w.nodes[i].stats.threads_busy.value(), tb, "{what}");
        assert_eq!(w.nodes[i].stats.cpus_busy.value(), cb, "{what}");
        assert_eq!(w.nodes[i].stats.queue_len.value(), q, "{what}");
        let unanswered = w
            .core
            .calls
            .iter()
            .filter(|(_, c)| c.callee as usize == i && c.delivered && c.outcome.is_none())
            .count() as u64;
        assert_eq!(
            w.nodes[i].stats.in_flight(),
            unanswered,
            "{what}: in flight"
        );
    }
}
