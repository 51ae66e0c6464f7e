//! Regression tests from the first correctness review: each pins a behaviour the
//! architecture document promises that was once broken (or a panic/hang on a valid model);
//! `review_pin_call_lifecycle_invariants_under_kill_and_revive` pins the call/span
//! bookkeeping under kill/revive, fan-out, timeouts and every balancer policy.

use flashcrowd::components::Live;
use flashcrowd::engine::{SimTime, StepOutcome};
use flashcrowd::simulation::{RunOptions, Simulation};

use crate::common::{load, run};

/// Deterministic arrivals on a continuous profile must follow the profile's rate, like
/// Poisson arrivals do. Thinning accepts every deterministic candidate, so the workload
/// runs at the profile's *maximum* rate the whole time.
#[test]
fn review_deterministic_arrivals_follow_a_ramp() {
    // 10 s at 100/s, 20 s ramping to 500/s (mean 300/s), 10 s at 500/s: 12 000 arrivals.
    let topo = load(
        r#"Topology(duration: "40s", warmup: "0s",
            workloads: {"w": Open(rate: "100/s", to: "s", arrivals: Deterministic,
                profile: Ramp(to: "500/s", start: "10s", over: "20s"))},
            components: {"s": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("1ms"))})"#,
    );
    let n = run(&topo, 0).end_to_end.offered;
    assert!(
        (11_900..=12_100).contains(&n),
        "deterministic ramp offered {n}, expected about 12 000 (20 000 = always the peak rate)"
    );
}

/// A closed-loop user with zero think time whose request fails at once (here: queue_full)
/// re-sends at the same instant forever: simulated time never advances and `run` hangs.
#[test]
fn review_closed_loop_zero_think_instant_failure_makes_progress() {
    let topo = load(
        r#"Topology(duration: "10s", warmup: "0s",
            workloads: {"u": Closed(users: 3, think: Const("0s"), to: "s")},
            components: {"s": Service(threads: 1, cpus: 1, queue_limit: 1, cpu: Const("10ms"))})"#,
    );
    let mut sim = Simulation::new(&topo, RunOptions::default());
    let out = sim.step(SimTime::MAX, 2_000_000);
    assert!(
        out == StepOutcome::Idle || sim.now() > SimTime::ZERO,
        "2 000 000 events handled and simulated time is still {}",
        sim.now()
    );
}

/// With every counted request censored (none finished), the SLO verdict passes: the p99 of
/// an empty histogram is 0 and the error rate 0/0 is reported as 0.
#[test]
fn review_slo_does_not_pass_when_nothing_finished() {
    let topo = load(
        r#"Topology(duration: "10s", warmup: "0s", limits: Limits(drain: "1s"),
            workloads: {"w": Open(rate: "10/s", to: "s")},
            components: {"s": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("1h"))},
            slo: Slo(p99: "100ms", error_rate: 0.001))"#,
    );
    let r = run(&topo, 0);
    assert_eq!(r.end_to_end.completed + r.end_to_end.errors, 0);
    assert!(r.end_to_end.censored > 0);
    let slo = r.slo.expect("the model has targets");
    assert!(
        !slo.pass,
        "SLO passes although not one of {} requests finished: {:?}",
        r.end_to_end.offered, slo.targets
    );
}

/// `limits.max_hops` beyond what hop counters hold is refused, and a deep self-calling
/// chain at the largest allowed limit ends in `hop_limit`, never an overflow.
#[test]
fn review_hop_counter_does_not_overflow() {
    let model = |hops: u32| {
        format!(
            r#"Topology(duration: "1s", warmup: "0s", limits: Limits(max_hops: {hops}),
            workloads: {{"w": Open(rate: "4/s", to: "a", arrivals: Deterministic)}},
            components: {{"a": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("0s"),
                calls: [Call(to: "a", probability: 0.999999)])}})"#
        )
    };
    let refused =
        flashcrowd::topology::load_str(&model(100_000), None, std::path::Path::new("."), &[]);
    assert!(refused.unwrap_err().to_string().contains("limits.max_hops"));
    let r = run(&load(&model(10_000)), 0);
    // Arrivals at 0.25, 0.5 and 0.75 s; each chain goes 10 000 deep and fails there.
    assert_eq!(r.end_to_end.offered, 3);
    assert_eq!(r.end_to_end.errors_by_cause.get("hop_limit"), Some(&3));
}

/// `requests: N` ends the counting window at the N-th counted arrival; the drain must then be
/// bounded by `limits.drain` from there, not from the model's original `duration`.
#[test]
fn review_request_budget_drain_counts_from_the_window_end() {
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

/// The overload note should name the cap that was hit; it prints the number of calls still
/// in flight when the run ended (often 0, shown as 1).
#[test]
fn review_overload_note_names_the_cap() {
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

/// Deterministic arrivals on a piecewise-constant profile restart their gap at every rate
/// change (exact only for Poisson, by memorylessness): with changes every second the gap of
/// 1/1.5 s is cut short every time, so 1.5/s yields 1 arrival per second.
#[test]
fn review_deterministic_arrivals_keep_their_rate_across_piecewise_changes() {
    // The rate is 1.5/s throughout; the profile only restates it every second.
    let topo = load(
        r#"Topology(duration: "40s", warmup: "0s",
            workloads: {"w": Open(rate: "1.5/s", to: "s", arrivals: Deterministic,
                profile: Piecewise([("1s", "1.5/s"), ("2s", "1.5/s"), ("3s", "1.5/s"), ("4s", "1.5/s"), ("5s", "1.5/s"), ("6s", "1.5/s"), ("7s", "1.5/s"), ("8s", "1.5/s"), ("9s", "1.5/s"), ("10s", "1.5/s"), ("11s", "1.5/s"), ("12s", "1.5/s"), ("13s", "1.5/s"), ("14s", "1.5/s"), ("15s", "1.5/s"), ("16s", "1.5/s"), ("17s", "1.5/s"), ("18s", "1.5/s"), ("19s", "1.5/s"), ("20s", "1.5/s"), ("21s", "1.5/s"), ("22s", "1.5/s"), ("23s", "1.5/s"), ("24s", "1.5/s"), ("25s", "1.5/s"), ("26s", "1.5/s"), ("27s", "1.5/s"), ("28s", "1.5/s"), ("29s", "1.5/s"), ("30s", "1.5/s"), ("31s", "1.5/s"), ("32s", "1.5/s"), ("33s", "1.5/s"), ("34s", "1.5/s"), ("35s", "1.5/s"), ("36s", "1.5/s"), ("37s", "1.5/s"), ("38s", "1.5/s"), ("39s", "1.5/s")]))},
            components: {"s": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("1ms"))})"#,
    );
    let n = run(&topo, 0).end_to_end.offered;
    assert!(
        (59..=60).contains(&n),
        "1.5/s for 40 s offered {n}, expected 60"
    );
}

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

/// Pins (passes today): across sequential/parallel calls, thread-pool/async servers, every
/// balancer policy, fire-and-forget calls, caller timeouts and repeated kill/revive, no call
/// leaks, every level returns to zero, the balancers' active counts equal their live backend
/// calls at every step, the per-instance thread/CPU/queue counters equal their levels, and
/// conservation and Little's law hold on every component.
#[test]
fn review_pin_call_lifecycle_invariants_under_kill_and_revive() {
    for mode in ["Sequential", "Parallel"] {
        for server in ["ThreadPool", "Async"] {
            for policy in ["RoundRobin", "LeastConn", "IpHash", "Random", "PowerOfTwo"] {
                let topo = load(&lifecycle_model(mode, server, policy));
                let mut sim = Simulation::new(&topo, RunOptions::default());
                let web = sim.node_id("web").unwrap();
                let db = sim.node_id("db").unwrap();
                let mut t = 1.0;
                let mut k = 0u32;
                while sim.step(SimTime::from_secs_f64(t), u64::MAX) != StepOutcome::Idle {
                    t += 0.37;
                    let w = sim.world();
                    for (i, n) in w.nodes.iter().map(|n| &n.live).enumerate() {
                        match n {
                            Live::LoadBalancer(lb) => {
                                let live = w
                                    .core
                                    .calls
                                    .iter()
                                    .filter(|(_, c)| c.caller as usize == i && c.parent.is_some())
                                    .count() as u32;
                                assert_eq!(lb.active.iter().sum::<u32>(), live, "lb {i} active");
                            }
                            Live::Service(s) => {
                                let tb: u64 =
                                    s.instances.iter().map(|x| u64::from(x.threads_busy)).sum();
                                let cb: u64 =
                                    s.instances.iter().map(|x| u64::from(x.cpus_busy)).sum();
                                let q: u64 = s
                                    .instances
                                    .iter()
                                    .map(|x| x.thread_queue.len() as u64)
                                    .sum();
                                assert_eq!(w.nodes[i].stats.threads_busy.value(), tb);
                                assert_eq!(w.nodes[i].stats.cpus_busy.value(), cb);
                                assert_eq!(w.nodes[i].stats.queue_len.value(), q);
                                let holders = w
                                    .core
                                    .calls
                                    .iter()
                                    .filter(|(_, c)| c.callee as usize == i && c.holds_capacity)
                                    .count() as u64;
                                assert_eq!(holders, tb, "svc {i} holders");
                                let inside = w
                                    .core
                                    .calls
                                    .iter()
                                    .filter(|(_, c)| {
                                        c.callee as usize == i && c.delivered && c.outcome.is_none()
                                    })
                                    .count() as u64;
                                assert_eq!(
                                    w.nodes[i].stats.in_flight(),
                                    inside,
                                    "svc {i} in flight"
                                );
                            }
                            _ => {}
                        }
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
                let w = sim.world();
                assert_eq!(
                    w.core.calls.len(),
                    0,
                    "{mode} {server} {policy}: calls leaked"
                );
                for (i, n) in w.nodes.iter().map(|n| &n.live).enumerate() {
                    match n {
                        Live::LoadBalancer(lb) => assert!(
                            lb.active.iter().all(|&a| a == 0),
                            "{mode} {server} {policy}: lb {i} active {:?}",
                            lb.active
                        ),
                        Live::Service(s) => {
                            for inst in &s.instances {
                                assert_eq!(
                                    inst.threads_busy, 0,
                                    "{mode} {server} {policy}: svc {i}"
                                );
                                assert_eq!(inst.cpus_busy, 0);
                                assert!(inst.thread_queue.is_empty());
                            }
                        }
                        _ => {}
                    }
                    assert_eq!(
                        w.nodes[i].stats.in_flight(),
                        0,
                        "{mode} {server} {policy}: node {i} in_flight level"
                    );
                    assert_eq!(
                        w.nodes[i].stats.threads_busy.value(),
                        0,
                        "{mode} {server} {policy}: node {i} threads level"
                    );
                    assert_eq!(w.nodes[i].stats.cpus_busy.value(), 0);
                    assert_eq!(w.nodes[i].stats.queue_len.value(), 0);
                    assert_eq!(w.nodes[i].stats.in_flight_counted.value(), 0);
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
