//! Workloads: where requests come from. Open loop (Poisson or deterministic arrivals at a rate
//! shaped by a profile: constant, step, ramp, diurnal, spike, piecewise or a CSV trace) or
//! closed loop (N users, each thinking between an answer and its next request).
//!
//! A request's attributes (class, key, session, region) are drawn once at arrival, each from
//! the workload's own stream for it ("class", "keys", "regions", "sessions"), and arrival
//! times from its "arrivals" stream, so the same seed offers the same requests to two
//! configurations of the rest of the model. Keys are drawn only when some component reads
//! them (`Topology::reads_keys`); otherwise a request's key is 0. Workloads
//! also measure the end-to-end signals: a request's latency is from its arrival to its answer
//! (or to the client's timeout).

use rand::RngExt;
use rand_distr::{Distribution, Exp1};

use super::{
    ANY_REPLICA, Answer, Build, Call, CallId, CommandError, CommandInfo, Component, Ctx, KindMeta,
    NodeCommand, RequestAttrs, Timer,
};
use crate::dist::ZipfSampler;
use crate::engine::{Rng, StreamKey};
use crate::metrics::{ErrorCause, NodeStats};
use crate::topology::NodeId;
use crate::topology::model::{KeyModel, RateProfile, Source, WorkloadModel};
use crate::topology::spec::Arrivals;

/// Node-timer argument bit of a closed-loop user's wake-up (its user index below); without
/// it, the argument is an open workload's arrival epoch.
const USER_WAKE: u64 = 1 << 32;

/// Tag of an open workload's request (closed loops tag theirs with the user).
const OPEN_ARRIVAL: u32 = u32::MAX;

/// Shortest wait of a closed-loop user after a request that failed at once (1 ms).
pub const MIN_RETRY_NS: u64 = 1_000_000;

/// A running workload.
#[derive(Debug)]
pub struct Client {
    /// Its node id.
    pub node: NodeId,
    /// The validated configuration (read-only: the arrival gap is derived from it).
    model: WorkloadModel,
    /// Traffic multiplier (the GUI's traffic slider), 1.0 by default; set with
    /// [`Client::set_scale`].
    scale: f64,
    /// Mean gap between open-loop arrivals at the base rate times `scale`, ns (the constant
    /// profile's hot path multiplies instead of dividing).
    mean_gap_ns: f64,
    /// The fraction of a nanosecond the last open-loop gap left over, carried to the next.
    gap_carry_ns: f64,
    /// Bumped when the rate changes: pending arrivals of older epochs are dropped.
    pub epoch: u32,
    /// No more arrivals (duration passed or request budget reached).
    pub stopped: bool,
    arrival_rng: Rng,
    class_rng: Rng,
    key_rng: Rng,
    region_rng: Rng,
    session_rng: Rng,
    think_rng: Rng,
    /// Some component reads keys: draw them.
    draw_keys: bool,
    /// Nothing about a request is drawn (one class; no keys, regions or sessions).
    plain_attrs: bool,
    zipf: Option<ZipfSampler>,
    /// The client timeout, if any.
    timeout: Option<Timer>,
}

impl Component for Client {
    type Model = WorkloadModel;

    const META: KindMeta = KindMeta {
        label: "Workload",
        summary: "Where requests come from: open-loop arrivals at a rate, or closed-loop users who think between requests.",
        commands: &[CommandInfo {
            name: "set_traffic_scale",
            summary: "Multiply the arrival rate (the traffic slider); takes effect at once.",
        }],
        error_causes: &[],
        figures: &[],
        series: &[],
        example: r#"Open(rate: "100/s", to: "backend")"#,
    };

    /// Build the live state; keys are drawn when some component reads them.
    fn build(model: &WorkloadModel, b: &Build<'_>) -> Self {
        let key = |purpose| StreamKey {
            seed: b.seed,
            replication: b.replication,
            owner: b.name,
            replica: 0,
            purpose,
        };
        let model = model.clone();
        let plain_attrs = model.mix_cumulative.len() == 1
            && !b.draw_keys
            && model.regions.is_empty()
            && model.sessions == 0;
        let zipf = match model.keys {
            KeyModel::Zipf(n, s) if b.draw_keys => Some(ZipfSampler::new(n, s)),
            KeyModel::Zipf(..) | KeyModel::Uniform(_) => None,
        };
        Self {
            node: b.node,
            timeout: model.timeout_ns.map(Timer::new),
            mean_gap_ns: mean_gap_ns(&model.source, 1.0),
            gap_carry_ns: 0.0,
            model,
            scale: 1.0,
            epoch: 0,
            stopped: false,
            arrival_rng: key("arrivals").rng(),
            class_rng: key("class").rng(),
            key_rng: key("keys").rng(),
            region_rng: key("regions").rng(),
            session_rng: key("sessions").rng(),
            draw_keys: b.draw_keys,
            plain_attrs,
            think_rng: key("think").rng(),
            zipf,
        }
    }

    /// Schedule the first arrivals (open) or the users' first wake-ups (closed).
    fn start(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(t) = &mut self.timeout {
            ctx.register(t);
        }
        match &self.model.source {
            Source::Open { .. } => self.schedule_next_arrival(ctx),
            Source::Closed { users, think } => {
                for user in 0..*users {
                    let t = think.sample(&mut self.think_rng);
                    ctx.node_timer_in(self.node, t, USER_WAKE | u64::from(user));
                }
            }
        }
    }

    /// Workloads take no calls (validation sends none to them).
    fn on_call(&mut self, id: CallId, ctx: &mut Ctx<'_>) {
        debug_assert!(false, "a call was sent to a workload");
        ctx.refuse(id, ErrorCause::INSTANCE_DOWN);
    }

    /// The answer to a request (or its timeout) reached the client.
    #[inline(always)]
    fn on_answer(&mut self, answer: Answer, ctx: &mut Ctx<'_>) {
        let now = ctx.now_ns();
        let arrived_ns = answer.request_arrived_ns;
        let outcome = answer.outcome.map(|_| ());
        ctx.stats().finish(
            now,
            arrived_ns,
            answer.request_counted,
            outcome,
            answer.request_class,
        );
        let user = answer.tag;
        if user != OPEN_ARRIVAL {
            let instant_failure = outcome.is_err() && now == arrived_ns;
            self.think(user, instant_failure, ctx);
        }
    }

    /// An open-loop arrival (its epoch) or a closed-loop user's wake-up.
    #[inline(always)]
    fn on_node_timer(&mut self, arg: u64, ctx: &mut Ctx<'_>) {
        if arg & USER_WAKE == 0 {
            self.on_arrival(arg as u32, ctx);
        } else {
            self.on_user_wake(arg as u32, ctx);
        }
    }

    fn on_command(&mut self, cmd: NodeCommand, ctx: &mut Ctx<'_>) -> Result<(), CommandError> {
        match cmd {
            NodeCommand::SetTrafficScale { scale } => {
                self.set_scale(scale, ctx);
                Ok(())
            }
            NodeCommand::Kill { .. }
            | NodeCommand::Revive { .. }
            | NodeCommand::SetInstances { .. }
            | NodeCommand::Own(_) => Err(CommandError::NotTaken {
                kind: Self::META.label,
                command: cmd,
            }),
        }
    }
}

impl Client {
    /// The validated configuration.
    pub fn model(&self) -> &WorkloadModel {
        &self.model
    }

    /// The traffic multiplier.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Set the traffic multiplier; takes effect at once (Poisson arrivals are memoryless).
    pub fn set_scale(&mut self, scale: f64, ctx: &mut Ctx<'_>) {
        self.scale = scale.max(0.0);
        self.mean_gap_ns = mean_gap_ns(&self.model.source, self.scale);
        if matches!(self.model.source, Source::Open { .. }) && !self.stopped && !ctx.arrivals_over()
        {
            self.epoch = self.epoch.wrapping_add(1);
            self.schedule_next_arrival(ctx);
        }
    }

    /// The arrival rate now, per second (after the multiplier).
    pub fn rate_now(&self, now_ns: u64) -> f64 {
        match &self.model.source {
            Source::Open {
                rate_per_s,
                profile,
                ..
            } => profile.rate_at(*rate_per_s, now_ns) * self.scale,
            Source::Closed { .. } => 0.0,
        }
    }

    /// Schedule the next open-loop arrival (inlined: an event scheduled out of line is staged
    /// in memory, docs/ARCHITECTURE.md *Packed events*).
    #[inline(always)]
    fn schedule_next_arrival(&mut self, ctx: &mut Ctx<'_>) {
        let now = ctx.now_ns();
        if let Some(t) = self.next_arrival_after(now) {
            ctx.node_timer_at(self.node, t, u64::from(self.epoch));
        }
    }

    /// The next arrival time after `t`, or None when the rate stays at zero.
    #[inline(never)]
    fn next_arrival_after(&mut self, t: u64) -> Option<u64> {
        let Source::Open {
            rate_per_s,
            profile,
            arrivals,
        } = &self.model.source
        else {
            return None;
        };
        let scale = self.scale;
        if scale <= 0.0 {
            return None;
        }
        let base = *rate_per_s;
        let rng = &mut self.arrival_rng;
        // Arrivals are where the cumulative intensity Λ(t) = ∫λ grows by one "unit of mass":
        // an Exp(1) draw for Poisson (the time-change theorem), exactly 1 for deterministic.
        let mass = match arrivals {
            Arrivals::Poisson => Exp1.sample(rng),
            Arrivals::Deterministic => 1.0,
        };
        if let RateProfile::Constant = profile {
            // The common case, without the profile machinery: a whole number of nanoseconds,
            // the fraction carried to the next gap, so the rate is delivered exactly (a gap
            // rounded on its own biases a rate whose gaps are a few nanoseconds).
            let gap = mass * self.mean_gap_ns + self.gap_carry_ns;
            if gap.is_nan() || gap >= (u64::MAX / 2) as f64 {
                return None;
            }
            // Non-negative and below 2⁶³ (checked above): the conversion truncates, which is
            // the floor, and the signed one is the cheaper.
            let whole = gap as i64;
            self.gap_carry_ns = gap - whole as f64;
            return Some(t.saturating_add(whole as u64));
        }
        // The same carry for a shaped profile: the next arrival is found from where the last
        // one fell exactly (t plus its fraction), and lands on its whole nanosecond.
        let exact = shaped_arrival(
            profile,
            *arrivals,
            base,
            scale,
            rng,
            t,
            self.gap_carry_ns,
            mass,
        )?;
        // Positive, finite and below 2⁶³ (checked there): the conversion is the floor. An
        // arrival never shares the previous one's nanosecond (so a sub-nanosecond Poisson
        // gap loses its fraction, as before).
        let whole = (exact as u64).max(t + 1);
        self.gap_carry_ns = (exact - whole as f64).max(0.0);
        Some(whole)
    }

    /// Draw a request's attributes.
    #[inline(always)]
    fn draw_attrs(&mut self, now: u64, counted: bool, session: u32) -> RequestAttrs {
        if self.plain_attrs {
            // One class, no keys, regions or sessions to draw: nothing random.
            return RequestAttrs {
                class: 0,
                region: 0,
                counted,
                op: 0,
                session,
                key: 0,
                arrived_ns: now,
            };
        }
        self.draw_attrs_drawn(now, counted, session)
    }

    /// [`Client::draw_attrs`] when something is drawn.
    #[inline(never)]
    fn draw_attrs_drawn(&mut self, now: u64, counted: bool, session: u32) -> RequestAttrs {
        let classes = &self.model.mix_cumulative;
        let class = if classes.len() == 1 {
            0
        } else {
            let u: f64 = self.class_rng.random();
            classes.partition_point(|&c| c <= u).min(classes.len() - 1) as u8
        };
        let key = match (self.model.keys, &self.zipf) {
            _ if !self.draw_keys => 0,
            (KeyModel::Zipf(..), Some(z)) => z.sample(&mut self.key_rng),
            // One key: nothing to draw.
            (KeyModel::Uniform(n), _) | (KeyModel::Zipf(n, _), None) if n <= 1 => 1,
            (KeyModel::Uniform(n), _) | (KeyModel::Zipf(n, _), None) => {
                self.key_rng.random_range(1..=n)
            }
        };
        let region = if self.model.regions.is_empty() {
            0
        } else {
            let u: f64 = self.region_rng.random();
            let i = self
                .model
                .regions
                .partition_point(|r| r.1 <= u)
                .min(self.model.regions.len() - 1);
            self.model.regions[i].0
        };
        let session = if session != 0 {
            session
        } else if self.model.sessions > 0 {
            self.session_rng.random_range(1..=self.model.sessions)
        } else {
            0
        };
        RequestAttrs {
            class,
            region,
            counted,
            op: 0,
            session,
            key,
            arrived_ns: now,
        }
    }

    /// Send one request; returns false when it was rejected by the in-flight cap.
    #[inline(always)]
    fn send_request(&mut self, user: u32, counted: bool, ctx: &mut Ctx<'_>) -> bool {
        let now = ctx.now_ns();
        let attrs = self.draw_attrs(
            now,
            counted,
            if user == OPEN_ARRIVAL { 0 } else { user + 1 },
        );
        ctx.stats().arrive(now, counted);
        if counted {
            ctx.count_request();
        }
        if !ctx.admits_request() {
            overloaded(ctx.stats(), now, counted, attrs.class);
            return false;
        }
        let mut call = Call::new(attrs, None, self.node, self.model.to, ANY_REPLICA, 1);
        call.tag = user;
        ctx.send(call, 0, 0, self.timeout);
        true
    }

    /// Whether arrivals are over at `now` (the duration passed or the request budget ended
    /// them).
    #[inline(always)]
    fn arrivals_over(&mut self, now: u64, ctx: &Ctx<'_>) -> bool {
        if self.stopped || ctx.arrivals_over() || now >= ctx.window().duration_ns {
            self.stopped = true;
            return true;
        }
        false
    }

    /// An open-loop arrival of epoch `epoch` (older epochs were superseded by a rate change).
    #[inline(always)]
    fn on_arrival(&mut self, epoch: u32, ctx: &mut Ctx<'_>) {
        let now = ctx.now_ns();
        if epoch != self.epoch || self.arrivals_over(now, ctx) {
            return;
        }
        let counted = ctx.window().counts(now);
        self.send_request(OPEN_ARRIVAL, counted, ctx);
        self.schedule_next_arrival(ctx);
    }

    /// A closed-loop user is ready to send.
    fn on_user_wake(&mut self, user: u32, ctx: &mut Ctx<'_>) {
        let now = ctx.now_ns();
        if self.arrivals_over(now, ctx) {
            return;
        }
        let counted = ctx.window().counts(now);
        if !self.send_request(user, counted, ctx) {
            self.think(user, true, ctx);
        }
    }

    /// Schedule the user's next request after a think time. After a request that failed
    /// without any time passing, the user waits at least [`MIN_RETRY_NS`], so a zero think
    /// time cannot make a user spin forever at one instant.
    fn think(&mut self, user: u32, failed_instantly: bool, ctx: &mut Ctx<'_>) {
        if let Source::Closed { think, .. } = &self.model.source {
            let mut t = think.sample(&mut self.think_rng);
            if failed_instantly {
                t = t.max(MIN_RETRY_NS);
            }
            ctx.node_timer_in(self.node, t, USER_WAKE | u64::from(user));
        }
    }
}

/// Mean gap of an open workload at its base rate times `scale`, ns (infinite at rate 0).
fn mean_gap_ns(source: &Source, scale: f64) -> f64 {
    match source {
        Source::Open { rate_per_s, .. } => 1e9 / (rate_per_s * scale),
        Source::Closed { .. } => f64::INFINITY,
    }
}

/// The exact time (ns, unrounded) of the next arrival after the one at `t` + `carry_ns` (its
/// exact time, of which `t` is the whole nanosecond) for a rate that changes over time:
/// `base` is the model's rate, `scale` the traffic multiplier (profiles name absolute rates,
/// so it applies to the result), `mass` the unit of cumulative intensity to use up (out of
/// line: the constant-rate case in [`Client::next_arrival_after`] is the hot one). `None`
/// when the rate stays at zero or the time is beyond the clock.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn shaped_arrival(
    profile: &RateProfile,
    arrivals: Arrivals,
    base: f64,
    scale: f64,
    rng: &mut Rng,
    t: u64,
    carry_ns: f64,
    mass: f64,
) -> Option<f64> {
    let start = t as f64 + carry_ns;
    let next_ns = if profile.is_piecewise_constant() {
        // Exact: use the mass up segment by segment.
        let (mut tf, mut at, mut left) = (start, t, mass);
        loop {
            let rate = profile.rate_at(base, at) * scale;
            let change = profile.next_change_ns(at);
            if rate > 0.0 {
                let end = tf + left / rate * 1e9;
                if end < change as f64 {
                    break end;
                }
                left -= rate * (change as f64 - tf) / 1e9;
            } else if change == u64::MAX {
                return None;
            }
            at = change;
            tf = change as f64;
        }
    } else {
        let rate = |t_ns: f64| profile.rate_at(base, t_ns as u64) * scale;
        match arrivals {
            Arrivals::Poisson => {
                // Thinning (Lewis–Shedler) against the profile's maximum: exact.
                let max = profile.max_rate(base) * scale;
                let mut tf = start;
                loop {
                    let e: f64 = Exp1.sample(rng);
                    tf += e / max * 1e9;
                    if tf >= u64::MAX as f64 / 2.0 {
                        return None;
                    }
                    if rng.random::<f64>() * max <= rate(tf) {
                        break tf;
                    }
                }
            }
            Arrivals::Deterministic => {
                // Λ(t + d) − Λ(t) = 1 by the trapezoid rule: a predictor at the current
                // rate, then the mean of the rates at both ends.
                let tf = start;
                let now_rate = rate(tf);
                let guess = tf + 1e9 / now_rate;
                tf + 2e9 / (now_rate + rate(guess))
            }
        }
    };
    if !next_ns.is_finite() || next_ns >= u64::MAX as f64 / 2.0 {
        return None;
    }
    Some(next_ns.max(0.0))
}

/// The in-flight cap refused a request as it arrived (rare: kept out of the hot path).
#[cold]
#[inline(never)]
fn overloaded(stats: &mut NodeStats, now_ns: u64, counted: bool, class: u8) {
    stats.finish(now_ns, now_ns, counted, Err(ErrorCause::OVERLOAD), class);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(draw_keys: bool, keys: KeyModel) -> Client {
        let model = WorkloadModel {
            to: 1,
            source: Source::Open {
                rate_per_s: 100.0,
                profile: RateProfile::Constant,
                arrivals: Arrivals::Poisson,
            },
            mix_cumulative: vec![0.3, 1.0],
            keys,
            sessions: 50,
            regions: vec![(1, 0.5), (2, 1.0)],
            timeout_ns: None,
        };
        Client::build(
            &model,
            &Build {
                node: 0,
                name: "users",
                seed: 7,
                replication: 0,
                draw_keys,
            },
        )
    }

    #[test]
    fn keys_are_drawn_only_when_read_and_never_shift_other_attributes() {
        for keys in [KeyModel::Uniform(100), KeyModel::Zipf(100, 0.99)] {
            let mut with = client(true, keys);
            let mut without = client(false, keys);
            let mut distinct = std::collections::BTreeSet::new();
            for i in 0..2000 {
                let a = with.draw_attrs(i, true, 0);
                let b = without.draw_attrs(i, true, 0);
                assert!((1..=100).contains(&a.key), "drawn key {}", a.key);
                distinct.insert(a.key);
                assert_eq!(b.key, 0, "an unread key is not drawn");
                // Class, region and session come from their own streams: the same requests.
                assert_eq!(
                    (a.class, a.region, a.session),
                    (b.class, b.region, b.session)
                );
            }
            assert!(distinct.len() > 50, "keys vary: {}", distinct.len());
        }
    }
}
