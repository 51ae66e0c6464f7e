//! The components that requests flow through, one file per kind, and the [`World`] that
//! routes events to them.
//!
//! Components never hold references to each other: they schedule events addressed to node
//! ids and share only the slab of calls, through a [`Ctx`]. A *call* (span) is one request's
//! visit to one component; several calls of one request can be alive at once (fan-out, a
//! timed-out attempt still running). A call is freed when both sides are done with it: the
//! callee has replied and the caller has taken (or abandoned) the reply.

pub mod client;
pub mod load_balancer;
pub mod service;
pub mod world;

pub use world::{Command, World};

use crate::engine::{EventQueue, Key, LaneId, Packed, Slab};
use crate::metrics::{ErrorCause, NodeStats, Window};
use crate::topology::NodeId;

/// Address of a live call.
pub type CallId = Key;

/// Replica not chosen yet (the callee picks one).
pub const ANY_REPLICA: u32 = u32::MAX;

/// `Call::tag` of a fire-and-forget call: nobody waits for its answer.
pub const DETACHED: u32 = u32::MAX;

/// What a request is, drawn once when it arrives and carried by all its calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestAttrs {
    /// Class id (index into the topology's classes).
    pub class: u8,
    /// Region id (index into the workload's regions), 0 when none.
    pub region: u8,
    /// Whether the request arrived in the counting window.
    pub counted: bool,
    /// Session id (or user id for closed loops).
    pub session: u32,
    /// Key (1-based; the rank for Zipf), or 0 when no component reads keys.
    pub key: u64,
    /// When it arrived, ns.
    pub arrived_ns: u64,
}

/// One span: a request's visit to one component.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    /// The request.
    pub attrs: RequestAttrs,
    /// The caller's own call (None for the root call made by a workload).
    pub parent: Option<CallId>,
    /// The node that made the call.
    pub caller: NodeId,
    /// The node that handles it.
    pub callee: NodeId,
    /// The callee instance, or [`ANY_REPLICA`] until chosen.
    pub replica: u32,
    /// Incarnation of the callee instance when the call arrived.
    pub incarnation: u32,
    /// Set by the caller: backend index (balancer), user (closed workload).
    pub tag: u32,
    /// When the callee got the call, ns.
    pub arrived_ns: u64,
    /// Latency back to the caller once answered, ns.
    pub return_ns: u64,
    /// Call depth (root = 1).
    pub hops: u16,
    /// Callee progress: next downstream call to consider.
    pub step: u16,
    /// Callee progress: downstream calls outstanding (parallel mode).
    pub pending: u16,
    /// Counted at the callee (arrived in the window).
    pub counted: bool,
    /// The call has reached its callee.
    pub delivered: bool,
    /// The call holds one of its instance's threads.
    pub holds_thread: bool,
    /// The caller has taken the reply or given up.
    pub caller_done: bool,
    /// The callee has replied.
    pub callee_done: bool,
    /// The reply, once the callee is done.
    pub outcome: Result<(), ErrorCause>,
}

impl Default for Call {
    /// A placeholder (the slab fills new slots with it before their first use).
    fn default() -> Self {
        Self::new(RequestAttrs::default(), None, 0, 0, ANY_REPLICA, 0)
    }
}

impl Call {
    /// A new call, not yet delivered.
    pub fn new(
        attrs: RequestAttrs,
        parent: Option<CallId>,
        caller: NodeId,
        callee: NodeId,
        replica: u32,
        hops: u16,
    ) -> Self {
        Self {
            attrs,
            parent,
            caller,
            callee,
            replica,
            incarnation: 0,
            tag: 0,
            arrived_ns: 0,
            return_ns: 0,
            hops,
            step: 0,
            pending: 0,
            counted: false,
            delivered: false,
            holds_thread: false,
            caller_done: false,
            callee_done: false,
            outcome: Ok(()),
        }
    }
}

/// Events. Small and `Copy`: no allocation per event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// An open workload's next arrival; `epoch` drops arrivals superseded by a rate change.
    Arrival {
        /// The workload.
        node: NodeId,
        /// Its arrival epoch when scheduled.
        epoch: u32,
    },
    /// A closed-loop user finished thinking.
    UserWake {
        /// The workload.
        node: NodeId,
        /// The user.
        user: u32,
    },
    /// A call reaches its callee.
    Deliver {
        /// The call.
        call: CallId,
        /// The callee (so dispatch needs no look-up).
        node: NodeId,
    },
    /// A CPU burst finished (the call names the service and instance).
    CpuDone {
        /// The call.
        call: CallId,
        /// The instance's incarnation when the burst started (stale after a kill).
        incarnation: u32,
    },
    /// A balancer finished its per-request work and forwards the call.
    Forward {
        /// The balancer's call.
        call: CallId,
    },
    /// A reply reaches the caller.
    Reply {
        /// The call answered.
        call: CallId,
    },
    /// The caller's deadline for a call.
    Timeout {
        /// The call.
        call: CallId,
    },
    /// Close a time-series window.
    Tick,
    /// The counting window opens (at warm-up) or closes (when arrivals end).
    CountingWindow {
        /// Opens (true) or closes.
        open: bool,
    },
}

/// Packed layout: the variant in bits 0–7, a 32-bit field in bits 32–63, a call key (or a
/// second 32-bit field) in bits 64–127.
impl Packed for Event {
    #[inline(always)]
    fn pack(self) -> u128 {
        let (tag, a, b): (u8, u32, u64) = match self {
            Event::Arrival { node, epoch } => (0, node, u64::from(epoch)),
            Event::UserWake { node, user } => (1, node, u64::from(user)),
            Event::Deliver { call, node } => (2, node, call.to_bits()),
            Event::CpuDone { call, incarnation } => (3, incarnation, call.to_bits()),
            Event::Forward { call } => (4, 0, call.to_bits()),
            Event::Reply { call } => (5, 0, call.to_bits()),
            Event::Timeout { call } => (6, 0, call.to_bits()),
            Event::Tick => (7, 0, 0),
            Event::CountingWindow { open } => (8, u32::from(open), 0),
        };
        u128::from(tag) | (u128::from(a) << 32) | (u128::from(b) << 64)
    }

    #[inline(always)]
    fn unpack(bits: u128) -> Self {
        let a = (bits >> 32) as u32;
        let b = (bits >> 64) as u64;
        match bits as u8 {
            0 => Event::Arrival {
                node: a,
                epoch: b as u32,
            },
            1 => Event::UserWake {
                node: a,
                user: b as u32,
            },
            2 => Event::Deliver {
                call: Key::from_bits(b),
                node: a,
            },
            3 => Event::CpuDone {
                call: Key::from_bits(b),
                incarnation: a,
            },
            4 => Event::Forward {
                call: Key::from_bits(b),
            },
            5 => Event::Reply {
                call: Key::from_bits(b),
            },
            6 => Event::Timeout {
                call: Key::from_bits(b),
            },
            7 => Event::Tick,
            // 8; `pack` makes no other tag.
            _ => Event::CountingWindow { open: a != 0 },
        }
    }
}

/// A fixed delay (a timeout, a constant service time) and, once the world has started, its
/// delay lane in the event queue (O(1) scheduling; see [`crate::engine::EventQueue`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timer {
    /// The delay, ns.
    pub ns: u64,
    /// Its lane, when registered.
    pub lane: Option<LaneId>,
}

impl Timer {
    /// A timer of `ns` with no lane yet.
    pub fn new(ns: u64) -> Self {
        Self { ns, lane: None }
    }

    /// Register the lane for this delay.
    pub fn register(&mut self, queue: &mut EventQueue<Event>) {
        self.lane = Some(queue.lane(self.ns));
    }

    /// Schedule `event` this timer's delay from now.
    #[inline(always)]
    pub fn schedule(self, queue: &mut EventQueue<Event>, event: Event) {
        match self.lane {
            Some(lane) => queue.schedule_lane(lane, event),
            None => queue.schedule_in(self.ns, event),
        }
    }
}

/// Settings every component reads.
#[derive(Debug, Clone, Copy)]
pub struct Env {
    /// Counting window and series settings.
    pub window: Window,
    /// Deepest allowed call.
    pub max_hops: u16,
}

/// What every component shares: pending events, live calls, settings and the next hop. One
/// struct, so a component's context is two pointers (this and its statistics) that travel
/// in registers.
pub struct Core {
    /// Pending events.
    pub queue: EventQueue<Event>,
    /// Live calls.
    pub calls: Slab<Call>,
    /// Shared settings.
    pub env: Env,
    /// The next zero-delay hop, handled as soon as the current event is done.
    pub next_hop: Option<Event>,
}

/// What a component may touch while handling an event.
pub struct Ctx<'a> {
    /// What every component shares.
    pub core: &'a mut Core,
    /// This node's statistics.
    pub stats: &'a mut NodeStats,
}

impl Ctx<'_> {
    /// Current time, ns.
    #[inline]
    pub fn now_ns(&self) -> u64 {
        self.core.queue.now().as_nanos()
    }

    /// Start a call: store it and deliver it after `latency_ns` (back after `return_ns`);
    /// arm the caller's timeout if any.
    #[inline(always)]
    pub fn send(
        &mut self,
        mut call: Call,
        latency_ns: u64,
        return_ns: u64,
        timeout: Option<Timer>,
    ) -> CallId {
        call.return_ns = return_ns;
        let node = call.callee;
        let id = self.core.calls.insert(call);
        self.hop(latency_ns, Event::Deliver { call: id, node });
        if let Some(t) = timeout {
            t.schedule(&mut self.core.queue, Event::Timeout { call: id });
        }
        id
    }

    /// Schedule a hop (a delivery or a reply) `delay_ns` from now. The first zero-delay hop
    /// an event makes skips the queue: the world handles it as soon as the event is done,
    /// before anything else at this instant (docs/ARCHITECTURE.md, *Same-instant hops*).
    #[inline]
    pub fn hop(&mut self, delay_ns: u64, event: Event) {
        if delay_ns == 0 && self.core.next_hop.is_none() {
            self.core.next_hop = Some(event);
        } else {
            self.core.queue.schedule_in(delay_ns, event);
        }
    }

    /// Mark a call as arrived at its callee (this node) and count it.
    #[inline(always)]
    pub fn arrive(&mut self, id: CallId) -> Option<&mut Call> {
        let now = self.now_ns();
        let counted = self.core.env.window.counts(now);
        let call = self.core.calls.get_mut(id)?;
        call.arrived_ns = now;
        call.counted = counted;
        call.delivered = true;
        self.stats.arrive(now, counted);
        Some(call)
    }

    /// The callee (this node) refuses `id` with `cause` on arrival (instance down, hop limit,
    /// queue full): a rare path, kept out of line so the hot handlers stay small.
    #[cold]
    #[inline(never)]
    pub fn refuse(&mut self, id: CallId, cause: ErrorCause) {
        self.reply(id, Err(cause));
    }

    /// The callee (this node) answers `id` with `outcome`.
    #[inline(always)]
    pub fn reply(&mut self, id: CallId, outcome: Result<(), ErrorCause>) {
        let held = self.answer(id, outcome);
        debug_assert!(
            !held,
            "a call answered by `reply` held a thread: use `answer`"
        );
    }

    /// Answer `id` with `outcome` and take back its thread in the same look-up: returns
    /// whether the call held one (the caller then passes it on).
    #[inline(always)]
    #[must_use = "a thread taken back must be passed on"]
    pub fn answer(&mut self, id: CallId, outcome: Result<(), ErrorCause>) -> bool {
        let now = self.now_ns();
        let Some(call) = self.core.calls.get_mut(id) else {
            return false;
        };
        if call.callee_done {
            return false;
        }
        let held = std::mem::replace(&mut call.holds_thread, false);
        call.callee_done = true;
        call.outcome = outcome;
        self.stats
            .finish(now, call.arrived_ns, call.counted, outcome);
        if call.caller_done {
            // The caller gave up long ago: the late reply goes nowhere.
            self.core.calls.remove(id);
        } else {
            let delay = call.return_ns;
            self.hop(delay, Event::Reply { call: id });
        }
        held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    fn any_key() -> impl Strategy<Value = Key> {
        // Keys as the slab makes them: any index, an odd (occupied) generation.
        (any::<u32>(), any::<u32>())
            .prop_map(|(index, g)| Key::from_bits((u64::from(g | 1) << 32) | u64::from(index)))
    }

    fn any_event() -> impl Strategy<Value = Event> {
        prop_oneof![
            (any::<u32>(), any::<u32>()).prop_map(|(node, epoch)| Event::Arrival { node, epoch }),
            (any::<u32>(), any::<u32>()).prop_map(|(node, user)| Event::UserWake { node, user }),
            (any_key(), any::<u32>()).prop_map(|(call, node)| Event::Deliver { call, node }),
            (any_key(), any::<u32>())
                .prop_map(|(call, incarnation)| Event::CpuDone { call, incarnation }),
            any_key().prop_map(|call| Event::Forward { call }),
            any_key().prop_map(|call| Event::Reply { call }),
            any_key().prop_map(|call| Event::Timeout { call }),
            Just(Event::Tick),
            any::<bool>().prop_map(|open| Event::CountingWindow { open }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]
        #[test]
        fn every_event_round_trips_through_its_packed_bits(e in any_event()) {
            prop_assert_eq!(Event::unpack(e.pack()), e);
        }

        #[test]
        fn keys_round_trip_through_their_bits(k in any_key()) {
            prop_assert_eq!(Key::from_bits(k.to_bits()), k);
        }
    }

    #[test]
    fn extreme_events_round_trip() {
        let keys = [
            Key::from_bits(1u64 << 32),
            Key::from_bits((1u64 << 32) | u64::from(u32::MAX)),
            Key::from_bits(u64::MAX),
            Key::from_bits(u64::from(u32::MAX) << 32),
        ];
        let mut events = vec![
            Event::Tick,
            Event::CountingWindow { open: true },
            Event::CountingWindow { open: false },
        ];
        for v in [0, 1, u32::MAX - 1, u32::MAX] {
            events.push(Event::Arrival { node: v, epoch: v });
            events.push(Event::Arrival { node: 0, epoch: v });
            events.push(Event::UserWake {
                node: v,
                user: u32::MAX - v,
            });
            for call in keys {
                events.push(Event::Deliver { call, node: v });
                events.push(Event::CpuDone {
                    call,
                    incarnation: v,
                });
                events.push(Event::Forward { call });
                events.push(Event::Reply { call });
                events.push(Event::Timeout { call });
            }
        }
        for e in events {
            assert_eq!(Event::unpack(e.pack()), e, "{e:?}");
        }
    }

    #[test]
    fn hot_types_stay_small() {
        // Events are copied through the queue; calls fill the slab.
        assert!(
            std::mem::size_of::<Event>() <= 16,
            "Event is {} bytes",
            std::mem::size_of::<Event>()
        );
        assert!(
            std::mem::size_of::<Call>() <= 80,
            "Call is {} bytes",
            std::mem::size_of::<Call>()
        );
    }
}
