//! The topology file's schema: serde types that mirror the RON text one to one.
//!
//! This is the single source of truth for fields: their names, defaults and documentation
//! (the doc comments) feed the parser, `--set` overrides, did-you-mean hints and the generated
//! model reference (docs/MODEL_REFERENCE.md). Nothing here is checked beyond its own type;
//! cross-references are resolved in `validate`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::events::Command;
pub use super::expect::{Expect, ExpectValue};
pub use super::kinds::Component;
pub use super::kinds::load_balancer::{Layer, LoadBalancer, Policy};
pub use super::kinds::router::{Route, Router};
pub use super::kinds::service::{AnswerValue, Call, CallMode, Op, ServerModel, Service};
use crate::dist::{Dist, SizeDist};
use crate::units::{Duration, Rate};

/// The file format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

fn format_version() -> u32 {
    FORMAT_VERSION
}
fn default_duration() -> Duration {
    Duration::from_nanos(60 * 1_000_000_000)
}
fn default_seed() -> u64 {
    1
}
fn default_rate() -> Rate {
    Rate::per_s(100.0).unwrap_or_else(|_| unreachable!())
}
fn default_users() -> u32 {
    10
}
fn default_think() -> Dist {
    Dist::Exp {
        mean: Duration::from_nanos(1_000_000_000),
    }
}
fn default_max_in_flight() -> u32 {
    1_000_000
}
fn default_drain() -> Duration {
    Duration::from_nanos(300 * 1_000_000_000)
}
fn default_max_hops() -> u32 {
    32
}
fn default_window() -> Duration {
    Duration::from_nanos(1_000_000_000)
}
fn default_max_points() -> u32 {
    1000
}

/// A whole model: workloads that send requests into components, run for a while, judged
/// against optional SLO targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "Topology")]
pub struct TopologySpec {
    /// File format version (this build reads and writes 1).
    #[serde(default = "format_version")]
    pub format_version: u32,
    /// The model's name (defaults to the file name).
    #[serde(default)]
    pub name: String,
    /// What the model shows, in a sentence or two (the GUI shows it; saving keeps it).
    #[serde(default)]
    pub description: String,
    /// What to watch when it runs, and what to try next.
    #[serde(default)]
    pub look_for: String,
    /// Simulated time during which requests arrive; in-flight work then drains.
    #[serde(default = "default_duration")]
    pub duration: Duration,
    /// Requests arriving before this time are not counted (the system warms up from empty).
    /// Default: a tenth of `duration`.
    #[serde(default)]
    pub warmup: Option<Duration>,
    /// Stop new arrivals once this many requests have been counted (after warm-up), even if
    /// `duration` has not passed. Default: no limit.
    #[serde(default)]
    pub requests: Option<u64>,
    /// Seed of every random stream; the same seed gives the same run, byte for byte.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Sources of requests, by name.
    #[serde(default)]
    pub workloads: BTreeMap<String, Workload>,
    /// The components requests flow through, by name.
    #[serde(default)]
    pub components: BTreeMap<String, Component>,
    /// What the request classes do to data, by class name (the classes are the keys of the
    /// workloads' `mix`), e.g. `{"write": RequestClass(op: Write, size: Const("4KB"))}`.
    /// A class left out reads (writes, when it is named "write") values of 1 KB.
    #[serde(default)]
    pub classes: BTreeMap<String, RequestClass>,
    /// The regions components run in and requests come from, by name, each with its
    /// availability zones, e.g. `{"eu-west": Region(zones: ["eu-west-1a", "eu-west-1b"]),
    /// "us-east": Region()}`. When given, the workloads' `regions` shares must name regions
    /// listed here; when left out, the regions are the names the workloads' shares use.
    /// Zone names are unique across regions.
    #[serde(default)]
    pub regions: BTreeMap<String, Region>,
    /// One-way network latency between two regions, e.g. `[("eu-west", "us-east", "40ms")]`
    /// (symmetric; a pair not listed has none). A call between components placed in
    /// different regions pays it on the way there and again on the way back, on top of the
    /// call's own `latency`; a workload's request pays it from the region it was drawn from
    /// to the region of the component it enters.
    #[serde(default)]
    pub region_latency: Vec<(String, String, Duration)>,
    /// One-way latency of a call between components placed in different zones of one region
    /// (paid both ways, like `region_latency`). Default: none.
    #[serde(default)]
    pub zone_latency: Duration,
    /// Where each component runs: a zone (`"eu-west-1a"`) or a region (`"us-east"`), e.g.
    /// `{"web": "eu-west-1a", "db": "us-east"}`. A component left out has no place: it pays
    /// no latency to anyone, and no zone or region outage reaches it.
    #[serde(default)]
    pub placement: BTreeMap<String, String>,
    /// Service-level objectives the run is judged against (exit code 1 when one fails).
    #[serde(default)]
    pub slo: Option<Slo>,
    /// Safety limits that turn overload into counted rejections instead of exhausted memory.
    #[serde(default)]
    pub limits: Limits,
    /// Time-series settings.
    #[serde(default)]
    pub metrics: Metrics,
    /// Commands applied at set times while the model runs, e.g.
    /// `[("30s", Kill(component: "web", instance: 1)), ("60s", Revive(component: "web", instance: 1))]`.
    /// A command applies before anything else that happens at its instant; commands at the
    /// same instant apply in the order listed. A live session in the GUI saves what it did
    /// here, so it replays exactly.
    #[serde(default)]
    pub events: Vec<(Duration, Command)>,
    /// What `look_for` promises, as figures the run checks, e.g.
    /// `[Expect(metric: "end_to_end.latency_s.p99", near: "46ms", within: "10%")]`. `run`
    /// reports whether each holds (the JSON's `expectations`); they fail the verdict only
    /// under `--check-expect`. Lessons build on them.
    #[serde(default)]
    pub expect: Vec<Expect>,
}

/// What requests of one class do to data stores (caches, databases).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RequestClass {
    /// Whether it reads or writes the value of its key. Default: a class named "write"
    /// writes, every other class reads.
    #[serde(default)]
    pub op: Option<Operation>,
    /// The size of the value it reads or writes, e.g. `Const("2KB")` or
    /// `LogNormal(median: "1KB", p99: "64KB")`. A key keeps one size per class for the whole
    /// run (drawn from this distribution by hashing the key), so a value filled twice takes
    /// the same memory twice. At most 4 GiB. Default: 1 KB.
    #[serde(default)]
    pub size: SizeDist,
}

/// What a request does to the value of its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Operation {
    /// Reads it: a cache looks it up (GET).
    Read,
    /// Writes it: a cache invalidates or updates it (its `on_write`).
    Write,
}

/// A region: a group of availability zones close to each other.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// Its availability zones (names unique across the model), e.g.
    /// `["eu-west-1a", "eu-west-1b"]`; components may be placed in one.
    #[serde(default)]
    pub zones: Vec<String>,
}

/// A source of requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub enum Workload {
    /// Open loop: requests arrive at a rate whatever the system does (a public website).
    Open(OpenWorkload),
    /// Closed loop: a fixed population of users, each waiting for its answer and thinking
    /// before the next request (a load test with N virtual users).
    Closed(ClosedWorkload),
}

/// Open-loop arrivals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenWorkload {
    /// The component that receives the requests.
    pub to: String,
    /// Mean arrival rate (the base that `profile` shapes). Live: a running simulation takes
    /// `Set(path: "workloads.NAME.rate", value: "4000/s")`.
    #[serde(default = "default_rate")]
    pub rate: Rate,
    /// How the rate changes over time.
    #[serde(default)]
    pub profile: Profile,
    /// Arrival process: Poisson (exponential gaps) or Deterministic (even gaps).
    #[serde(default)]
    pub arrivals: Arrivals,
    /// Request classes and their shares, e.g. `{"read": 0.9, "write": 0.1}` (must sum to 1).
    /// Default: one class named "default".
    #[serde(default)]
    pub mix: BTreeMap<String, f64>,
    /// Popularity of the keys requests touch.
    #[serde(default)]
    pub keys: Keys,
    /// Number of distinct sessions requests belong to (uniformly); 0 = no session ids.
    #[serde(default)]
    pub sessions: u32,
    /// Regions requests come from and their shares (must sum to 1), named from the model's
    /// `regions` when it lists them; empty = no region.
    #[serde(default)]
    pub regions: BTreeMap<String, f64>,
    /// The client gives up after this long and counts a timeout; the system keeps working
    /// on the abandoned request. Default: never.
    #[serde(default)]
    pub timeout: Option<Duration>,
}

/// Closed-loop users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosedWorkload {
    /// The component that receives the requests.
    pub to: String,
    /// Number of users, each with at most one request outstanding.
    #[serde(default = "default_users")]
    pub users: u32,
    /// Think time between an answer and the user's next request (users start after one
    /// think time, so they do not all arrive at once). After a request that failed without
    /// any time passing (rejected at once), a user waits at least 1 ms.
    #[serde(default = "default_think")]
    pub think: Dist,
    /// Request classes and their shares (must sum to 1). Default: one class "default".
    #[serde(default)]
    pub mix: BTreeMap<String, f64>,
    /// Popularity of the keys requests touch.
    #[serde(default)]
    pub keys: Keys,
    /// Regions users come from and their shares (must sum to 1), named from the model's
    /// `regions` when it lists them; empty = no region.
    #[serde(default)]
    pub regions: BTreeMap<String, f64>,
    /// Each user gives up after this long and counts a timeout, then thinks and retries with
    /// a new request. Default: never.
    #[serde(default)]
    pub timeout: Option<Duration>,
}

/// The arrival process of an open workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum Arrivals {
    /// Exponential gaps (a Poisson process; non-homogeneous when the profile varies).
    #[default]
    Poisson,
    /// Evenly spaced arrivals at the current rate (D in queueing notation).
    Deterministic,
}

/// How an open workload's rate varies with time.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub enum Profile {
    /// `rate` all the time.
    #[default]
    Constant,
    /// `rate` until `at`, then `to`.
    Step {
        /// When the rate changes.
        at: Duration,
        /// The new rate.
        to: Rate,
    },
    /// Linear change from `rate` to `to`, between `start` and `start + over`.
    Ramp {
        /// The final rate.
        to: Rate,
        /// When the ramp starts.
        #[serde(default)]
        start: Duration,
        /// How long the ramp takes.
        over: Duration,
    },
    /// A daily cycle: rate × (1 + amplitude × cos(2π (t − peak_at) / period)).
    Diurnal {
        /// Relative swing around `rate`, in [0, 1).
        amplitude: f64,
        /// Length of one cycle.
        #[serde(default = "day")]
        period: Duration,
        /// Time of the peak within the cycle.
        #[serde(default)]
        peak_at: Duration,
    },
    /// A flash crowd: the rate climbs to `multiplier` × rate over `rise`, holds, then decays
    /// linearly back over `decay`.
    Spike {
        /// When the climb starts.
        at: Duration,
        /// Peak rate as a multiple of `rate` (≥ 1).
        multiplier: f64,
        /// Climb time.
        #[serde(default)]
        rise: Duration,
        /// Time at the peak.
        hold: Duration,
        /// Decay time.
        #[serde(default)]
        decay: Duration,
    },
    /// Piecewise-constant rates: each `(at, rate)` holds until the next; `rate` before the first.
    Piecewise(Vec<(Duration, Rate)>),
    /// Piecewise-constant rates from a CSV trace with columns `t_s,rate_per_s` (a header line
    /// is allowed; the path is relative to the model file). Rates may be 0.
    Trace {
        /// Path to the CSV file.
        file: String,
    },
}

fn day() -> Duration {
    Duration::from_nanos(86_400 * 1_000_000_000)
}

/// Which keys requests touch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub enum Keys {
    /// Every one of `n` keys equally likely.
    Uniform {
        /// Number of distinct keys.
        n: u64,
    },
    /// Zipf popularity over `n` keys with exponent `s` (0.99 is typical of web caches): key
    /// rank k is drawn with probability ∝ 1/k^s.
    Zipf {
        /// Number of distinct keys.
        n: u64,
        /// Exponent (≥ 0; 0 is uniform).
        s: f64,
    },
}

impl Default for Keys {
    fn default() -> Self {
        Keys::Uniform { n: 1000 }
    }
}

/// Service-level objectives; each given target must hold for the run to pass.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// Target for the median end-to-end latency of successful requests.
    #[serde(default)]
    pub p50: Option<Duration>,
    /// Target for the 95th percentile.
    #[serde(default)]
    pub p95: Option<Duration>,
    /// Target for the 99th percentile.
    #[serde(default)]
    pub p99: Option<Duration>,
    /// Target for the 99.9th percentile.
    #[serde(default)]
    pub p999: Option<Duration>,
    /// Largest acceptable fraction of failed requests (0.001 = 0.1 %).
    #[serde(default)]
    pub error_rate: Option<f64>,
}

/// Safety limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Calls alive at once across the model; new requests beyond it are rejected with
    /// `overload` and the run is reported unstable.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: u32,
    /// How long in-flight work may drain after `duration`; what is still unfinished is
    /// reported as censored.
    #[serde(default = "default_drain")]
    pub drain: Duration,
    /// Calls deeper than this fail with `hop_limit` (stops call cycles at run time); at most
    /// 10 000.
    #[serde(default = "default_max_hops")]
    pub max_hops: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_in_flight: default_max_in_flight(),
            drain: default_drain(),
            max_hops: default_max_hops(),
        }
    }
}

/// Time-series settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    /// Width of one time-series window.
    #[serde(default = "default_window")]
    pub window: Duration,
    /// Most points kept per series (2 to 100 000; rounded up to even); when full,
    /// neighbouring windows merge and the window doubles, so memory stays flat however long
    /// the run.
    #[serde(default = "default_max_points")]
    pub max_points: u32,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            window: default_window(),
            max_points: default_max_points(),
        }
    }
}
