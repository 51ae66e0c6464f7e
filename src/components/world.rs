//! The world: every live component, the calls between them, and their statistics. It routes
//! each event to the component it concerns and applies commands (kill an instance, change
//! the traffic) between events.

use super::client::Client;
use super::load_balancer::LoadBalancer;
use super::service::Service;
use super::{Call, CallId, Core, Ctx, Event};
use crate::engine::{EventQueue, Model, SimTime, Slab};
use crate::metrics::{ErrorCause, NodeStats};
use crate::topology::model::NodeKind;
use crate::topology::{NodeId, Topology};

/// A live component.
#[derive(Debug)]
pub enum Live {
    /// A workload.
    Client(Client),
    /// A service.
    Service(Service),
    /// A load balancer.
    LoadBalancer(LoadBalancer),
}

/// A change to a running simulation (from the GUI, a fault schedule or a test).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Command {
    /// Kill one instance of a service: its work fails with `instance_down`.
    KillInstance {
        /// The service.
        node: NodeId,
        /// The instance.
        replica: u32,
    },
    /// Bring a killed instance back.
    ReviveInstance {
        /// The service.
        node: NodeId,
        /// The instance.
        replica: u32,
    },
    /// Multiply a workload's arrival rate (1.0 = as in the model).
    SetTrafficScale {
        /// The workload.
        node: NodeId,
        /// The multiplier (≥ 0).
        scale: f64,
    },
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The node does not exist or is of the wrong kind.
    #[error("node {0} cannot take this command")]
    WrongNode(NodeId),
    /// The service has no such replica.
    #[error("node {node} has no replica {replica}")]
    NoSuchReplica {
        /// The service.
        node: NodeId,
        /// The replica asked for.
        replica: u32,
    },
}

/// What a caller learns of an answered (or timed-out) call.
#[derive(Debug, Clone, Copy)]
struct Answer {
    caller: NodeId,
    parent: Option<CallId>,
    tag: u32,
    arrived_ns: u64,
    counted: bool,
}

impl Answer {
    #[inline]
    fn of(call: &Call) -> Self {
        Self {
            caller: call.caller,
            parent: call.parent,
            tag: call.tag,
            arrived_ns: call.attrs.arrived_ns,
            counted: call.attrs.counted,
        }
    }
}

/// A live component and its statistics, side by side: one look-up finds both.
#[derive(Debug)]
pub struct Node {
    /// The component.
    pub live: Live,
    /// Its statistics.
    pub stats: NodeStats,
}

/// Every live component and what they share.
pub struct World {
    /// Live components and their statistics, by node id.
    pub nodes: Vec<Node>,
    /// Pending events, live calls and shared settings.
    pub core: Core,
    max_in_flight: usize,
    drain_ns: u64,
    request_budget: Option<u64>,
    /// Counted requests so far.
    pub counted_requests: u64,
    /// Requests refused by the in-flight cap.
    pub overload_rejections: u64,
    /// Start of the open time-series window, ns.
    pub window_start_ns: u64,
    /// Current time-series window width, ns.
    pub series_window_ns: u64,
    ticking: bool,
    /// What `horizon` answers, kept up to date where `ticking` or the window's end change
    /// (it is asked before every event).
    horizon: Option<SimTime>,
    /// Arrivals are over (the counting window has closed).
    window_closed: bool,
}

impl World {
    /// Build the live components for replication `replication` of `topo` under `seed`.
    pub fn new(topo: &Topology, seed: u64, replication: u32) -> Self {
        let window = crate::metrics::Window {
            warmup_ns: topo.warmup_ns,
            duration_ns: topo.duration_ns,
            series_window_ns: topo.window_ns,
            max_points: topo.max_points,
        };
        let mut nodes = Vec::with_capacity(topo.nodes.len());
        let draw_keys = topo.reads_keys();
        for (i, n) in topo.nodes.iter().enumerate() {
            let id = i as NodeId;
            let live = match &n.kind {
                NodeKind::Workload(w) => Live::Client(Client::new(
                    id,
                    &n.name,
                    w.clone(),
                    seed,
                    replication,
                    draw_keys,
                )),
                NodeKind::Service(s) => {
                    Live::Service(Service::new(id, &n.name, s.clone(), seed, replication))
                }
                NodeKind::LoadBalancer(lb) => Live::LoadBalancer(LoadBalancer::new(
                    id,
                    &n.name,
                    lb.clone(),
                    seed,
                    replication,
                )),
            };
            let (threads, cpus) = match &live {
                Live::Service(s) => (s.thread_capacity(), s.cpu_capacity()),
                _ => (Some(0), Some(0)),
            };
            let stats = NodeStats::new(&window, threads, cpus);
            nodes.push(Node { live, stats });
        }
        Self {
            nodes,
            core: Core {
                queue: EventQueue::new(),
                calls: Slab::new(),
                env: super::Env {
                    window,
                    max_hops: u16::try_from(topo.limits.max_hops).unwrap_or(u16::MAX - 1),
                },
                next_hop: None,
            },
            max_in_flight: topo.limits.max_in_flight as usize,
            drain_ns: topo.limits.drain.as_nanos(),
            request_budget: topo.requests,
            counted_requests: 0,
            overload_rejections: 0,
            window_start_ns: 0,
            series_window_ns: topo.window_ns,
            ticking: false,
            horizon: None,
            window_closed: false,
        }
    }

    /// Schedule the first events.
    pub fn start(&mut self) {
        // First, so a window opening at time zero precedes every arrival.
        let w = self.core.env.window;
        self.core.queue.schedule_aside(
            SimTime::from_nanos(w.warmup_ns),
            Event::CountingWindow { open: true },
        );
        self.core.queue.schedule_aside(
            SimTime::from_nanos(w.duration_ns),
            Event::CountingWindow { open: false },
        );
        for i in 0..self.nodes.len() {
            match self.node_ctx(i) {
                (Live::Client(c), mut ctx) => c.start(&mut ctx),
                (Live::Service(s), ctx) => s.register_lanes(&mut ctx.core.queue),
                (Live::LoadBalancer(_), _) => {}
            }
        }
        self.queue_pending_hop();
        self.set_ticking(true);
        self.schedule_tick();
    }

    /// Apply a command at the queue's current time.
    pub fn apply(&mut self, cmd: Command) -> Result<(), CommandError> {
        let (node, _) = match cmd {
            Command::KillInstance { node, replica } | Command::ReviveInstance { node, replica } => {
                (node, replica)
            }
            Command::SetTrafficScale { node, .. } => (node, 0),
        };
        let i = node as usize;
        if i >= self.nodes.len() {
            return Err(CommandError::WrongNode(node));
        }
        let (live, mut ctx) = self.node_ctx(i);
        if let (
            Command::KillInstance { replica, .. } | Command::ReviveInstance { replica, .. },
            Live::Service(s),
        ) = (cmd, &*live)
            && replica as usize >= s.instances.len()
        {
            return Err(CommandError::NoSuchReplica { node, replica });
        }
        match (cmd, live) {
            (Command::KillInstance { replica, .. }, Live::Service(s)) => s.kill(replica, &mut ctx),
            (Command::ReviveInstance { replica, .. }, Live::Service(s)) => s.revive(replica),
            (Command::SetTrafficScale { scale, .. }, Live::Client(c)) => {
                c.set_scale(scale, &mut ctx)
            }
            _ => return Err(CommandError::WrongNode(node)),
        }
        self.queue_pending_hop();
        Ok(())
    }

    /// The caller learns the outcome of `call` (a reply, or its own timeout).
    #[inline(always)]
    fn notify_caller(&mut self, call: Answer, outcome: Result<(), ErrorCause>) {
        let (live, mut ctx) = self.node_ctx(call.caller as usize);
        match live {
            Live::Client(c) => {
                c.on_reply(call.tag, call.arrived_ns, call.counted, outcome, &mut ctx)
            }
            Live::Service(s) => {
                // Nobody waits for a fire-and-forget call's answer.
                if let Some(parent) = call.parent
                    && call.tag != super::DETACHED
                {
                    s.on_child_done(parent, outcome, &mut ctx);
                }
            }
            Live::LoadBalancer(lb) => {
                if let Some(parent) = call.parent {
                    lb.on_child_done(parent, call.tag, outcome, &mut ctx);
                }
            }
        }
    }

    #[inline(never)]
    fn on_reply(&mut self, id: CallId) {
        // Read what the caller needs, then free the slot (no copy of the whole call).
        let Some(call) = self.core.calls.get(id) else {
            return;
        };
        let (answer, outcome, caller_done) = (Answer::of(call), call.outcome, call.caller_done);
        self.core.calls.free(id);
        if !caller_done {
            self.notify_caller(answer, outcome);
        }
    }

    #[inline(never)]
    fn on_timeout(&mut self, id: CallId) {
        let Some(call) = self.core.calls.get_mut(id) else {
            return;
        };
        if call.caller_done {
            return;
        }
        // Abandon the caller's side only; the callee keeps working and its late reply is
        // dropped (or, if it is already on its way, freed on arrival).
        call.caller_done = true;
        let answer = Answer::of(call);
        self.notify_caller(answer, Err(ErrorCause::Timeout));
    }

    fn count_request(&mut self, counted: bool, rejected: bool) {
        if rejected {
            self.overload_rejections += 1;
        }
        if !counted {
            return;
        }
        self.counted_requests += 1;
        if let Some(budget) = self.request_budget
            && self.counted_requests >= budget
        {
            self.request_budget = None;
            self.stop_arrivals();
        }
    }

    /// No new requests from now on; the counting window ends now.
    #[inline(never)]
    fn stop_arrivals(&mut self) {
        for n in &mut self.nodes {
            if let Live::Client(c) = &mut n.live {
                c.stopped = true;
            }
        }
        // Arrivals already scheduled at this instant are dropped by `stopped`; the window
        // ends just after the last counted arrival.
        let end = self
            .core
            .env
            .window
            .duration_ns
            .min(self.core.queue.now().as_nanos() + 1);
        self.core.env.window.duration_ns = end;
        self.set_ticking(self.ticking);
        // Before anything else at that instant: a call finishing then is outside the window.
        self.core.queue.schedule_first(
            SimTime::from_nanos(end),
            Event::CountingWindow { open: false },
        );
    }

    #[inline(never)]
    fn on_tick(&mut self) {
        let now = self.core.queue.now().as_nanos();
        let mut doubled = false;
        for s in self.nodes.iter_mut().map(|n| &mut n.stats) {
            doubled |= s.close_series_window(self.window_start_ns, now);
        }
        if doubled {
            self.series_window_ns *= 2;
        }
        self.window_start_ns = now;
        let active = now < self.core.env.window.duration_ns
            && self
                .nodes
                .iter()
                .any(|n| matches!(&n.live, Live::Client(c) if !c.stopped));
        if active || !self.core.calls.is_empty() {
            self.schedule_tick();
        } else {
            self.set_ticking(false);
        }
    }

    /// Handle `event`, then the zero-delay hop it made, if any, then that hop's, and so on
    /// down the chain; returns how many events that was.
    #[inline]
    fn chain(&mut self, event: Event) -> u64 {
        let mut event = event;
        let mut handled = 1;
        loop {
            self.dispatch(event);
            match self.core.next_hop.take() {
                Some(hop) => {
                    event = hop;
                    handled += 1;
                }
                None => return handled,
            }
        }
    }

    /// Outside event handling (start-up, commands), the first zero-delay hop made goes
    /// before everything else pending at this instant, as it would run right after an event.
    fn queue_pending_hop(&mut self) {
        if let Some(hop) = self.core.next_hop.take() {
            self.core.queue.schedule_first(self.core.queue.now(), hop);
        }
    }

    fn schedule_tick(&mut self) {
        let at = self.core.queue.now().plus_nanos(self.series_window_ns);
        self.core.queue.schedule_aside(at, Event::Tick);
    }

    /// Over once arrivals have ended and no call is in flight (ticks stop then); else the
    /// drain ends `limits.drain` after the counting window.
    fn set_ticking(&mut self, ticking: bool) {
        self.ticking = ticking;
        self.horizon = ticking.then(|| {
            SimTime::from_nanos(
                self.core
                    .env
                    .window
                    .duration_ns
                    .saturating_add(self.drain_ns),
            )
        });
    }

    /// The model's cap on calls in flight.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }

    /// True while time-series ticks are scheduled.
    pub fn is_ticking(&self) -> bool {
        self.ticking
    }

    /// Close the open time-series window at `now_ns` (end of run).
    pub fn close_series(&mut self, now_ns: u64) {
        if now_ns > self.window_start_ns {
            for s in self.nodes.iter_mut().map(|n| &mut n.stats) {
                s.close_series_window(self.window_start_ns, now_ns);
            }
            self.window_start_ns = now_ns;
        }
    }

    /// Count unfinished calls as censored (end of run).
    pub fn censor(&mut self) {
        for (_, c) in self.core.calls.iter() {
            if c.delivered
                && c.counted
                && !c.callee_done
                && let Some(s) = self.nodes.get_mut(c.callee as usize).map(|n| &mut n.stats)
            {
                s.censored += 1;
            }
            if c.parent.is_none()
                && c.attrs.counted
                && !c.caller_done
                && let Some(s) = self.nodes.get_mut(c.caller as usize).map(|n| &mut n.stats)
            {
                s.censored += 1;
            }
        }
    }
}

impl World {
    /// Component `i` and the context it handles an event in (disjoint borrows of `self`).
    #[inline]
    fn node_ctx(&mut self, i: usize) -> (&mut Live, Ctx<'_>) {
        let node = &mut self.nodes[i];
        let ctx = Ctx {
            core: &mut self.core,
            stats: &mut node.stats,
        };
        (&mut node.live, ctx)
    }

    #[inline]
    fn dispatch(&mut self, event: Event) {
        match event {
            Event::Arrival { node, epoch } => {
                let max = self.max_in_flight;
                if let (Live::Client(c), mut ctx) = self.node_ctx(node as usize) {
                    let (counted, rejected) = c.on_arrival(epoch, &mut ctx, max);
                    self.count_request(counted, rejected);
                }
            }
            Event::UserWake { node, user } => {
                let max = self.max_in_flight;
                if let (Live::Client(c), mut ctx) = self.node_ctx(node as usize) {
                    let (counted, rejected) = c.on_user_wake(user, &mut ctx, max);
                    self.count_request(counted, rejected);
                }
            }
            Event::Deliver { call, node } => {
                // A stale call (its slot freed) is dropped by the handler's look-up.
                match self.node_ctx(node as usize) {
                    (Live::Service(s), mut ctx) => s.on_deliver(call, &mut ctx),
                    (Live::LoadBalancer(lb), mut ctx) => lb.on_deliver(call, &mut ctx),
                    (Live::Client(_), _) => {}
                }
            }
            Event::CpuDone { call, incarnation } => {
                let Some(c) = self.core.calls.get(call) else {
                    return;
                };
                let (i, replica) = (c.callee as usize, c.replica);
                if let (Live::Service(s), mut ctx) = self.node_ctx(i) {
                    s.on_cpu_done(replica, incarnation, call, &mut ctx);
                }
            }
            Event::Forward { call } => {
                let Some(c) = self.core.calls.get(call) else {
                    return;
                };
                let i = c.callee as usize;
                if let (Live::LoadBalancer(lb), mut ctx) = self.node_ctx(i) {
                    lb.on_forward(call, &mut ctx);
                }
            }
            Event::Reply { call } => self.on_reply(call),
            Event::Timeout { call } => self.on_timeout(call),
            Event::Tick => self.on_tick(),
            Event::CountingWindow { open } => {
                self.window_closed |= !open;
                let now = self.core.queue.now().as_nanos();
                for s in self.nodes.iter_mut().map(|n| &mut n.stats) {
                    s.counting_window_edge(now, open);
                }
            }
        }
    }
}

impl Model for World {
    type Event = Event;

    fn queue(&self) -> &EventQueue<Event> {
        &self.core.queue
    }

    #[inline]
    fn queue_mut(&mut self) -> &mut EventQueue<Event> {
        &mut self.core.queue
    }

    #[inline]
    fn handle(&mut self, event: Event) -> u64 {
        let handled = self.chain(event);
        if self.window_closed && self.core.calls.is_empty() {
            // Nothing can happen any more: later arrivals and wake-ups are ignored and every
            // queued timer or CPU event is stale.
            self.set_ticking(false);
        }
        handled
    }

    #[inline]
    fn horizon(&self) -> Option<SimTime> {
        self.horizon
    }
}
