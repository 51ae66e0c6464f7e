//! The load-balancer kind as files write it (`LoadBalancer(...)`) and as validation leaves it
//! ([`LoadBalancerModel`]: one backend per instance of each named component). How it runs:
//! `components/load_balancer.rs`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{CommandCx, Edge, Finishes, KindModel, KindSpec, OwnCommand, OwnCommandInfo};
use crate::dist::{Dist, Sampler};
use crate::topology::events::{CommandArgs, Refusal};
use crate::topology::model::NodeId;
use crate::topology::validate::KindCx;
use crate::units::Duration;

/// Load-balancing policy (nginx names where nginx has one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum Policy {
    /// Each backend in turn; with `weights`, nginx's smooth weighted round robin.
    #[default]
    RoundRobin,
    /// Fewest active connections divided by weight; ties by weighted round robin (nginx
    /// `least_conn`).
    LeastConn,
    /// Sticky: the request's session id (or its key when the workload has no sessions) picks
    /// the backend (nginx `ip_hash`).
    IpHash,
    /// A backend chosen at random, in proportion to weight.
    Random,
    /// Two backends drawn at random; the one with fewer active connections wins (nginx
    /// `random two least_conn`).
    PowerOfTwo,
    /// Peak-EWMA power of two choices (Linkerd, Finagle): each backend keeps a moving
    /// average of its response time that jumps up to a slower response at once and decays
    /// toward faster ones with time constant `ewma_decay`; two backends are drawn at random
    /// and the one with the lower cost, average × (active connections + 1) / weight, wins.
    PeakEwma,
}

/// Protocol layer of a load balancer, which sets its default per-hop overhead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum Layer {
    /// TCP-level forwarding: 20 µs per hop by default.
    L4,
    /// HTTP proxying (parses requests, can route by path): 150 µs per hop by default.
    #[default]
    L7,
}

impl Layer {
    /// The per-request overhead when none is given.
    pub fn default_overhead(self) -> Dist {
        match self {
            Layer::L4 => Dist::Const(Duration::from_nanos(20_000)),
            Layer::L7 => Dist::Const(Duration::from_nanos(150_000)),
        }
    }
}

/// A load balancer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancer {
    /// Backends: components by name. A service's replicas each become one backend.
    pub backends: Vec<String>,
    /// How the backend is picked.
    #[serde(default)]
    pub policy: Policy,
    /// Weights by backend name (all replicas of a service share it); default 1.
    #[serde(default)]
    pub weights: BTreeMap<String, u32>,
    /// L4 or L7; sets the default `overhead`.
    #[serde(default)]
    pub layer: Layer,
    /// Processing time the balancer adds to each request (on the way in). Default: by `layer`.
    #[serde(default)]
    pub overhead: Option<Dist>,
    /// `PeakEwma`: the time constant with which a backend's average response time decays
    /// toward faster responses (Linkerd's default, 10 s).
    #[serde(default = "default_ewma_decay")]
    pub ewma_decay: Duration,
}

fn default_ewma_decay() -> Duration {
    Duration::from_nanos(10_000_000_000)
}

/// A validated load balancer.
#[derive(Debug, Clone)]
pub struct LoadBalancerModel {
    /// Backends in order.
    pub backends: Vec<Backend>,
    /// Policy.
    pub policy: Policy,
    /// Per-request overhead.
    pub overhead: Sampler,
    /// `PeakEwma`'s decay time constant, ns.
    pub ewma_decay_ns: u64,
}

/// One backend of a load balancer.
#[derive(Debug, Clone, Copy)]
pub struct Backend {
    /// The component.
    pub node: NodeId,
    /// A particular instance of the component, or `None` for the component as a whole.
    pub replica: Option<u32>,
    /// nginx weight.
    pub weight: u32,
}

impl KindSpec for LoadBalancer {
    type Model = LoadBalancerModel;

    fn validate(&self, cx: &mut KindCx<'_, '_>) -> LoadBalancerModel {
        if self.backends.is_empty() {
            cx.error(
                "backends",
                "backends",
                "a load balancer needs at least one backend".into(),
                "e.g. backends: [\"web\"]".into(),
            );
        }
        for w in self.weights.keys() {
            if !self.backends.contains(w) {
                let hint = cx.suggest(w, self.backends.iter().map(String::as_str));
                cx.error(
                    "weights",
                    &format!("weights.{w}"),
                    format!("`{w}` is not one of the backends"),
                    hint.unwrap_or_else(|| {
                        format!(
                            "weights name backends: {}",
                            self.backends
                                .iter()
                                .map(|b| format!("`{b}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }),
                );
            }
        }
        let mut backends = Vec::new();
        for (i, b) in self.backends.iter().enumerate() {
            let weight = self.weights.get(b).copied().unwrap_or(1);
            if weight == 0 {
                cx.error(
                    "weights",
                    &format!("weights.{b}"),
                    "a weight must be at least 1".into(),
                    "remove the backend to stop sending to it".into(),
                );
            }
            let Some(id) = cx.resolve(b, "backends", &format!("backends.{i}")) else {
                continue;
            };
            // One backend per instance, so the balancer picks the instance.
            for r in 0..cx.instances_of(b) {
                backends.push(Backend {
                    node: id,
                    replica: Some(r),
                    weight: weight.max(1),
                });
            }
        }
        let overhead = cx.sampler(
            self.overhead
                .as_ref()
                .unwrap_or(&self.layer.default_overhead()),
            "overhead",
            "overhead",
        );
        if self.ewma_decay.as_nanos() == 0 {
            cx.error(
                "ewma_decay",
                "ewma_decay",
                "`ewma_decay` must be longer than 0".into(),
                "Linkerd's default is \"10s\"; a shorter one forgets slow responses sooner".into(),
            );
        }
        LoadBalancerModel {
            backends,
            policy: self.policy,
            overhead,
            ewma_decay_ns: self.ewma_decay.as_nanos().max(1),
        }
    }
}

impl KindModel for LoadBalancerModel {
    fn edges(&self) -> Vec<Edge> {
        let mut v: Vec<Edge> = self
            .backends
            .iter()
            .map(|b| Edge {
                to: b.node,
                always: false,
                waits: true,
            })
            .collect();
        v.dedup();
        v
    }

    fn finishes(&self) -> Finishes {
        Finishes::WhenAnyFinishes
    }

    fn reads_keys(&self) -> bool {
        // ip_hash hashes the key when a request has no session.
        self.policy == Policy::IpHash
    }

    const OWN_COMMANDS: &'static [OwnCommandInfo] = &[
        OwnCommandInfo {
            name: "backend_down",
            summary: "Mark a backend (one instance, or all of it) down, as nginx's `down` on an upstream server: it gets no new requests and finishes what it holds; with every backend down, requests fail with no_live_upstreams.",
            args: &[
                ("backend", "the backend component, by name"),
                (
                    "instance",
                    "its instance (0-based); default: every instance",
                ),
            ],
        },
        OwnCommandInfo {
            name: "backend_up",
            summary: "Put a backend marked down back into rotation.",
            args: &[
                ("backend", "the backend component, by name"),
                (
                    "instance",
                    "its instance (0-based); default: every instance",
                ),
            ],
        },
    ];

    fn resolve_command(
        &self,
        name: &str,
        args: &CommandArgs,
        cx: &CommandCx<'_>,
    ) -> Result<OwnCommand, Refusal> {
        let code = Self::OWN_COMMANDS
            .iter()
            .position(|c| c.name == name)
            .unwrap_or(0) as u8;
        let refuse = |message: String, hint: &str| Refusal {
            message,
            hint: Some(hint.into()),
        };
        if let Some(k) = args.keys().find(|k| *k != "backend" && *k != "instance") {
            return Err(refuse(
                format!("`{name}` takes no argument `{k}`"),
                "its arguments: backend, instance",
            ));
        }
        let Some(backend) = args.get("backend") else {
            return Err(refuse(
                format!("`{name}` needs the backend"),
                "args: {\"backend\": \"web\"} (and \"instance\": 1 for one instance)",
            ));
        };
        let Some(node) = backend
            .as_str()
            .and_then(|b| (cx.node_id)(b))
            .filter(|id| self.backends.iter().any(|b| b.node == *id))
        else {
            return Err(refuse(
                format!("{backend} is not a backend of this balancer"),
                "name one of the components in its `backends`",
            ));
        };
        let instance = match args.get("instance") {
            None => u64::MAX,
            Some(v) => {
                let n = (cx.instances)(node);
                match v.as_u64() {
                    Some(i) if i < u64::from(n) => i,
                    _ => {
                        return Err(refuse(
                            format!("instance {v} does not exist: the backend has {n}"),
                            &format!("instances are numbered 0 to {}", n.saturating_sub(1)),
                        ));
                    }
                }
            }
        };
        Ok(OwnCommand {
            code,
            args: [u64::from(node), instance],
        })
    }
}
