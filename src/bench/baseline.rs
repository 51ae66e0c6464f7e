//! The yardstick of `flashcrowd bench`: the smallest correct hand-written event loops of the
//! two bench models (`models/bench/mm1.ron`, `models/bench/web.ron`), a std `BinaryHeap` of
//! (time, sequence, kind) and FIFO queues, with no slab, histograms, levels or time series.
//!
//! The engine's speed only means something against a loop like this measured on the same
//! machine in the same run (a shared host's speed moves by tens of percent), and the two
//! report the same mean latency, which checks that they simulate the same thing. It borrows
//! only the engine's random streams; it must never use the engine's queue, slab or metrics,
//! and must stay minimal: a slower yardstick would flatter the engine.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use rand::RngExt;
use rand_distr::{Distribution, Exp1};

use crate::engine::{Rng, StreamKey};

/// What a baseline run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BaselineRun {
    /// Events popped from the heap.
    pub events: u64,
    /// Mean end-to-end latency of the requests that finished, in seconds.
    pub mean_latency_s: f64,
}

fn stream(purpose: &str) -> Rng {
    StreamKey {
        seed: 1,
        replication: 0,
        owner: "baseline",
        replica: 0,
        purpose,
    }
    .rng()
}

fn exp_ns(rng: &mut Rng, mean_ns: f64) -> u64 {
    let e: f64 = Exp1.sample(rng);
    (e * mean_ns) as u64
}

/// M/M/1, arrivals 900/s, service 1000/s, `n` customers: the smallest correct event loop.
pub fn mm1(n: u64) -> BaselineRun {
    let mut arr = stream("a");
    let mut svc = stream("s");
    // (time, seq, kind): 0 = arrival, 1 = departure.
    let mut heap: BinaryHeap<Reverse<(u64, u64, u8)>> = BinaryHeap::new();
    let mut queue: VecDeque<u64> = VecDeque::new();
    let mut seq = 0u64;
    let mut events = 0u64;
    let (mut arrived, mut done, mut sum) = (0u64, 0u64, 0u128);
    heap.push(Reverse((exp_ns(&mut arr, 1e9 / 900.0), seq, 0)));
    while let Some(Reverse((t, _, kind))) = heap.pop() {
        events += 1;
        seq += 1;
        if kind == 0 {
            arrived += 1;
            queue.push_back(t);
            if queue.len() == 1 {
                heap.push(Reverse((t + exp_ns(&mut svc, 1e6), seq, 1)));
            }
            if arrived < n {
                heap.push(Reverse((t + exp_ns(&mut arr, 1e9 / 900.0), seq, 0)));
            }
        } else {
            let Some(a) = queue.pop_front() else { continue };
            sum += u128::from(t - a);
            done += 1;
            if !queue.is_empty() {
                heap.push(Reverse((t + exp_ns(&mut svc, 1e6), seq, 1)));
            }
        }
    }
    BaselineRun {
        events,
        mean_latency_s: sum as f64 / done.max(1) as f64 / 1e9,
    }
}

/// Poisson 9000/s → round robin over 10 single-thread servers (exp 1 ms) → 0.1 ms delay →
/// 20 % to a single-thread DB (exp 0.389 ms); `n` requests.
pub fn web(n: u64) -> BaselineRun {
    const WEB: usize = 10;
    let mut arr = stream("a");
    let mut svc = stream("s");
    let mut route = stream("r");
    // kind: 0 arrival, 1 web departure (server in id), 2 delay done, 3 db departure.
    let mut heap: BinaryHeap<Reverse<(u64, u64, u8, u32)>> = BinaryHeap::new();
    let mut web: Vec<VecDeque<u64>> = vec![VecDeque::new(); WEB];
    let mut db: VecDeque<u64> = VecDeque::new();
    let mut delayed: VecDeque<u64> = VecDeque::new(); // constant delay: FIFO
    let (mut seq, mut events, mut arrived, mut rr, mut done, mut sum) =
        (0u64, 0u64, 0u64, 0usize, 0u64, 0u128);
    heap.push(Reverse((exp_ns(&mut arr, 1e9 / 9000.0), 0, 0, 0)));
    while let Some(Reverse((t, _, kind, id))) = heap.pop() {
        events += 1;
        seq += 1;
        match kind {
            0 => {
                arrived += 1;
                let s = rr;
                rr = (rr + 1) % WEB;
                web[s].push_back(t);
                if web[s].len() == 1 {
                    heap.push(Reverse((t + exp_ns(&mut svc, 1e6), seq, 1, s as u32)));
                }
                if arrived < n {
                    heap.push(Reverse((t + exp_ns(&mut arr, 1e9 / 9000.0), seq, 0, 0)));
                }
            }
            1 => {
                let s = id as usize;
                let Some(a) = web[s].pop_front() else {
                    continue;
                };
                delayed.push_back(a);
                heap.push(Reverse((t + 100_000, seq, 2, 0)));
                if !web[s].is_empty() {
                    heap.push(Reverse((t + exp_ns(&mut svc, 1e6), seq, 1, s as u32)));
                }
            }
            2 => {
                let Some(a) = delayed.pop_front() else {
                    continue;
                };
                if route.random::<f64>() < 0.2 {
                    db.push_back(a);
                    if db.len() == 1 {
                        heap.push(Reverse((t + exp_ns(&mut svc, 389_000.0), seq, 3, 0)));
                    }
                } else {
                    sum += u128::from(t - a);
                    done += 1;
                }
            }
            _ => {
                let Some(a) = db.pop_front() else { continue };
                sum += u128::from(t - a);
                done += 1;
                if !db.is_empty() {
                    heap.push(Reverse((t + exp_ns(&mut svc, 389_000.0), seq, 3, 0)));
                }
            }
        }
    }
    BaselineRun {
        events,
        mean_latency_s: sum as f64 / done.max(1) as f64 / 1e9,
    }
}

#[cfg(test)]
mod tests {
    use super::{mm1, web};

    #[test]
    fn baselines_handle_every_request_and_are_deterministic() {
        // M/M/1: each customer is one arrival and one departure.
        let a = mm1(2_000);
        assert_eq!(a.events, 4_000);
        assert_eq!(a, mm1(2_000));
        // Web: arrival, web departure, delay end, and a DB departure for about 20 %.
        let b = web(2_000);
        assert!((6_000..=6_000 + 2_000).contains(&b.events), "{}", b.events);
        assert_eq!(b, web(2_000));
    }

    #[test]
    fn baseline_mean_latencies_match_queueing_theory() {
        // M/M/1 at ρ = 0.9, μ = 1000/s: W = 1 / (μ − λ) = 10 ms. Sojourns are correlated over
        // busy periods, so the mean of 200 000 of them has a relative sd of about 5 % (30
        // replications of Lindley's recursion gave 4.9 %): ±15 % is 3σ.
        let w = mm1(200_000).mean_latency_s;
        assert!((w - 0.010).abs() < 0.0015, "M/M/1 mean sojourn {w}");
    }
}
