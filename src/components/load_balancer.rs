//! A load balancer with nginx upstream semantics: round robin (smooth weighted), least_conn,
//! ip_hash, random and power of two choices; a per-request overhead (L4 or L7).
//!
//! The balancer is a proxy: it answers its caller with whatever its backend answered, and
//! counts active connections per backend (a connection is open from forwarding until the
//! backend's reply comes back). Health checks and retries (`max_fails`, `proxy_next_upstream`)
//! build on this in a later capability.

use rand::RngExt;

use super::{
    ANY_REPLICA, Answer, Build, Call, CallId, CommandError, CommandInfo, Component, Ctx, KindMeta,
    Liveness, NodeCalls, NodeCommand, RequestAttrs, Side, Timer, Waits, call_name,
};
use crate::engine::rng::splitmix64;
use crate::engine::{Rng, StreamKey};
use crate::metrics::report::Figures;
use crate::metrics::{ErrorCause, KindValues, NodeStats, Window};
use crate::topology::NodeId;
use crate::topology::kinds::load_balancer::{Backend, LoadBalancerModel, Policy};

/// A running load balancer.
#[derive(Debug)]
pub struct LoadBalancer {
    /// Its node id.
    pub node: NodeId,
    /// The validated configuration.
    pub model: LoadBalancerModel,
    /// Open connections per backend.
    pub active: Vec<u32>,
    /// Smooth-WRR current weights.
    current: Vec<i64>,
    total_weight: i64,
    equal_weights: bool,
    next_rr: usize,
    rng: Rng,
    /// Backends taking new requests: not scaled in, not marked down.
    enabled: Vec<bool>,
    /// Backends whose instance was scaled in.
    scaled_in: Vec<bool>,
    /// Backends marked down by `backend_down`.
    marked_down: Vec<bool>,
    /// Some backend is enabled.
    any_enabled: bool,
    /// The cause of a request failed because every backend is down (`no_live_upstreams`).
    no_live: ErrorCause,
    /// Every backend is enabled (the fast path).
    all_enabled: bool,
    /// Up or killed.
    liveness: Liveness,
    /// `PeakEwma`: each backend's peak-sensitive moving average of its response time, ns,
    /// and when it was last updated.
    ewma_ns: Vec<f64>,
    ewma_at_ns: Vec<u64>,
}

impl Component for LoadBalancer {
    type Model = LoadBalancerModel;

    const META: KindMeta = KindMeta {
        label: "Load balancer",
        summary: "Spreads requests over backends: round robin, least_conn, ip_hash, random, power of two (nginx upstream).",
        commands: &[
            CommandInfo {
                name: "kill",
                summary: "Take the balancer down: the requests it holds and those sent to it fail with instance_down.",
            },
            CommandInfo {
                name: "revive",
                summary: "Bring the balancer back.",
            },
            CommandInfo {
                name: "backend_down",
                summary: "Mark a backend down (nginx `down`): no new requests to it.",
            },
            CommandInfo {
                name: "backend_up",
                summary: "Put a backend marked down back into rotation.",
            },
        ],
        error_causes: &["no_live_upstreams"],
        // The keys services have, kept for one table and one chart to read both; a balancer
        // has no threads or CPUs of its own, so they get no column.
        figures: &super::without_columns(super::RESOURCE_FIGURES),
        series: &NodeStats::RESOURCE_SERIES,
        example: r#"LoadBalancer(policy: LeastConn, backends: ["backend"])"#,
    };

    /// Build the live state.
    fn build(model: &LoadBalancerModel, b: &Build<'_>) -> Self {
        let model = model.clone();
        let n = model.backends.len();
        let total_weight = model.backends.iter().map(|b| i64::from(b.weight)).sum();
        let equal_weights = model
            .backends
            .windows(2)
            .all(|w| w[0].weight == w[1].weight);
        Self {
            node: b.node,
            active: vec![0; n],
            current: vec![0; n],
            total_weight,
            equal_weights,
            next_rr: 0,
            rng: StreamKey {
                seed: b.seed,
                replication: b.replication,
                owner: b.name,
                replica: 0,
                purpose: "route",
            }
            .rng(),
            enabled: vec![true; n],
            scaled_in: vec![false; n],
            marked_down: vec![false; n],
            any_enabled: true,
            no_live: b.cause("no_live_upstreams"),
            all_enabled: true,
            liveness: Liveness::default(),
            ewma_ns: vec![0.0; n],
            ewma_at_ns: vec![0; n],
            model,
        }
    }

    /// A call arrives: do the per-request work, then forward.
    #[inline(always)]
    fn on_call(&mut self, id: CallId, ctx: &mut Ctx<'_>) {
        let max_hops = ctx.max_hops();
        let Some(call) = ctx.arrive(id) else { return };
        if call.hops > max_hops {
            ctx.refuse(id, ErrorCause::HOP_LIMIT);
            return;
        }
        if self.liveness.is_down() {
            ctx.refuse(id, ErrorCause::INSTANCE_DOWN);
            return;
        }
        let overhead = self.model.overhead.sample(&mut self.rng);
        if overhead == 0 {
            self.forward(id, ctx);
        } else {
            ctx.call_timer(Timer::new(overhead), id, 0, Side::Callee);
        }
    }

    /// The backend answered: pass the answer back.
    #[inline(always)]
    fn on_answer(&mut self, answer: Answer, ctx: &mut Ctx<'_>) {
        if let Some(a) = self.active.get_mut(answer.tag as usize) {
            *a = a.saturating_sub(1);
        }
        if self.model.policy == Policy::PeakEwma {
            self.observe(&answer, ctx);
        }
        if let Some(parent) = answer.parent {
            ctx.reply(parent, answer.outcome);
        }
    }

    /// The figures services have (a balancer has no threads or CPUs of its own, so its
    /// occupancy and utilization are null and its busy means 0): kept so one table and one
    /// chart read both.
    fn series_values(&mut self, stats: &mut NodeStats, now_ns: u64, len_ns: u64) -> KindValues {
        stats.resource_series(now_ns, len_ns)
    }

    fn figures(&self, stats: &NodeStats, window: &Window, end_ns: u64) -> Figures {
        stats.resource_figures(window, end_ns)
    }

    /// The per-request overhead is over: forward.
    #[inline(always)]
    fn on_call_timer(&mut self, id: CallId, _replica: u32, _arg: u32, ctx: &mut Ctx<'_>) {
        self.forward(id, ctx);
    }

    /// A backend's instance count changed: new instances become backends (with the weight
    /// of that backend), removed ones stop taking new requests.
    fn on_instances_changed(&mut self, node: NodeId, count: u32, _ctx: &mut Ctx<'_>) {
        let Some(weight) = self
            .model
            .backends
            .iter()
            .find(|b| b.node == node)
            .map(|b| b.weight)
        else {
            return;
        };
        let have = self
            .model
            .backends
            .iter()
            .filter(|b| b.node == node)
            .filter_map(|b| b.replica)
            .map(|r| r + 1)
            .max()
            .unwrap_or(0);
        // A backend marked down as a whole stays down as it grows.
        let all_marked = self
            .model
            .backends
            .iter()
            .zip(&self.marked_down)
            .filter(|(b, _)| b.node == node)
            .all(|(_, m)| *m);
        for r in have..count {
            self.model.backends.push(Backend {
                node,
                replica: Some(r),
                weight,
            });
            self.active.push(0);
            self.current.push(0);
            self.enabled.push(true);
            self.scaled_in.push(false);
            self.marked_down.push(all_marked);
            self.ewma_ns.push(0.0);
            self.ewma_at_ns.push(0);
        }
        for (b, out) in self.model.backends.iter().zip(&mut self.scaled_in) {
            if b.node == node {
                *out = b.replica.is_some_and(|r| r >= count);
            }
        }
        self.refresh_enabled();
        self.total_weight = self
            .model
            .backends
            .iter()
            .map(|b| i64::from(b.weight))
            .sum();
        self.equal_weights = self
            .model
            .backends
            .windows(2)
            .all(|w| w[0].weight == w[1].weight);
    }

    fn on_command(&mut self, cmd: NodeCommand, ctx: &mut Ctx<'_>) -> Result<(), CommandError> {
        let NodeCommand::Own(own) = cmd else {
            return self.liveness.command(self.node, Self::META.label, cmd, ctx);
        };
        // backend_down (code 0) or backend_up (1) of node args[0], instance args[1] (or all).
        let down = own.code == 0;
        let [node, instance] = own.args;
        for (b, marked) in self.model.backends.iter().zip(&mut self.marked_down) {
            if u64::from(b.node) == node
                && (instance == u64::MAX || b.replica.map(u64::from) == Some(instance))
            {
                *marked = down;
            }
        }
        self.refresh_enabled();
        Ok(())
    }

    /// Each request forwarded waits on its one call out ([`super::proxy_waits`]).
    fn waits(&self, calls: NodeCalls<'_>) -> Waits {
        super::proxy_waits(calls)
    }

    /// Each backend's active connections equal the calls forwarded to it whose reply the
    /// balancer still awaits; a request has at most one call out; a balancer that is down
    /// holds no unanswered request.
    fn check_invariants(&self, calls: NodeCalls<'_>, stats: &NodeStats) -> Result<(), String> {
        let _ = stats;
        let mut open = vec![0u32; self.active.len()];
        let mut parents: Vec<CallId> = Vec::new();
        for &(id, c) in calls.made() {
            if c.caller_done {
                continue;
            }
            match open.get_mut(c.tag as usize) {
                Some(n) => *n += 1,
                None => {
                    return Err(format!(
                        "{} went to backend {}, which does not exist ({} backends)",
                        call_name(id),
                        c.tag,
                        self.active.len()
                    ));
                }
            }
            parents.extend(c.parent);
        }
        for (b, (&active, &live)) in self.active.iter().zip(&open).enumerate() {
            if active != live {
                return Err(format!(
                    "backend {b} has {active} active connections but {live} calls out awaiting a reply"
                ));
            }
        }
        parents.sort_unstable();
        if let Some(w) = parents.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("{} has two calls out", call_name(w[0])));
        }
        if self.liveness.is_down()
            && let Some((id, _)) = calls
                .handled()
                .iter()
                .find(|(_, c)| c.delivered && c.outcome.is_none())
        {
            return Err(format!("down, yet {} is unanswered", call_name(*id)));
        }
        Ok(())
    }
}

impl LoadBalancer {
    /// Recompute which backends take new requests (after a scale or a mark).
    fn refresh_enabled(&mut self) {
        for ((on, out), down) in self
            .enabled
            .iter_mut()
            .zip(&self.scaled_in)
            .zip(&self.marked_down)
        {
            *on = !out && !down;
        }
        self.all_enabled = self.enabled.iter().all(|e| *e);
        self.any_enabled = self.enabled.iter().any(|e| *e);
    }

    /// Pick a backend and send the call on.
    fn forward(&mut self, id: CallId, ctx: &mut Ctx<'_>) {
        if !self.all_enabled && !self.any_enabled {
            // nginx: "no live upstreams while connecting to upstream" (a 502).
            ctx.refuse(id, self.no_live);
            return;
        }
        let Some(call) = ctx.call(id) else {
            return;
        };
        if call.outcome.is_some() {
            return;
        }
        let (attrs, hops) = (call.attrs, call.hops);
        if self.model.policy == Policy::PeakEwma {
            // When it left, in 1.024 µs units (wraps after 73 minutes), for its response
            // time.
            let sent = (ctx.now_ns() >> 10) as u32;
            if let Some(c) = ctx.call_mut(id) {
                c.local = sent;
            }
        }
        let b = self.pick(&attrs);
        let backend = self.model.backends[b];
        self.active[b] += 1;
        let mut child = Call::new(
            attrs,
            Some(id),
            self.node,
            backend.node,
            backend.replica.unwrap_or(ANY_REPLICA),
            hops.saturating_add(1),
        );
        child.tag = b as u32;
        ctx.send(child, 0, 0, None);
    }

    fn pick(&mut self, attrs: &RequestAttrs) -> usize {
        let n = self.model.backends.len();
        if !self.all_enabled {
            return self.pick_enabled(attrs);
        }
        if n == 1 {
            return 0;
        }
        match self.model.policy {
            Policy::RoundRobin => self.round_robin(|_| true),
            Policy::LeastConn => {
                // Fewest active / weight, compared exactly as a_i * w_j < a_j * w_i.
                let ratio = |i: usize| {
                    (
                        u64::from(self.active[i]),
                        u64::from(self.model.backends[i].weight),
                    )
                };
                let mut best = 0;
                for i in 1..n {
                    let (a, w) = ratio(i);
                    let (ba, bw) = ratio(best);
                    if a * bw < ba * w {
                        best = i;
                    }
                }
                let (ba, bw) = ratio(best);
                let tied = |i: usize| {
                    let (a, w) = ratio(i);
                    a * bw == ba * w
                };
                if (0..n).filter(|&i| tied(i)).count() == 1 {
                    best
                } else {
                    // nginx breaks ties by weighted round robin among the tied peers (no
                    // allocation: the weights are read while the current weights change).
                    let (active, backends) = (&self.active, &self.model.backends);
                    smooth_wrr(&mut self.current, backends, |i| {
                        u64::from(active[i]) * bw == ba * u64::from(backends[i].weight)
                    })
                }
            }
            Policy::IpHash => {
                let id = if attrs.session != 0 {
                    u64::from(attrs.session)
                } else {
                    attrs.key
                };
                let point = splitmix64(id) % self.total_weight as u64;
                self.by_weight(point)
            }
            Policy::Random => {
                let point = self.rng.random_range(0..self.total_weight as u64);

                self.by_weight(point)
            }
            Policy::PeakEwma => {
                let a = self.rng.random_range(0..n);
                let b = self.rng.random_range(0..n - 1);
                let b = if b >= a { b + 1 } else { b };
                if self.ewma_cost(b) < self.ewma_cost(a) {
                    b
                } else {
                    a
                }
            }
            Policy::PowerOfTwo => {
                let (pa, pb) = (
                    self.rng.random_range(0..self.total_weight as u64),
                    self.rng.random_range(0..self.total_weight as u64),
                );
                let (a, b) = (self.by_weight(pa), self.by_weight(pb));
                let load = |i: usize| {
                    u64::from(self.active[i]) * 1_000_000 / u64::from(self.model.backends[i].weight)
                };
                if load(b) < load(a) { b } else { a }
            }
        }
    }

    /// [`LoadBalancer::pick`] when some backends take no new requests (scaled in): the same
    /// policies over the enabled backends only (a rarer, slower path).
    #[cold]
    #[inline(never)]
    fn pick_enabled(&mut self, attrs: &RequestAttrs) -> usize {
        let (enabled, backends) = (&self.enabled, &self.model.backends);
        let total: u64 = backends
            .iter()
            .zip(enabled)
            .filter(|(_, e)| **e)
            .map(|(b, _)| u64::from(b.weight))
            .sum();
        let by_weight = |mut point: u64| {
            let mut last = 0;
            for (i, b) in backends.iter().enumerate().filter(|(i, _)| enabled[*i]) {
                let w = u64::from(b.weight);
                if point < w {
                    return i;
                }
                point -= w;
                last = i;
            }
            last
        };
        let load = |i: usize| u64::from(self.active[i]) * 1_000_000 / u64::from(backends[i].weight);
        match self.model.policy {
            Policy::RoundRobin => smooth_wrr(&mut self.current, backends, |i| enabled[i]),
            Policy::LeastConn => {
                let best = (0..backends.len())
                    .filter(|&i| enabled[i])
                    .min_by(|&a, &b| {
                        (u64::from(self.active[a]) * u64::from(backends[b].weight))
                            .cmp(&(u64::from(self.active[b]) * u64::from(backends[a].weight)))
                    })
                    .unwrap_or(0);
                let (ba, bw) = (
                    u64::from(self.active[best]),
                    u64::from(backends[best].weight),
                );
                let active = &self.active;
                smooth_wrr(&mut self.current, backends, |i| {
                    enabled[i] && u64::from(active[i]) * bw == ba * u64::from(backends[i].weight)
                })
            }
            Policy::IpHash => {
                let id = if attrs.session != 0 {
                    u64::from(attrs.session)
                } else {
                    attrs.key
                };
                by_weight(splitmix64(id) % total.max(1))
            }
            Policy::Random => by_weight(self.rng.random_range(0..total.max(1))),
            Policy::PeakEwma => {
                let on: Vec<usize> = (0..backends.len()).filter(|&i| enabled[i]).collect();
                match on.len() {
                    0 => 0,
                    1 => on[0],
                    n => {
                        let a = self.rng.random_range(0..n);
                        let b = self.rng.random_range(0..n - 1);
                        let (a, b) = (on[a], on[if b >= a { b + 1 } else { b }]);
                        if self.ewma_cost(b) < self.ewma_cost(a) {
                            b
                        } else {
                            a
                        }
                    }
                }
            }
            Policy::PowerOfTwo => {
                let a = by_weight(self.rng.random_range(0..total.max(1)));
                let b = by_weight(self.rng.random_range(0..total.max(1)));
                if load(b) < load(a) { b } else { a }
            }
        }
    }

    /// `PeakEwma`'s cost of backend `i`: its average response time × (active + 1) / weight.
    fn ewma_cost(&self, i: usize) -> f64 {
        self.ewma_ns[i] * f64::from(self.active[i] + 1) / f64::from(self.model.backends[i].weight)
    }

    /// `PeakEwma`: the answer to a forwarded call came back; fold its response time into
    /// its backend's average (Finagle's and Linkerd's peak EWMA: a slower response is taken
    /// at once, a faster one is blended in with weight 1 − e^(−Δt/τ)).
    fn observe(&mut self, answer: &Answer, ctx: &Ctx<'_>) {
        let b = answer.tag as usize;
        let (Some(parent), Some(&ewma), Some(&at)) =
            (answer.parent, self.ewma_ns.get(b), self.ewma_at_ns.get(b))
        else {
            return;
        };
        let Some(sent) = ctx.call(parent).map(|c| c.local) else {
            return;
        };
        let now = ctx.now_ns();
        let rtt = (u64::from(((now >> 10) as u32).wrapping_sub(sent)) << 10) as f64;
        self.ewma_ns[b] = if rtt > ewma {
            rtt
        } else {
            let w = (-((now - at.min(now)) as f64) / self.model.ewma_decay_ns as f64).exp();
            ewma * w + rtt * (1.0 - w)
        };
        self.ewma_at_ns[b] = now;
    }

    /// The backend whose weight interval holds `point` (0 ≤ point < total weight).
    fn by_weight(&self, mut point: u64) -> usize {
        for (i, b) in self.model.backends.iter().enumerate() {
            let w = u64::from(b.weight);
            if point < w {
                return i;
            }
            point -= w;
        }
        self.model.backends.len() - 1
    }

    fn round_robin(&mut self, eligible: impl Fn(usize) -> bool) -> usize {
        if self.equal_weights {
            // Wrap by comparison: a division per request is measurable here.
            let i = if self.next_rr >= self.model.backends.len() {
                0
            } else {
                self.next_rr
            };
            self.next_rr = i + 1;
            return i;
        }
        self.smooth_wrr(eligible)
    }

    /// nginx's smooth weighted round robin over the eligible peers.
    fn smooth_wrr(&mut self, eligible: impl Fn(usize) -> bool) -> usize {
        smooth_wrr(&mut self.current, &self.model.backends, eligible)
    }
}

/// nginx's smooth weighted round robin over the eligible `backends`, with their `current`
/// weights.
fn smooth_wrr(
    current: &mut [i64],
    backends: &[Backend],
    eligible: impl Fn(usize) -> bool,
) -> usize {
    let mut best: Option<usize> = None;
    let mut total = 0i64;
    for (i, backend) in backends.iter().enumerate() {
        if !eligible(i) {
            continue;
        }
        let w = i64::from(backend.weight);
        current[i] += w;
        total += w;
        if best.is_none_or(|b| current[i] > current[b]) {
            best = Some(i);
        }
    }
    let b = best.unwrap_or(0);
    current[b] -= total;
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::Sampler;
    use crate::topology::kinds::load_balancer::Backend;

    fn lb(weights: &[u32], policy: Policy) -> LoadBalancer {
        let backends = weights
            .iter()
            .enumerate()
            .map(|(i, &w)| Backend {
                node: i as u32,
                replica: None,
                weight: w,
            })
            .collect();
        LoadBalancer::build(
            &LoadBalancerModel {
                backends,
                policy,
                overhead: Sampler::Const(0),
                ewma_decay_ns: 10_000_000_000,
            },
            &Build {
                node: 9,
                name: "lb",
                seed: 1,
                replication: 0,
                draw_keys: false,
            },
        )
    }

    fn attrs() -> Call {
        let a = super::super::RequestAttrs {
            class: 0,
            region: 0,
            counted: true,
            op: 0,
            session: 0,
            key: 0,
            arrived_ns: 0,
        };
        Call::new(a, None, 0, 9, 0, 1)
    }

    #[test]
    fn smooth_wrr_interleaves_like_nginx() {
        // nginx's documented sequence for weights 5, 1, 1: a a b a c a a.
        let mut b = lb(&[5, 1, 1], Policy::RoundRobin);
        let seq: Vec<usize> = (0..7).map(|_| b.pick(&attrs().attrs)).collect();
        assert_eq!(seq, vec![0, 0, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn least_conn_prefers_idle_and_respects_weight() {
        let mut b = lb(&[1, 1, 1], Policy::LeastConn);
        b.active = vec![3, 1, 2];
        assert_eq!(b.pick(&attrs().attrs), 1);
        let mut b = lb(&[1, 4], Policy::LeastConn);
        b.active = vec![1, 3]; // 1/1 > 3/4
        assert_eq!(b.pick(&attrs().attrs), 1);
    }

    #[test]
    fn ip_hash_is_sticky() {
        let mut b = lb(&[1, 1, 1, 1], Policy::IpHash);
        let mut c = attrs();
        c.attrs.session = 77;
        let first = b.pick(&c.attrs);
        assert!((0..20).all(|_| b.pick(&c.attrs) == first));
    }
}
