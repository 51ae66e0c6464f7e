//! The event queue: pending events ordered by (time, insertion sequence).
//!
//! Equal times pop in the order they were scheduled, which makes every run deterministic.
//! Three stores hold pending events, merged exactly by their (time, sequence) keys:
//!
//! - a binary heap for arbitrary delays;
//! - a FIFO *now lane* for events scheduled at the current instant (most hops in a web model
//!   take zero time);
//! - *delay lanes*, one per fixed delay (a timeout, a constant service time): events
//!   scheduled `d` from now with the same `d` come due in the order they were scheduled, so
//!   each lane is a FIFO and only its head sits in a small heap of lane heads. A timer costs
//!   O(1) however many are pending, and abandoned timers (a call answered before its
//!   timeout) no longer deepen the main heap.

//!
//! Events are stored packed into a `u128` ([`Packed`]): built and read in registers, two
//! machine words that are never written in narrow pieces and read back wide (a failed
//! store-to-load forward stalls the loop for a dozen cycles; an enum copied through memory
//! causes exactly that).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use super::time::SimTime;

/// An event as the queue stores it: packed into two machine words.
pub trait Packed: Copy {
    /// The event's bits.
    fn pack(self) -> u128;
    /// The event back from [`Packed::pack`]'s bits.
    fn unpack(bits: u128) -> Self;
}

/// Plain integers as events (tests and simple models).
macro_rules! packed_integers {
    ($($t:ty),*) => {$(
        impl Packed for $t {
            #[inline]
            fn pack(self) -> u128 {
                u128::from(self)
            }
            #[inline]
            fn unpack(bits: u128) -> Self {
                bits as $t
            }
        }
    )*};
}

packed_integers!(u32, u64);

#[derive(Clone, Copy)]
struct Entry<E> {
    /// (time << 64) | sequence: one integer compare orders by time, then insertion.
    key: u128,
    event: E,
}

/// A binary min-heap of entries by key, for the main event store (events packed).
///
/// Hand-written rather than `std`'s `BinaryHeap` for one reason: `BinaryHeap::pop` stores
/// the last entry on the stack in 8-byte pieces and at once reloads it 16 bytes at a time to
/// swap it into the root, a failed store-to-load forward on every pop (`perf annotate` puts a
/// fifth of the event loop's samples there). Here the moving entry stays in registers and
/// is written once, where it ends up.
struct MinHeap {
    data: Vec<Entry<u128>>,
}

impl MinHeap {
    fn with_capacity(n: usize) -> Self {
        Self {
            data: Vec::with_capacity(n),
        }
    }

    #[inline]
    fn len(&self) -> usize {
        self.data.len()
    }

    /// The smallest key, or `u128::MAX` when empty.
    #[inline(always)]
    fn min_key(&self) -> u128 {
        self.data.first().map_or(u128::MAX, |e| e.key)
    }

    #[inline(always)]
    fn push(&mut self, entry: Entry<u128>) {
        let mut pos = self.data.len();
        self.data.push(entry);
        let data = self.data.as_mut_slice();
        // Move larger parents down the path, then write the new entry once.
        while pos > 0 {
            let parent = (pos - 1) / 2;
            let p = data[parent];
            if p.key <= entry.key {
                break;
            }
            data[pos] = p;
            pos = parent;
        }
        data[pos] = entry;
    }

    #[inline(always)]
    fn pop(&mut self) -> Option<Entry<u128>> {
        let last = self.data.pop()?;
        let data = self.data.as_mut_slice();
        let n = data.len();
        let Some(&top) = data.first() else {
            return Some(last);
        };
        // The hole left at the root goes down to a leaf, always taking the smaller child
        // (a branch-free choice, and no compare with `last`, which came from the bottom and
        // mostly belongs near there), then `last` rises from that leaf to its place.
        let mut pos = 0;
        let mut child = 1;
        while child + 1 < n {
            child += usize::from(data[child + 1].key < data[child].key);
            data[pos] = data[child];
            pos = child;
            child = 2 * pos + 1;
        }
        if child + 1 == n {
            data[pos] = data[child];
            pos = child;
        }
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if data[parent].key <= last.key {
                break;
            }
            data[pos] = data[parent];
            pos = parent;
        }
        data[pos] = last;
        Some(top)
    }
}

#[inline]
fn key_of(time: SimTime, seq: u64) -> u128 {
    (u128::from(time.as_nanos()) << 64) | u128::from(seq)
}

#[inline]
fn time_of(key: u128) -> SimTime {
    SimTime::from_nanos((key >> 64) as u64)
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

/// A fixed delay registered with [`EventQueue::lane`]; events scheduled through it come due
/// exactly that long after they are scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LaneId(u32);

struct Lane {
    delay_ns: u64,
    /// (key, packed event).
    fifo: VecDeque<(u128, u128)>,
}

/// Pending events of type `E`, popped in (time, insertion sequence) order.
pub struct EventQueue<E> {
    heap: MinHeap,
    /// (sequence, packed event).
    now_lane: VecDeque<(u64, u128)>,
    lanes: Vec<Lane>,
    /// The head of every non-empty delay lane, keyed like heap entries.
    lane_heads: BinaryHeap<Entry<u32>>,
    in_lanes: usize,
    now: SimTime,
    next_seq: u64,
    _events: std::marker::PhantomData<E>,
}

impl<E: Packed> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Packed> EventQueue<E> {
    /// An empty queue at time zero.
    pub fn new() -> Self {
        Self {
            heap: MinHeap::with_capacity(1024),
            now_lane: VecDeque::with_capacity(256),
            lanes: Vec::new(),
            lane_heads: BinaryHeap::new(),
            in_lanes: 0,
            now: SimTime::ZERO,
            next_seq: 0,
            _events: std::marker::PhantomData,
        }
    }

    /// The time of the event being handled (or of the last one handled).
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.heap.len() + self.now_lane.len() + self.in_lanes
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The lane for a fixed delay of `delay_ns` (the same lane for the same delay).
    pub fn lane(&mut self, delay_ns: u64) -> LaneId {
        if let Some(i) = self.lanes.iter().position(|l| l.delay_ns == delay_ns) {
            return LaneId(i as u32);
        }
        self.lanes.push(Lane {
            delay_ns,
            fifo: VecDeque::new(),
        });
        LaneId((self.lanes.len() - 1) as u32)
    }

    /// The fixed delay of `lane`, ns.
    pub fn lane_delay_ns(&self, lane: LaneId) -> u64 {
        self.lanes.get(lane.0 as usize).map_or(0, |l| l.delay_ns)
    }

    /// Schedule `event` at `time`; a time in the past is treated as now.
    #[inline(always)]
    pub fn schedule(&mut self, time: SimTime, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let event = event.pack();
        if time <= self.now {
            self.now_lane.push_back((seq, event));
        } else {
            self.heap.push(Entry {
                key: key_of(time, seq),
                event,
            });
        }
    }

    /// Schedule `event` at `time` (now, if earlier) before everything else due at that
    /// instant, scheduled before or after: a command's first consequence, a window edge that
    /// must see nothing of its instant. Two such events at the current instant pop in reverse
    /// order; at a later instant their order among themselves is unspecified (but
    /// deterministic). The world makes at most one of the latter per run.
    pub fn schedule_first(&mut self, time: SimTime, event: E) {
        // Sequence 0 sorts before every other key at that instant.
        let event = event.pack();
        if time <= self.now {
            self.now_lane.push_front((0, event));
        } else {
            self.heap.push(Entry {
                key: key_of(time, 0),
                event,
            });
        }
    }

    /// Schedule `event` `delay_ns` nanoseconds from now.
    #[inline(always)]
    pub fn schedule_in(&mut self, delay_ns: u64, event: E) {
        self.schedule(self.now.plus_nanos(delay_ns), event);
    }

    /// Schedule `event` one lane delay from now: same order as [`EventQueue::schedule_in`]
    /// with that delay, at O(1) cost.
    #[inline(always)]
    pub fn schedule_lane(&mut self, lane: LaneId, event: E) {
        let Some(l) = self.lanes.get_mut(lane.0 as usize) else {
            return;
        };
        if l.delay_ns == 0 {
            self.schedule(self.now, event);
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let key = key_of(self.now.plus_nanos(l.delay_ns), seq);
        if l.fifo.is_empty() {
            self.lane_heads.push(Entry { key, event: lane.0 });
        }
        l.fifo.push_back((key, event.pack()));
        self.in_lanes += 1;
    }

    /// Schedule a rare bookkeeping event (a window edge, a periodic tick) at `time`, out of
    /// the main heap: it goes through the delay lane for its distance from now, so the heap
    /// holds only the model's own events and stays shallow. Same order as
    /// [`EventQueue::schedule`].
    pub fn schedule_aside(&mut self, time: SimTime, event: E) {
        let delay = time.as_nanos().saturating_sub(self.now.as_nanos());
        let lane = self.lane(delay);
        self.schedule_lane(lane, event);
    }

    /// Keys of the earliest heap event and the earliest delay-lane event (`u128::MAX` for
    /// none).
    #[inline]
    fn timed_keys(&self) -> (u128, u128) {
        (
            self.heap.min_key(),
            self.lane_heads.peek().map_or(u128::MAX, |e| e.key),
        )
    }

    /// Time of the next event, if any.
    pub fn peek_time(&self) -> Option<SimTime> {
        if !self.now_lane.is_empty() {
            return Some(self.now);
        }
        match self.timed_keys() {
            (u128::MAX, u128::MAX) => None,
            (heap, lane) => Some(time_of(heap.min(lane))),
        }
    }

    /// Take the earliest event from the heap (`from_heap`) or from the delay lanes, and
    /// advance the clock to it.
    #[inline]
    fn take_timed(&mut self, from_heap: bool) -> Option<E> {
        if from_heap {
            let entry = self.heap.pop()?;
            self.now = time_of(entry.key);
            return Some(E::unpack(entry.event));
        }
        let mut head = self.lane_heads.peek_mut()?;
        let l = self.lanes.get_mut(head.event as usize)?;
        let (key, event) = l.fifo.pop_front()?;
        self.in_lanes -= 1;
        match l.fifo.front() {
            // The lane's next event becomes its head (re-sifted in place).
            Some(&(next, _)) => head.key = next,
            None => {
                std::collections::binary_heap::PeekMut::pop(head);
            }
        }
        self.now = time_of(key);
        Some(E::unpack(event))
    }

    /// Remove the next event and advance the clock to its time.
    #[inline]
    pub fn pop(&mut self) -> Option<E> {
        self.pop_until(SimTime::MAX).ok()
    }

    /// Remove the next event if its time is at most `until`, advancing the clock to it.
    /// `Err(true)` when the queue is empty, `Err(false)` when the next event is later.
    #[inline]
    pub fn pop_until(&mut self, until: SimTime) -> Result<E, bool> {
        let (heap, lane) = self.timed_keys();
        let next = heap.min(lane);
        if let Some(&(seq, event)) = self.now_lane.front() {
            // Now-lane events are at `now`, which never exceeds a limit the driver has
            // reached; one scheduled earlier for this same instant in the heap or a delay
            // lane has a smaller sequence number and goes first.
            if next > key_of(self.now, seq) {
                self.now_lane.pop_front();
                return Ok(E::unpack(event));
            }
        } else if next == u128::MAX {
            return Err(true);
        } else if time_of(next) > until {
            return Err(false);
        }
        self.take_timed(heap < lane).ok_or(true)
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
        fn pops_in_time_then_insertion_order(ops in proptest::collection::vec((0u64..5, 0u8..4), 1..300)) {
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
                    if op == 3 {
                        // Through the fixed-delay lane for `delta`.
                        let lane = q.lane(delta);
                        q.schedule_lane(lane, id);
                    } else {
                        q.schedule(SimTime::from_nanos(t), id);
                    }
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
    fn min_heap_pops_keys_in_order_at_every_depth() {
        // Bursts of pushes then partial drains, so the heap grows to hundreds of entries and
        // shrinks through every depth, with keys pushed in random order (duplicates too).
        let mut heap = MinHeap::with_capacity(0);
        let mut reference: Vec<u128> = Vec::new();
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for round in 0..60u128 {
            for _ in 0..(round % 7) * 40 + 1 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let key = u128::from(x % 500) << 64 | round;
                heap.push(Entry { key, event: key });
                reference.push(key);
            }
            reference.sort_unstable_by(|a, b| b.cmp(a));
            for _ in 0..(round % 5) * 50 {
                let Some(e) = heap.pop() else {
                    break;
                };
                assert_eq!(Some(e.key), reference.pop());
                assert_eq!(e.event, e.key, "the entry travels with its key");
                assert_eq!(heap.len(), reference.len());
            }
        }
        while let Some(e) = heap.pop() {
            assert_eq!(Some(e.key), reference.pop());
        }
        assert!(reference.is_empty());
        assert_eq!(heap.min_key(), u128::MAX);
    }

    /// `MinHeap` against the `std` heap it replaced, on random push/pop interleavings: the
    /// popped keys always come in the same order, and with distinct keys (what `schedule`,
    /// whose sequence numbers are unique, makes) the popped entries are identical. (Equal
    /// keys, which only `schedule_first` at a future instant makes, may come out in another
    /// order than with `std`'s heap: both are arbitrary.)
    #[test]
    fn min_heap_matches_std_binary_heap() {
        let mut x = 0x1234_5678_9ABC_DEF1u64;
        for round in 0..300u64 {
            let distinct = round % 2 == 0;
            let mut mine = MinHeap::with_capacity(0);
            let mut reference: BinaryHeap<Entry<u128>> = BinaryHeap::new();
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let mut seq = 0u128;
            for _ in 0..1 + round * 7 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if x % 3 == 0 {
                    a.push(mine.pop().map(|e| (e.key, e.event)));
                    b.push(reference.pop().map(|e| (e.key, e.event)));
                } else {
                    let time = u128::from(x >> 40) % 16;
                    let key = (time << 64) | if distinct { seq } else { 0 };
                    seq += 1;
                    mine.push(Entry { key, event: seq });
                    reference.push(Entry { key, event: seq });
                }
                assert_eq!(mine.len(), reference.len());
                assert_eq!(
                    mine.min_key(),
                    reference.peek().map_or(u128::MAX, |e| e.key)
                );
            }
            while mine.len() > 0 || !reference.is_empty() {
                a.push(mine.pop().map(|e| (e.key, e.event)));
                b.push(reference.pop().map(|e| (e.key, e.event)));
            }
            let keys =
                |v: &[Option<(u128, u128)>]| v.iter().map(|e| e.map(|e| e.0)).collect::<Vec<_>>();
            assert_eq!(keys(&a), keys(&b), "round {round}: key order");
            if distinct {
                assert_eq!(a, b, "round {round}: entries");
            }
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

    #[test]
    fn schedule_first_goes_before_everything_at_this_instant() {
        let mut q = EventQueue::new();
        q.schedule(SimTime::from_nanos(4), 1u32);
        q.schedule(SimTime::from_nanos(4), 2);
        assert_eq!(q.pop(), Some(1));
        q.schedule(SimTime::from_nanos(4), 3); // now lane
        q.schedule_first(SimTime::ZERO, 0);
        assert_eq!(q.pop(), Some(0));
        assert_eq!(q.pop(), Some(2));
        assert_eq!(q.pop(), Some(3));
        q.schedule(SimTime::from_nanos(9), 4);
        q.schedule_first(SimTime::from_nanos(9), 5);
        assert_eq!(q.pop(), Some(5));
        assert_eq!(q.pop(), Some(4));
    }

    #[test]
    fn delay_lanes_merge_with_the_heap_by_sequence() {
        let mut q = EventQueue::new();
        let five = q.lane(5);
        assert_eq!(q.lane(5), five, "one lane per delay");
        assert_eq!(q.lane_delay_ns(five), 5);
        q.schedule_lane(five, 1u32); // due at 5, seq 0
        q.schedule(SimTime::from_nanos(5), 2); // due at 5, seq 1
        q.schedule(SimTime::from_nanos(3), 3);
        assert_eq!(q.len(), 3);
        assert_eq!(q.peek_time(), Some(SimTime::from_nanos(3)));
        assert_eq!(q.pop(), Some(3));
        q.schedule_lane(five, 4); // due at 8
        assert_eq!(q.pop(), Some(1));
        assert_eq!(q.pop(), Some(2));
        assert_eq!(q.pop_until(SimTime::from_nanos(7)), Err(false));
        assert_eq!(q.pop(), Some(4));
        assert_eq!(q.now(), SimTime::from_nanos(8));
        assert_eq!(q.pop_until(SimTime::MAX), Err(true));
        assert!(q.is_empty());
    }
}
