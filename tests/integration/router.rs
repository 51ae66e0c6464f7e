//! The router: each request goes down the first route matching its class and region, else the
//! default; without a default, unmatched requests fail with `no_route`.

use flashcrowd::metrics::Report;

use crate::common::{errors_of, load, run};

fn arrivals(r: &Report, name: &str) -> u64 {
    r.components[name].arrivals
}

/// |observed − n p| within 4 binomial standard deviations.
fn assert_share(observed: u64, n: u64, p: f64, what: &str) {
    let (n, observed) = (n as f64, observed as f64);
    let sd = (n * p * (1.0 - p)).sqrt();
    assert!(
        (observed - n * p).abs() <= 4.0 * sd,
        "{what}: {observed} of {n}, expected {:.0} ± {:.0} (4 sd)",
        n * p,
        4.0 * sd
    );
}

#[test]
fn requests_follow_the_first_matching_route_by_class_and_region() {
    let topo = load(
        r#"Topology(duration: "30s", warmup: "2s", seed: 11,
        workloads: {"users": Open(rate: "1000/s", to: "gw",
            mix: {"browse": 0.7, "checkout": 0.1, "search": 0.2},
            regions: {"eu": 0.25, "us": 0.75})},
        components: {
            "gw": Router(routes: [
                Route(classes: ["checkout"], to: "pay"),
                Route(classes: ["search", "browse"], regions: ["eu"], to: "eu"),
            ], default: "us"),
            "pay": Service(threads: "unlimited", cpus: "unlimited", cpu: Exp(mean: "2ms")),
            "eu":  Service(threads: "unlimited", cpus: "unlimited", cpu: Exp(mean: "2ms")),
            "us":  Service(threads: "unlimited", cpus: "unlimited", cpu: Exp(mean: "2ms")),
        })"#,
    );
    let r = run(&topo, 0);
    let n = arrivals(&r, "gw");
    // Every request goes exactly one way.
    assert_eq!(
        arrivals(&r, "pay") + arrivals(&r, "eu") + arrivals(&r, "us"),
        n
    );
    assert_eq!(r.end_to_end.errors, 0);
    // Checkout goes to `pay` whatever its region (the first rule wins).
    assert_share(arrivals(&r, "pay"), n, 0.1, "pay");
    // Non-checkout from the EU: 0.9 × 0.25.
    assert_share(arrivals(&r, "eu"), n, 0.9 * 0.25, "eu");
    assert_share(arrivals(&r, "us"), n, 0.9 * 0.75, "us");
}

#[test]
fn requests_no_route_takes_fail_with_no_route_and_nothing_else_does() {
    let topo = load(
        r#"Topology(duration: "20s", warmup: "0s", seed: 5,
        workloads: {"users": Open(rate: "500/s", to: "gw", mix: {"api": 0.6, "static": 0.4})},
        components: {
            "gw": Router(routes: [Route(classes: ["api"], to: "api")], overhead: Const("0s")),
            "api": Service(threads: "unlimited", cpus: "unlimited", cpu: Exp(mean: "1ms")),
        })"#,
    );
    let r = run(&topo, 0);
    let offered = r.end_to_end.offered;
    let no_route = errors_of(&r, "no_route");
    assert_eq!(no_route + arrivals(&r, "api"), offered);
    assert_eq!(
        r.end_to_end.errors, no_route,
        "{:?}",
        r.end_to_end.errors_by_cause
    );
    assert_share(no_route, offered, 0.4, "no_route");
    // Refused at once: a no-route failure takes no time (the overhead is zero).
    assert_eq!(r.end_to_end.error_latency_s.max, 0.0);
}

#[test]
fn the_router_adds_its_overhead_once_per_request() {
    // A constant overhead in front of a constant service: every latency is their sum.
    let topo = load(
        r#"Topology(duration: "5s", warmup: "0s",
        workloads: {"users": Open(rate: "100/s", to: "gw")},
        components: {
            "gw": Router(default: "svc", overhead: Const("250us")),
            "svc": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("1ms")),
        })"#,
    );
    let r = run(&topo, 0);
    let l = &r.end_to_end.latency_s;
    assert!((l.mean - 0.00125).abs() < 1e-9, "mean {}", l.mean);
    assert!((l.max - 0.00125).abs() < 1e-9, "max {}", l.max);
}
