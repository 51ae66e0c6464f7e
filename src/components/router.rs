//! An L7 router (an API gateway, a Kubernetes ingress): each request goes to the component of
//! the first route that matches its class and region, else to the default route; with no
//! default, it fails with `no_route` (the ingress's 404).
//!
//! The router is a proxy like the load balancer: it adds its per-request overhead on the way
//! in, then answers its caller with whatever the route's component answered, value included.
//! Routes are looked up in a table by (class, region) built at validation, so a request costs
//! one index, however many rules there are.
//!
//! This file and `topology/kinds/router.rs` are the worked example of docs/ARCHITECTURE.md,
//! *Adding a component kind*.

use super::{
    Answer, Build, Call, CallId, CommandError, CommandInfo, Component, Ctx, FigureInfo, FigureUnit,
    KindMeta, Liveness, NodeCalls, NodeCommand, Side, Timer, Waits, call_name,
};
use crate::engine::{Rng, StreamKey};
use crate::metrics::report::Figures;
use crate::metrics::{ErrorCause, NodeStats, Window};
use crate::topology::NodeId;
use crate::topology::kinds::router::RouterModel;

/// A running router.
#[derive(Debug)]
pub struct Router {
    /// Its node id.
    pub node: NodeId,
    model: RouterModel,
    /// Overhead draws (stream "route").
    rng: Rng,
    /// Its own error cause, for requests no route takes.
    no_route: ErrorCause,
    /// Counted requests sent down each route (rule order, then the default).
    pub routed: Vec<u64>,
    /// Counted requests no route took.
    pub unrouted: u64,
    /// Up or killed.
    liveness: Liveness,
}

impl Component for Router {
    type Model = RouterModel;

    const META: KindMeta = KindMeta {
        label: "Router",
        summary: "L7 routing as an API gateway or ingress does it: by request class or region, with a default route.",
        commands: &[
            CommandInfo {
                name: "kill",
                summary: "Take the router down: the requests it holds and those sent to it fail with instance_down.",
            },
            CommandInfo {
                name: "revive",
                summary: "Bring the router back.",
            },
        ],
        error_causes: &["no_route"],
        figures: &[
            FigureInfo {
                name: "routed",
                summary: "Counted requests sent down each route, by the component it goes to (rules to the same component add up; the default route counts under its component).",
                unit: FigureUnit::Shares,
                column: Some("routed"),
            },
            FigureInfo {
                name: "unrouted",
                summary: "Counted requests no route took (they failed with no_route).",
                unit: FigureUnit::Count,
                column: Some("unrouted"),
            },
        ],
        series: &[],
        example: r#"Router(routes: [Route(classes: ["default"], to: "backend")])"#,
    };

    fn build(model: &RouterModel, b: &Build<'_>) -> Self {
        Self {
            node: b.node,
            routed: vec![0; model.targets.len()],
            unrouted: 0,
            liveness: Liveness::default(),
            model: model.clone(),
            rng: StreamKey {
                seed: b.seed,
                replication: b.replication,
                owner: b.name,
                replica: 0,
                purpose: "route",
            }
            .rng(),
            no_route: b.cause("no_route"),
        }
    }

    /// A request arrives: do the per-request work, then route it.
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
            self.route(id, ctx);
        } else {
            ctx.call_timer(Timer::new(overhead), id, 0, Side::Callee);
        }
    }

    /// The route's component answered: pass its answer back.
    fn on_answer(&mut self, answer: Answer, ctx: &mut Ctx<'_>) {
        if let Some(parent) = answer.parent {
            ctx.reply(parent, answer.outcome);
        }
    }

    fn figures(&self, _stats: &NodeStats, _window: &Window, _end_ns: u64) -> Figures {
        let mut routed: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
        for (name, n) in self.model.target_names.iter().zip(&self.routed) {
            *routed.entry(name.as_str()).or_default() += n;
        }
        let mut f = Figures::new();
        f.insert("routed".into(), serde_json::json!(routed));
        f.insert("unrouted".into(), serde_json::json!(self.unrouted));
        f
    }

    /// The overhead is over: route.
    fn on_call_timer(&mut self, id: CallId, _replica: u32, _arg: u32, ctx: &mut Ctx<'_>) {
        self.route(id, ctx);
    }

    fn on_command(&mut self, cmd: NodeCommand, ctx: &mut Ctx<'_>) -> Result<(), CommandError> {
        self.liveness.command(self.node, Self::META.label, cmd, ctx)
    }

    /// Each request forwarded waits on its one call out ([`super::proxy_waits`]).
    fn waits(&self, calls: NodeCalls<'_>) -> Waits {
        super::proxy_waits(calls)
    }

    /// A request has at most one call out; a router that is down holds no unanswered
    /// request.
    fn check_invariants(&self, calls: NodeCalls<'_>, stats: &NodeStats) -> Result<(), String> {
        let _ = stats;
        let mut parents: Vec<CallId> = calls.made().iter().filter_map(|(_, c)| c.parent).collect();
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

impl Router {
    /// The model it runs.
    pub fn model(&self) -> &RouterModel {
        &self.model
    }

    /// Send the call down its route, or refuse it.
    fn route(&mut self, id: CallId, ctx: &mut Ctx<'_>) {
        let Some(call) = ctx.call(id) else {
            return;
        };
        if call.outcome.is_some() {
            return;
        }
        let (attrs, hops, counted) = (call.attrs, call.hops, call.counted);
        let Some(route) = self.model.route(attrs.class, attrs.region) else {
            self.unrouted += u64::from(counted);
            ctx.refuse(id, self.no_route);
            return;
        };
        self.routed[route] += u64::from(counted);
        let mut child = Call::new(
            attrs,
            Some(id),
            self.node,
            self.model.targets[route],
            super::ANY_REPLICA,
            hops.saturating_add(1),
        );
        child.tag = route as u32;
        ctx.send(child, 0, 0, None);
    }
}
