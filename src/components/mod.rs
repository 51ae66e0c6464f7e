//! The components that requests flow through, one file per kind, behind one contract
//! ([`Component`]), and the [`World`] that routes events to them.
//!
//! Components never hold references to each other: they schedule events addressed to node
//! ids and share only the slab of calls, through a [`Ctx`]. A *call* (span) is one request's
//! visit to one component; several calls of one request can be alive at once (fan-out, a
//! timed-out attempt still running). A call is freed when both sides are done with it: the
//! callee has replied and the caller has taken (or abandoned) the reply.
//!
//! The event vocabulary is frozen ([`Event`]): a kind's own timers are the two generic timer
//! events (one addressed to a node with a 64-bit argument, one addressed to a call with a
//! 32-bit argument and a side), which the kind decodes itself; a new kind never edits
//! `Event`, `pack` or `unpack`. The live enum [`Live`] and its forwarding are generated from
//! the one list of kinds (`crate::for_each_kind!`).

pub mod cache;
pub mod client;
mod ctx;
pub mod deadlock;
pub mod load_balancer;
pub mod router;
pub mod service;
pub mod world;

use std::sync::OnceLock;

pub use ctx::{Core, Ctx, Env, PlaceLatency};
pub use world::{Action, CommandError, World};

use crate::engine::{EventQueue, Key, LaneId, Packed, Slab};
use crate::metrics::report::Figures;
use crate::metrics::{ErrorCause, KindValues, NodeStats, SeriesColumn, Window};
use crate::topology::NodeId;
use crate::topology::kinds::NodeKind;

/// Address of a live call.
pub type CallId = Key;

/// Replica not chosen yet (the callee picks one).
pub const ANY_REPLICA: u32 = u32::MAX;

/// What a call's callee answered: success with a kind-defined value byte (hit or miss, stale
/// or fresh: [`crate::topology::spec::AnswerValue`]), or the cause of its failure.
pub type Outcome = Result<u8, ErrorCause>;

/// What a request is, drawn once when it arrives and carried by all its calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestAttrs {
    /// Class id (index into the topology's classes).
    pub class: u8,
    /// Region id (1-based index into the topology's regions), 0 when none.
    pub region: u8,
    /// Whether the request arrived in the counting window.
    pub counted: bool,
    /// What this call asks of a data store (a cache): 0 = the request's own operation (its
    /// class reads or writes), else an [`crate::topology::spec::Op`] code. The one attribute
    /// that is not the request's: a service sets it on each call it makes, from the call's
    /// `op`; proxies pass it on. It fills what was padding, so calls stay 80 bytes.
    pub op: u8,
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
    /// Set by the caller, handed back with the answer: a backend index (balancer), a user
    /// (closed workload), a call index (service).
    pub tag: u32,
    /// When the callee got the call, ns.
    pub arrived_ns: u64,
    /// Latency back to the caller once answered, ns.
    pub return_ns: u64,
    /// Call depth (root = 1).
    pub hops: u16,
    /// The callee kind's own progress of this call, which only that kind reads (a service
    /// keeps its next downstream call, its outstanding calls and the last answer's value).
    pub local: u32,
    /// Counted at the callee (arrived in the window).
    pub counted: bool,
    /// The call has reached its callee.
    pub delivered: bool,
    /// The call holds one unit of its callee instance's capacity (a thread, a connection),
    /// which the answer takes back ([`Ctx::answer`]).
    pub holds_capacity: bool,
    /// The caller has taken the reply or given up.
    pub caller_done: bool,
    /// The callee's answer, once it has answered.
    pub outcome: Option<Outcome>,
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
            local: 0,
            counted: false,
            delivered: false,
            holds_capacity: false,
            caller_done: false,
            outcome: None,
        }
    }
}

/// Which end of a call a call timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The component that made the call.
    Caller,
    /// The component handling it.
    Callee,
}

/// Events: the frozen vocabulary. Small and `Copy`: no allocation per event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A call reaches its callee.
    Deliver {
        /// The call.
        call: CallId,
        /// The callee (so dispatch needs no look-up).
        node: NodeId,
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
    /// A component's own timer, with an argument it decodes itself (a workload's next
    /// arrival, an autoscaler's sync).
    NodeTimer {
        /// The component.
        node: NodeId,
        /// Kind-defined.
        arg: u64,
    },
    /// A timer of one call, for the component at one end of it (a CPU burst ending, a
    /// balancer forwarding after its overhead); dropped when the call is gone.
    CallTimer {
        /// The call.
        call: CallId,
        /// Kind-defined.
        arg: u32,
        /// Which end's component handles it.
        side: Side,
    },
    /// Close a time-series window.
    Tick,
    /// The counting window opens (at warm-up) or closes (when arrivals end).
    CountingWindow {
        /// Opens (true) or closes.
        open: bool,
    },
    /// A scheduled command comes due (index into the world's scheduled commands).
    Command {
        /// Which.
        index: u32,
    },
}

/// Packed layout: the variant in bits 0–2, the side of a call timer in bit 8, a 32-bit field
/// in bits 32–63, a call key (or a 64-bit argument) in bits 64–127. Eight variants fill the
/// three tag bits, so every tag decodes to a variant.
impl Packed for Event {
    #[inline(always)]
    fn pack(self) -> u128 {
        // (tag, flag in bit 8, 32-bit field, 64-bit field)
        let (tag, flag, a, b): (u8, bool, u32, u64) = match self {
            Event::Deliver { call, node } => (0, false, node, call.to_bits()),
            Event::Reply { call } => (1, false, 0, call.to_bits()),
            Event::Timeout { call } => (2, false, 0, call.to_bits()),
            Event::NodeTimer { node, arg } => (3, false, node, arg),
            Event::CallTimer { call, arg, side } => (4, side == Side::Callee, arg, call.to_bits()),
            Event::Tick => (5, false, 0, 0),
            Event::CountingWindow { open } => (6, false, u32::from(open), 0),
            Event::Command { index } => (7, false, index, 0),
        };
        u128::from(tag) | (u128::from(flag) << 8) | (u128::from(a) << 32) | (u128::from(b) << 64)
    }

    #[inline(always)]
    fn unpack(bits: u128) -> Self {
        let a = (bits >> 32) as u32;
        let b = (bits >> 64) as u64;
        match bits as u8 & 7 {
            0 => Event::Deliver {
                call: Key::from_bits(b),
                node: a,
            },
            1 => Event::Reply {
                call: Key::from_bits(b),
            },
            2 => Event::Timeout {
                call: Key::from_bits(b),
            },
            3 => Event::NodeTimer { node: a, arg: b },
            4 => Event::CallTimer {
                call: Key::from_bits(b),
                arg: a,
                side: if (bits >> 8) & 1 == 1 {
                    Side::Callee
                } else {
                    Side::Caller
                },
            },
            5 => Event::Tick,
            6 => Event::CountingWindow { open: a != 0 },
            _ => Event::Command { index: a },
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

/// What a caller learns when a call it made is answered (or times out).
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    /// The caller's own call that made it (None for a workload's request).
    pub parent: Option<CallId>,
    /// The tag the caller set on the call.
    pub tag: u32,
    /// When the request arrived, ns.
    pub request_arrived_ns: u64,
    /// Whether the request is counted.
    pub request_counted: bool,
    /// The request's class.
    pub request_class: u8,
    /// The answer.
    pub outcome: Outcome,
}

impl Answer {
    /// What the caller of `call` learns, with `outcome`.
    #[inline]
    pub fn of(call: &Call, outcome: Outcome) -> Self {
        Self {
            parent: call.parent,
            tag: call.tag,
            request_arrived_ns: call.attrs.arrived_ns,
            request_counted: call.attrs.counted,
            request_class: call.attrs.class,
            outcome,
        }
    }
}

/// A change addressed to one node (the world resolves an [`world::Action`] into these).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NodeCommand {
    /// Kill one instance (every instance: `None`): its work fails with `instance_down`.
    Kill {
        /// The instance.
        replica: Option<u32>,
    },
    /// Bring a killed instance back, empty (every instance: `None`).
    Revive {
        /// The instance.
        replica: Option<u32>,
    },
    /// Multiply a workload's arrival rate (1.0 = as in the model).
    SetTrafficScale {
        /// The multiplier (≥ 0).
        scale: f64,
    },
    /// Set the number of instances.
    SetInstances {
        /// The new count.
        count: u32,
    },
    /// One of the kind's own commands, resolved by its kind's model
    /// ([`crate::topology::kinds::KindModel::resolve_command`]).
    Own(crate::topology::kinds::OwnCommand),
}

/// Faults a command injected into one node: its answers leave late, or some fail.
#[derive(Debug, Clone)]
pub struct Faults {
    /// Extra delay of each answer, ns, until `latency_until_ns`.
    pub latency_ns: u64,
    /// End of the extra delay, ns.
    pub latency_until_ns: u64,
    /// Fraction of answers turned into `injected` failures, until `fail_until_ns`.
    pub fail_fraction: f64,
    /// End of the failures, ns.
    pub fail_until_ns: u64,
    /// Which answers fail (stream "faults" of the node).
    rng: crate::engine::Rng,
}

impl Faults {
    /// No fault, with the node's stream for drawing failures.
    pub fn new(rng: crate::engine::Rng) -> Self {
        Self {
            latency_ns: 0,
            latency_until_ns: 0,
            fail_fraction: 0.0,
            fail_until_ns: 0,
            rng,
        }
    }

    /// What becomes of an answer given at `now_ns`: its outcome and the extra delay.
    pub fn apply(&mut self, now_ns: u64, outcome: Outcome) -> (Outcome, u64) {
        use rand::RngExt;
        let extra = if now_ns < self.latency_until_ns {
            self.latency_ns
        } else {
            0
        };
        let fails = now_ns < self.fail_until_ns
            && outcome.is_ok()
            && self.fail_fraction > 0.0
            && self.rng.random::<f64>() < self.fail_fraction;
        let outcome = if fails {
            Err(ErrorCause::INJECTED)
        } else {
            outcome
        };
        (outcome, extra)
    }
}

/// Whether a single-instance component (a balancer, a router) is up, and the kill and revive
/// commands that change it: a kill fails what it holds and what reaches it afterwards with
/// `instance_down`; its calls still out run on and their answers are dropped.
#[derive(Debug, Clone, Copy, Default)]
pub struct Liveness {
    down: bool,
}

impl Liveness {
    /// Killed (not revived since).
    #[inline(always)]
    pub fn is_down(self) -> bool {
        self.down
    }

    /// Take `cmd` for node `node` (a kind labelled `label`): kill and revive of instance 0 or
    /// of all; anything else is refused.
    pub fn command(
        &mut self,
        node: NodeId,
        label: &'static str,
        cmd: NodeCommand,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), CommandError> {
        match cmd {
            NodeCommand::Kill {
                replica: None | Some(0),
            } => {
                self.down = true;
                for id in ctx.unanswered_at_node(node) {
                    ctx.refuse(id, ErrorCause::INSTANCE_DOWN);
                }
                Ok(())
            }
            NodeCommand::Revive {
                replica: None | Some(0),
            } => {
                self.down = false;
                Ok(())
            }
            NodeCommand::Kill { replica: Some(r) } | NodeCommand::Revive { replica: Some(r) } => {
                Err(CommandError::NoSuchReplica { node, replica: r })
            }
            NodeCommand::SetTrafficScale { .. }
            | NodeCommand::SetInstances { .. }
            | NodeCommand::Own(_) => Err(CommandError::NotTaken {
                kind: label,
                command: cmd,
            }),
        }
    }
}

/// A command a kind takes, for the GUI and the docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandInfo {
    /// Its name (`kill`, `revive`, `set_traffic_scale`...).
    pub name: &'static str,
    /// What it does, in a line.
    pub summary: &'static str,
}

/// What kind of value a figure is, so faces can show it without knowing the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FigureUnit {
    /// A fraction 0–1 (or null): shown as a percentage.
    Ratio,
    /// A plain number.
    Number,
    /// A whole count.
    Count,
    /// An amount of memory or data, bytes: shown with its unit (`6.1 MB`).
    Bytes,
    /// A latency summary object (seconds); tables show its p99.
    Latency,
    /// Counts by name (`{"web": 10, "api": 30}`); tables show each name's share.
    Shares,
    /// A list of objects (one per instance...): reports only.
    List,
}

/// A figure a kind reports of its own (flattened into its component's report object).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FigureInfo {
    /// Its key in the report (`cpu_utilization`, `hit_ratio`).
    pub name: &'static str,
    /// What it is, with its unit.
    pub summary: &'static str,
    /// What kind of value it is.
    pub unit: FigureUnit,
    /// Its column header in the CLI's component table, if it has a column.
    pub column: Option<&'static str>,
}

/// The figures of a component whose work waits for threads and CPUs
/// ([`NodeStats::resource_figures`]).
pub const RESOURCE_FIGURES: [FigureInfo; 6] = [
    FigureInfo {
        name: "thread_occupancy",
        summary: "∫busy threads dt / ∫threads dt over the counting window (0–1); null when threads are unlimited or there are none.",
        unit: FigureUnit::Ratio,
        column: Some("threads"),
    },
    FigureInfo {
        name: "cpu_utilization",
        summary: "∫busy CPUs dt / ∫CPUs dt over the counting window (0–1); null when CPUs are unlimited or there are none.",
        unit: FigureUnit::Ratio,
        column: Some("cpu"),
    },
    FigureInfo {
        name: "mean_busy_threads",
        summary: "Time-averaged busy threads, all instances.",
        unit: FigureUnit::Number,
        column: None,
    },
    FigureInfo {
        name: "mean_busy_cpus",
        summary: "Time-averaged busy CPUs, all instances.",
        unit: FigureUnit::Number,
        column: None,
    },
    FigureInfo {
        name: "mean_queue_len",
        summary: "Time-averaged requests waiting for a thread, all instances.",
        unit: FigureUnit::Number,
        column: Some("queue avg"),
    },
    FigureInfo {
        name: "max_queue_len",
        summary: "Most requests waiting for a thread at once, all instances.",
        unit: FigureUnit::Count,
        column: Some("queue max"),
    },
];

/// `figures` with no CLI column (a kind that keeps keys for compatibility, not for reading).
pub const fn without_columns<const N: usize>(mut figures: [FigureInfo; N]) -> [FigureInfo; N] {
    let mut i = 0;
    while i < N {
        figures[i].column = None;
        i += 1;
    }
    figures
}

/// What a kind says of itself: for the GUI's palette, the docs and the error-cause registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindMeta {
    /// A short label ("Load balancer").
    pub label: &'static str,
    /// One line on what it is.
    pub summary: &'static str,
    /// The commands it takes.
    pub commands: &'static [CommandInfo],
    /// Error causes of its own, beside the core ones (`no_route`...).
    pub error_causes: &'static [&'static str],
    /// The figures it reports of its own.
    pub figures: &'static [FigureInfo],
    /// The columns it adds to its time series (at most
    /// [`crate::metrics::MAX_SERIES_COLUMNS`]), filled by [`Component::series_values`].
    pub series: &'static [SeriesColumn],
    /// A minimal component of this kind in RON (`"name": Kind(...)` without the name),
    /// calling a component named `backend` where it calls one: the GUI's new node and the
    /// test that walks every kind.
    pub example: &'static str,
}

/// A kind: its name (as in files and reports) and what it says of itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindInfo {
    /// The name in files and reports.
    pub name: &'static str,
    /// The rest.
    pub meta: KindMeta,
}

/// What building a live component needs besides its model.
pub struct Build<'a> {
    /// Its node id.
    pub node: NodeId,
    /// Its name (streams are named after it).
    pub name: &'a str,
    /// The run's seed.
    pub seed: u64,
    /// The replication index.
    pub replication: u32,
    /// Some component reads request keys (workloads draw them).
    pub draw_keys: bool,
}

impl Build<'_> {
    /// The error cause `name`, which the kind declared in [`KindMeta::error_causes`].
    pub fn cause(&self, name: &str) -> ErrorCause {
        cause_named(name).unwrap_or_else(|| {
            debug_assert!(false, "error cause `{name}` is not declared by any kind");
            ErrorCause::INSTANCE_DOWN
        })
    }
}

/// The live calls one node is party to, read-only: what [`Component::check_invariants`] and
/// [`Component::instance_views`] compare a kind's own bookkeeping with. Built by the world in
/// one pass over the live calls ([`World::check_invariants`]).
#[derive(Clone, Copy)]
pub struct NodeCalls<'a> {
    all: &'a Slab<Call>,
    handled: &'a [(CallId, &'a Call)],
    made: &'a [(CallId, &'a Call)],
}

impl<'a> NodeCalls<'a> {
    /// The calls of one node: `handled` (it is their callee) and `made` (their caller), each
    /// in slot order, out of `all`.
    pub fn new(
        all: &'a Slab<Call>,
        handled: &'a [(CallId, &'a Call)],
        made: &'a [(CallId, &'a Call)],
    ) -> Self {
        Self { all, handled, made }
    }

    /// Any live call, by id.
    pub fn get(&self, id: CallId) -> Option<&'a Call> {
        self.all.get(id)
    }

    /// Live calls addressed to this node (delivered or not, answered or not), in slot order.
    pub fn handled(&self) -> &'a [(CallId, &'a Call)] {
        self.handled
    }

    /// Live calls this node made (awaited or abandoned), in slot order.
    pub fn made(&self) -> &'a [(CallId, &'a Call)] {
        self.made
    }
}

/// One instance of a component whose work waits for threads and CPUs (a service replica),
/// as it stands between events: a read-only view for tests and tools
/// ([`crate::simulation::Simulation::instances`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceView {
    /// Its replica index.
    pub replica: u32,
    /// Killed (and not revived).
    pub down: bool,
    /// Threads in use.
    pub threads_busy: u32,
    /// CPUs in use.
    pub cpus_busy: u32,
    /// Calls running a CPU burst now, in slot order (as many as `cpus_busy`).
    pub running: Vec<CallId>,
    /// Calls holding a thread and waiting for a CPU, first to be served first.
    pub cpu_queue: Vec<CallId>,
    /// Calls waiting for a thread, first to be served first.
    pub thread_queue: Vec<CallId>,
}

/// What keeps one node's calls from moving on by themselves, as its kind sees them between
/// events: its part of the wait-for graph the deadlock check walks ([`Component::waits`],
/// [`World::deadlocks`]). Calls not listed move on by themselves (work, a timer, a deadline).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Waits {
    /// Instances every unit of whose capacity (a thread) is held by a call listed in
    /// `on_answers`, each with its capacity: `(replica, units)`.
    pub full: Vec<(u32, u32)>,
    /// Calls queued for a unit of capacity of one of the `full` instances: `(call, replica)`.
    pub queued: Vec<(CallId, u32)>,
    /// Delivered, unanswered calls that move on only when one of the calls they made and
    /// await answers (none of them with a deadline), each with those calls.
    pub on_answers: Vec<(CallId, Vec<CallId>)>,
}

/// [`Waits`] of a proxy (a balancer, a router): each request it forwarded waits on its one
/// call out, which has no deadline of the proxy's own.
pub fn proxy_waits(calls: NodeCalls<'_>) -> Waits {
    Waits {
        on_answers: calls
            .made()
            .iter()
            .filter(|(_, c)| !c.caller_done)
            .filter_map(|&(id, c)| Some((c.parent?, vec![id])))
            .collect(),
        ..Waits::default()
    }
}

/// How an invariant's failure names a call: its slot (stable while it lives).
pub(crate) fn call_name(id: CallId) -> String {
    format!("call #{}", id.index())
}

/// The one contract every kind implements, workloads included. Handlers run inside the
/// world's event loop: they must be cheap and must not allocate on the hot path.
pub trait Component: Sized {
    /// The validated model it is built from.
    type Model;

    /// What the kind says of itself.
    const META: KindMeta;

    /// The live component.
    fn build(model: &Self::Model, b: &Build<'_>) -> Self;

    /// Threads and CPUs over all instances, each `None` when unlimited (the common
    /// statistics' capacities).
    fn capacity(&self) -> (Option<u64>, Option<u64>) {
        (Some(0), Some(0))
    }

    /// The run starts: register timer lanes, schedule first events.
    fn start(&mut self, ctx: &mut Ctx<'_>) {
        let _ = ctx;
    }

    /// A call is delivered to it (a stale one finds nothing in `ctx.arrive`).
    fn on_call(&mut self, id: CallId, ctx: &mut Ctx<'_>);

    /// A call it made was answered, or timed out.
    fn on_answer(&mut self, answer: Answer, ctx: &mut Ctx<'_>);

    /// Its own timer fired ([`Ctx::node_timer_in`]).
    fn on_node_timer(&mut self, arg: u64, ctx: &mut Ctx<'_>) {
        let _ = (arg, ctx);
        debug_assert!(false, "{} schedules no node timer", Self::META.label);
    }

    /// A timer of call `id` fired at this end ([`Ctx::call_timer`]); `replica` is the
    /// call's callee instance.
    fn on_call_timer(&mut self, id: CallId, replica: u32, arg: u32, ctx: &mut Ctx<'_>) {
        let _ = (id, replica, arg, ctx);
        debug_assert!(false, "{} schedules no call timer", Self::META.label);
    }

    /// The counting window opens (`open`) or closes now: snapshot what the kind's own
    /// figures count over the window.
    fn on_window_edge(&mut self, now_ns: u64, open: bool) {
        let _ = (now_ns, open);
    }

    /// A time-series window of `len_ns` closes now: its values of the columns
    /// [`KindMeta::series`] lists, in that order, restarting whatever it integrates over a
    /// window. `stats` are its common statistics.
    fn series_values(&mut self, stats: &mut NodeStats, now_ns: u64, len_ns: u64) -> KindValues {
        let _ = (stats, now_ns, len_ns);
        KindValues::default()
    }

    /// Its own figures for the report, keyed as [`KindMeta::figures`] lists them; `stats`
    /// are its common statistics, `end_ns` the end of the run.
    fn figures(&self, stats: &NodeStats, window: &Window, end_ns: u64) -> Figures {
        let _ = (stats, window, end_ns);
        Figures::new()
    }

    /// Node `node` now has `count` instances (a balancer in front of it adds or drops
    /// them).
    fn on_instances_changed(&mut self, node: NodeId, count: u32, ctx: &mut Ctx<'_>) {
        let _ = (node, count, ctx);
    }

    /// A command addressed to it.
    fn on_command(&mut self, cmd: NodeCommand, ctx: &mut Ctx<'_>) -> Result<(), CommandError> {
        let _ = ctx;
        Err(CommandError::NotTaken {
            kind: Self::META.label,
            command: cmd,
        })
    }

    /// A self-check between events, for tests and fuzzing: compare the kind's own bookkeeping
    /// (counters, queues, connection counts) with the live calls it is party to and with its
    /// common statistics `stats`, and say what disagrees (which instance, which call). It
    /// reads only; it must cost O(its calls + its instances). The default checks nothing
    /// beyond what the world checks of every node ([`World::check_invariants`]).
    fn check_invariants(&self, calls: NodeCalls<'_>, stats: &NodeStats) -> Result<(), String> {
        let _ = (calls, stats);
        Ok(())
    }

    /// Its instances as they stand, for kinds whose work waits for threads and CPUs (empty
    /// for the others).
    fn instance_views(&self, calls: NodeCalls<'_>) -> Vec<InstanceView> {
        let _ = calls;
        Vec::new()
    }

    /// Whether some instance has every unit of its capacity (every thread) held by calls
    /// that wait on answers to calls they made: the only way a deadlock starts. Read from
    /// its counters, O(instances), so the deadlock check ([`World::deadlocks`]) walks the
    /// calls only when some node says yes. Default: no (nothing it holds can run out).
    fn may_be_blocked(&self) -> bool {
        false
    }

    /// Its part of the wait-for graph ([`Waits`]): its full instances, the calls queued for
    /// them, and the calls that wait only on answers. Read-only, O(its calls + instances).
    /// Default: none (its calls move on by themselves).
    fn waits(&self, calls: NodeCalls<'_>) -> Waits {
        let _ = calls;
        Waits::default()
    }
}

macro_rules! live_enum {
    ($( $(#[$doc:meta])* $variant:ident {
        name: $name:literal, spec: $spec:ty, model: $model:ty, live: $live:ty $(,)?
    } ),* $(,)?) => {
        /// A live node: a workload or a component of some kind.
        #[derive(Debug)]
        #[allow(clippy::large_enum_variant)]
        pub enum Live {
            /// A workload.
            Client(client::Client),
            $( $(#[$doc])* $variant($live), )*
        }

        impl Live {
            /// Build the live node for `kind`.
            pub fn build(kind: &NodeKind, b: &Build<'_>) -> Self {
                match kind {
                    NodeKind::Workload(m) => Live::Client(client::Client::build(m, b)),
                    $( NodeKind::$variant(m) => Live::$variant(<$live>::build(m, b)), )*
                }
            }

            /// See [`Component::capacity`].
            pub fn capacity(&self) -> (Option<u64>, Option<u64>) {
                match self {
                    Live::Client(c) => c.capacity(),
                    $( Live::$variant(k) => k.capacity(), )*
                }
            }

            /// See [`Component::start`].
            pub fn start(&mut self, ctx: &mut Ctx<'_>) {
                match self {
                    Live::Client(c) => c.start(ctx),
                    $( Live::$variant(k) => k.start(ctx), )*
                }
            }

            /// See [`Component::on_call`].
            #[inline(always)]
            pub fn on_call(&mut self, id: CallId, ctx: &mut Ctx<'_>) {
                match self {
                    Live::Client(c) => c.on_call(id, ctx),
                    $( Live::$variant(k) => k.on_call(id, ctx), )*
                }
            }

            /// See [`Component::on_answer`].
            #[inline(always)]
            pub fn on_answer(&mut self, answer: Answer, ctx: &mut Ctx<'_>) {
                match self {
                    Live::Client(c) => c.on_answer(answer, ctx),
                    $( Live::$variant(k) => k.on_answer(answer, ctx), )*
                }
            }

            /// See [`Component::on_node_timer`].
            #[inline(always)]
            pub fn on_node_timer(&mut self, arg: u64, ctx: &mut Ctx<'_>) {
                match self {
                    Live::Client(c) => c.on_node_timer(arg, ctx),
                    $( Live::$variant(k) => k.on_node_timer(arg, ctx), )*
                }
            }

            /// See [`Component::on_call_timer`].
            #[inline(always)]
            pub fn on_call_timer(&mut self, id: CallId, replica: u32, arg: u32, ctx: &mut Ctx<'_>) {
                match self {
                    Live::Client(c) => c.on_call_timer(id, replica, arg, ctx),
                    $( Live::$variant(k) => k.on_call_timer(id, replica, arg, ctx), )*
                }
            }

            /// See [`Component::on_instances_changed`].
            pub fn on_instances_changed(&mut self, node: NodeId, count: u32, ctx: &mut Ctx<'_>) {
                match self {
                    Live::Client(c) => c.on_instances_changed(node, count, ctx),
                    $( Live::$variant(k) => k.on_instances_changed(node, count, ctx), )*
                }
            }

            /// See [`Component::on_window_edge`].
            pub fn on_window_edge(&mut self, now_ns: u64, open: bool) {
                match self {
                    Live::Client(c) => c.on_window_edge(now_ns, open),
                    $( Live::$variant(k) => k.on_window_edge(now_ns, open), )*
                }
            }

            /// What its kind says of itself ([`Component::META`]).
            pub fn meta(&self) -> &'static KindMeta {
                match self {
                    Live::Client(_) => &<client::Client as Component>::META,
                    $( Live::$variant(_) => &<$live as Component>::META, )*
                }
            }

            /// The columns its kind adds to its time series.
            pub fn series_columns(&self) -> &'static [SeriesColumn] {
                self.meta().series
            }

            /// See [`Component::series_values`].
            pub fn series_values(&mut self, stats: &mut NodeStats, now_ns: u64, len_ns: u64) -> KindValues {
                match self {
                    Live::Client(c) => c.series_values(stats, now_ns, len_ns),
                    $( Live::$variant(k) => k.series_values(stats, now_ns, len_ns), )*
                }
            }

            /// See [`Component::figures`].
            pub fn figures(&self, stats: &NodeStats, window: &Window, end_ns: u64) -> Figures {
                match self {
                    Live::Client(c) => c.figures(stats, window, end_ns),
                    $( Live::$variant(k) => k.figures(stats, window, end_ns), )*
                }
            }

            /// See [`Component::on_command`].
            pub fn on_command(&mut self, cmd: NodeCommand, ctx: &mut Ctx<'_>) -> Result<(), CommandError> {
                match self {
                    Live::Client(c) => c.on_command(cmd, ctx),
                    $( Live::$variant(k) => k.on_command(cmd, ctx), )*
                }
            }

            /// See [`Component::check_invariants`].
            pub fn check_invariants(&self, calls: NodeCalls<'_>, stats: &NodeStats) -> Result<(), String> {
                match self {
                    Live::Client(c) => c.check_invariants(calls, stats),
                    $( Live::$variant(k) => k.check_invariants(calls, stats), )*
                }
            }

            /// See [`Component::instance_views`].
            pub fn instance_views(&self, calls: NodeCalls<'_>) -> Vec<InstanceView> {
                match self {
                    Live::Client(c) => c.instance_views(calls),
                    $( Live::$variant(k) => k.instance_views(calls), )*
                }
            }

            /// See [`Component::may_be_blocked`].
            pub fn may_be_blocked(&self) -> bool {
                match self {
                    Live::Client(c) => c.may_be_blocked(),
                    $( Live::$variant(k) => k.may_be_blocked(), )*
                }
            }

            /// See [`Component::waits`].
            pub fn waits(&self, calls: NodeCalls<'_>) -> Waits {
                match self {
                    Live::Client(c) => c.waits(calls),
                    $( Live::$variant(k) => k.waits(calls), )*
                }
            }
        }

        /// Every component kind, in registry order.
        pub const KINDS: &[KindInfo] = &[
            $( KindInfo { name: $name, meta: <$live as Component>::META }, )*
        ];
    };
}

crate::for_each_kind!(live_enum);

/// The workloads' own description (they are nodes but not a component kind).
pub const WORKLOAD_META: KindMeta = <client::Client as Component>::META;

/// Every error cause's name: the core ones ([`ErrorCause::CORE`]), then each kind's own in
/// registry order (a name two kinds declare is one cause). An error cause's id indexes this.
pub fn error_cause_names() -> &'static [&'static str] {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names: Vec<&'static str> = ErrorCause::CORE.to_vec();
        for name in KINDS
            .iter()
            .flat_map(|k| k.meta.error_causes)
            .chain(WORKLOAD_META.error_causes)
        {
            if !names.contains(name) {
                names.push(name);
            }
        }
        names
    })
}

/// The error cause called `name`, if some kind declares it.
pub fn cause_named(name: &str) -> Option<ErrorCause> {
    error_cause_names()
        .iter()
        .position(|n| *n == name)
        .and_then(ErrorCause::from_index)
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

    fn any_side() -> impl Strategy<Value = Side> {
        any::<bool>().prop_map(|callee| if callee { Side::Callee } else { Side::Caller })
    }

    /// The variant's tag; an exhaustive match, so a new variant fails to compile here until
    /// the generator below makes it too.
    fn tag(e: Event) -> u8 {
        match e {
            Event::Deliver { .. } => 0,
            Event::Reply { .. } => 1,
            Event::Timeout { .. } => 2,
            Event::NodeTimer { .. } => 3,
            Event::CallTimer { .. } => 4,
            Event::Tick => 5,
            Event::CountingWindow { .. } => 6,
            Event::Command { .. } => 7,
        }
    }

    fn any_event() -> impl Strategy<Value = Event> {
        prop_oneof![
            (any_key(), any::<u32>()).prop_map(|(call, node)| Event::Deliver { call, node }),
            any_key().prop_map(|call| Event::Reply { call }),
            any_key().prop_map(|call| Event::Timeout { call }),
            (any::<u32>(), any::<u64>()).prop_map(|(node, arg)| Event::NodeTimer { node, arg }),
            (any_key(), any::<u32>(), any_side()).prop_map(|(call, arg, side)| Event::CallTimer {
                call,
                arg,
                side
            }),
            Just(Event::Tick),
            any::<bool>().prop_map(|open| Event::CountingWindow { open }),
            any::<u32>().prop_map(|index| Event::Command { index }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]
        #[test]
        fn every_event_round_trips_through_its_packed_bits(e in any_event()) {
            let bits = e.pack();
            prop_assert_eq!(bits as u8 & 7, tag(e));
            prop_assert_eq!(Event::unpack(bits), e);
        }

        #[test]
        fn every_tag_decodes_to_the_variant_it_names(bits in any::<u128>()) {
            // Three tag bits, eight variants: no bit pattern decodes to a wrong variant.
            let e = Event::unpack(bits);
            prop_assert_eq!(tag(e), bits as u8 & 7);
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
            events.push(Event::Command { index: v });
            for arg in [0, 1, u64::from(v), u64::MAX, 1 << 32] {
                events.push(Event::NodeTimer { node: v, arg });
            }
            for call in keys {
                events.push(Event::Deliver { call, node: v });
                for side in [Side::Caller, Side::Callee] {
                    events.push(Event::CallTimer { call, arg: v, side });
                }
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
        assert!(
            std::mem::size_of::<RequestAttrs>() <= 24,
            "RequestAttrs is {} bytes",
            std::mem::size_of::<RequestAttrs>()
        );
    }

    #[test]
    fn error_causes_are_registered_once_within_the_cap() {
        let names = error_cause_names();
        assert_eq!(&names[..ErrorCause::CORE.len()], &ErrorCause::CORE);
        let mut sorted = names.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "a cause named twice: {names:?}");
        assert!(names.len() <= ErrorCause::MAX, "{} causes", names.len());
        for kind in KINDS {
            for cause in kind.meta.error_causes {
                let id = cause_named(cause).expect("declared causes are registered");
                assert_eq!(names[id.index()], *cause);
            }
        }
    }
}
