//! `limits.max_hops` bounds how deep a request's calls go: a chain that reaches it fails with
//! `hop_limit`, and no limit the counters cannot hold is accepted.

use crate::common::{load, run};

/// `limits.max_hops` beyond what hop counters hold is refused, and a deep self-calling
/// chain at the largest allowed limit ends in `hop_limit`, never an overflow.
#[test]
fn hop_counters_do_not_overflow_at_the_largest_max_hops() {
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
