//! A service: replicas, each with its own thread pool, CPUs and queue; CPU work per request
//! class; downstream calls made before answering.
//!
//! Each replica is a queue: a request waits for a thread (up to `queue_limit`, else
//! `queue_full`), then its CPU work is served on the instance's CPUs first come first served
//! (non-preemptive), then it makes its downstream calls (sequential or parallel) and answers.
//! A thread-pool server keeps the thread until it answers; an async server gives it back
//! while waiting on downstream calls. With unlimited threads and CPUs a service is a pure
//! delay. Killing an instance bumps its incarnation: its queued and running work fails with
//! `instance_down`, and events addressed to the old incarnation are dropped.

use std::collections::VecDeque;

use rand::RngExt;

use super::{
    ANY_REPLICA, Answer, Build, Call, CallId, CommandError, CommandInfo, Component, Ctx,
    FigureInfo, FigureUnit, InstanceView, KindMeta, NodeCalls, NodeCommand, Outcome,
    RESOURCE_FIGURES, RequestAttrs, Side, Timer, Waits, call_name,
};
use crate::dist::Sampler;
use crate::engine::{Rng, StreamKey};
use crate::metrics::report::Figures;
use crate::metrics::{ErrorCause, KindValues, Level, NodeStats, Window};
use crate::topology::NodeId;
use crate::topology::kinds::service::{CallMode, ServerModel, ServiceModel};

/// `Call::tag` of a fire-and-forget call: nobody waits for its answer.
const DETACHED: u32 = u32::MAX;

/// One instance of a service.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Bumped on every kill and revive.
    pub incarnation: u32,
    /// False while killed.
    pub down: bool,
    /// Threads in use.
    pub threads_busy: u32,
    /// CPUs in use.
    pub cpus_busy: u32,
    /// Calls waiting for a thread.
    pub thread_queue: VecDeque<CallId>,
    /// Calls waiting for a CPU, with their CPU work and when they arrived (for the wait).
    pub cpu_queue: VecDeque<(CallId, Timer, Arrival)>,
    /// A CPU whose burst has just ended, free for a burst started while that completion is
    /// handled: it passes over with the busy-CPU level unchanged.
    cpu_passing: bool,
    /// Removed from service (scaled in) but still finishing its work: its capacity counts
    /// until its last thread comes free.
    pub draining: bool,
    /// Its CPU work draws (stream "cpu", this replica).
    cpu_rng: Rng,
    /// Its own figures (`per_replica`).
    pub books: InstanceBooks,
}

/// When a call arrived and whether it is counted: what its wait is measured from.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    at_ns: u64,
    counted: bool,
}

/// One instance's figures: its counted arrivals, its successes (for its departure rate), and
/// its busy threads and CPUs and time in service over the counting window.
#[derive(Debug, Clone, Default)]
pub struct InstanceBooks {
    /// Counted arrivals.
    pub arrivals: u64,
    successes: u64,
    successes_at_open: Option<u64>,
    successes_at_close: Option<u64>,
    threads: Level,
    cpus: Level,
    /// 1 while its capacity counts (in service, or draining), else 0.
    in_service: Level,
}

impl InstanceBooks {
    fn window_edge(&mut self, now_ns: u64, open: bool) {
        if open {
            self.successes_at_open = Some(self.successes);
        } else if self.successes_at_close.is_none() {
            self.successes_at_close = Some(self.successes);
        }
        for l in [&mut self.threads, &mut self.cpus, &mut self.in_service] {
            l.window_edge(now_ns, open);
        }
    }

    /// Successes that finished inside the counting window.
    fn departures_in_window(&self) -> u64 {
        match self.successes_at_open {
            None => 0,
            Some(open) => self.successes_at_close.unwrap_or(self.successes) - open,
        }
    }
}

impl Instance {
    /// A new, empty instance; its CPU stream is named after the service and the replica.
    fn new(streams: &Streams, replica: u32) -> Self {
        Self {
            incarnation: 0,
            down: false,
            threads_busy: 0,
            cpus_busy: 0,
            thread_queue: VecDeque::new(),
            cpu_queue: VecDeque::new(),
            cpu_passing: false,
            draining: false,
            cpu_rng: streams.rng(replica, "cpu"),
            books: InstanceBooks::default(),
        }
    }
}

/// What names a service's random streams: its name, the seed and the replication.
#[derive(Debug, Clone)]
struct Streams {
    owner: String,
    seed: u64,
    replication: u32,
}

impl Streams {
    fn rng(&self, replica: u32, purpose: &str) -> Rng {
        StreamKey {
            seed: self.seed,
            replication: self.replication,
            owner: &self.owner,
            replica,
            purpose,
        }
        .rng()
    }
}

/// A call's progress through its service, kept in the call's kind-owned word
/// ([`Call::local`]): the next downstream call to consider, the downstream calls
/// outstanding (parallel mode), and the value the last waited-for answer that carried one
/// (not `None`) carried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Local {
    step: u8,
    pending: u8,
    value: u8,
}

impl Local {
    #[inline(always)]
    fn load(word: u32) -> Self {
        Self {
            step: word as u8,
            pending: (word >> 8) as u8,
            value: (word >> 16) as u8,
        }
    }

    #[inline(always)]
    fn store(self) -> u32 {
        u32::from(self.step) | (u32::from(self.pending) << 8) | (u32::from(self.value) << 16)
    }
}

/// How far `call` has got through its service's downstream calls (0: none made yet).
fn downstream_step(call: &Call) -> usize {
    usize::from(Local::load(call.local).step)
}

/// What `proceed` reads of its call, taken by the handler's own look-up of it.
#[derive(Debug, Clone, Copy)]
struct Progress {
    attrs: RequestAttrs,
    hops: u16,
    local: Local,
}

impl Progress {
    #[inline]
    fn of(call: &Call) -> Self {
        Self {
            attrs: call.attrs,
            hops: call.hops,
            local: Local::load(call.local),
        }
    }
}

/// A request class's CPU work on this service.
#[derive(Debug, Clone)]
enum CpuWork {
    /// Always the same: scheduled through its delay lane.
    Fixed(Timer),
    /// Drawn per request.
    Drawn(Sampler),
}

/// A running service.
#[derive(Debug)]
pub struct Service {
    /// Its node id.
    pub node: NodeId,
    /// The validated configuration.
    pub model: ServiceModel,
    /// Instances (index = replica): the first `active` are in service, the rest were scaled
    /// in (draining or idle).
    pub instances: Vec<Instance>,
    /// Instances in service (`Replicas` changes it).
    pub active: u32,
    /// Instances keep figures of their own (`per_replica`); off while there is only one,
    /// whose figures are the service's.
    books_on: bool,
    /// Its name, seed and replication, to name the streams of instances added later.
    streams: Streams,
    /// Replica choice and call probabilities.
    route_rng: Rng,
    /// Per downstream call: its timeout, if any.
    timeouts: Vec<Option<Timer>>,
    /// Per class: its CPU work.
    cpu_work: Vec<CpuWork>,
}

/// A service's own figures: those of every component whose work waits for threads and CPUs,
/// then its waits and its instances.
const SERVICE_FIGURES: [FigureInfo; 9] = [
    RESOURCE_FIGURES[0],
    RESOURCE_FIGURES[1],
    RESOURCE_FIGURES[2],
    RESOURCE_FIGURES[3],
    RESOURCE_FIGURES[4],
    RESOURCE_FIGURES[5],
    FigureInfo {
        name: "wait_s",
        summary: "Time from a counted call's arrival at its instance to the start of its work (a thread taken and its CPU burst begun), s: {count, mean, p50, p95, p99, p999, max}. With threads = CPUs this is the wait Erlang C predicts.",
        unit: FigureUnit::Latency,
        column: Some("wait p99"),
    },
    FigureInfo {
        name: "waited_fraction",
        summary: "Share of counted calls whose work did not start at once (Erlang C's P(wait > 0)).",
        unit: FigureUnit::Ratio,
        column: Some("waited"),
    },
    FigureInfo {
        name: "per_replica",
        summary: "Each instance: replica, arrivals (counted), throughput_per_s (successes finishing in the counting window), cpu_utilization and thread_occupancy (over its time in service; null when unlimited).",
        unit: FigureUnit::List,
        column: None,
    },
];

/// The call-timer argument of a CPU burst's end: the instance's incarnation when it started
/// (bit 31 is kept clear for other call timers of this kind).
const INCARNATION_MASK: u32 = u32::MAX >> 1;

impl Component for Service {
    type Model = ServiceModel;

    const META: KindMeta = KindMeta {
        label: "Service",
        summary: "Replicas with threads, CPUs and a queue; CPU work per request class, then downstream calls.",
        commands: &[
            CommandInfo {
                name: "kill",
                summary: "Kill one instance: its queued and running work fails with instance_down.",
            },
            CommandInfo {
                name: "revive",
                summary: "Bring a killed instance back, empty.",
            },
            CommandInfo {
                name: "replicas",
                summary: "Set the number of instances: new ones start empty, removed ones finish their work.",
            },
        ],
        error_causes: &[],
        figures: &SERVICE_FIGURES,
        series: &NodeStats::RESOURCE_SERIES,
        example: r#"Service(replicas: 2, threads: 4, cpus: 2, cpu: Exp(mean: "2ms"), calls: [Call(to: "backend")])"#,
    };

    /// Build the live state; streams are named after the service.
    fn build(model: &ServiceModel, b: &Build<'_>) -> Self {
        let streams = Streams {
            owner: b.name.to_string(),
            seed: b.seed,
            replication: b.replication,
        };
        let model = model.clone();
        Self {
            node: b.node,
            timeouts: model
                .calls
                .iter()
                .map(|c| c.timeout_ns.map(Timer::new))
                .collect(),
            cpu_work: model
                .cpu
                .iter()
                .map(|c| match c {
                    Sampler::Const(ns) => CpuWork::Fixed(Timer::new(*ns)),
                    drawn => CpuWork::Drawn(drawn.clone()),
                })
                .collect(),
            instances: (0..model.replicas)
                .map(|r| {
                    let mut inst = Instance::new(&streams, r);
                    inst.books.in_service.inc(0);
                    inst
                })
                .collect(),
            active: model.replicas,
            books_on: model.replicas > 1,
            route_rng: streams.rng(0, "route"),
            streams,
            model,
        }
    }

    /// Threads and CPUs over all replicas (`None` when unlimited).
    fn capacity(&self) -> (Option<u64>, Option<u64>) {
        let total =
            |per: u32| (per != u32::MAX).then(|| u64::from(per) * self.instances.len() as u64);
        (total(self.model.threads), total(self.model.cpus))
    }

    /// Register the delay lanes of fixed timeouts and constant CPU times.
    fn start(&mut self, ctx: &mut Ctx<'_>) {
        for t in self
            .timeouts
            .iter_mut()
            .flatten()
            .chain(self.cpu_work.iter_mut().filter_map(|w| match w {
                CpuWork::Fixed(t) => Some(t),
                CpuWork::Drawn(_) => None,
            }))
        {
            ctx.register(t);
        }
    }

    /// A call arrives.
    #[inline(always)]
    fn on_call(&mut self, id: CallId, ctx: &mut Ctx<'_>) {
        let n = self.active;
        let max_hops = ctx.max_hops();
        let Some(call) = ctx.arrive(id) else { return };
        let replica = if call.replica == ANY_REPLICA {
            if n == 1 {
                0
            } else {
                self.route_rng.random_range(0..n)
            }
        } else {
            call.replica
        };
        call.replica = replica;
        let (hops, class) = (call.hops, call.attrs.class);
        let arrival = Arrival {
            at_ns: call.arrived_ns,
            counted: call.counted,
        };
        let Some(inst) = self.instances.get_mut(replica as usize) else {
            ctx.refuse(id, ErrorCause::INSTANCE_DOWN);
            return;
        };
        call.incarnation = inst.incarnation;
        if self.books_on {
            inst.books.arrivals += u64::from(arrival.counted);
        }
        if inst.down {
            ctx.refuse(id, ErrorCause::INSTANCE_DOWN);
        } else if hops > max_hops {
            ctx.refuse(id, ErrorCause::HOP_LIMIT);
        } else if inst.threads_busy < self.model.threads {
            call.holds_capacity = true;
            self.start_work(replica, id, class, arrival, ctx);
        } else if (inst.thread_queue.len() as u64) < u64::from(self.model.queue_limit) {
            inst.thread_queue.push_back(id);
            let now = ctx.now_ns();
            ctx.stats().queue_len.inc(now);
        } else {
            ctx.refuse(id, ErrorCause::QUEUE_FULL);
        }
    }

    /// A downstream call came back (or timed out).
    #[inline(always)]
    fn on_answer(&mut self, answer: Answer, ctx: &mut Ctx<'_>) {
        // Nobody waits for a fire-and-forget call's answer.
        if let Some(parent) = answer.parent
            && answer.tag != DETACHED
        {
            self.on_child_done(parent, answer.outcome, ctx);
        }
    }

    /// A CPU burst ended (its argument is the instance's incarnation when it started).
    #[inline(always)]
    fn on_call_timer(&mut self, id: CallId, replica: u32, arg: u32, ctx: &mut Ctx<'_>) {
        self.on_cpu_done(replica, arg & INCARNATION_MASK, id, ctx);
    }

    fn on_window_edge(&mut self, now_ns: u64, open: bool) {
        for inst in &mut self.instances {
            inst.books.window_edge(now_ns, open);
        }
    }

    fn series_values(&mut self, stats: &mut NodeStats, now_ns: u64, len_ns: u64) -> KindValues {
        stats.resource_series(now_ns, len_ns)
    }

    fn figures(&self, stats: &NodeStats, window: &Window, end_ns: u64) -> Figures {
        let mut f = stats.resource_figures(window, end_ns);
        let waited = stats.wait.count();
        f.insert(
            "wait_s".into(),
            serde_json::json!(stats.wait.summary_with_zeros(stats.waits_zero)),
        );
        let all = waited + stats.waits_zero;
        f.insert(
            "waited_fraction".into(),
            serde_json::json!(if all == 0 {
                0.0
            } else {
                waited as f64 / all as f64
            }),
        );
        let (threads, cpus) = self.per_instance();
        let per: Vec<serde_json::Value> = self
            .instances
            .iter()
            .enumerate()
            .map(|(r, inst)| {
                let single;
                let b = if self.books_on {
                    &inst.books
                } else {
                    // One instance: its figures are the service's.
                    single = InstanceBooks {
                        arrivals: stats.arrivals,
                        successes: stats.successes(),
                        successes_at_open: stats.success_marks().1,
                        successes_at_close: stats.success_marks().2,
                        threads: stats.threads_busy.clone(),
                        cpus: stats.cpus_busy.clone(),
                        in_service: inst.books.in_service.clone(),
                    };
                    &single
                };
                let in_service = b.in_service.area(end_ns);
                let share = |busy: &Level, per: Option<u64>| {
                    let cap = u128::from(per?) * in_service;
                    (cap > 0).then(|| busy.area(end_ns) as f64 / cap as f64)
                };
                serde_json::json!({
                    "replica": r,
                    "arrivals": b.arrivals,
                    "throughput_per_s": b.departures_in_window() as f64 / window.length_s(),
                    "cpu_utilization": share(&b.cpus, cpus),
                    "thread_occupancy": share(&b.threads, threads),
                })
            })
            .collect();
        f.insert("per_replica".into(), serde_json::Value::Array(per));
        f
    }

    fn on_command(&mut self, cmd: NodeCommand, ctx: &mut Ctx<'_>) -> Result<(), CommandError> {
        let all = 0..self.instances.len() as u32;
        match cmd {
            NodeCommand::Kill { replica: Some(r) } | NodeCommand::Revive { replica: Some(r) }
                if r as usize >= self.instances.len() =>
            {
                Err(CommandError::NoSuchReplica {
                    node: self.node,
                    replica: r,
                })
            }
            NodeCommand::Kill { replica } => {
                for r in replica.map_or(all, |r| r..r + 1) {
                    self.kill(r, ctx);
                }
                Ok(())
            }
            NodeCommand::Revive { replica } => {
                for r in replica.map_or(all, |r| r..r + 1) {
                    self.revive(r);
                }
                Ok(())
            }
            NodeCommand::SetInstances { count } => {
                self.set_instances(count, ctx);
                Ok(())
            }
            NodeCommand::SetTrafficScale { .. } | NodeCommand::Own(_) => {
                Err(CommandError::NotTaken {
                    kind: Self::META.label,
                    command: cmd,
                })
            }
        }
    }

    /// Each instance's threads, CPUs and queues against the calls holding and awaiting them,
    /// the statistics' levels and capacity against the instances ([`Service::check`]).
    fn check_invariants(&self, calls: NodeCalls<'_>, stats: &NodeStats) -> Result<(), String> {
        self.check(calls, stats)
    }

    fn instance_views(&self, calls: NodeCalls<'_>) -> Vec<InstanceView> {
        self.views(calls)
    }

    /// Some instance of a thread-pool server has every thread held by a call past its CPU
    /// work, i.e. waiting on its downstream calls (`Service::full_of_waiting`).
    fn may_be_blocked(&self) -> bool {
        self.instances.iter().any(|i| self.full_of_waiting(i))
    }

    /// Its instances whose every thread waits on downstream calls, the calls queued for
    /// them, and its calls past their CPU work that wait on downstream calls without a
    /// timeout (`Service::wait_graph`).
    fn waits(&self, calls: NodeCalls<'_>) -> Waits {
        self.wait_graph(calls)
    }
}

impl Service {
    /// Give the call (already marked as holding it) a thread and start its CPU work.
    #[inline]
    fn start_work(
        &mut self,
        replica: u32,
        id: CallId,
        class: u8,
        arrival: Arrival,
        ctx: &mut Ctx<'_>,
    ) {
        let now = ctx.now_ns();
        let inst = &mut self.instances[replica as usize];
        inst.threads_busy += 1;
        if self.books_on {
            inst.books.threads.inc(now);
        }
        ctx.stats().threads_busy.inc(now);
        self.run_cpu(replica, id, class, arrival, ctx);
    }

    /// The call (holding a thread) starts its CPU burst, or waits for a CPU.
    #[inline(always)]
    fn run_cpu(
        &mut self,
        replica: u32,
        id: CallId,
        class: u8,
        arrival: Arrival,
        ctx: &mut Ctx<'_>,
    ) {
        let now = ctx.now_ns();
        let class = class as usize;
        let inst = &mut self.instances[replica as usize];
        // A constant burst goes through its delay lane; others are drawn.
        let burst = match &self.cpu_work[class] {
            CpuWork::Fixed(t) => *t,
            CpuWork::Drawn(work) => Timer::new(work.sample(&mut inst.cpu_rng)),
        };
        if inst.cpus_busy < self.model.cpus {
            inst.cpus_busy += 1;
            if inst.cpu_passing {
                debug_assert!(
                    inst.cpu_queue.is_empty(),
                    "a passing CPU jumped the CPU queue"
                );
                inst.cpu_passing = false;
            } else {
                if self.books_on {
                    inst.books.cpus.inc(now);
                }
                ctx.stats().cpus_busy.inc(now);
            }
            let incarnation = inst.incarnation;
            ctx.call_timer(burst, id, incarnation, Side::Callee);
            // Its work starts now: a thread taken and its burst begun.
            ctx.stats()
                .record_wait(arrival.counted, now - arrival.at_ns);
        } else {
            inst.cpu_queue.push_back((id, burst, arrival));
        }
    }

    /// A CPU burst finished.
    #[inline(always)]
    fn on_cpu_done(&mut self, replica: u32, incarnation: u32, id: CallId, ctx: &mut Ctx<'_>) {
        let Some(inst) = self.instances.get(replica as usize) else {
            return;
        };
        if inst.incarnation != incarnation {
            return; // The instance died meanwhile; its work already failed.
        }
        // With no burst waiting, the CPU comes free now, but a burst started while the call
        // moves on (the next queued call, given this call's thread) takes it over with the
        // busy count unchanged, instead of the CPU coming free and being taken again at once.
        let inst = &mut self.instances[replica as usize];
        debug_assert!(
            !inst.cpu_passing,
            "a CPU still passing from an earlier burst"
        );
        let passing = inst.cpu_queue.is_empty();
        if passing {
            inst.cpus_busy -= 1;
            inst.cpu_passing = true;
        }
        if self.model.calls.is_empty() {
            // A leaf service answers as its burst ends (a burst runs on a thread), then
            // passes the thread on.
            if self.books_on {
                self.instances[replica as usize].books.successes += 1;
            }
            if ctx.answer(id, Ok(0)) {
                self.pass_thread(replica, ctx);
            }
        } else if let Some(at) = ctx.call(id).map(Progress::of) {
            self.proceed(replica, id, at, ctx);
        }
        let now = ctx.now_ns();
        let inst = &mut self.instances[replica as usize];
        if passing {
            if inst.cpu_passing {
                // Nobody took it.
                inst.cpu_passing = false;
                if self.books_on {
                    inst.books.cpus.dec(now);
                }
                ctx.stats().cpus_busy.dec(now);
            }
        } else if let Some((next, burst, arrival)) = inst.cpu_queue.pop_front() {
            // The CPU passes straight to the next waiting burst: busy count unchanged.
            ctx.call_timer(burst, next, incarnation, Side::Callee);
            ctx.stats()
                .record_wait(arrival.counted, now - arrival.at_ns);
        }
    }

    /// Make the next downstream call(s) of `id` (whose progress the caller has just read), or
    /// answer when none is left.
    fn proceed(&mut self, replica: u32, id: CallId, at: Progress, ctx: &mut Ctx<'_>) {
        let Progress { attrs, hops, local } = at;
        if self.model.calls.is_empty() {
            // A leaf service: answer at once.
            self.finish(replica, id, Ok(0), ctx);
            return;
        }
        let class_bit = 1u64 << attrs.class;
        let mut issued = 0u8;
        let mut step = usize::from(local.step);
        // An async server gives the thread back while its calls are out; the write-back of
        // the call's progress takes it in the same look-up.
        let releases = self.model.server == ServerModel::Async;
        match self.model.call_mode {
            CallMode::Sequential => {
                while step < self.model.calls.len() {
                    let spec = &self.model.calls[step];
                    let (mask, p, wait, when) =
                        (spec.class_mask, spec.probability, spec.wait, spec.when);
                    step += 1;
                    if mask & class_bit != 0
                        && when.is_none_or(|v| v == local.value)
                        && self.take(p)
                    {
                        self.issue(id, attrs, hops, step - 1, ctx);
                        if wait {
                            issued = 1;
                            break;
                        }
                    }
                }
            }
            CallMode::Parallel => {
                if step == 0 {
                    for i in 0..self.model.calls.len() {
                        let spec = &self.model.calls[i];
                        let (mask, p, wait) = (spec.class_mask, spec.probability, spec.wait);
                        if mask & class_bit != 0 && self.take(p) {
                            self.issue(id, attrs, hops, i, ctx);
                            issued += u8::from(wait);
                        }
                    }
                }
                step = self.model.calls.len();
            }
        }
        if issued == 0 {
            self.finish(replica, id, Ok(0), ctx);
            return;
        }
        // An answered call's progress is never read again: written only while calls are out.
        let mut released = false;
        if let Some(c) = ctx.call_mut(id) {
            c.local = Local {
                step: step as u8,
                pending: issued,
                value: local.value,
            }
            .store();
            released = releases && std::mem::replace(&mut c.holds_capacity, false);
        }
        if released {
            self.pass_thread(replica, ctx);
        }
    }

    #[inline]
    fn take(&mut self, probability: f64) -> bool {
        probability >= 1.0 || (probability > 0.0 && self.route_rng.random::<f64>() < probability)
    }

    fn issue(
        &mut self,
        parent: CallId,
        attrs: RequestAttrs,
        hops: u16,
        index: usize,
        ctx: &mut Ctx<'_>,
    ) {
        let spec = &self.model.calls[index];
        let (there, back) = match &spec.latency {
            Some(l) => (l.sample(&mut self.route_rng), l.sample(&mut self.route_rng)),
            None => (0, 0),
        };
        let mut child = Call::new(
            RequestAttrs {
                op: spec.op,
                ..attrs
            },
            Some(parent),
            self.node,
            spec.to,
            ANY_REPLICA,
            hops.saturating_add(1),
        );
        child.tag = if spec.wait { index as u32 } else { DETACHED };
        ctx.send(child, there, back, self.timeouts[index]);
    }

    /// A downstream call came back (or timed out).
    fn on_child_done(&mut self, parent: CallId, outcome: Outcome, ctx: &mut Ctx<'_>) {
        let Some(
            call @ &Call {
                replica,
                incarnation,
                outcome: answered,
                ..
            },
        ) = ctx.call(parent)
        else {
            return;
        };
        let mut at = Progress::of(call);
        if answered.is_some() {
            return; // Already answered (a sibling failed first, or the instance died).
        }
        let Some(inst) = self.instances.get(replica as usize) else {
            return;
        };
        if inst.incarnation != incarnation {
            return;
        }
        let value = match outcome {
            Ok(value) => value,
            Err(cause) => {
                self.finish(replica, parent, Err(cause), ctx);
                return;
            }
        };
        match self.model.call_mode {
            CallMode::Sequential => {
                // A plain success (`None`) says nothing about the data: the value a
                // request has learned (a miss) stays for the calls that depend on it.
                if value != 0 {
                    at.local.value = value;
                }
                self.proceed(replica, parent, at, ctx);
            }
            CallMode::Parallel => {
                let left = at.local.pending.saturating_sub(1);
                if left == 0 {
                    self.finish(replica, parent, Ok(0), ctx);
                } else if let Some(c) = ctx.call_mut(parent) {
                    c.local = Local {
                        pending: left,
                        ..at.local
                    }
                    .store();
                }
            }
        }
    }

    /// A thread of `replica` has been given back: it passes straight to the next queued call
    /// (busy count unchanged), or comes free.
    #[inline(always)]
    fn pass_thread(&mut self, replica: u32, ctx: &mut Ctx<'_>) {
        let now = ctx.now_ns();
        while let Some(next) = self.instances[replica as usize].thread_queue.pop_front() {
            // (A queued call is never answered before it runs, short of a kill, which empties
            // the queue; a gone one is skipped all the same.)
            ctx.stats().queue_len.dec(now);
            if let Some(c) = ctx.call_mut(next) {
                c.holds_capacity = true;
                let class = c.attrs.class;
                let arrival = Arrival {
                    at_ns: c.arrived_ns,
                    counted: c.counted,
                };
                self.run_cpu(replica, next, class, arrival, ctx);
                return;
            }
        }
        let inst = &mut self.instances[replica as usize];
        inst.threads_busy -= 1;
        if self.books_on {
            inst.books.threads.dec(now);
        }
        ctx.stats().threads_busy.dec(now);
        if inst.draining && inst.threads_busy == 0 {
            self.drained(replica, ctx);
        }
    }

    /// Threads and CPUs of one instance (`None` when unlimited).
    fn per_instance(&self) -> (Option<u64>, Option<u64>) {
        let limited = |n: u32| (n != u32::MAX).then_some(u64::from(n));
        (limited(self.model.threads), limited(self.model.cpus))
    }

    /// Capacity that counts now: instances in service, and scaled-in ones still draining.
    fn counted_instances(&self) -> u64 {
        let draining = self.instances[self.active as usize..]
            .iter()
            .filter(|i| i.draining)
            .count();
        u64::from(self.active) + draining as u64
    }

    /// Tell the statistics the capacity now (and each instance whether it counts).
    fn update_capacity(&mut self, ctx: &mut Ctx<'_>) {
        let now = ctx.now_ns();
        let active = self.active as usize;
        for (r, inst) in self.instances.iter_mut().enumerate() {
            let counts = u64::from(r < active || inst.draining);
            let level = &mut inst.books.in_service;
            if level.value() != counts {
                if counts == 1 {
                    level.inc(now);
                } else {
                    level.dec(now);
                }
            }
        }
        let n = self.counted_instances();
        let (threads, cpus) = self.per_instance();
        ctx.stats()
            .set_capacity(now, threads.map(|t| t * n), cpus.map(|c| c * n));
    }

    /// A scaled-in instance finished its last work: its capacity stops counting.
    #[cold]
    #[inline(never)]
    fn drained(&mut self, replica: u32, ctx: &mut Ctx<'_>) {
        if let Some(inst) = self.instances.get_mut(replica as usize) {
            inst.draining = false;
        }
        self.update_capacity(ctx);
    }

    /// Set the number of instances in service. New ones start empty (an instance scaled in
    /// earlier comes back as it is: still finishing its work, or empty); removed ones take no
    /// new work from a random choice (balancers drop them too) and finish what they hold.
    pub fn set_instances(&mut self, count: u32, ctx: &mut Ctx<'_>) {
        let count = count.max(1);
        if count > 1 && !self.books_on {
            // The only instance's figures so far are the service's: its books start from them.
            let stats = ctx.stats();
            if let Some(first) = self.instances.first_mut() {
                let b = &mut first.books;
                b.arrivals = stats.arrivals;
                b.threads = stats.threads_busy.clone();
                b.cpus = stats.cpus_busy.clone();
                (b.successes, b.successes_at_open, b.successes_at_close) = stats.success_marks();
            }
            self.books_on = true;
        }
        if count > self.active {
            for r in self.active..count {
                match self.instances.get_mut(r as usize) {
                    Some(inst) => {
                        // Back in service as it is: it may still hold calls (an async server's
                        // calls waiting on downstream answers hold no thread), which must go
                        // on. Only one killed meanwhile starts afresh (it holds nothing).
                        if inst.down {
                            inst.down = false;
                            inst.incarnation = inst.incarnation.wrapping_add(1) & INCARNATION_MASK;
                        }
                        inst.draining = false;
                    }
                    None => {
                        let inst = Instance::new(&self.streams, r);
                        self.instances.push(inst);
                    }
                }
            }
        } else {
            for inst in &mut self.instances[count as usize..self.active as usize] {
                inst.draining = inst.threads_busy > 0 && !inst.down;
            }
        }
        self.active = count;
        self.update_capacity(ctx);
    }

    /// Answer `id`, then pass on the thread it held, if any (one look-up of the call does
    /// both).
    #[inline(always)]
    fn finish(&mut self, replica: u32, id: CallId, outcome: Outcome, ctx: &mut Ctx<'_>) {
        if self.books_on
            && outcome.is_ok()
            && let Some(inst) = self.instances.get_mut(replica as usize)
        {
            inst.books.successes += 1;
        }
        if ctx.answer(id, outcome) {
            self.pass_thread(replica, ctx);
        }
    }

    /// Kill an instance: everything on it fails with `instance_down`; stale events are dropped.
    pub fn kill(&mut self, replica: u32, ctx: &mut Ctx<'_>) {
        let now = ctx.now_ns();
        let Some(inst) = self.instances.get_mut(replica as usize) else {
            return;
        };
        if inst.down {
            return;
        }
        inst.down = true;
        inst.incarnation = inst.incarnation.wrapping_add(1) & INCARNATION_MASK;
        let stats = ctx.stats();
        stats.threads_busy.sub(now, u64::from(inst.threads_busy));
        stats.cpus_busy.sub(now, u64::from(inst.cpus_busy));
        inst.books.threads.sub(now, u64::from(inst.threads_busy));
        inst.books.cpus.sub(now, u64::from(inst.cpus_busy));
        stats.queue_len.sub(now, inst.thread_queue.len() as u64);
        inst.threads_busy = 0;
        inst.cpus_busy = 0;
        inst.thread_queue.clear();
        inst.cpu_queue.clear();
        if std::mem::replace(&mut inst.draining, false) {
            // A scaled-in instance killed while finishing its work: nothing left to drain.
            self.update_capacity(ctx);
        }
        for id in ctx.unanswered_at(self.node, replica) {
            if let Some(c) = ctx.call_mut(id) {
                c.holds_capacity = false;
            }
            ctx.refuse(id, ErrorCause::INSTANCE_DOWN);
        }
    }

    /// Bring a killed instance back, empty.
    pub fn revive(&mut self, replica: u32) {
        if let Some(inst) = self.instances.get_mut(replica as usize)
            && inst.down
        {
            inst.down = false;
            inst.incarnation = inst.incarnation.wrapping_add(1) & INCARNATION_MASK;
        }
    }
}

/// The self-checks ([`Component::check_invariants`]) and views of a service.
impl Service {
    /// Whether `c`, a live call addressed to this service, is in its CPU phase (running or
    /// waiting for a burst) rather than waiting on downstream calls.
    fn in_cpu_phase(&self, c: &Call) -> bool {
        self.model.calls.is_empty() || downstream_step(c) == 0
    }

    /// Whether `c` (addressed to this service) is unanswered work of the current
    /// incarnation of an instance that is up.
    fn is_current_work(&self, c: &Call) -> bool {
        self.instances.get(c.replica as usize).is_some_and(|inst| {
            !inst.down && c.incarnation == inst.incarnation && c.delivered && c.outcome.is_none()
        })
    }

    /// What holds between events, per instance `r`:
    /// - at most `threads` threads and `cpus` CPUs busy, at most `queue_limit` calls waiting
    ///   for a thread; nobody waits for a thread (a CPU) while one is free; no CPU is left
    ///   passing (`cpu_passing`) once its event is handled;
    /// - a killed instance holds nothing and has no unanswered call; a draining one is
    ///   scaled in, up, and busy;
    /// - the calls holding a thread (live, delivered, unanswered, of the current incarnation)
    ///   are as many as `threads_busy`; those of them in their CPU phase are as many as the
    ///   busy CPUs plus the calls waiting for one; every call waiting for a CPU holds a
    ///   thread, every call waiting for a thread holds none, all unanswered and here;
    /// - only unanswered calls of an instance's current incarnation hold a thread (what
    ///   `finish` relies on), and past its CPU burst a call holds its thread on a thread-pool
    ///   server and none on an async one;
    /// - the busy-thread, busy-CPU and queue-length levels equal the sums over the
    ///   instances, each instance's own levels (`per_replica`) its counters, and the
    ///   capacity the instances that count.
    ///
    /// Costs O(calls addressed to it + instances + their queues).
    pub fn check(&self, calls: NodeCalls<'_>, stats: &NodeStats) -> Result<(), String> {
        let m = &self.model;
        let n = self.instances.len();
        // Per instance: calls holding a thread, and those of them in their CPU phase.
        let mut holders = vec![0u64; n];
        let mut cpu_phase = vec![0u64; n];
        for &(id, c) in calls.handled() {
            let r = c.replica;
            let Some(inst) = self.instances.get(r as usize) else {
                if c.holds_capacity {
                    return Err(format!(
                        "{} holds a thread of instance {r}, which does not exist ({n} instances)",
                        call_name(id)
                    ));
                }
                continue;
            };
            let at = |what: String| format!("instance {r}: {} {what}", call_name(id));
            let unanswered = c.delivered && c.outcome.is_none();
            if inst.down && unanswered {
                return Err(at("is unanswered, but the instance is down".into()));
            }
            let current = self.is_current_work(c);
            if c.holds_capacity && !current {
                return Err(at(format!(
                    "holds a thread but is {} (a stray thread holder)",
                    if c.outcome.is_some() {
                        "answered".to_string()
                    } else {
                        format!(
                            "of incarnation {}, not the instance's {}",
                            c.incarnation, inst.incarnation
                        )
                    }
                )));
            }
            if !current {
                continue;
            }
            if c.holds_capacity {
                holders[r as usize] += 1;
                cpu_phase[r as usize] += u64::from(self.in_cpu_phase(c));
            }
            if !self.in_cpu_phase(c) {
                let keeps = m.server == ServerModel::ThreadPool;
                if c.holds_capacity != keeps {
                    return Err(at(format!(
                        "waits on its downstream calls {} a thread on a {} server",
                        if c.holds_capacity {
                            "holding"
                        } else {
                            "without"
                        },
                        if keeps { "thread-pool" } else { "async" }
                    )));
                }
            }
        }
        let (mut threads, mut cpus, mut queued) = (0u64, 0u64, 0u64);
        for (r, inst) in self.instances.iter().enumerate() {
            self.check_instance(r, inst, holders[r], cpu_phase[r], calls)
                .map_err(|e| format!("instance {r}: {e}"))?;
            threads += u64::from(inst.threads_busy);
            cpus += u64::from(inst.cpus_busy);
            queued += inst.thread_queue.len() as u64;
        }
        for (what, level, sum) in [
            ("busy threads", stats.threads_busy.value(), threads),
            ("busy CPUs", stats.cpus_busy.value(), cpus),
            ("queue length", stats.queue_len.value(), queued),
        ] {
            if level != sum {
                return Err(format!(
                    "the {what} level is {level} but the instances add up to {sum}"
                ));
            }
        }
        let count = self.counted_instances();
        let (per_thread, per_cpu) = self.per_instance();
        for (what, cap, per) in [
            ("thread", stats.thread_capacity, per_thread),
            ("CPU", stats.cpu_capacity, per_cpu),
        ] {
            let want = per.map(|p| p * count);
            if cap != want {
                return Err(format!(
                    "the {what} capacity is {cap:?} but {count} instances count, {per:?} each"
                ));
            }
        }
        Ok(())
    }

    /// [`Service::check`] for instance `r`, given the calls holding its threads (`holders`)
    /// and those of them in their CPU phase (`cpu_phase`).
    fn check_instance(
        &self,
        r: usize,
        inst: &Instance,
        holders: u64,
        cpu_phase: u64,
        calls: NodeCalls<'_>,
    ) -> Result<(), String> {
        let m = &self.model;
        let (tb, cb) = (inst.threads_busy, inst.cpus_busy);
        let (tq, cq) = (inst.thread_queue.len(), inst.cpu_queue.len());
        if tb > m.threads {
            return Err(format!("{tb} threads busy, over its {}", m.threads));
        }
        if cb > m.cpus {
            return Err(format!("{cb} CPUs busy, over its {}", m.cpus));
        }
        if tq as u64 > u64::from(m.queue_limit) {
            return Err(format!(
                "{tq} calls wait for a thread, over the queue limit {}",
                m.queue_limit
            ));
        }
        if tq > 0 && tb < m.threads {
            return Err(format!(
                "{tq} calls wait for a thread while one is free ({tb} of {} busy)",
                m.threads
            ));
        }
        if cq > 0 && cb < m.cpus {
            return Err(format!(
                "{cq} calls wait for a CPU while one is free ({cb} of {} busy)",
                m.cpus
            ));
        }
        if inst.cpu_passing {
            return Err("a CPU is still passing after its event".into());
        }
        if inst.down && (tb, cb, tq, cq) != (0, 0, 0, 0) {
            return Err(format!(
                "down, yet {tb} threads and {cb} CPUs busy, {tq} calls waiting for a thread and {cq} for a CPU"
            ));
        }
        if inst.draining && ((r as u32) < self.active || inst.down || tb == 0) {
            return Err(format!(
                "draining while {}",
                if (r as u32) < self.active {
                    "in service"
                } else if inst.down {
                    "down"
                } else {
                    "idle"
                }
            ));
        }
        // A queued call is unanswered work of this instance, looked up in one place.
        let queued = |id: CallId, what: &str| {
            calls
                .get(id)
                .filter(|c| {
                    c.callee == self.node && c.replica as usize == r && self.is_current_work(c)
                })
                .ok_or_else(|| {
                    format!(
                        "{} waits for a {what} but is not unanswered work of this instance",
                        call_name(id)
                    )
                })
        };
        for (id, _, _) in &inst.cpu_queue {
            let c = queued(*id, "CPU")?;
            if !c.holds_capacity || !self.in_cpu_phase(c) {
                return Err(format!(
                    "{} waits for a CPU without holding a thread in its CPU phase",
                    call_name(*id)
                ));
            }
        }
        for id in &inst.thread_queue {
            if queued(*id, "thread")?.holds_capacity {
                return Err(format!(
                    "{} waits for a thread but already holds one",
                    call_name(*id)
                ));
            }
        }
        if !inst.down {
            if holders != u64::from(tb) {
                return Err(format!(
                    "{holders} calls hold a thread but {tb} threads are busy"
                ));
            }
            if cpu_phase != u64::from(cb) + cq as u64 {
                return Err(format!(
                    "{cpu_phase} thread holders are in their CPU phase but {cb} CPUs are busy and {cq} calls wait for one"
                ));
            }
        }
        if self.books_on {
            let counts = u64::from((r as u32) < self.active || inst.draining);
            for (what, level, want) in [
                ("busy threads", inst.books.threads.value(), u64::from(tb)),
                ("busy CPUs", inst.books.cpus.value(), u64::from(cb)),
                ("in service", inst.books.in_service.value(), counts),
            ] {
                if level != want {
                    return Err(format!("its own {what} level is {level}, not {want}"));
                }
            }
        }
        Ok(())
    }

    /// Whether every thread of `inst` is held by a call waiting on its downstream calls: a
    /// thread-pool server with a finite pool, all threads busy, and no CPU busy nor awaited
    /// (a thread holder out of its CPU phase waits on its calls, by [`Service::check`]).
    fn full_of_waiting(&self, inst: &Instance) -> bool {
        let m = &self.model;
        m.server == ServerModel::ThreadPool
            && m.threads != u32::MAX
            && !m.calls.is_empty()
            && !inst.down
            && inst.threads_busy == m.threads
            && inst.cpus_busy == 0
            && inst.cpu_queue.is_empty()
    }

    /// Its part of the wait-for graph: the instances whose threads all wait
    /// ([`Service::full_of_waiting`]) and the calls queued for them; every call past its CPU
    /// work (holding its thread or not) with the downstream calls it awaits — fire-and-forget
    /// ones aside. A call awaiting one with a `timeout` is left out: the timeout will answer
    /// it. O(its calls + instances).
    fn wait_graph(&self, calls: NodeCalls<'_>) -> Waits {
        let mut w = Waits::default();
        for (r, inst) in self.instances.iter().enumerate() {
            if self.full_of_waiting(inst) {
                w.full.push((r as u32, self.model.threads));
                w.queued
                    .extend(inst.thread_queue.iter().map(|&id| (id, r as u32)));
            }
        }
        // Calls it awaits, by parent: (parent, child, the call's index).
        let mut out: Vec<(CallId, CallId, u32)> = calls
            .made()
            .iter()
            .filter(|(_, c)| !c.caller_done && c.tag != DETACHED)
            .filter_map(|&(id, c)| Some((c.parent?, id, c.tag)))
            .collect();
        out.sort_unstable();
        for &(id, c) in calls.handled() {
            if !self.is_current_work(c) || self.in_cpu_phase(c) {
                continue;
            }
            let from = out.partition_point(|o| o.0 < id);
            let to = out.partition_point(|o| o.0 <= id);
            let awaited = &out[from..to];
            let timed = awaited
                .iter()
                .any(|o| self.timeouts.get(o.2 as usize).is_none_or(|t| t.is_some()));
            if !awaited.is_empty() && !timed {
                w.on_answers
                    .push((id, awaited.iter().map(|o| o.1).collect()));
            }
        }
        w
    }

    /// Each instance as it stands: its counters, the calls running a CPU burst, and its
    /// queues in order.
    fn views(&self, calls: NodeCalls<'_>) -> Vec<InstanceView> {
        self.instances
            .iter()
            .enumerate()
            .map(|(r, inst)| {
                let cpu_queue: Vec<CallId> = inst.cpu_queue.iter().map(|&(id, _, _)| id).collect();
                let waiting: std::collections::BTreeSet<CallId> =
                    cpu_queue.iter().copied().collect();
                let running = calls
                    .handled()
                    .iter()
                    .filter(|(id, c)| {
                        c.replica as usize == r
                            && c.holds_capacity
                            && self.is_current_work(c)
                            && self.in_cpu_phase(c)
                            && !waiting.contains(id)
                    })
                    .map(|&(id, _)| id)
                    .collect();
                InstanceView {
                    replica: r as u32,
                    down: inst.down,
                    threads_busy: inst.threads_busy,
                    cpus_busy: inst.cpus_busy,
                    running,
                    cpu_queue,
                    thread_queue: inst.thread_queue.iter().copied().collect(),
                }
            })
            .collect()
    }
}
