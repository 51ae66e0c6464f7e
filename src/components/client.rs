//! Workloads: where requests come from. Open loop (Poisson or deterministic arrivals at a rate
//! shaped by a profile: constant, step, ramp, diurnal, spike, piecewise or a CSV trace) or
//! closed loop (N users, each thinking between an answer and its next request).
//!
//! A request's attributes (class, key, session, region) are drawn once at arrival from the
//! workload's own "attrs" stream, and arrival times from its "arrivals" stream, so the same
//! seed offers the same requests to two configurations of the rest of the model. Workloads
//! also measure the end-to-end signals: a request's latency is from its arrival to its answer
//! (or to the client's timeout).

use rand::RngExt;
use rand_distr::{Distribution, Exp1, Zipf};

use super::{ANY_REPLICA, Call, Ctx, Event, RequestAttrs};
use crate::engine::{Rng, StreamKey};
use crate::metrics::ErrorCause;
use crate::topology::NodeId;
use crate::topology::model::{KeyModel, RateProfile, Source, WorkloadModel};
use crate::topology::spec::Arrivals;

/// A running workload.
#[derive(Debug)]
pub struct Client {
    /// Its node id.
    pub node: NodeId,
    /// The validated configuration.
    pub model: WorkloadModel,
    /// Traffic multiplier (the GUI's traffic slider), 1.0 by default.
    pub scale: f64,
    /// Bumped when the rate changes: pending arrivals of older epochs are dropped.
    pub epoch: u32,
    /// No more arrivals (duration passed or request budget reached).
    pub stopped: bool,
    arrival_rng: Rng,
    attr_rng: Rng,
    think_rng: Rng,
    zipf: Option<Zipf<f64>>,
}

impl Client {
    /// Build the live state.
    pub fn new(
        node: NodeId,
        name: &str,
        model: WorkloadModel,
        seed: u64,
        replication: u32,
    ) -> Self {
        let key = |purpose| StreamKey {
            seed,
            replication,
            owner: name,
            replica: 0,
            purpose,
        };
        let zipf = match model.keys {
            KeyModel::Zipf(n, s) => Zipf::new(n as f64, s).ok(),
            KeyModel::Uniform(_) => None,
        };
        Self {
            node,
            model,
            scale: 1.0,
            epoch: 0,
            stopped: false,
            arrival_rng: key("arrivals").rng(),
            attr_rng: key("attrs").rng(),
            think_rng: key("think").rng(),
            zipf,
        }
    }

    /// Schedule the first arrivals (open) or the users' first wake-ups (closed).
    pub fn start(&mut self, ctx: &mut Ctx) {
        match &self.model.source {
            Source::Open { .. } => self.schedule_next_arrival(ctx),
            Source::Closed { users, think } => {
                for user in 0..*users {
                    let t = think.sample(&mut self.think_rng);
                    ctx.queue.schedule_in(
                        t,
                        Event::UserWake {
                            node: self.node,
                            user,
                        },
                    );
                }
            }
        }
    }

    /// Set the traffic multiplier; takes effect at once (Poisson arrivals are memoryless).
    pub fn set_scale(&mut self, scale: f64, ctx: &mut Ctx) {
        self.scale = scale.max(0.0);
        if matches!(self.model.source, Source::Open { .. }) && !self.stopped {
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

    fn schedule_next_arrival(&mut self, ctx: &mut Ctx) {
        let now = ctx.now_ns();
        if let Some(t) = self.next_arrival_after(now) {
            let epoch = self.epoch;
            ctx.queue.schedule(
                crate::engine::SimTime::from_nanos(t),
                Event::Arrival {
                    node: self.node,
                    epoch,
                },
            );
        }
    }

    /// The next arrival time after `t`, or None when the rate stays at zero.
    fn next_arrival_after(&mut self, mut t: u64) -> Option<u64> {
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
        let gap_ns = |rng: &mut Rng, rate: f64| -> f64 {
            match arrivals {
                Arrivals::Poisson => {
                    let e: f64 = Exp1.sample(rng);
                    e / rate * 1e9
                }
                Arrivals::Deterministic => 1e9 / rate,
            }
        };
        if let (RateProfile::Constant, Arrivals::Poisson) = (profile, arrivals) {
            // The common case, without the profile machinery.
            let e: f64 = Exp1.sample(&mut self.arrival_rng);
            let next = t as f64 + e / (rate_per_s * scale) * 1e9;
            return Some((next.round() as u64).max(t + 1));
        }
        if profile.is_piecewise_constant() {
            // Exact: exponential gaps at the current rate, restarted at each change
            // (memorylessness makes the restart exact for Poisson).
            loop {
                let rate = profile.rate_at(*rate_per_s, t) * scale;
                let change = profile.next_change_ns(t);
                if rate <= 0.0 {
                    if change == u64::MAX {
                        return None;
                    }
                    t = change;
                    continue;
                }
                let next = t as f64 + gap_ns(&mut self.arrival_rng, rate);
                if next < change as f64 {
                    return Some((next.round() as u64).max(t + 1));
                }
                t = change;
            }
        }
        // Continuous profiles: thinning (Lewis–Shedler) against the profile's maximum.
        let max = profile.max_rate(*rate_per_s) * scale;
        let mut tf = t as f64;
        loop {
            tf += gap_ns(&mut self.arrival_rng, max);
            if tf >= u64::MAX as f64 / 2.0 {
                return None;
            }
            let rate = profile.rate_at(*rate_per_s, tf as u64) * scale;
            if matches!(arrivals, Arrivals::Deterministic)
                || self.arrival_rng.random::<f64>() * max <= rate
            {
                return Some((tf.round() as u64).max(t + 1));
            }
        }
    }

    /// Draw a request's attributes.
    fn draw_attrs(&mut self, now: u64, counted: bool, session: u32) -> RequestAttrs {
        let u: f64 = self.attr_rng.random();
        let class = self
            .model
            .mix_cumulative
            .partition_point(|&c| c <= u)
            .min(self.model.mix_cumulative.len() - 1) as u8;
        let key = match (self.model.keys, &self.zipf) {
            (KeyModel::Zipf(..), Some(z)) => z.sample(&mut self.attr_rng) as u64,
            (KeyModel::Uniform(n), _) | (KeyModel::Zipf(n, _), None) => {
                self.attr_rng.random_range(1..=n.max(1))
            }
        };
        let region = if self.model.regions.is_empty() {
            0
        } else {
            let u: f64 = self.attr_rng.random();
            self.model
                .regions
                .partition_point(|r| r.1 <= u)
                .min(self.model.regions.len() - 1) as u8
        };
        let session = if session != 0 {
            session
        } else if self.model.sessions > 0 {
            self.attr_rng.random_range(1..=self.model.sessions)
        } else {
            0
        };
        RequestAttrs {
            class,
            region,
            counted,
            session,
            key,
            workload: self.node,
            arrived_ns: now,
        }
    }

    /// Send one request; returns false when it was rejected by the in-flight cap.
    fn send_request(&mut self, user: u32, ctx: &mut Ctx, max_in_flight: usize) -> bool {
        let now = ctx.now_ns();
        let counted = ctx.env.window.counts(now);
        let attrs = self.draw_attrs(now, counted, if user == u32::MAX { 0 } else { user + 1 });
        ctx.stats.arrive(now, counted);
        if ctx.calls.len() >= max_in_flight {
            ctx.stats
                .finish(now, now, counted, Err(ErrorCause::Overload));
            return false;
        }
        let mut call = Call::new(attrs, None, self.node, self.model.to, ANY_REPLICA, 1);
        call.tag = user;
        ctx.send(call, 0, 0, self.model.timeout_ns);
        true
    }

    /// An open-loop arrival. Returns whether a request was counted (for request budgets) and
    /// whether it was rejected by the in-flight cap.
    pub fn on_arrival(&mut self, epoch: u32, ctx: &mut Ctx, max_in_flight: usize) -> (bool, bool) {
        if epoch != self.epoch || self.stopped {
            return (false, false);
        }
        let now = ctx.now_ns();
        if now >= ctx.env.window.duration_ns {
            self.stopped = true;
            return (false, false);
        }
        let counted = ctx.env.window.counts(now);
        let accepted = self.send_request(u32::MAX, ctx, max_in_flight);
        self.schedule_next_arrival(ctx);
        (counted, !accepted)
    }

    /// A closed-loop user is ready to send. Same returns as [`Client::on_arrival`].
    pub fn on_user_wake(&mut self, user: u32, ctx: &mut Ctx, max_in_flight: usize) -> (bool, bool) {
        let now = ctx.now_ns();
        if self.stopped || now >= ctx.env.window.duration_ns {
            return (false, false);
        }
        let counted = ctx.env.window.counts(now);
        let accepted = self.send_request(user, ctx, max_in_flight);
        if !accepted {
            self.think(user, ctx);
        }
        (counted, !accepted)
    }

    fn think(&mut self, user: u32, ctx: &mut Ctx) {
        if let Source::Closed { think, .. } = &self.model.source {
            let t = think.sample(&mut self.think_rng);
            ctx.queue.schedule_in(
                t,
                Event::UserWake {
                    node: self.node,
                    user,
                },
            );
        }
    }

    /// The answer to a request (or its timeout) reached the client.
    pub fn on_reply(&mut self, call: &Call, outcome: Result<(), ErrorCause>, ctx: &mut Ctx) {
        let now = ctx.now_ns();
        ctx.stats
            .finish(now, call.attrs.arrived_ns, call.attrs.counted, outcome);
        if call.tag != u32::MAX {
            self.think(call.tag, ctx);
        }
    }
}
