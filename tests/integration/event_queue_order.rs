//! The event queue pops in (time, insertion sequence) order whatever the mix of its heap, its
//! now lane, its delay lanes and events scheduled aside: checked against a sorted list.

use flashcrowd::engine::{EventQueue, SimTime};

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
