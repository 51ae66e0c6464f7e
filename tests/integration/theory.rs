//! Queueing theory: the engine against closed forms. Each assertion holds within
//! max(a bound from theory, 4 standard errors measured across independent replications).
//! Percentiles carry HdrHistogram's 0.1 % quantization, which sets their theory bound.

use crate::common::{Estimate, load, replicate, run};

/// Relative quantization of the percentiles (3 significant digits).
const HDR: f64 = 1e-3;

fn mm1(rate: f64, service_ms: f64, duration_s: u32) -> String {
    format!(
        r#"Topology(duration: "{duration_s}s", warmup: "10s",
            workloads: {{"a": Open(rate: "{rate}/s", to: "s")}},
            components: {{"s": Service(cpu: Exp(mean: "{service_ms}ms"))}})"#
    )
}

fn check_mm1(rho: f64, duration_s: u32, reps: u32) {
    let mu = 1000.0;
    let lambda = rho * mu;
    let topo = load(&mm1(lambda, 1.0, duration_s));
    let reports: Vec<_> = (0..reps).map(|r| run(&topo, r)).collect();
    let est = |f: &dyn Fn(&flashcrowd::metrics::Report) -> f64| {
        Estimate::from_samples(&reports.iter().map(f).collect::<Vec<_>>())
    };
    let t = 1.0 / (mu - lambda);
    est(&|r| r.end_to_end.latency_s.mean).assert_near(
        t,
        0.0,
        &format!("M/M/1 ρ={rho} mean sojourn"),
    );
    // Sojourn in FCFS M/M/1 is exponential with rate μ − λ.
    let p99 = 100f64.ln() / (mu - lambda);
    est(&|r| r.end_to_end.latency_s.p99).assert_near(p99, HDR * p99, &format!("M/M/1 ρ={rho} P99"));
    est(&|r| r.components["s"].figure("cpu_utilization").unwrap_or(0.0)).assert_near(
        rho,
        0.0,
        "M/M/1 utilization",
    );
    // Mean number waiting Lq = ρ²/(1−ρ).
    est(&|r| r.components["s"].figure("mean_queue_len").unwrap()).assert_near(
        rho * rho / (1.0 - rho),
        0.0,
        &format!("M/M/1 ρ={rho} Lq"),
    );
    // The wait before service: P(W > 0) = ρ, E[W] = ρ/(μ − λ), P(W > t) = ρ e^{−(μ−λ)t}.
    est(&|r| r.components["s"].figure("waited_fraction").unwrap()).assert_near(
        rho,
        0.0,
        &format!("M/M/1 ρ={rho} P(wait > 0)"),
    );
    est(&|r| wait(r, "s", "mean")).assert_near(
        rho / (mu - lambda),
        0.0,
        &format!("M/M/1 ρ={rho} mean wait"),
    );
    let wait_p99 = (rho / 0.01).ln() / (mu - lambda);
    est(&|r| wait(r, "s", "p99")).assert_near(
        wait_p99,
        HDR * wait_p99,
        &format!("M/M/1 ρ={rho} wait P99"),
    );
}

/// A value of a component's `wait_s` figure.
fn wait(r: &flashcrowd::metrics::Report, component: &str, key: &str) -> f64 {
    r.components[component].figures["wait_s"][key]
        .as_f64()
        .expect("wait_s holds numbers")
}

#[test]
fn mm1_at_half_load() {
    check_mm1(0.5, 100, 10);
}

#[test]
fn mm1_at_ninety_percent_load() {
    check_mm1(0.9, 400, 20);
}

/// Erlang C probability of waiting for c servers at offered load a = λ/μ.
fn erlang_c(c: u32, a: f64) -> f64 {
    let rho = a / f64::from(c);
    let mut term = 1.0;
    let mut sum = 0.0;
    for k in 0..c {
        if k > 0 {
            term *= a / f64::from(k);
        }
        sum += term;
    }
    let last = term * a / f64::from(c) / (1.0 - rho);
    last / (sum + last)
}

#[test]
fn mmc_matches_erlang_c() {
    let (c, lambda, mu) = (4u32, 3200.0, 1000.0);
    let topo = load(&format!(
        r#"Topology(duration: "100s", warmup: "10s",
            workloads: {{"a": Open(rate: "{lambda}/s", to: "pool")}},
            components: {{"pool": Service(threads: {c}, cpus: {c}, cpu: Exp(mean: "1ms"))}})"#
    ));
    let pw = erlang_c(c, lambda / mu);
    assert!((pw - 0.5964).abs() < 1e-3, "Erlang C formula itself: {pw}");
    let wq = pw / (f64::from(c) * mu - lambda);
    replicate(&topo, 10, |r| r.end_to_end.latency_s.mean).assert_near(
        wq + 1.0 / mu,
        0.0,
        "M/M/4 mean sojourn",
    );
    replicate(&topo, 10, |r| {
        r.components["pool"].figure("mean_queue_len").unwrap()
    })
    .assert_near(lambda * wq, 0.0, "M/M/4 Lq");
    // With threads = CPUs the wait before work is Erlang C's: P(W > 0) = C(c, a), mean
    // C/(cμ − λ), and P(W > t) = C e^{−(cμ−λ)t}.
    replicate(&topo, 10, |r| {
        r.components["pool"].figure("waited_fraction").unwrap()
    })
    .assert_near(pw, 0.0, "M/M/4 P(wait > 0)");
    replicate(&topo, 10, |r| wait(r, "pool", "mean")).assert_near(wq, 0.0, "M/M/4 mean wait");
    let wait_p95 = (pw / 0.05).ln() / (f64::from(c) * mu - lambda);
    replicate(&topo, 10, |r| wait(r, "pool", "p95")).assert_near(
        wait_p95,
        HDR * wait_p95,
        "M/M/4 wait P95",
    );
}

#[test]
fn md1_matches_pollaczek_khinchine() {
    let (lambda, mu) = (800.0, 1000.0);
    let rho = lambda / mu;
    let topo = load(&format!(
        r#"Topology(duration: "100s", warmup: "10s",
            workloads: {{"a": Open(rate: "{lambda}/s", to: "s")}},
            components: {{"s": Service(cpu: Const("1ms"))}})"#
    ));
    let wq = rho / (2.0 * mu * (1.0 - rho));
    replicate(&topo, 10, |r| r.end_to_end.latency_s.mean).assert_near(
        wq + 1.0 / mu,
        0.0,
        "M/D/1 mean sojourn",
    );
}

#[test]
fn mm1k_blocking_probability() {
    // K = 5 in the system: one in service plus a queue of 4.
    let (lambda, mu, k) = (900.0, 1000.0, 5i32);
    let rho: f64 = lambda / mu;
    let topo = load(&format!(
        r#"Topology(duration: "100s", warmup: "10s",
            workloads: {{"a": Open(rate: "{lambda}/s", to: "s")}},
            components: {{"s": Service(queue_limit: {}, cpu: Exp(mean: "1ms"))}})"#,
        k - 1
    ));
    let pk = (1.0 - rho) * rho.powi(k) / (1.0 - rho.powi(k + 1));
    // Arrivals see time averages (PASTA): the fraction rejected is P(K in system).
    replicate(&topo, 10, |r| r.end_to_end.error_rate).assert_near(pk, 0.0, "M/M/1/5 blocking");
    let r = run(&topo, 0);
    assert_eq!(
        r.end_to_end.errors_by_cause.keys().collect::<Vec<_>>(),
        vec!["queue_full"]
    );
    assert!(r.components["s"].figure("max_queue_len").unwrap() <= 4.0);
}

/// Exact Mean Value Analysis of a closed network of FCFS single servers and a think time.
fn mva(users: u32, think_s: f64, demands_s: &[f64]) -> (f64, f64) {
    let mut q = vec![0.0; demands_s.len()];
    let (mut x, mut r_total) = (0.0, 0.0);
    for n in 1..=users {
        let r: Vec<f64> = demands_s
            .iter()
            .zip(&q)
            .map(|(d, qk)| d * (1.0 + qk))
            .collect();
        r_total = r.iter().sum();
        x = f64::from(n) / (think_s + r_total);
        q = r.iter().map(|rk| x * rk).collect();
    }
    (x, r_total)
}

#[test]
fn closed_loop_matches_mean_value_analysis() {
    // Async web (its thread is free while the database works): a product-form tandem.
    let topo = load(
        r#"Topology(duration: "200s", warmup: "20s",
            workloads: {"u": Closed(users: 12, think: Exp(mean: "40ms"), to: "web")},
            components: {
                "web": Service(server: Async, cpu: Exp(mean: "4ms"), calls: [Call(to: "db")]),
                "db": Service(cpu: Exp(mean: "3ms")),
            })"#,
    );
    let (x, r) = mva(12, 0.040, &[0.004, 0.003]);
    replicate(&topo, 10, |rep| rep.end_to_end.throughput_per_s).assert_near(
        x,
        0.0,
        "closed loop throughput",
    );
    replicate(&topo, 10, |rep| rep.end_to_end.latency_s.mean).assert_near(
        r,
        0.0,
        "closed loop response time",
    );
}

#[test]
fn least_conn_beats_round_robin_on_unequal_servers() {
    let model = |policy: &str| {
        load(&format!(
            r#"Topology(duration: "60s", warmup: "5s",
                workloads: {{"a": Open(rate: "450/s", to: "lb")}},
                components: {{
                    "lb": LoadBalancer(policy: {policy}, backends: ["fast", "slow"], layer: L4),
                    "fast": Service(cpu: Exp(mean: "1ms")),
                    "slow": Service(cpu: Exp(mean: "4ms")),
                }})"#
        ))
    };
    let rr = model("RoundRobin");
    let lc = model("LeastConn");
    // Same replication seeds for both: common random numbers sharpen the comparison.
    let diffs: Vec<f64> = (0..8)
        .map(|r| run(&rr, r).end_to_end.latency_s.mean - run(&lc, r).end_to_end.latency_s.mean)
        .collect();
    let d = Estimate::from_samples(&diffs);
    // Round robin sends half to the slow server (ρ = 0.9): mean ≈ 0.5·40 ms + 0.5·1.3 ms.
    assert!(
        d.mean > 4.0 * d.se && d.mean > 0.005,
        "least_conn should win clearly: {d:?}"
    );
    let lc_report = run(&lc, 0);
    // Idle ties alternate (nginx breaks them by round robin), so the split is uneven but not
    // proportional to speed; the fast server must still get clearly more.
    let (fast, slow) = (
        lc_report.components["fast"].arrivals,
        lc_report.components["slow"].arrivals,
    );
    assert!(fast as f64 > 1.2 * slow as f64, "fast {fast} slow {slow}");
}

#[test]
fn peak_ewma_keeps_work_off_the_slow_server_and_beats_round_robin() {
    let model = |policy: &str| {
        load(&format!(
            r#"Topology(duration: "60s", warmup: "5s",
                workloads: {{"a": Open(rate: "450/s", to: "lb")}},
                components: {{
                    "lb": LoadBalancer(policy: {policy}, backends: ["fast", "slow"], layer: L4,
                                       ewma_decay: "1s"),
                    "fast": Service(cpu: Exp(mean: "1ms")),
                    "slow": Service(cpu: Exp(mean: "4ms")),
                }})"#
        ))
    };
    let rr = model("RoundRobin");
    let ewma = model("PeakEwma");
    let diffs: Vec<f64> = (0..8)
        .map(|r| run(&rr, r).end_to_end.latency_s.mean - run(&ewma, r).end_to_end.latency_s.mean)
        .collect();
    let d = Estimate::from_samples(&diffs);
    assert!(
        d.mean > 4.0 * d.se && d.mean > 0.005,
        "peak EWMA should win clearly: {d:?}"
    );
    // For two M/M/1 servers (μ 1000/s and 250/s) at λ = 450/s the mean-optimal split sends
    // nothing to the slow one (the square-root rule gives a negative share); a latency-aware
    // policy sends it little, round robin half.
    let r = run(&ewma, 0);
    let (fast, slow) = (r.components["fast"].arrivals, r.components["slow"].arrivals);
    let share = slow as f64 / (fast + slow) as f64;
    assert!(share < 0.25, "slow server's share {share}");
}

/// Erlang B: blocking probability of c servers and no waiting room at offered load a.
fn erlang_b(c: u32, a: f64) -> f64 {
    // The stable recurrence B(k) = a·B(k−1) / (k + a·B(k−1)).
    (1..=c).fold(1.0, |b, k| a * b / (f64::from(k) + a * b))
}

#[test]
fn loss_system_matches_erlang_b_for_any_service_distribution() {
    // M/G/5/5 with queue_limit 0: Erlang B is insensitive to the service distribution beyond
    // its mean, so a log-normal with sd twice the mean must block like an exponential.
    let (c, lambda, mean_s) = (5u32, 4000.0, 0.001);
    let b = erlang_b(c, lambda * mean_s);
    assert!((b - 0.1991).abs() < 1e-3, "Erlang B formula itself: {b}");
    for cpu in [
        r#"Exp(mean: "1ms")"#,
        r#"LogNormal(mean: "1ms", sd: "2ms")"#,
    ] {
        let topo = load(&format!(
            r#"Topology(duration: "60s", warmup: "5s",
                workloads: {{"a": Open(rate: "{lambda}/s", to: "s")}},
                components: {{"s": Service(threads: {c}, cpus: {c}, queue_limit: 0, cpu: {cpu})}})"#
        ));
        replicate(&topo, 10, |r| r.end_to_end.error_rate).assert_near(
            b,
            0.0,
            &format!("Erlang B with {cpu}"),
        );
    }
}
