//! The service kind as files write it (`Service(...)`, its `Call`s) and as validation leaves
//! it ([`ServiceModel`]). How it runs: `components/service.rs`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Edge, KindModel, KindSpec};
use crate::dist::{Dist, Sampler};
use crate::topology::model::NodeId;
use crate::topology::validate::{KindCx, MAX_REPLICAS};
use crate::units::{Capacity, Duration, QueueLimit};

/// Most downstream calls one service may list (a call's progress is kept in a byte).
pub const MAX_CALLS: usize = 255;

fn one() -> Capacity {
    Capacity::Limited(1)
}
fn one_u32() -> u32 {
    1
}
fn unlimited_queue() -> QueueLimit {
    QueueLimit(Capacity::Unlimited)
}
fn probability_one() -> f64 {
    1.0
}
fn yes() -> bool {
    true
}

/// How a service instance holds threads while it waits on downstream calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum ServerModel {
    /// Thread-per-request (Tomcat, Puma, Gunicorn sync): the thread stays taken until the
    /// answer is sent, including while waiting on downstream calls.
    #[default]
    ThreadPool,
    /// Event loop (Node.js, nginx, async Rust): the thread is released while waiting on
    /// downstream calls.
    Async,
}

/// How a service issues its downstream calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum CallMode {
    /// One after the other, in the order listed; the first failure fails the request.
    #[default]
    Sequential,
    /// All at once (fan-out); answer when all return, or at the first failure.
    Parallel,
}

/// What an answer said beyond success: the value a component answers with. A cache answers
/// `Hit` or `Miss`; a read from a lagging replica `Stale` or `Fresh`; most kinds answer `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum AnswerValue {
    /// Nothing beyond success.
    #[default]
    None,
    /// Found (a cache hit).
    Hit,
    /// Not found (a cache miss).
    Miss,
    /// Served from data older than the latest write (a lagging replica).
    Stale,
    /// Served from up-to-date data.
    Fresh,
}

impl AnswerValue {
    /// Every value, in code order.
    pub const ALL: [AnswerValue; 5] = [
        AnswerValue::None,
        AnswerValue::Hit,
        AnswerValue::Miss,
        AnswerValue::Stale,
        AnswerValue::Fresh,
    ];

    /// The byte an answer carries.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The value of an answer's byte (unknown bytes read as `None`).
    pub fn from_code(code: u8) -> Self {
        Self::ALL
            .get(usize::from(code))
            .copied()
            .unwrap_or(AnswerValue::None)
    }
}

/// What a call asks of a data store (a cache): `Call(to: "cache", op: Set)`. Kinds that hold
/// no data ignore it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Op {
    /// Look the key up (Redis GET): the answer is `Hit` or `Miss`.
    Get,
    /// Store the request's value under its key, with its class's TTL (Redis SET ... EX): a
    /// cache fill.
    Set,
    /// Remove the key (Redis DEL): an invalidation.
    Delete,
}

impl Op {
    /// The byte a call carries ([`crate::components::RequestAttrs::op`]); 0 is "the request's
    /// own operation".
    pub fn code(self) -> u8 {
        match self {
            Op::Get => 1,
            Op::Set => 2,
            Op::Delete => 3,
        }
    }
}

/// A service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Number of instances, each with its own queue, threads and CPUs. Without a load balancer
    /// in front, callers spread requests over them at random (like kube-proxy). At most
    /// 100 000. Live: a running simulation takes `Replicas(component: NAME, count: N)` or
    /// `Set(path: "components.NAME.replicas", value: "N")`.
    #[serde(default = "one_u32")]
    pub replicas: u32,
    /// Worker threads per instance: requests in service at once (Tomcat `maxThreads`).
    #[serde(default = "one")]
    pub threads: Capacity,
    /// CPU cores per instance; the CPU work of requests holding a thread is served on them,
    /// first come first served.
    #[serde(default = "one")]
    pub cpus: Capacity,
    /// Whether a request keeps its thread while waiting on downstream calls.
    #[serde(default)]
    pub server: ServerModel,
    /// CPU work per request (default for every class).
    #[serde(default)]
    pub cpu: Dist,
    /// CPU work for particular request classes, overriding `cpu`.
    #[serde(default)]
    pub cpu_by_class: BTreeMap<String, Dist>,
    /// Requests waiting for a thread, per instance, beyond which new ones are rejected with
    /// `queue_full` (Tomcat `acceptCount`); 0 rejects as soon as every thread is busy.
    /// Default: unlimited.
    #[serde(default = "unlimited_queue")]
    pub queue_limit: QueueLimit,
    /// Downstream calls made after the CPU work, before answering (at most 255).
    #[serde(default)]
    pub calls: Vec<Call>,
    /// Whether `calls` run one after another or all at once.
    #[serde(default)]
    pub call_mode: CallMode,
}

/// A downstream call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Call {
    /// The component called.
    pub to: String,
    /// Chance that a request makes this call (0 to 1).
    #[serde(default = "probability_one")]
    pub probability: f64,
    /// Only requests of these classes make this call; empty = all classes.
    #[serde(default)]
    pub classes: Vec<String>,
    /// Make this call only when the last answer this request waited for that carried a
    /// value (not `None`) carried this one. A plain success (a service's, a database's `None`) does not replace what a cache
    /// answered, so cache-aside reads `[Call(to: "cache"), Call(to: "db", when: Miss),
    /// Call(to: "cache", op: Set, wait: false, when: Miss)]`: both the read and the fill
    /// depend on the miss. Sequential calls only; not on the first call. Default: always.
    #[serde(default)]
    pub when: Option<AnswerValue>,
    /// The caller gives up after this long (the callee keeps working). Default: never.
    #[serde(default)]
    pub timeout: Option<Duration>,
    /// One-way network latency of the call, added on the way there and on the way back.
    /// Default: none.
    #[serde(default)]
    pub latency: Option<Dist>,
    /// Wait for the answer before going on (true), or fire and forget (false): the call runs
    /// on after the service has answered — an audit log, a cache fill, a write-behind flush —
    /// and its failures do not fail the request.
    #[serde(default = "yes")]
    pub wait: bool,
    /// What the call asks of a data store it reaches (a cache): `Get`, `Set` (a fill) or
    /// `Delete` (an invalidation). Default: the request's own operation — a reading class
    /// gets, a writing class writes (the cache's `on_write`). Cache-aside is
    /// `[Call(to: "cache"), Call(to: "db", when: Miss), Call(to: "cache", op: Set, wait: false, when: Miss)]`.
    /// Other kinds ignore it.
    #[serde(default)]
    pub op: Option<Op>,
}

/// A validated service.
#[derive(Debug, Clone)]
pub struct ServiceModel {
    /// Instances.
    pub replicas: u32,
    /// Threads per instance (`u32::MAX` = unlimited).
    pub threads: u32,
    /// CPUs per instance (`u32::MAX` = unlimited).
    pub cpus: u32,
    /// Thread pool or async.
    pub server: ServerModel,
    /// CPU work by class id.
    pub cpu: Vec<Sampler>,
    /// Queue limit per instance (`u32::MAX` = unlimited).
    pub queue_limit: u32,
    /// Downstream calls.
    pub calls: Vec<CallModel>,
    /// Sequential or parallel.
    pub call_mode: CallMode,
}

/// A validated downstream call.
#[derive(Debug, Clone)]
pub struct CallModel {
    /// Callee.
    pub to: NodeId,
    /// Chance of making it.
    pub probability: f64,
    /// Bit i set = class i makes this call; all bits set when unrestricted.
    pub class_mask: u64,
    /// Made only when the previous waited-for answer carried this value's code.
    pub when: Option<u8>,
    /// Caller-side timeout, ns.
    pub timeout_ns: Option<u64>,
    /// One-way latency.
    pub latency: Option<Sampler>,
    /// Whether the caller waits for the answer (false: fire and forget).
    pub wait: bool,
    /// What it asks of a data store ([`Op::code`]; 0: the request's own operation).
    pub op: u8,
}

impl KindSpec for Service {
    type Model = ServiceModel;

    fn instances(&self) -> u32 {
        self.replicas.clamp(1, MAX_REPLICAS)
    }

    fn validate(&self, cx: &mut KindCx<'_, '_>) -> ServiceModel {
        if self.replicas == 0 {
            cx.error(
                "replicas",
                "replicas",
                "a service needs at least 1 replica".into(),
                "e.g. replicas: 2".into(),
            );
        }
        if self.replicas > MAX_REPLICAS {
            cx.error(
                "replicas",
                "replicas",
                format!(
                    "{} replicas is more than the {MAX_REPLICAS} this simulator can hold (each replica is simulated on its own)",
                    self.replicas
                ),
                "use fewer replicas with more threads and cpus each".into(),
            );
        }
        let base_cpu = cx.sampler(&self.cpu, "cpu", "cpu");
        let mut cpu = vec![base_cpu; cx.classes().len()];
        for (class, dist) in &self.cpu_by_class {
            let path = format!("cpu_by_class.{class}");
            let sampler = cx.sampler(dist, "cpu_by_class", &path);
            if let Some(i) = cx.class_id(class, "cpu_by_class", &path) {
                cpu[i] = sampler;
            }
        }
        if self.calls.len() > MAX_CALLS {
            cx.error(
                "calls",
                "calls",
                format!(
                    "{} calls; a service makes at most {MAX_CALLS}",
                    self.calls.len()
                ),
                "put a service in between that makes some of them".into(),
            );
        }
        let mut calls = Vec::new();
        for (i, call) in self.calls.iter().enumerate() {
            let cp = format!("calls.{i}");
            let to = cx.resolve(&call.to, "to", &format!("{cp}.to"));
            if !(0.0..=1.0).contains(&call.probability) {
                cx.error(
                    "probability",
                    &format!("{cp}.probability"),
                    format!("a probability is between 0 and 1, got {}", call.probability),
                    "e.g. probability: 0.2 for one request in five".into(),
                );
            }
            let mut class_mask = if call.classes.is_empty() { u64::MAX } else { 0 };
            for cl in &call.classes {
                if let Some(id) = cx.class_id(cl, "classes", &format!("{cp}.classes")) {
                    class_mask |= 1 << id;
                }
            }
            if call.when.is_some() && (i == 0 || self.call_mode == CallMode::Parallel) {
                cx.error(
                    "when",
                    &format!("{cp}.when"),
                    if i == 0 {
                        "the first call has no previous answer to depend on".into()
                    } else {
                        "`when` needs call_mode: Sequential (parallel calls have no previous answer)"
                            .into()
                    },
                    "put the call it depends on before it, in Sequential mode".into(),
                );
            }
            if call.timeout == Some(Duration::ZERO) {
                cx.error(
                    "timeout",
                    &format!("{cp}.timeout"),
                    "a timeout must be positive (or left out)".into(),
                    "e.g. timeout: \"500ms\"".into(),
                );
            }
            let latency = call
                .latency
                .as_ref()
                .map(|d| cx.sampler(d, "latency", &format!("{cp}.latency")));
            if let Some(to) = to {
                calls.push(CallModel {
                    to,
                    probability: call.probability,
                    class_mask,
                    when: call.when.map(AnswerValue::code),
                    timeout_ns: call.timeout.map(Duration::as_nanos),
                    latency,
                    wait: call.wait,
                    op: call.op.map_or(0, Op::code),
                });
            }
        }
        ServiceModel {
            replicas: self.replicas.clamp(1, MAX_REPLICAS),
            threads: self.threads.get(),
            cpus: self.cpus.get(),
            server: self.server,
            cpu,
            queue_limit: self.queue_limit.get(),
            calls,
            call_mode: self.call_mode,
        }
    }
}

impl KindModel for ServiceModel {
    fn edges(&self) -> Vec<Edge> {
        self.calls
            .iter()
            .map(|c| Edge {
                to: c.to,
                always: c.probability >= 1.0
                    && c.class_mask == u64::MAX
                    && c.wait
                    && c.when.is_none(),
                waits: c.wait && c.timeout_ns.is_none(),
            })
            .collect()
    }

    fn keeps_threads_while_waiting(&self) -> bool {
        self.server == ServerModel::ThreadPool
            && self.threads != u32::MAX
            && self.queue_limit > 0
            && self.calls.iter().any(|c| c.wait)
    }

    fn instances(&self) -> u32 {
        self.replicas
    }

    fn scalable(&self) -> bool {
        true
    }

    fn holds_work(&self) -> bool {
        true
    }
}
