//! Workloads offer what their profiles say: arrival counts against the integral of the rate
//! (Poisson counts: sd = √mean, so 4σ tolerances), class mixes, closed loops, timeouts.

use flashcrowd::engine::{SimTime, StepOutcome};
use flashcrowd::simulation::{RunOptions, Simulation};

use crate::common::{errors_of, load, run};

/// Offered requests in [warmup, duration) for a one-service model with this workload.
fn offered(workload: &str, duration: &str) -> u64 {
    let topo = load(&format!(
        r#"Topology(duration: "{duration}", warmup: "0s",
            workloads: {{"w": {workload}}},
            components: {{"s": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("1ms"))}})"#
    ));
    run(&topo, 0).end_to_end.offered
}

fn assert_poisson(n: u64, mean: f64, what: &str) {
    let tol = 4.0 * mean.sqrt();
    assert!(
        (n as f64 - mean).abs() <= tol,
        "{what}: {n} arrivals, expected {mean} ± {tol}"
    );
}

#[test]
fn constant_and_deterministic_rates() {
    assert_poisson(
        offered(r#"Open(rate: "500/s", to: "s")"#, "40s"),
        20_000.0,
        "constant",
    );
    let n = offered(
        r#"Open(rate: "500/s", to: "s", arrivals: Deterministic)"#,
        "40s",
    );
    assert!((19_999..=20_000).contains(&n), "deterministic: {n}");
}

#[test]
fn step_ramp_spike_diurnal_piecewise_trace() {
    // Step: 20 s at 200/s, 20 s at 600/s.
    assert_poisson(
        offered(
            r#"Open(rate: "200/s", to: "s", profile: Step(at: "20s", to: "600/s"))"#,
            "40s",
        ),
        16_000.0,
        "step",
    );
    // Ramp from 100/s to 500/s over [10 s, 30 s], then flat: 10·100 + 20·300 + 10·500.
    assert_poisson(
        offered(
            r#"Open(rate: "100/s", to: "s", profile: Ramp(to: "500/s", start: "10s", over: "20s"))"#,
            "40s",
        ),
        12_000.0,
        "ramp",
    );
    // Spike ×5 at 10 s: rise 4 s, hold 6 s, decay 4 s; extra = 400·(2 + 6 + 2) = 4000.
    assert_poisson(
        offered(
            r#"Open(rate: "100/s", to: "s", profile: Spike(at: "10s", multiplier: 5.0, rise: "4s", hold: "6s", decay: "4s"))"#,
            "40s",
        ),
        8_000.0,
        "spike",
    );
    // Diurnal over whole periods averages the base rate.
    assert_poisson(
        offered(
            r#"Open(rate: "300/s", to: "s", profile: Diurnal(amplitude: 0.8, period: "20s", peak_at: "3s"))"#,
            "40s",
        ),
        12_000.0,
        "diurnal",
    );
    assert_poisson(
        offered(
            r#"Open(rate: "100/s", to: "s", profile: Piecewise([("10s", "300/s"), ("25s", "50/s")]))"#,
            "40s",
        ),
        1_000.0 + 4_500.0 + 750.0,
        "piecewise",
    );
    // tests/data/trace.csv: 100/s for 10 s, 300/s for 10 s, 0 for 10 s, 200/s after.
    assert_poisson(
        offered(
            r#"Open(rate: "1/s", to: "s", profile: Trace(file: "tests/data/trace.csv"))"#,
            "40s",
        ),
        1_000.0 + 3_000.0 + 2_000.0,
        "trace",
    );
}

#[test]
fn class_mix_and_class_filtered_calls() {
    let topo = load(
        r#"Topology(duration: "40s", warmup: "0s",
            workloads: {"w": Open(rate: "1000/s", to: "api", mix: {"read": 0.9, "write": 0.1}, regions: {"eu": 0.5, "us": 0.5}, sessions: 50)},
            components: {
                "api": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("1ms"), calls: [Call(to: "writes", classes: ["write"]), Call(to: "half", probability: 0.5)]),
                "writes": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("1ms")),
                "half": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("1ms")),
            })"#,
    );
    let r = run(&topo, 0);
    let total = r.components["api"].arrivals as f64;
    let writes = r.components["writes"].arrivals as f64;
    let half = r.components["half"].arrivals as f64;
    // Binomial: sd = √(n p (1 − p)).
    assert!(
        (writes - 0.1 * total).abs() < 4.0 * (total * 0.09).sqrt(),
        "writes {writes} of {total}"
    );
    assert!(
        (half - 0.5 * total).abs() < 4.0 * (total * 0.25).sqrt(),
        "half {half} of {total}"
    );
}

#[test]
fn client_timeouts_abandon_only_the_callers_side() {
    // Service at ρ = 0.95 with a 20 ms client timeout: many time out, but the server still
    // finishes every request it accepted (its completions exceed the client's successes).
    let topo = load(
        r#"Topology(duration: "60s", warmup: "5s", limits: Limits(drain: "10m"),
            workloads: {"w": Open(rate: "950/s", to: "s", timeout: "20ms")},
            components: {"s": Service(cpu: Exp(mean: "1ms"))})"#,
    );
    let r = run(&topo, 0);
    let timeouts = errors_of(&r, "timeout");
    assert!(timeouts > 1000, "timeouts {timeouts}");
    assert_eq!(r.components["s"].errors, 0);
    assert!(r.components["s"].completions > r.end_to_end.completed + timeouts / 2);
    // Nobody waits past the timeout: the error latency is the timeout itself.
    assert!((r.end_to_end.error_latency_s.max - 0.020).abs() < 1e-6);
    assert!(r.end_to_end.latency_s.max <= 0.020);
}

#[test]
fn closed_loop_users_never_exceed_their_number() {
    let topo = load(
        r#"Topology(duration: "30s", warmup: "2s",
            workloads: {"u": Closed(users: 7, think: Const("0s"), to: "s")},
            components: {"s": Service(threads: 2, cpu: Exp(mean: "2ms"))})"#,
    );
    let r = run(&topo, 0);
    // Zero think time keeps all 7 users in the system: 2 in service, 5 waiting.
    assert!(
        (r.end_to_end.mean_in_flight - 7.0).abs() < 0.01,
        "{}",
        r.end_to_end.mean_in_flight
    );
    assert!((r.components["s"].figure("mean_queue_len").unwrap() - 5.0).abs() < 0.05);
    assert!(r.components["s"].figure("max_queue_len").unwrap() <= 5.0);
}

#[test]
fn fire_and_forget_calls_run_after_the_answer() {
    let model = |wait: bool| {
        load(&format!(
            r#"Topology(duration: "30s", warmup: "2s", limits: Limits(drain: "1m"),
                workloads: {{"w": Open(rate: "200/s", to: "web")}},
                components: {{
                    "web": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("1ms"), calls: [Call(to: "audit", wait: {wait})]),
                    "audit": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("10ms")),
                }})"#
        ))
    };
    let detached = run(&model(false), 0);
    let waited = run(&model(true), 0);
    // Answering does not wait for the audit call, but the audit work still happens.
    assert!(
        (detached.end_to_end.latency_s.max - 0.001).abs() < 1e-9,
        "{:?}",
        detached.end_to_end.latency_s
    );
    assert!((waited.end_to_end.latency_s.mean - 0.011).abs() < 1e-9);
    let audit = &detached.components["audit"];
    assert_eq!(audit.arrivals, audit.completions);
    assert!(audit.arrivals as f64 > 0.99 * detached.components["web"].arrivals as f64);
    assert_eq!(detached.end_to_end.censored, 0);
}

#[test]
fn keys_are_drawn_when_an_ip_hash_balancer_reads_them() {
    let model = |policy: &str| {
        load(&format!(
            r#"Topology(duration: "10s", warmup: "0s",
                workloads: {{"w": Open(rate: "1000/s", to: "lb", keys: Uniform(n: 10))}},
                components: {{
                    "lb": LoadBalancer(policy: {policy}, backends: ["s"], overhead: Const("0s")),
                    "s": Service(replicas: 4, threads: "unlimited", cpus: "unlimited", cpu: Const("1ms")),
                }})"#
        ))
    };
    assert!(model("IpHash").reads_keys());
    assert!(!model("RoundRobin").reads_keys());
    // ip_hash (no sessions) hashes each request's key: with 10 keys drawn uniformly, each
    // instance gets k/10 of the traffic for the k keys that hash to it. Undrawn keys (all 0)
    // would send everything to one instance.
    let r = run(&model("IpHash"), 0);
    let per = r.components["s"].figures["per_replica"].as_array().unwrap();
    let n = r.components["s"].arrivals as f64;
    let shares: Vec<f64> = per
        .iter()
        .map(|p| p["arrivals"].as_f64().unwrap() / n)
        .collect();
    assert!(
        shares.iter().filter(|s| **s > 0.0).count() >= 2,
        "keys reach several instances: {shares:?}"
    );
    for s in &shares {
        // Binomial sd of a share over 10 000 requests is at most 0.005.
        let nearest = (s * 10.0).round() / 10.0;
        assert!(
            (s - nearest).abs() < 4.0 * 0.005,
            "a share of whole keys: {shares:?}"
        );
    }
}

/// Deterministic arrivals on a continuous profile follow the profile's rate, like Poisson
/// arrivals do (thinning would accept every deterministic candidate, so the workload would run
/// at the profile's *maximum* rate the whole time).
#[test]
fn deterministic_arrivals_follow_a_ramp() {
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

/// Deterministic arrivals on a piecewise-constant profile keep their gap across rate changes
/// (restarting it at each change is exact only for Poisson, by memorylessness: with changes
/// every second the gap of 1/1.5 s would be cut short every time, 1 arrival per second).
#[test]
fn deterministic_arrivals_keep_their_rate_across_piecewise_changes() {
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

/// A closed-loop user with zero think time whose request fails at once (here: queue_full)
/// does not re-send at the same instant forever: simulated time advances.
#[test]
fn closed_loop_with_zero_think_time_and_instant_failures_makes_progress() {
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

#[test]
fn a_rate_whose_gaps_are_a_few_nanoseconds_is_delivered_exactly() {
    // 3e7/s is a gap of 33⅓ ns: rounding each gap alone gives 33 ns, 1 % too many arrivals;
    // the fraction carried from gap to gap delivers the rate.
    let topo = load(
        r#"Topology(duration: "10ms", warmup: "0s",
            workloads: {"w": Open(rate: "30000000/s", arrivals: Deterministic, to: "s")},
            components: {"s": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("0s"))})"#,
    );
    let r = run(&topo, 0);
    let n = r.end_to_end.offered;
    assert!(
        (299_999..=300_001).contains(&n),
        "{n} arrivals in 10 ms at 3e7/s"
    );
}

#[test]
fn shaped_rates_whose_gaps_are_a_few_nanoseconds_are_delivered_exactly() {
    // Deterministic arrivals fall where the cumulative intensity Λ(t) = ∫λ crosses a whole
    // number, so over [0, 10 ms) they number Λ(10 ms) to within one, whatever the shape. Gaps
    // here are 10 to 100 ns: rounding each arrival to the nanosecond on its own would bias
    // the count by up to 1.5 % (33⅓ ns → 33 ns). Piecewise-constant profiles are used up
    // exactly segment by segment (±2: one at each end); continuous ones by the trapezoid rule,
    // exact on linear pieces, off by less than one arrival at each of a spike's 4 corners, and
    // by ~gap²·|λ''|/λ per arrival on a day cycle (< 1e-9 here): ±6.
    let dir = crate::common::scratch("shaped-carry");
    let trace = crate::common::model_file(
        &dir,
        "trace.csv",
        "t_s,rate_per_s\n0,30000000\n0.005,70000000\n",
    );
    let cases = [
        // Base 1e8/s for 5 ms, then 3e7/s: 500 000 + 150 000.
        (
            "100000000/s",
            r#"Step(at: "5ms", to: "30000000/s")"#,
            650_000.0,
            2.0,
        ),
        // 1e8/s for 2 ms, 3e7/s for 4 ms, 7e7/s for 4 ms.
        (
            "100000000/s",
            r#"Piecewise([("2ms", "30000000/s"), ("6ms", "70000000/s")])"#,
            600_000.0,
            2.0,
        ),
        // 3e7/s then 7e7/s, 5 ms each, from a CSV trace.
        (
            "100000000/s",
            &format!(r#"Trace(file: "{trace}")"#),
            500_000.0,
            2.0,
        ),
        // 1e7/s for 2 ms, a ramp to 3e7/s over 6 ms (mean 2e7/s), 3e7/s for 2 ms.
        (
            "10000000/s",
            r#"Ramp(to: "30000000/s", start: "2ms", over: "6ms")"#,
            200_000.0,
            6.0,
        ),
        // 1e7/s for 10 ms, and a threefold spike adding 2e7/s × (0.5 + 4 + 0.5) ms.
        (
            "10000000/s",
            r#"Spike(at: "2ms", multiplier: 3.0, rise: "1ms", hold: "4ms", decay: "1ms")"#,
            200_000.0,
            6.0,
        ),
        // One whole day cycle of 10 ms averages the base rate.
        (
            "30000000/s",
            r#"Diurnal(amplitude: 0.5, period: "10ms", peak_at: "0s")"#,
            300_000.0,
            6.0,
        ),
    ];
    let mut off = Vec::new();
    for (rate, profile, integral, tolerance) in cases {
        let topo = load(&format!(
            r#"Topology(duration: "10ms", warmup: "0s",
                workloads: {{"w": Open(rate: "{rate}", arrivals: Deterministic, to: "s", profile: {profile})}},
                components: {{"s": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("0s"))}})"#
        ));
        let n = run(&topo, 0).end_to_end.offered as f64;
        if (n - integral).abs() > tolerance {
            off.push(format!(
                "{profile}: {n} arrivals in 10 ms, the profile's integral is {integral}"
            ));
        }
    }
    assert!(off.is_empty(), "{}", off.join("\n"));
}
