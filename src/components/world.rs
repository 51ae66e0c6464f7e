//! The world: every live component, the calls between them, and their statistics. It routes
//! each event to the component it concerns and applies commands (kill an instance, change
//! the traffic) between events.

use super::deadlock::Deadlocks;
use super::{
    Answer, Build, Call, CallId, Core, Ctx, Env, Event, Faults, InstanceView, Live, NodeCalls,
    NodeCommand, PlaceLatency, Side, Waits, call_name,
};
use crate::engine::{EventQueue, Model, SimTime, StreamKey};
use crate::metrics::{ErrorCause, NodeStats};
pub use crate::topology::events::Action;
use crate::topology::model::Place;
use crate::topology::{NodeId, Topology};

/// Why a component did not take a command.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The node does not exist.
    #[error("there is no node {0}")]
    WrongNode(NodeId),
    /// The node's kind does not take this command.
    #[error("a {kind} does not take {command:?}")]
    NotTaken {
        /// The kind's label.
        kind: &'static str,
        /// The command.
        command: NodeCommand,
    },
    /// The service has no such replica.
    #[error("node {node} has no replica {replica}")]
    NoSuchReplica {
        /// The service.
        node: NodeId,
        /// The replica asked for.
        replica: u32,
    },
}

/// Live calls grouped by node id.
type ByNode<'a> = Vec<Vec<(CallId, &'a Call)>>;

/// A live component and its statistics, side by side: one look-up finds both.
#[derive(Debug)]
pub struct Node {
    /// The component.
    pub live: Live,
    /// Its statistics.
    pub stats: NodeStats,
}

impl Node {
    /// Close its time-series window that started at `start_ns` and ends at `now_ns`, with
    /// the kind's own columns. True when its series merged (the window doubled).
    fn close_series_window(&mut self, start_ns: u64, now_ns: u64) -> bool {
        let len_ns = now_ns.saturating_sub(start_ns).max(1);
        let values = self.live.series_values(&mut self.stats, now_ns, len_ns);
        self.stats.close_series_window(start_ns, now_ns, values)
    }
}

/// Every live component and what they share.
pub struct World {
    /// Live components and their statistics, by node id.
    pub nodes: Vec<Node>,
    /// Pending events, live calls and shared settings.
    pub core: Core,
    /// Start of the open time-series window, ns.
    pub window_start_ns: u64,
    /// Current time-series window width, ns.
    pub series_window_ns: u64,
    /// Arrivals are over (the counting window has closed).
    window_closed: bool,
    /// Commands scheduled ([`Event::Command`] indexes this), each with the next command
    /// of its batch (live commands for one instant apply in the order given).
    scheduled: Vec<(Action, Option<u32>)>,
    /// The last batch of live commands: its instant and its last command.
    live_batch: Option<(u64, u32)>,
    /// Commands applied: when (ns), which (index into the scheduled ones), and the outcome.
    applied: Vec<(u64, u32, Result<(), CommandError>)>,
    /// The workloads' node ids.
    workloads: Vec<NodeId>,
    /// Each node's instance count now (the model's, until a `Replicas` command changes it).
    instance_counts: Vec<u32>,
    /// Node names, by id (for what [`World::check_invariants`] reports).
    names: Vec<String>,
    /// Where each node runs, by node id (for outages).
    places: Vec<Place>,
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
        let mut faults = Vec::with_capacity(topo.nodes.len());
        let draw_keys = topo.reads_keys();
        for (i, n) in topo.nodes.iter().enumerate() {
            let live = Live::build(
                &n.kind,
                &Build {
                    node: i as NodeId,
                    name: &n.name,
                    seed,
                    replication,
                    draw_keys,
                },
            );
            let (threads, cpus) = live.capacity();
            let stats = NodeStats::new(
                &window,
                threads,
                cpus,
                topo.classes.len(),
                live.series_columns(),
            );
            nodes.push(Node { live, stats });
            faults.push(Faults::new(
                StreamKey {
                    seed,
                    replication,
                    owner: &n.name,
                    replica: 0,
                    purpose: "faults",
                }
                .rng(),
            ));
        }
        let mut core = Core::new(
            Env {
                window,
                max_hops: u16::try_from(topo.limits.max_hops).unwrap_or(u16::MAX - 1),
                max_in_flight: topo.limits.max_in_flight as usize,
            },
            topo.requests,
            topo.limits.drain.as_nanos(),
            faults,
        );
        if topo.has_place_latency() {
            core.places = Some(Box::new(PlaceLatency::new(topo)));
        }
        Self {
            nodes,
            core,
            places: topo.nodes.iter().map(|n| n.place).collect(),
            window_start_ns: 0,
            series_window_ns: topo.window_ns,
            window_closed: false,
            scheduled: Vec::new(),
            live_batch: None,
            applied: Vec::new(),
            workloads: topo
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| n.kind.is_workload())
                .map(|(i, _)| i as NodeId)
                .collect(),
            names: topo.nodes.iter().map(|n| n.name.clone()).collect(),
            instance_counts: topo.nodes.iter().map(|n| n.kind.instances()).collect(),
        }
    }

    /// How many instances node `node` has now.
    pub fn instance_count(&self, node: NodeId) -> u32 {
        self.instance_counts
            .get(node as usize)
            .copied()
            .unwrap_or(1)
    }

    /// Schedule the first events: the counting window's edges, the model's `events` (at
    /// their time, in order, before everything else of their instant but the edges), then
    /// each component's own.
    pub fn start(&mut self, events: &[(u64, Action)]) {
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
        // Commands of one instant go in one event, in order (as a live batch does, so a
        // live session and its replay handle the same events).
        let mut last: Option<(u64, u32)> = None;
        for &(at_ns, action) in events {
            match last {
                Some((t, prev)) if t == at_ns => {
                    let index = self.scheduled.len() as u32;
                    self.scheduled.push((action, None));
                    if let Some(entry) = self.scheduled.get_mut(prev as usize) {
                        entry.1 = Some(index);
                    }
                    last = Some((at_ns, index));
                }
                _ => {
                    let index = self.schedule_command(SimTime::from_nanos(at_ns), action);
                    last = Some((at_ns, index));
                }
            }
        }
        for i in 0..self.nodes.len() {
            let (live, mut ctx) = self.node_ctx(i);
            live.start(&mut ctx);
        }
        self.queue_pending_hop();
        self.core.set_ticking(true);
        self.schedule_tick();
    }

    /// Apply `action` at `at` (now, if earlier), after what was scheduled before it for that
    /// instant and before what is scheduled later ([`World::start`] schedules a model's
    /// `events` this way, so they precede every event of their instant). Returns its index.
    pub fn schedule_command(&mut self, at: SimTime, action: Action) -> u32 {
        let index = self.scheduled.len() as u32;
        self.scheduled.push((action, None));
        self.core.queue.schedule(at, Event::Command { index });
        index
    }

    /// Apply `action` at `at` before everything else due at that instant (a live command at
    /// the first instant none of whose events has run); live commands for the same instant
    /// apply in the order given. Returns its index.
    pub fn schedule_live_command(&mut self, at: SimTime, action: Action) -> u32 {
        let index = self.scheduled.len() as u32;
        self.scheduled.push((action, None));
        let at_ns = at.as_nanos().max(self.core.queue.now().as_nanos());
        match self.live_batch {
            Some((batch_at, last)) if batch_at == at_ns => {
                // Behind the batch's last command, in the same event.
                if let Some(entry) = self.scheduled.get_mut(last as usize) {
                    entry.1 = Some(index);
                }
            }
            _ => self
                .core
                .queue
                .schedule_first(SimTime::from_nanos(at_ns), Event::Command { index }),
        }
        self.live_batch = Some((at_ns, index));
        index
    }

    /// A scheduled command (and the rest of its batch) came due.
    #[inline(never)]
    fn on_scheduled_command(&mut self, index: u32) {
        let mut next = Some(index);
        while let Some(i) = next {
            let Some(&(action, after)) = self.scheduled.get(i as usize) else {
                return;
            };
            let outcome = self.command_now(action);
            self.applied
                .push((self.core.queue.now().as_nanos(), i, outcome));
            next = after;
        }
    }

    /// Commands applied so far: when (ns), which (the index `schedule_*` returned), and
    /// whether the component took it.
    pub fn applied(&self) -> &[(u64, u32, Result<(), CommandError>)] {
        &self.applied
    }

    /// Apply `action` now.
    fn command_now(&mut self, action: Action) -> Result<(), CommandError> {
        let now = self.core.queue.now().as_nanos();
        match action {
            Action::Kill { node, replica } => self.tell(node, NodeCommand::Kill { replica }),
            Action::Revive { node, replica } => self.tell(node, NodeCommand::Revive { replica }),
            Action::Own { node, command } => self.tell(node, NodeCommand::Own(command)),
            Action::Traffic {
                node: Some(node),
                scale,
            } => self.tell(node, NodeCommand::SetTrafficScale { scale }),
            Action::Traffic { node: None, scale } => {
                for node in self.workloads.clone() {
                    self.tell(node, NodeCommand::SetTrafficScale { scale })?;
                }
                Ok(())
            }
            Action::Replicas { node, count } => {
                self.tell(node, NodeCommand::SetInstances { count })?;
                if let Some(n) = self.instance_counts.get_mut(node as usize) {
                    *n = count;
                }
                // Balancers in front of it add or drop the instances.
                for i in 0..self.nodes.len() {
                    let (live, mut ctx) = self.node_ctx(i);
                    live.on_instances_changed(node, count, &mut ctx);
                }
                Ok(())
            }
            Action::AddLatency {
                node,
                latency_ns,
                lasting_ns,
            } => {
                let f = self.faults_mut(node)?;
                f.latency_ns = latency_ns;
                f.latency_until_ns = now.saturating_add(lasting_ns);
                self.core.faults_active = true;
                Ok(())
            }
            Action::FailFraction {
                node,
                fraction,
                lasting_ns,
            } => {
                let f = self.faults_mut(node)?;
                f.fail_fraction = fraction;
                f.fail_until_ns = now.saturating_add(lasting_ns);
                self.core.faults_active = true;
                Ok(())
            }
            Action::Outage { place, down } => {
                // Every component there, in node order, through the instances' own path.
                let replica = None;
                let order = if down {
                    NodeCommand::Kill { replica }
                } else {
                    NodeCommand::Revive { replica }
                };
                let mut taken = Ok(());
                for i in 0..self.places.len() {
                    if self.places.get(i).is_some_and(|&p| place.holds(p)) {
                        let told = self.tell(i as NodeId, order);
                        if taken.is_ok() {
                            taken = told;
                        }
                    }
                }
                taken
            }
        }
    }

    fn faults_mut(&mut self, node: NodeId) -> Result<&mut Faults, CommandError> {
        self.core
            .faults
            .get_mut(node as usize)
            .ok_or(CommandError::WrongNode(node))
    }

    /// Tell one node a command.
    fn tell(&mut self, node: NodeId, order: NodeCommand) -> Result<(), CommandError> {
        let i = node as usize;
        if i >= self.nodes.len() {
            return Err(CommandError::WrongNode(node));
        }
        let (live, mut ctx) = self.node_ctx(i);
        live.on_command(order, &mut ctx)
    }

    /// A reply reached the caller: free the call and tell its caller.
    #[inline(never)]
    fn on_reply(&mut self, id: CallId) {
        // Read what the caller needs, then free the slot (no copy of the whole call).
        let Some(call) = self.core.calls.get(id) else {
            return;
        };
        let (caller, caller_done) = (call.caller, call.caller_done);
        let Some(outcome) = call.outcome else {
            debug_assert!(false, "a reply before its answer");
            return;
        };
        let answer = Answer::of(call, outcome);
        self.core.calls.free(id);
        if !caller_done {
            let (live, mut ctx) = self.node_ctx(caller as usize);
            live.on_answer(answer, &mut ctx);
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
        let caller = call.caller;
        let answer = Answer::of(call, Err(ErrorCause::TIMEOUT));
        let (live, mut ctx) = self.node_ctx(caller as usize);
        live.on_answer(answer, &mut ctx);
    }

    #[inline(never)]
    fn on_tick(&mut self) {
        let now = self.core.queue.now().as_nanos();
        let mut doubled = false;
        for n in &mut self.nodes {
            doubled |= n.close_series_window(self.window_start_ns, now);
        }
        if doubled {
            self.series_window_ns *= 2;
        }
        self.window_start_ns = now;
        let active = now < self.core.env.window.duration_ns && !self.core.arrivals_over;
        if active || !self.core.calls.is_empty() {
            self.schedule_tick();
        } else {
            self.core.set_ticking(false);
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

    /// The model's cap on calls in flight.
    pub fn max_in_flight(&self) -> usize {
        self.core.env.max_in_flight
    }

    /// Requests refused by the in-flight cap.
    pub fn overload_rejections(&self) -> u64 {
        self.core.overload_rejections
    }

    /// True while time-series ticks are scheduled.
    pub fn is_ticking(&self) -> bool {
        self.core.ticking
    }

    /// Close the open time-series window at `now_ns` (end of run).
    pub fn close_series(&mut self, now_ns: u64) {
        if now_ns > self.window_start_ns {
            for n in &mut self.nodes {
                n.close_series_window(self.window_start_ns, now_ns);
            }
            self.window_start_ns = now_ns;
        }
    }

    /// Count unfinished calls as censored (end of run).
    pub fn censor(&mut self) {
        for (_, c) in self.core.calls.iter() {
            if c.delivered
                && c.counted
                && c.outcome.is_none()
                && let Some(s) = self.nodes.get_mut(c.callee as usize).map(|n| &mut n.stats)
            {
                s.censor(c.attrs.class);
            }
            if c.parent.is_none()
                && c.attrs.counted
                && !c.caller_done
                && let Some(s) = self.nodes.get_mut(c.caller as usize).map(|n| &mut n.stats)
            {
                s.censor(c.attrs.class);
            }
        }
    }
}

impl World {
    /// A self-check for tests and fuzzing, cheap enough to call between steps (it costs
    /// O(live calls + nodes + instances) and reads only): every live call names existing
    /// nodes, and holds capacity only while delivered and unanswered; every node's calls in
    /// flight (`NodeStats::in_flight_counted` and `in_flight_uncounted`) equal the calls
    /// delivered to it and not answered yet, plus the requests it made (a workload) and still
    /// awaits; then each component's own checks ([`super::Component::check_invariants`]:
    /// a service's threads, CPUs and queues against the calls holding them and its levels, a
    /// balancer's connections against its calls out). The error names the node, and the
    /// instance and call where there is one.
    pub fn check_invariants(&self) -> Result<(), String> {
        let (handled, made) = self.calls_by_node()?;
        for (i, node) in self.nodes.iter().enumerate() {
            let name = self.names.get(i).map_or("?", String::as_str);
            let calls = NodeCalls::new(&self.core.calls, &handled[i], &made[i]);
            Self::check_in_flight(calls, &node.stats)
                .and_then(|()| node.live.check_invariants(calls, &node.stats))
                .map_err(|e| format!("`{name}` (node {i}): {e}"))?;
        }
        Ok(())
    }

    /// The instances of node `node` as they stand (empty for kinds without threads and CPUs,
    /// `None` when there is no such node). Costs O(live calls).
    pub fn instance_views(&self, node: NodeId) -> Option<Vec<InstanceView>> {
        let n = self.nodes.get(node as usize)?;
        let handled: Vec<(CallId, &Call)> = self
            .core
            .calls
            .iter()
            .filter(|(_, c)| c.callee == node)
            .collect();
        let made: Vec<(CallId, &Call)> = self
            .core
            .calls
            .iter()
            .filter(|(_, c)| c.caller == node)
            .collect();
        Some(
            n.live
                .instance_views(NodeCalls::new(&self.core.calls, &handled, &made)),
        )
    }

    /// Calls that wait on each other in a cycle and can never move again
    /// ([`super::deadlock`]). Costs O(nodes + instances) while no instance has every thread
    /// held by a waiting call (the common case), else O(live calls).
    pub fn deadlocks(&self) -> Deadlocks {
        if !self.nodes.iter().any(|n| n.live.may_be_blocked()) {
            return Deadlocks::default();
        }
        let Ok((handled, made)) = self.calls_by_node() else {
            return Deadlocks::default();
        };
        let waits: Vec<Waits> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                n.live
                    .waits(NodeCalls::new(&self.core.calls, &handled[i], &made[i]))
            })
            .collect();
        super::deadlock::find(&self.core.calls, &waits)
    }

    /// Live calls per node they are addressed to, and per node that made them (slot order),
    /// checking what holds of every call whatever its kinds.
    fn calls_by_node(&self) -> Result<(ByNode<'_>, ByNode<'_>), String> {
        let n = self.nodes.len();
        let mut handled = vec![Vec::new(); n];
        let mut made = vec![Vec::new(); n];
        for (id, c) in self.core.calls.iter() {
            let (callee, caller) = (c.callee as usize, c.caller as usize);
            if callee >= n || caller >= n {
                return Err(format!(
                    "{} from node {caller} to node {callee}: no such node ({n} nodes)",
                    call_name(id)
                ));
            }
            if c.holds_capacity && (!c.delivered || c.outcome.is_some()) {
                let name = self.names.get(callee).map_or("?", String::as_str);
                return Err(format!(
                    "`{name}` (node {callee}): {} holds capacity but is {}",
                    call_name(id),
                    if c.delivered {
                        "answered"
                    } else {
                        "not delivered"
                    }
                ));
            }
            handled[callee].push((id, c));
            made[caller].push((id, c));
        }
        Ok((handled, made))
    }

    /// A node's calls in flight, counted and not, against its statistics: calls delivered to
    /// it and unanswered, plus the requests it made (a workload: calls with no parent) and
    /// still awaits.
    fn check_in_flight(calls: NodeCalls<'_>, stats: &NodeStats) -> Result<(), String> {
        let (mut counted, mut uncounted) = (0u64, 0u64);
        let inside = calls
            .handled()
            .iter()
            .filter(|(_, c)| c.delivered && c.outcome.is_none())
            .map(|(_, c)| c.counted);
        let awaited = calls
            .made()
            .iter()
            .filter(|(_, c)| c.parent.is_none() && !c.caller_done)
            .map(|(_, c)| c.attrs.counted);
        for is_counted in inside.chain(awaited) {
            if is_counted {
                counted += 1;
            } else {
                uncounted += 1;
            }
        }
        let (c_level, u_level) = (
            stats.in_flight_counted.value(),
            stats.in_flight_uncounted.value(),
        );
        if (c_level, u_level) != (counted, uncounted) {
            return Err(format!(
                "in flight (counted, uncounted) is ({c_level}, {u_level}) in the statistics but ({counted}, {uncounted}) by the live calls"
            ));
        }
        Ok(())
    }
}

impl World {
    /// Component `i` and the context it handles an event in (disjoint borrows of `self`).
    #[inline(always)]
    fn node_ctx(&mut self, i: usize) -> (&mut Live, Ctx<'_>) {
        let node = &mut self.nodes[i];
        (&mut node.live, Ctx::new(&mut self.core, &mut node.stats))
    }

    #[inline]
    fn dispatch(&mut self, event: Event) {
        match event {
            Event::Deliver { call, node } => {
                // A stale call (its slot freed) is dropped by the handler's look-up.
                let (live, mut ctx) = self.node_ctx(node as usize);
                live.on_call(call, &mut ctx);
            }
            Event::CallTimer { call, arg, side } => {
                let Some(c) = self.core.calls.get(call) else {
                    return;
                };
                let (node, replica) = match side {
                    Side::Callee => (c.callee, c.replica),
                    Side::Caller => (c.caller, c.replica),
                };
                let (live, mut ctx) = self.node_ctx(node as usize);
                live.on_call_timer(call, replica, arg, &mut ctx);
            }
            Event::NodeTimer { node, arg } => {
                let (live, mut ctx) = self.node_ctx(node as usize);
                live.on_node_timer(arg, &mut ctx);
            }
            Event::Reply { call } => self.on_reply(call),
            Event::Timeout { call } => self.on_timeout(call),
            Event::Tick => self.on_tick(),
            Event::CountingWindow { open } => {
                self.window_closed |= !open;
                let now = self.core.queue.now().as_nanos();
                for n in &mut self.nodes {
                    n.stats.counting_window_edge(now, open);
                    n.live.on_window_edge(now, open);
                }
            }
            Event::Command { index } => self.on_scheduled_command(index),
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
            self.core.set_ticking(false);
        }
        handled
    }

    #[inline]
    fn horizon(&self) -> Option<SimTime> {
        self.core.horizon
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::engine::Engine;

    /// A run stopped while busy: `lb` spreads over two `web` instances that queue for threads
    /// and CPUs.
    fn busy() -> (Engine<World>, usize, usize) {
        let topo = crate::topology::load_str(
            r#"Topology(duration: "2s", warmup: "0s",
            workloads: { "users": Open(rate: "2500/s", to: "lb") },
            components: {
                "lb": LoadBalancer(policy: RoundRobin, backends: ["web"]),
                "web": Service(replicas: 2, threads: 2, cpus: 1, queue_limit: 50, cpu: Exp(mean: "1ms"),
                    calls: [Call(to: "db")]),
                "db": Service(threads: 4, cpus: 4, cpu: Const("1ms")),
            })"#,
            None,
            Path::new("."),
            &[],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let node = |name: &str| topo.nodes.iter().position(|n| n.name == name).unwrap();
        let (lb, web) = (node("lb"), node("web"));
        let mut engine = Engine::new(World::new(&topo, 1, 0));
        engine.model.start(&[]);
        engine.step(SimTime::from_secs_f64(0.5), u64::MAX);
        (engine, lb, web)
    }

    /// `check_invariants` fails, naming the node and the `words` of what broke.
    fn fails_with(world: &World, words: &[&str]) {
        let err = world
            .check_invariants()
            .expect_err("a corrupted counter passed the checks");
        for w in words {
            assert!(err.contains(w), "`{err}` does not say `{w}`");
        }
    }

    #[test]
    fn corrupted_bookkeeping_fails_the_checks_and_says_where() {
        let (mut engine, lb, web) = busy();
        let now = engine.now().as_nanos();
        let w = &mut engine.model;
        w.check_invariants().unwrap();
        let (at_web, at_lb) = (format!("`web` (node {web})"), format!("`lb` (node {lb})"));
        let Live::Service(s) = &w.nodes[web].live else {
            unreachable!("web is a service")
        };
        let inst = &s.instances[1];
        assert!(
            inst.threads_busy > 0 && !inst.thread_queue.is_empty(),
            "not busy enough to test: {inst:?}"
        );

        // An instance's counter.
        let Live::Service(s) = &mut w.nodes[web].live else {
            unreachable!()
        };
        s.instances[1].threads_busy -= 1;
        fails_with(w, &[&at_web, "instance 1", "thread"]);
        let Live::Service(s) = &mut w.nodes[web].live else {
            unreachable!()
        };
        s.instances[1].threads_busy += 1;
        w.check_invariants().unwrap();

        // An instance's queue.
        let Live::Service(s) = &mut w.nodes[web].live else {
            unreachable!()
        };
        let queued = s.instances[0].thread_queue.pop_back().unwrap();
        fails_with(w, &[&at_web, "queue length level"]);
        let Live::Service(s) = &mut w.nodes[web].live else {
            unreachable!()
        };
        s.instances[0].thread_queue.push_back(queued);
        w.check_invariants().unwrap();

        // A statistics level.
        w.nodes[web].stats.cpus_busy.inc(now);
        fails_with(w, &[&at_web, "busy CPUs level is"]);
        w.nodes[web].stats.cpus_busy.dec(now);
        w.check_invariants().unwrap();

        // A balancer's connections.
        let Live::LoadBalancer(b) = &mut w.nodes[lb].live else {
            unreachable!("lb is a balancer")
        };
        b.active[0] += 1;
        fails_with(w, &[&at_lb, "backend 0", "active connections"]);
        let Live::LoadBalancer(b) = &mut w.nodes[lb].live else {
            unreachable!()
        };
        b.active[0] -= 1;
        w.check_invariants().unwrap();

        // A node's calls in flight (checked of every node by the world).
        w.nodes[lb].stats.in_flight_uncounted.inc(now);
        fails_with(w, &[&at_lb, "in flight"]);
        w.nodes[lb].stats.in_flight_uncounted.dec(now);
        w.check_invariants().unwrap();

        // A call holding a thread it cannot hold.
        let (id, _) = w
            .core
            .calls
            .iter()
            .find(|(_, c)| {
                c.callee as usize == web && c.outcome.is_none() && !c.holds_capacity && c.delivered
            })
            .expect("a call waiting for a thread");
        w.core.calls.get_mut(id).unwrap().holds_capacity = true;
        fails_with(w, &[&at_web, &format!("call #{}", id.index())]);
    }
}
