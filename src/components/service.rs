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

use super::{ANY_REPLICA, Call, CallId, Ctx, DETACHED, Event, RequestAttrs, Timer};
use crate::dist::Sampler;
use crate::engine::{EventQueue, Rng, StreamKey};
use crate::metrics::ErrorCause;
use crate::topology::NodeId;
use crate::topology::model::ServiceModel;
use crate::topology::spec::{CallMode, ServerModel};

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
    /// Calls (with their CPU work, ns) waiting for a CPU.
    pub cpu_queue: VecDeque<(CallId, Timer)>,
    /// A CPU whose burst has just ended, free for a burst started while that completion is
    /// handled: it passes over with the busy-CPU level unchanged.
    cpu_passing: bool,
    /// Its CPU work draws (stream "cpu", this replica).
    cpu_rng: Rng,
}

/// What `proceed` reads of its call, taken by the handler's own look-up of it.
#[derive(Debug, Clone, Copy)]
struct Progress {
    attrs: RequestAttrs,
    hops: u16,
    step: u16,
}

impl Progress {
    #[inline]
    fn of(call: &Call) -> Self {
        Self {
            attrs: call.attrs,
            hops: call.hops,
            step: call.step,
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
    /// Instances (index = replica).
    pub instances: Vec<Instance>,
    /// Replica choice and call probabilities.
    route_rng: Rng,
    /// Per downstream call: its timeout, if any.
    timeouts: Vec<Option<Timer>>,
    /// Per class: its CPU work.
    cpu_work: Vec<CpuWork>,
}

impl Service {
    /// Build the live state; streams are named after the service.
    pub fn new(node: NodeId, name: &str, model: ServiceModel, seed: u64, replication: u32) -> Self {
        let key = |replica, purpose| StreamKey {
            seed,
            replication,
            owner: name,
            replica,
            purpose,
        };
        let replicas = model.replicas;
        Self {
            node,
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
            instances: (0..replicas)
                .map(|r| Instance {
                    incarnation: 0,
                    down: false,
                    threads_busy: 0,
                    cpus_busy: 0,
                    thread_queue: VecDeque::new(),
                    cpu_queue: VecDeque::new(),
                    cpu_passing: false,
                    cpu_rng: key(r, "cpu").rng(),
                })
                .collect(),
            route_rng: key(0, "route").rng(),
            model,
        }
    }

    /// Register the delay lanes of fixed timeouts and constant CPU times.
    pub fn register_lanes(&mut self, queue: &mut EventQueue<Event>) {
        for t in self
            .timeouts
            .iter_mut()
            .flatten()
            .chain(self.cpu_work.iter_mut().filter_map(|w| match w {
                CpuWork::Fixed(t) => Some(t),
                CpuWork::Drawn(_) => None,
            }))
        {
            t.register(queue);
        }
    }

    /// Threads over all replicas, or `None` when unlimited.
    pub fn thread_capacity(&self) -> Option<u64> {
        (self.model.threads != u32::MAX)
            .then(|| u64::from(self.model.threads) * self.instances.len() as u64)
    }

    /// CPUs over all replicas, or `None` when unlimited.
    pub fn cpu_capacity(&self) -> Option<u64> {
        (self.model.cpus != u32::MAX)
            .then(|| u64::from(self.model.cpus) * self.instances.len() as u64)
    }

    /// A call arrives.
    pub fn on_deliver(&mut self, id: CallId, ctx: &mut Ctx) {
        let n = self.instances.len() as u32;
        let max_hops = ctx.core.env.max_hops;
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
        let Some(inst) = self.instances.get_mut(replica as usize) else {
            ctx.refuse(id, ErrorCause::InstanceDown);
            return;
        };
        call.incarnation = inst.incarnation;
        if inst.down {
            ctx.refuse(id, ErrorCause::InstanceDown);
        } else if hops > max_hops {
            ctx.refuse(id, ErrorCause::HopLimit);
        } else if inst.threads_busy < self.model.threads {
            call.holds_thread = true;
            self.start(replica, id, class, ctx);
        } else if (inst.thread_queue.len() as u64) < u64::from(self.model.queue_limit) {
            inst.thread_queue.push_back(id);
            ctx.stats.queue_len.inc(ctx.now_ns());
        } else {
            ctx.refuse(id, ErrorCause::QueueFull);
        }
    }

    /// Give the call (already marked as holding it) a thread and start its CPU work.
    #[inline]
    fn start(&mut self, replica: u32, id: CallId, class: u8, ctx: &mut Ctx) {
        let now = ctx.now_ns();
        let inst = &mut self.instances[replica as usize];
        inst.threads_busy += 1;
        ctx.stats.threads_busy.inc(now);
        self.run_cpu(replica, id, class, ctx);
    }

    /// The call (holding a thread) starts its CPU burst, or waits for a CPU.
    #[inline(always)]
    fn run_cpu(&mut self, replica: u32, id: CallId, class: u8, ctx: &mut Ctx) {
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
                ctx.stats.cpus_busy.inc(now);
            }
            let incarnation = inst.incarnation;
            burst.schedule(
                &mut ctx.core.queue,
                Event::CpuDone {
                    call: id,
                    incarnation,
                },
            );
        } else {
            inst.cpu_queue.push_back((id, burst));
        }
    }

    /// A CPU burst finished.
    pub fn on_cpu_done(&mut self, replica: u32, incarnation: u32, id: CallId, ctx: &mut Ctx) {
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
            if ctx.answer(id, Ok(())) {
                self.pass_thread(replica, ctx);
            }
        } else if let Some(at) = ctx.core.calls.get(id).map(Progress::of) {
            self.proceed(replica, id, at, ctx);
        }
        let now = ctx.now_ns();
        let inst = &mut self.instances[replica as usize];
        if passing {
            if inst.cpu_passing {
                // Nobody took it.
                inst.cpu_passing = false;
                ctx.stats.cpus_busy.dec(now);
            }
        } else if let Some((next, burst)) = inst.cpu_queue.pop_front() {
            // The CPU passes straight to the next waiting burst: busy count unchanged.
            burst.schedule(
                &mut ctx.core.queue,
                Event::CpuDone {
                    call: next,
                    incarnation,
                },
            );
        }
    }

    /// Make the next downstream call(s) of `id` (whose progress the caller has just read), or
    /// answer when none is left.
    fn proceed(&mut self, replica: u32, id: CallId, at: Progress, ctx: &mut Ctx) {
        let Progress { attrs, hops, step } = at;
        if self.model.calls.is_empty() {
            // A leaf service: answer at once.
            self.finish(replica, id, Ok(()), ctx);
            return;
        }
        let class_bit = 1u64 << attrs.class;
        let mut issued = 0u16;
        // An async server gives the thread back while its calls are out; the write-back of
        // the call's progress takes it in the same look-up.
        let releases = self.model.server == ServerModel::Async;
        let mut released = false;
        match self.model.call_mode {
            CallMode::Sequential => {
                let mut step = step as usize;
                while step < self.model.calls.len() {
                    let spec = &self.model.calls[step];
                    let (mask, p, wait) = (spec.class_mask, spec.probability, spec.wait);
                    step += 1;
                    if mask & class_bit != 0 && self.take(p) {
                        self.issue(id, attrs, hops, step - 1, ctx);
                        if wait {
                            issued = 1;
                            break;
                        }
                    }
                }
                // An answered call's progress is never read again.
                if issued != 0
                    && let Some(c) = ctx.core.calls.get_mut(id)
                {
                    c.step = step as u16;
                    c.pending = issued;
                    released = releases && std::mem::replace(&mut c.holds_thread, false);
                }
            }
            CallMode::Parallel => {
                if step == 0 {
                    for i in 0..self.model.calls.len() {
                        let spec = &self.model.calls[i];
                        let (mask, p, wait) = (spec.class_mask, spec.probability, spec.wait);
                        if mask & class_bit != 0 && self.take(p) {
                            self.issue(id, attrs, hops, i, ctx);
                            issued += u16::from(wait);
                        }
                    }
                }
                if issued != 0
                    && let Some(c) = ctx.core.calls.get_mut(id)
                {
                    c.step = self.model.calls.len() as u16;
                    c.pending = issued;
                    released = releases && std::mem::replace(&mut c.holds_thread, false);
                }
            }
        }
        if issued == 0 {
            self.finish(replica, id, Ok(()), ctx);
        } else if released {
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
        ctx: &mut Ctx,
    ) {
        let spec = &self.model.calls[index];
        let (there, back) = match &spec.latency {
            Some(l) => (l.sample(&mut self.route_rng), l.sample(&mut self.route_rng)),
            None => (0, 0),
        };
        let mut child = Call::new(
            attrs,
            Some(parent),
            self.node,
            spec.to,
            ANY_REPLICA,
            hops.saturating_add(1),
        );
        if !spec.wait {
            child.tag = DETACHED;
        }
        ctx.send(child, there, back, self.timeouts[index]);
    }

    /// A downstream call came back (or timed out).
    pub fn on_child_done(
        &mut self,
        parent: CallId,
        outcome: Result<(), ErrorCause>,
        ctx: &mut Ctx,
    ) {
        let Some(
            call @ &Call {
                callee_done,
                replica,
                incarnation,
                pending,
                ..
            },
        ) = ctx.core.calls.get(parent)
        else {
            return;
        };
        let at = Progress::of(call);
        if callee_done {
            return; // Already answered (a sibling failed first, or the instance died).
        }
        let Some(inst) = self.instances.get(replica as usize) else {
            return;
        };
        if inst.incarnation != incarnation {
            return;
        }
        if let Err(cause) = outcome {
            self.finish(replica, parent, Err(cause), ctx);
            return;
        }
        match self.model.call_mode {
            CallMode::Sequential => self.proceed(replica, parent, at, ctx),
            CallMode::Parallel => {
                let left = pending.saturating_sub(1);
                if let Some(c) = ctx.core.calls.get_mut(parent) {
                    c.pending = left;
                }
                if left == 0 {
                    self.finish(replica, parent, Ok(()), ctx);
                }
            }
        }
    }

    /// A thread of `replica` has been given back: it passes straight to the next queued call
    /// (busy count unchanged), or comes free.
    #[inline(always)]
    fn pass_thread(&mut self, replica: u32, ctx: &mut Ctx) {
        let now = ctx.now_ns();
        while let Some(next) = self.instances[replica as usize].thread_queue.pop_front() {
            // (A queued call is never answered before it runs, short of a kill, which empties
            // the queue; a gone one is skipped all the same.)
            ctx.stats.queue_len.dec(now);
            if let Some(c) = ctx.core.calls.get_mut(next) {
                c.holds_thread = true;
                let class = c.attrs.class;
                self.run_cpu(replica, next, class, ctx);
                return;
            }
        }
        let inst = &mut self.instances[replica as usize];
        inst.threads_busy -= 1;
        ctx.stats.threads_busy.dec(now);
    }

    /// Answer `id`, then pass on the thread it held, if any (one look-up of the call does
    /// both).
    fn finish(&mut self, replica: u32, id: CallId, outcome: Result<(), ErrorCause>, ctx: &mut Ctx) {
        if ctx.answer(id, outcome) {
            self.pass_thread(replica, ctx);
        }
    }

    /// Kill an instance: everything on it fails with `instance_down`; stale events are dropped.
    pub fn kill(&mut self, replica: u32, ctx: &mut Ctx) {
        let now = ctx.now_ns();
        let Some(inst) = self.instances.get_mut(replica as usize) else {
            return;
        };
        if inst.down {
            return;
        }
        inst.down = true;
        inst.incarnation = inst.incarnation.wrapping_add(1);
        ctx.stats
            .threads_busy
            .sub(now, u64::from(inst.threads_busy));
        ctx.stats.cpus_busy.sub(now, u64::from(inst.cpus_busy));
        ctx.stats.queue_len.sub(now, inst.thread_queue.len() as u64);
        inst.threads_busy = 0;
        inst.cpus_busy = 0;
        inst.thread_queue.clear();
        inst.cpu_queue.clear();
        // Every unanswered call on this instance, in slot order (deterministic).
        let victims: Vec<CallId> = ctx
            .core
            .calls
            .iter()
            .filter(|(_, c)| {
                c.callee == self.node && c.replica == replica && c.delivered && !c.callee_done
            })
            .map(|(k, _)| k)
            .collect();
        for id in victims {
            if let Some(c) = ctx.core.calls.get_mut(id) {
                c.holds_thread = false;
            }
            ctx.refuse(id, ErrorCause::InstanceDown);
        }
    }

    /// Bring a killed instance back, empty.
    pub fn revive(&mut self, replica: u32) {
        if let Some(inst) = self.instances.get_mut(replica as usize)
            && inst.down
        {
            inst.down = false;
            inst.incarnation = inst.incarnation.wrapping_add(1);
        }
    }
}
