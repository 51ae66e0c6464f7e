//! What a component may touch while it handles an event: the [`Ctx`]. Its fields are private,
//! so components reach calls, timers and the clock only through its methods, and the world's
//! bookkeeping (the next zero-delay hop, delay lanes, the request budget) stays behind them.

use super::{Call, CallId, Event, Faults, Outcome, Side, Timer};
use crate::engine::{EventQueue, SimTime, Slab};
use crate::metrics::{ErrorCause, NodeStats, Window};
use crate::topology::model::Place;
use crate::topology::{NodeId, Topology};

/// Settings every component reads.
#[derive(Debug, Clone, Copy)]
pub struct Env {
    /// Counting window and series settings.
    pub window: Window,
    /// Deepest allowed call.
    pub max_hops: u16,
    /// Cap on calls alive at once (`limits.max_in_flight`).
    pub max_in_flight: usize,
}

/// What every component shares: pending events, live calls, settings, the next hop and the
/// request count. One struct, so a component's context is two pointers (this and its
/// statistics) that travel in registers.
pub struct Core {
    /// Pending events.
    pub queue: EventQueue<Event>,
    /// Live calls.
    pub calls: Slab<Call>,
    /// Shared settings.
    pub env: Env,
    /// The next zero-delay hop, handled as soon as the current event is done.
    pub next_hop: Option<Event>,
    /// Counted requests so far (all workloads).
    pub counted_requests: u64,
    /// Stop arrivals after this many counted requests (`requests:`), until reached.
    pub request_budget: Option<u64>,
    /// No new request may arrive (the request budget was reached).
    pub arrivals_over: bool,
    /// Requests refused by the in-flight cap.
    pub overload_rejections: u64,
    /// How long calls may drain after the counting window, ns (`limits.drain`).
    pub drain_ns: u64,
    /// Time-series ticks are scheduled (the run is not over).
    pub ticking: bool,
    /// What the engine's horizon is: the end of the drain while ticking, else none. Kept up
    /// to date where `ticking` or the window's end change (it is asked before every event).
    pub horizon: Option<SimTime>,
    /// Faults injected by commands, by node.
    pub faults: Vec<Faults>,
    /// Some command has injected a fault (answers then go through `faults`).
    pub faults_active: bool,
    /// Where each node runs and what crossing between places costs; `None` when no call can
    /// pay anything (a model without places), so a call only tests it.
    pub places: Option<Box<PlaceLatency>>,
}

/// Where each node runs and what a call between two places costs, flattened for
/// [`Ctx::send`]: a place id is 0 (none), a region id `r` (a component placed in a region),
/// or `regions + z` for zone id `z`.
#[derive(Debug, Clone, Default)]
pub struct PlaceLatency {
    /// Place id by node; [`PlaceLatency::FROM_REQUEST`] for a workload.
    place: Vec<u8>,
    /// Number of place ids (places + 1).
    n: usize,
    /// One-way latency from place `a` to place `b`, ns, at `a * n + b`.
    latency_ns: Vec<u64>,
}

impl PlaceLatency {
    /// A workload's calls start where the request was drawn from: its region id.
    const FROM_REQUEST: u8 = u8::MAX;

    /// The places and latencies of `topo`.
    pub fn new(topo: &Topology) -> Self {
        let regions = topo.regions.len();
        let n = regions + topo.zones.len() + 1;
        let place_of = |p: usize| -> Place {
            if p <= regions {
                Place {
                    region: u8::try_from(p).unwrap_or(0),
                    zone: 0,
                }
            } else {
                let z = p - regions;
                Place {
                    region: topo.zones.get(z - 1).map_or(0, |z| z.region),
                    zone: u8::try_from(z).unwrap_or(0),
                }
            }
        };
        let mut latency_ns = vec![0; n * n];
        for a in 0..n {
            for b in 0..n {
                latency_ns[a * n + b] = topo.one_way_ns(place_of(a), place_of(b));
            }
        }
        let place = topo
            .nodes
            .iter()
            .map(|node| {
                if node.kind.is_workload() {
                    Self::FROM_REQUEST
                } else if node.place.zone != 0 {
                    u8::try_from(regions + usize::from(node.place.zone)).unwrap_or(0)
                } else {
                    node.place.region
                }
            })
            .collect();
        Self {
            place,
            n,
            latency_ns,
        }
    }

    /// One-way latency of a call from `caller` to `callee` of a request from `region`, ns.
    #[inline]
    fn one_way_ns(&self, caller: NodeId, callee: NodeId, region: u8) -> u64 {
        let place = |node: NodeId| self.place.get(node as usize).copied().unwrap_or(0);
        let from = match place(caller) {
            Self::FROM_REQUEST => region,
            p => p,
        };
        let to = place(callee);
        self.latency_ns
            .get(usize::from(from) * self.n + usize::from(to))
            .copied()
            .unwrap_or(0)
    }
}

impl Core {
    /// An empty core with these settings.
    pub fn new(env: Env, request_budget: Option<u64>, drain_ns: u64, faults: Vec<Faults>) -> Self {
        Self {
            queue: EventQueue::new(),
            calls: Slab::new(),
            env,
            next_hop: None,
            counted_requests: 0,
            request_budget,
            arrivals_over: false,
            overload_rejections: 0,
            drain_ns,
            ticking: false,
            horizon: None,
            faults,
            faults_active: false,
            places: None,
        }
    }

    /// Over once arrivals have ended and no call is in flight (ticks stop then); else the
    /// drain ends `limits.drain` after the counting window.
    pub fn set_ticking(&mut self, ticking: bool) {
        self.ticking = ticking;
        self.horizon = ticking.then(|| {
            SimTime::from_nanos(self.env.window.duration_ns.saturating_add(self.drain_ns))
        });
    }

    /// Deliver call `id` (just stored) to `node` after `latency_ns` plus the one-way
    /// latency between its caller's place and its callee's, and add that latency to its way
    /// back. Out of line, after the call is stored: a model without places never comes here,
    /// and [`Ctx::send`], inlined into every caller with constant latencies, keeps its code
    /// as it was (measured: +1 % to 2 % instructions on the bench models otherwise).
    #[cold]
    #[inline(never)]
    fn deliver_across_places(&mut self, id: CallId, node: NodeId, latency_ns: u64) {
        let mut extra = 0;
        if let (Some(places), Some(call)) = (&self.places, self.calls.get_mut(id)) {
            extra = places.one_way_ns(call.caller, call.callee, call.attrs.region);
            call.return_ns += extra;
        }
        self.hop(latency_ns + extra, Event::Deliver { call: id, node });
    }

    /// Schedule a hop `delay_ns` from now; see [`Ctx::hop`].
    #[inline]
    fn hop(&mut self, delay_ns: u64, event: Event) {
        if delay_ns == 0 && self.next_hop.is_none() {
            self.next_hop = Some(event);
        } else {
            self.queue.schedule_in(delay_ns, event);
        }
    }

    /// Call `id` was made with `limits.max_in_flight` calls already alive: it fails with
    /// `overload` at once, never reaching its callee (a rare path, out of line).
    #[cold]
    #[inline(never)]
    fn refuse_for_overload(&mut self, id: CallId) {
        self.overload_rejections += 1;
        if let Some(c) = self.calls.get_mut(id) {
            c.outcome = Some(Err(ErrorCause::OVERLOAD));
        }
        self.hop(0, Event::Reply { call: id });
    }

    /// No new requests from now on (the request budget is reached); the counting window
    /// ends now.
    #[cold]
    #[inline(never)]
    fn stop_arrivals(&mut self) {
        self.arrivals_over = true;
        // Arrivals already scheduled at this instant are dropped (`Ctx::arrivals_over`); the
        // window ends just after the last counted arrival.
        let end = self
            .env
            .window
            .duration_ns
            .min(self.queue.now().as_nanos() + 1);
        self.env.window.duration_ns = end;
        self.set_ticking(self.ticking);
        // Before anything else at that instant: a call finishing then is outside the window.
        self.queue.schedule_first(
            SimTime::from_nanos(end),
            Event::CountingWindow { open: false },
        );
    }
}

/// An answer of `node` under injected faults (rare: out of line).
#[cold]
#[inline(never)]
fn faulted(faults: &mut [Faults], node: usize, now_ns: u64, outcome: Outcome) -> (Outcome, u64) {
    match faults.get_mut(node) {
        Some(f) => f.apply(now_ns, outcome),
        None => (outcome, 0),
    }
}

/// What a component may touch while handling an event.
pub struct Ctx<'a> {
    core: &'a mut Core,
    stats: &'a mut NodeStats,
}

impl<'a> Ctx<'a> {
    /// The context of the node whose statistics are `stats`.
    #[inline(always)]
    pub(crate) fn new(core: &'a mut Core, stats: &'a mut NodeStats) -> Self {
        Self { core, stats }
    }

    /// Current time, ns.
    #[inline(always)]
    pub fn now_ns(&self) -> u64 {
        self.core.queue.now().as_nanos()
    }

    /// The counting window and series settings.
    #[inline(always)]
    pub fn window(&self) -> &Window {
        &self.core.env.window
    }

    /// The deepest call allowed (`limits.max_hops`).
    #[inline(always)]
    pub fn max_hops(&self) -> u16 {
        self.core.env.max_hops
    }

    /// This node's statistics (the common figures' sink).
    #[inline(always)]
    pub fn stats(&mut self) -> &mut NodeStats {
        self.stats
    }

    /// A live call.
    #[inline(always)]
    pub fn call(&self, id: CallId) -> Option<&Call> {
        self.core.calls.get(id)
    }

    /// A live call, to update.
    #[inline(always)]
    pub fn call_mut(&mut self, id: CallId) -> Option<&mut Call> {
        self.core.calls.get_mut(id)
    }

    /// Calls alive now, in every component.
    #[inline(always)]
    pub fn calls_alive(&self) -> usize {
        self.core.calls.len()
    }

    /// Calls delivered to `node`'s instance `replica` and not answered yet, in slot order
    /// (deterministic): the work an instance holds when it dies.
    pub fn unanswered_at(&self, node: NodeId, replica: u32) -> Vec<CallId> {
        self.core
            .calls
            .iter()
            .filter(|(_, c)| {
                c.callee == node && c.replica == replica && c.delivered && c.outcome.is_none()
            })
            .map(|(k, _)| k)
            .collect()
    }

    /// Calls delivered to `node` (any instance) and not answered yet, in slot order.
    pub fn unanswered_at_node(&self, node: NodeId) -> Vec<CallId> {
        self.core
            .calls
            .iter()
            .filter(|(_, c)| c.callee == node && c.delivered && c.outcome.is_none())
            .map(|(k, _)| k)
            .collect()
    }

    /// Start a call: store it and deliver it after `latency_ns` (back after `return_ns`),
    /// each plus the one-way latency between the caller's place and the callee's (a
    /// workload's calls start in the request's region); arm the caller's timeout if any.
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
        // Every call alive counts against the cap, not only new requests (a service that fans
        // out to itself would otherwise fill memory): past it, the call fails at once.
        let full = self.core.calls.len() >= self.core.env.max_in_flight;
        let id = self.core.calls.insert(call);
        if full {
            self.core.refuse_for_overload(id);
            return id;
        }
        if self.core.places.is_some() {
            self.core.deliver_across_places(id, node, latency_ns);
        } else {
            self.hop(latency_ns, Event::Deliver { call: id, node });
        }
        if let Some(t) = timeout {
            t.schedule(&mut self.core.queue, Event::Timeout { call: id });
        }
        id
    }

    /// Schedule a hop (a delivery or a reply) `delay_ns` from now. The first zero-delay hop
    /// an event makes skips the queue: the world handles it as soon as the event is done,
    /// before anything else at this instant (docs/ARCHITECTURE.md, *Same-instant hops*).
    #[inline]
    fn hop(&mut self, delay_ns: u64, event: Event) {
        self.core.hop(delay_ns, event);
    }

    /// Give `timer` its delay lane (fixed delays cost O(1) to schedule); call at start-up.
    pub fn register(&mut self, timer: &mut Timer) {
        timer.register(&mut self.core.queue);
    }

    /// Fire `node`'s timer with `arg` in `delay_ns` ([`super::Component::on_node_timer`]).
    #[inline(always)]
    pub fn node_timer_in(&mut self, node: NodeId, delay_ns: u64, arg: u64) {
        self.core
            .queue
            .schedule_in(delay_ns, Event::NodeTimer { node, arg });
    }

    /// Fire `node`'s timer with `arg` at `at_ns` (not before now).
    #[inline(always)]
    pub fn node_timer_at(&mut self, node: NodeId, at_ns: u64, arg: u64) {
        self.core
            .queue
            .schedule(SimTime::from_nanos(at_ns), Event::NodeTimer { node, arg });
    }

    /// Fire a timer of call `call` with `arg` after `timer`'s delay, at its `side` (the
    /// callee's or the caller's component; [`super::Component::on_call_timer`]). A timer of a
    /// call freed meanwhile is dropped.
    #[inline(always)]
    pub fn call_timer(&mut self, timer: Timer, call: CallId, arg: u32, side: Side) {
        timer.schedule(&mut self.core.queue, Event::CallTimer { call, arg, side });
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

    /// The callee (this node) answers `id` with `outcome` (it held no capacity).
    #[inline(always)]
    pub fn reply(&mut self, id: CallId, outcome: Outcome) {
        let held = self.answer(id, outcome);
        debug_assert!(
            !held,
            "a call answered by `reply` held capacity: use `answer`"
        );
    }

    /// Answer `id` with `outcome` and take back the capacity it held in the same look-up:
    /// returns whether it held some (the callee then passes it on).
    #[inline(always)]
    #[must_use = "capacity taken back must be passed on"]
    pub fn answer(&mut self, id: CallId, outcome: Outcome) -> bool {
        let now = self.now_ns();
        let core = &mut *self.core;
        let Some(call) = core.calls.get_mut(id) else {
            return false;
        };
        if call.outcome.is_some() {
            return false;
        }
        let (outcome, extra) = if core.faults_active {
            faulted(&mut core.faults, call.callee as usize, now, outcome)
        } else {
            (outcome, 0)
        };
        let held = std::mem::replace(&mut call.holds_capacity, false);
        call.outcome = Some(outcome);
        self.stats.finish(
            now,
            call.arrived_ns,
            call.counted,
            outcome.map(|_| ()),
            call.attrs.class,
        );
        if call.caller_done {
            // The caller gave up long ago: the late reply goes nowhere.
            core.calls.remove(id);
        } else {
            let delay = call.return_ns + extra;
            self.hop(delay, Event::Reply { call: id });
        }
        held
    }

    /// Whether a workload may start a request now (the in-flight cap); counts a refusal.
    #[inline(always)]
    pub fn admits_request(&mut self) -> bool {
        if self.core.calls.len() < self.core.env.max_in_flight {
            true
        } else {
            self.core.overload_rejections += 1;
            false
        }
    }

    /// A workload counted a request (it arrived in the counting window): the request budget
    /// may end arrivals.
    #[inline(always)]
    pub fn count_request(&mut self) {
        self.core.counted_requests += 1;
        if let Some(budget) = self.core.request_budget
            && self.core.counted_requests >= budget
        {
            self.core.request_budget = None;
            self.core.stop_arrivals();
        }
    }

    /// No request may arrive any more (the request budget was reached).
    #[inline(always)]
    pub fn arrivals_over(&self) -> bool {
        self.core.arrivals_over
    }
}
