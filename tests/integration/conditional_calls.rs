//! A service's call can depend on the value the last waited-for answer that carried one
//! carried (`when:`), the base of cache-aside. Services answer `None`; a call `when: None`
//! is made after them, a call `when: Hit` is not, a skipped call does not change what the
//! next condition looks at, and neither does a plain success after a cache's `Miss` (the
//! database read and the fill both depend on the miss).

use crate::common::{load, run};

#[test]
fn a_call_is_made_only_when_the_previous_answer_carried_its_value() {
    let topo = load(
        r#"Topology(duration: "10s", warmup: "1s", seed: 2,
        workloads: {"users": Open(rate: "200/s", to: "web")},
        components: {
            "web": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("0s"),
                calls: [
                    Call(to: "lb"),
                    Call(to: "on_hit", when: Hit),
                    Call(to: "on_none", when: None),
                    Call(to: "on_miss", when: Miss, wait: false),
                ]),
            "lb": LoadBalancer(backends: ["first"], overhead: Const("0s")),
            "first":   Service(threads: "unlimited", cpus: "unlimited", cpu: Const("0s")),
            "on_hit":  Service(threads: "unlimited", cpus: "unlimited", cpu: Const("0s")),
            "on_none": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("0s")),
            "on_miss": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("0s")),
        })"#,
    );
    // No CPU work: a request's calls all arrive at the instant it does, so each component
    // counts exactly the requests it saw (none straddles the counting window's edges).
    let r = run(&topo, 0);
    let arrivals = |n: &str| r.components[n].arrivals;
    let web = arrivals("web");
    assert!(web > 1000, "web saw {web}");
    // The balancer passes its backend's answer (value None) back to the service.
    assert_eq!(arrivals("first"), web);
    assert_eq!(arrivals("on_none"), web);
    assert_eq!(arrivals("on_hit"), 0);
    assert_eq!(arrivals("on_miss"), 0);
    assert_eq!(r.end_to_end.errors, 0);
}

#[test]
fn a_plain_success_does_not_replace_a_miss() {
    // Nothing fills the cache, so every lookup misses; the database answers None; the
    // calls after it still see the miss.
    let topo = load(
        r#"Topology(duration: "10s", warmup: "1s", seed: 2,
        workloads: {"users": Open(rate: "200/s", to: "web", keys: Uniform(n: 1000000))},
        components: {
            "web": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("0s"),
                calls: [
                    Call(to: "cache"),
                    Call(to: "db", when: Miss),
                    Call(to: "after_miss", when: Miss),
                    Call(to: "after_hit", when: Hit),
                ]),
            "cache": Cache(service_time: Const("0s")),
            "db": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("0s")),
            "after_miss": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("0s")),
            "after_hit": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("0s")),
        })"#,
    );
    let r = run(&topo, 0);
    let arrivals = |n: &str| r.components[n].arrivals;
    let web = arrivals("web");
    assert!(web > 1000, "web saw {web}");
    assert_eq!(arrivals("db"), web);
    assert_eq!(arrivals("after_miss"), web);
    assert_eq!(arrivals("after_hit"), 0);
}
