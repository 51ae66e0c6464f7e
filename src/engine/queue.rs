//! The event queue: pending events ordered by (time, insertion sequence).
//!
//! Equal times pop in the order they were scheduled, which makes every run deterministic.
//! Events scheduled for the current instant skip the heap and go to a FIFO lane (most hops
//! in a web model take zero time); the lane and the heap are merged by sequence number, so
//! the order is exactly the (time, sequence) order either way.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use super::time::SimTime;

struct Entry<E> {
    /// (time << 64) | sequence: one integer compare orders by time, then insertion.
    key: u128,
    event: E,
}

impl<E> Entry<E> {
    #[inline]
    fn time(&self) -> SimTime {
        SimTime::from_nanos((self.key >> 64) as u64)
    }
    #[inline]
    fn seq(&self) -> u64 {
        self.key as u64
    }
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    // Reversed: BinaryHeap is a max-heap and we want the earliest (time, seq) on top.
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        other.key.cmp(&self.key)
    }
}

/// Pending events of type `E`, popped in (time, insertion sequence) order.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    now_lane: VecDeque<(u64, E)>,
    now: SimTime,
    next_seq: u64,
}

impl<E: Copy> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Copy> EventQueue<E> {
    /// An empty queue at time zero.
    pub fn new() -> Self {
        Self {
            heap: BinaryHeap::with_capacity(1024),
            now_lane: VecDeque::with_capacity(256),
            now: SimTime::ZERO,
            next_seq: 0,
        }
    }

    /// The time of the event being handled (or of the last one handled).
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.heap.len() + self.now_lane.len()
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Schedule `event` at `time`; a time in the past is treated as now.
    #[inline]
    pub fn schedule(&mut self, time: SimTime, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        if time <= self.now {
            self.now_lane.push_back((seq, event));
        } else {
            self.heap.push(Entry {
                key: (u128::from(time.as_nanos()) << 64) | u128::from(seq),
                event,
            });
        }
    }

    /// Schedule `event` `delay_ns` nanoseconds from now.
    #[inline]
    pub fn schedule_in(&mut self, delay_ns: u64, event: E) {
        self.schedule(self.now.plus_nanos(delay_ns), event);
    }

    /// Time of the next event, if any.
    pub fn peek_time(&self) -> Option<SimTime> {
        if !self.now_lane.is_empty() {
            return Some(self.now);
        }
        self.heap.peek().map(Entry::time)
    }

    /// Remove the next event and advance the clock to its time.
    #[inline]
    pub fn pop(&mut self) -> Option<E> {
        if let Some(&(lane_seq, lane_event)) = self.now_lane.front() {
            // An event scheduled earlier for this same instant sits in the heap with a
            // smaller sequence number: it goes first.
            if let Some(top) = self.heap.peek()
                && top.time() == self.now
                && top.seq() < lane_seq
            {
                return self.heap.pop().map(|e| e.event);
            }
            self.now_lane.pop_front();
            return Some(lane_event);
        }
        let entry = self.heap.pop()?;
        self.now = entry.time();
        Some(entry.event)
    }

    /// Remove the next event if its time is at most `until`, advancing the clock to it.
    /// `Err(true)` when the queue is empty, `Err(false)` when the next event is later.
    #[inline]
    pub fn pop_until(&mut self, until: SimTime) -> Result<E, bool> {
        if !self.now_lane.is_empty() {
            // Lane events are at `now`, which never exceeds a limit the driver has reached.
            return self.pop().ok_or(true);
        }
        match self.heap.peek() {
            None => Err(true),
            Some(top) if top.time() > until => Err(false),
            Some(_) => self.pop().ok_or(true),
        }
    }

    /// Move the clock forward to `time` when nothing is pending before it.
    pub fn advance_to(&mut self, time: SimTime) {
        let next = self.peek_time().unwrap_or(SimTime::MAX);
        if time > self.now && time <= next {
            self.now = time;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // Whatever interleaving of schedules and pops, events come out in (time, seq) order
        // and none is lost.
        #[test]
        fn pops_in_time_then_insertion_order(ops in proptest::collection::vec((0u64..5, 0u8..3), 1..300)) {
            let mut q = EventQueue::new();
            let mut reference: Vec<(u64, u64)> = Vec::new();
            let mut popped: Vec<(u64, u64)> = Vec::new();
            let mut id = 0u64;
            for (delta, op) in ops {
                if op == 0 {
                    if let Some(ev) = q.pop() {
                        popped.push((q.now().as_nanos(), ev));
                    }
                } else {
                    let t = q.now().as_nanos() + delta;
                    q.schedule(SimTime::from_nanos(t), id);
                    reference.push((t, id));
                    id += 1;
                }
            }
            while let Some(ev) = q.pop() {
                popped.push((q.now().as_nanos(), ev));
            }
            // Times never go backwards.
            for w in popped.windows(2) {
                prop_assert!(w[0].0 <= w[1].0);
            }
            // Among equal times, insertion order (ids increase with insertion).
            for w in popped.windows(2) {
                if w[0].0 == w[1].0 {
                    prop_assert!(w[0].1 < w[1].1, "FIFO broken: {:?}", w);
                }
            }
            // Every event popped exactly once, at the time it was scheduled for.
            reference.sort_by_key(|&(_, id)| id);
            let mut by_id = popped.clone();
            by_id.sort_by_key(|&(_, id)| id);
            prop_assert_eq!(reference, by_id);
        }
    }

    #[test]
    fn lane_and_heap_merge_by_sequence() {
        let mut q = EventQueue::new();
        q.schedule(SimTime::from_nanos(10), 1u32);
        q.schedule(SimTime::from_nanos(10), 2);
        assert_eq!(q.pop(), Some(1));
        // Scheduled now (time 10) after event 2 was scheduled: must come after it.
        q.schedule(SimTime::from_nanos(10), 3);
        assert_eq!(q.pop(), Some(2));
        assert_eq!(q.pop(), Some(3));
        assert_eq!(q.pop(), None);
        assert!(q.is_empty());
    }
}
