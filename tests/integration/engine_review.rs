//! Regression tests from the second review (the session that added delay lanes, same-instant
//! hops and window-edge departure counters).

use flashcrowd::engine::{EventQueue, SimTime, StepOutcome};
use flashcrowd::simulation::{RunOptions, Simulation};

use crate::common::{load, run};

/// The queue against a naive reference (a sorted list of (time, sequence, id)): random mixes
/// of `schedule` (past times included), `schedule_lane` (delay 0 included), `schedule_aside`,
/// `pop_until`, `advance_to`, `peek_time` and `len` agree exactly.
#[test]
fn queue_matches_a_sorted_reference() {
    for seed in 0..300u64 {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut rnd = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        let mut q: EventQueue<u64> = EventQueue::new();
        let mut pending: Vec<(u64, u64, u64)> = Vec::new();
        let mut seq = 0u64;
        for _ in 0..400 {
            let now = q.now().as_nanos();
            match rnd(7) {
                0 | 1 => {
                    let t = (now + rnd(6)).saturating_sub(rnd(3));
                    q.schedule(SimTime::from_nanos(t), seq);
                    pending.push((t.max(now), seq, seq));
                }
                2 => {
                    let d = rnd(5);
                    let lane = q.lane(d);
                    q.schedule_lane(lane, seq);
                    pending.push((now + d, seq, seq));
                }
                3 => {
                    let t = (now + rnd(6)).saturating_sub(rnd(3));
                    q.schedule_aside(SimTime::from_nanos(t), seq);
                    pending.push((t.max(now), seq, seq));
                }
                4 => {
                    let until = now + rnd(4);
                    pending.sort();
                    let got = q.pop_until(SimTime::from_nanos(until));
                    match pending.first().copied() {
                        None => assert_eq!(got, Err(true), "seed {seed}"),
                        Some((t, _, id)) if t <= until => {
                            assert_eq!(got, Ok(id), "seed {seed}");
                            assert_eq!(q.now().as_nanos(), t);
                            pending.remove(0);
                        }
                        Some(_) => assert_eq!(got, Err(false), "seed {seed}"),
                    }
                    continue;
                }
                5 => {
                    let t = now + rnd(4);
                    pending.sort();
                    let next = pending.first().map_or(u64::MAX, |p| p.0);
                    q.advance_to(SimTime::from_nanos(t));
                    let expected = if t > now && t <= next { t } else { now };
                    assert_eq!(q.now().as_nanos(), expected, "seed {seed}");
                    continue;
                }
                _ => {
                    pending.sort();
                    assert_eq!(
                        q.peek_time().map(|t| t.as_nanos()),
                        pending.first().map(|p| p.0),
                        "seed {seed}"
                    );
                    assert_eq!(q.len(), pending.len());
                    continue;
                }
            }
            seq += 1;
        }
        pending.sort();
        for (t, _, id) in pending {
            assert_eq!(q.pop(), Some(id), "seed {seed}");
            assert_eq!(q.now().as_nanos(), t);
        }
        assert!(q.is_empty());
    }
}

/// `requests: N` ends the window just after the N-th counted arrival (t + 1 ns). A success at
/// exactly t + 1 ns lies outside [warmup, t + 1 ns) and must not count as a departure, even
/// when its event runs before the window's closing edge at that instant.
#[test]
fn a_success_at_the_budget_window_end_is_not_a_departure() {
    // Arrivals every 1 ms from 1 ms; constant work 1 ms + 1 ns, so arrival k finishes at
    // (k + 1) ms + 1 ns. The 10th arrival is at 10 ms: the window is [0, 10 ms + 1 ns) and
    // holds the completions of arrivals 1..=8; arrival 9 finishes exactly at its end.
    let topo = load(
        r#"Topology(duration: "1s", warmup: "0s", requests: 10,
            workloads: {"w": Open(rate: "1000/s", to: "s", arrivals: Deterministic)},
            components: {"s": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("1000001ns"))})"#,
    );
    let r = run(&topo, 0);
    assert_eq!(r.sim_duration_s, 0.010000001);
    let len = r.sim_duration_s - r.warmup_s;
    let departures = |x: f64| (x * len).round() as u64;
    assert_eq!(departures(r.components["s"].throughput_per_s), 8);
    assert_eq!(departures(r.end_to_end.throughput_per_s), 8);
}

/// A step with an event budget counts every event it handles, same-instant hops included,
/// and never splits a chain of hops: stepping one event at a time reports the same events as
/// running through, and each step handles at least its budget (or ends the run).
#[test]
fn event_budgets_count_hops() {
    let text = r#"Topology(duration: "2s", warmup: "0s",
        workloads: {"w": Open(rate: "1000/s", to: "lb")},
        components: {"lb": LoadBalancer(backends: ["s"], overhead: Const("0s")),
                     "s": Service(cpu: Exp(mean: "100us"))})"#;
    let topo = load(text);
    let through = Simulation::new(&topo, RunOptions::default()).run();
    let mut sim = Simulation::new(&topo, RunOptions::default());
    let (mut steps, mut longest) = (0u64, 0u64);
    loop {
        let before = sim.events();
        let out = sim.step(SimTime::MAX, 1);
        let handled = sim.events() - before;
        longest = longest.max(handled);
        if out == StepOutcome::Idle {
            break;
        }
        assert!(handled >= 1, "a step with budget 1 handled nothing");
        steps += 1;
    }
    let stepped = sim.finish();
    assert_eq!(stepped.events, through.events);
    assert!(
        steps < through.events,
        "hops ran inside steps ({steps} steps)"
    );
    // client → balancer → service is the longest chain here: arrival, two deliveries.
    assert!(longest <= 3, "one step handled {longest} events");
}
