//! Stage two of loading: [`TopologySpec`] → [`Topology`]. Resolves names, builds samplers,
//! checks probabilities, references and routing; collects every problem, not just the first.

use std::collections::BTreeMap;
use std::path::Path;

use super::diagnostic::{Diagnostic, did_you_mean};
use super::expect::Expectation;
use super::kinds::Finishes;
use super::model::*;
use super::parse::{locate_field, locate_string_in_top_field, locate_top_field};
use super::spec::{FORMAT_VERSION, Keys, Limits, Profile, TopologySpec, Workload};
use crate::dist::{Dist, Sampler};
use crate::units::{Duration, MAX_RATE_PER_S};

/// Most replicas one service may have: each is simulated (and balanced over) on its own, so a
/// typo like `replicas: 4000000000` would exhaust memory before the run starts.
pub const MAX_REPLICAS: u32 = 100_000;

/// Deepest call chain a model may allow (`limits.max_hops`).
pub const MAX_HOPS: u32 = 10_000;

/// Most regions a model may have (a region id is a byte; 0 means none).
pub const MAX_REGIONS: usize = 63;

/// Most availability zones a model may have (with the regions, a place id fits a byte).
pub const MAX_ZONES: usize = 191;

/// Most points per time series (`metrics.max_points`).
pub const MAX_POINTS: u32 = 100_000;

/// Where the spec came from, for locating problems.
pub struct Origin<'a> {
    /// The file, if any.
    pub file: Option<&'a Path>,
    /// Its text, if any (used to find line and column of a field).
    pub text: Option<&'a str>,
    /// Directory that relative paths (`Empirical`, `Trace`) start from.
    pub base_dir: &'a Path,
}

/// Collects the problems of one validation.
pub struct Checker<'a> {
    origin: &'a Origin<'a>,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn locate(&self, mut d: Diagnostic, entry: Option<&str>, field: Option<&str>) -> Diagnostic {
        d.file = self.origin.file.map(Path::to_path_buf);
        if let (Some(text), Some(entry)) = (self.origin.text, entry) {
            d.line_col = locate_field(text, entry, field);
        } else if let (Some(text), None, Some(field)) = (self.origin.text, entry, field) {
            d.line_col = locate_top_field(text, field);
        }
        d
    }

    fn error(
        &mut self,
        entry: Option<&str>,
        field: Option<&str>,
        path: String,
        msg: String,
        hint: String,
    ) {
        let mut d = Diagnostic::error(msg).at(path).hint(hint);
        if let Some(e) = entry {
            d = d.in_component(e);
        }
        let d = self.locate(d, entry, field);
        self.errors.push(d);
    }

    /// A problem with the `nth` string `value` (a map key or not, `key`) inside the
    /// top-level field `field` (`placement`, `regions`, `region_latency`).
    fn error_at_string(
        &mut self,
        field: &str,
        (value, key, nth): (&str, bool, usize),
        path: String,
        msg: String,
        hint: String,
    ) {
        let mut d = Diagnostic::error(msg).at(path).hint(hint);
        d.file = self.origin.file.map(Path::to_path_buf);
        d.line_col = self
            .origin
            .text
            .and_then(|text| locate_string_in_top_field(text, field, value, key, nth));
        self.errors.push(d);
    }

    fn warn(&mut self, entry: &str, msg: String, hint: Option<String>) {
        let d = Diagnostic::warning(msg)
            .in_component(entry)
            .maybe_hint(hint);
        let d = self.locate(d, Some(entry), None);
        self.warnings.push(d);
    }

    fn sampler(&mut self, dist: &Dist, entry: &str, field: &str, path: String) -> Sampler {
        match Sampler::new(dist, self.origin.base_dir) {
            Ok(s) => s,
            Err(e) => {
                let (e, hint) = crate::units::split_hint(&e);
                let hint = hint.unwrap_or_else(|| dist.fix_hint().into());
                self.error(Some(entry), Some(field), path, e, hint);
                Sampler::Const(0)
            }
        }
    }

    fn shares(&mut self, shares: &BTreeMap<String, f64>, entry: &str, field: &str, path: String) {
        if shares.is_empty() {
            return;
        }
        let mut sum = 0.0;
        for (k, v) in shares {
            if !(v.is_finite() && *v >= 0.0) {
                self.error(
                    Some(entry),
                    Some(field),
                    format!("{path}.{k}"),
                    format!("share must be between 0 and 1, got {v}"),
                    "write a share from 0 to 1; the shares of one map add up to 1, e.g. {\"read\": 0.9, \"write\": 0.1}".into(),
                );
            }
            sum += v;
        }
        if (sum - 1.0).abs() > 1e-6 {
            self.error(
                Some(entry),
                Some(field),
                path,
                format!("shares sum to {sum}, not 1"),
                "make the shares add up to 1, e.g. {\"read\": 0.9, \"write\": 0.1}".into(),
            );
        }
    }
}

fn cumulative(values: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut acc = 0.0;
    let mut out: Vec<f64> = values
        .into_iter()
        .map(|v| {
            acc += v;
            acc
        })
        .collect();
    if let Some(last) = out.last_mut() {
        *last = 1.0;
    }
    out
}

/// What a component kind's validation may use: the problems collector, located at the
/// component, and the model's names (components, classes, regions).
pub struct KindCx<'a, 'o> {
    checker: &'a mut Checker<'o>,
    prefix: &'static str,
    entry: &'a str,
    spec: &'a TopologySpec,
    classes: &'a [String],
    class_writes: &'a [bool],
    class_sizes: &'a [Sampler],
    regions: &'a [String],
    n_workloads: usize,
}

impl KindCx<'_, '_> {
    /// The component's name.
    pub fn name(&self) -> &str {
        self.entry
    }

    /// A problem with `field` of this component, at `path` below it (`calls.0.to`), and how
    /// to fix it (every error has a hint: the valid range, the unit, the did-you-mean).
    pub fn error(&mut self, field: &str, path: &str, msg: String, hint: String) {
        let path = format!("{}.{}.{path}", self.prefix, self.entry);
        self.checker
            .error(Some(self.entry), Some(field), path, msg, hint);
    }

    /// A warning about this component.
    pub fn warn(&mut self, msg: String, hint: Option<String>) {
        self.checker.warn(self.entry, msg, hint);
    }

    /// A sampler for `dist` (its problems reported at `field`, `path`).
    pub fn sampler(&mut self, dist: &Dist, field: &str, path: &str) -> Sampler {
        let path = format!("{}.{}.{path}", self.prefix, self.entry);
        self.checker.sampler(dist, self.entry, field, path)
    }

    /// "did you mean" among `candidates`.
    pub fn suggest<'b>(
        &self,
        name: &str,
        candidates: impl IntoIterator<Item = &'b str>,
    ) -> Option<String> {
        did_you_mean(name, candidates)
    }

    /// The id of the component `target`, or a located error.
    pub fn resolve(&mut self, target: &str, field: &str, path: &str) -> Option<NodeId> {
        if let Some(i) = self.spec.components.keys().position(|n| n == target) {
            return Some((self.n_workloads + i) as NodeId);
        }
        let what = if self.spec.workloads.contains_key(target) {
            format!("`{target}` is a workload; requests can only be sent to components")
        } else {
            format!("no component named `{target}`")
        };
        // A component is rarely meant to call itself: suggest others.
        let entry = self.entry;
        let hint = did_you_mean(
            target,
            self.spec
                .components
                .keys()
                .map(String::as_str)
                .filter(|n| *n != entry),
        );
        self.error(
            field,
            path,
            what,
            hint.unwrap_or_else(|| {
                if self.spec.components.is_empty() {
                    "the model has no components: add one under `components`".into()
                } else {
                    format!(
                        "the components are: {}",
                        self.spec
                            .components
                            .keys()
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            }),
        );
        None
    }

    /// Instances of the component `name` (1 when unknown).
    pub fn instances_of(&self, name: &str) -> u32 {
        self.spec.components.get(name).map_or(1, |c| c.instances())
    }

    /// Request class names; a class id is an index here.
    pub fn classes(&self) -> &[String] {
        self.classes
    }

    /// Whether each class (by id) writes its key's value (the top-level `classes`).
    pub fn class_writes(&self) -> &[bool] {
        self.class_writes
    }

    /// The value size of each class (by id), in bytes.
    pub fn class_sizes(&self) -> &[Sampler] {
        self.class_sizes
    }

    /// The id of class `name`, or a located error naming the classes there are.
    pub fn class_id(&mut self, name: &str, field: &str, path: &str) -> Option<usize> {
        if let Some(i) = self.classes.iter().position(|c| c == name) {
            return Some(i);
        }
        let hint = did_you_mean(name, self.classes.iter().map(String::as_str)).or_else(|| {
            Some(format!(
                "the classes are the keys of the workloads' `mix`: {}",
                self.classes.join(", ")
            ))
        });
        self.error(
            field,
            path,
            format!(
                "no workload sends requests of class `{name}` (classes: {})",
                self.classes.join(", ")
            ),
            hint.unwrap_or_default(),
        );
        None
    }

    /// Region names; region id `i + 1` is `regions()[i]` (0 is "no region").
    pub fn regions(&self) -> &[String] {
        self.regions
    }

    /// The id (1-based) of region `name`, or a located error naming the regions there are.
    pub fn region_id(&mut self, name: &str, field: &str, path: &str) -> Option<usize> {
        if let Some(i) = self.regions.iter().position(|r| r == name) {
            return Some(i + 1);
        }
        let listed = !self.spec.regions.is_empty();
        let hint = did_you_mean(name, self.regions.iter().map(String::as_str)).or_else(|| {
            Some(if listed {
                "regions are the keys of the model's `regions`".into()
            } else {
                "regions are the keys of the workloads' `regions` shares".into()
            })
        });
        let known = if self.regions.is_empty() {
            "no workload has regions".to_string()
        } else {
            format!("regions: {}", self.regions.join(", "))
        };
        let msg = if listed {
            format!("no region named `{name}` ({known})")
        } else {
            format!("no workload sends requests from region `{name}` ({known})")
        };
        self.error(field, path, msg, hint.unwrap_or_default());
        None
    }
}

/// Validate a spec into a runnable topology.
pub fn validate(spec: TopologySpec, origin: &Origin<'_>) -> Result<Topology, Vec<Diagnostic>> {
    let mut c = Checker {
        origin,
        errors: Vec::new(),
        warnings: Vec::new(),
    };

    if spec.format_version != FORMAT_VERSION {
        c.error(
            None,
            Some("format_version"),
            "format_version".into(),
            format!(
                "format_version {} is not supported (this build reads {FORMAT_VERSION})",
                spec.format_version
            ),
            if spec.format_version > FORMAT_VERSION {
                "the file was written by a newer flashcrowd; upgrade".into()
            } else {
                format!("set format_version: {FORMAT_VERSION}")
            },
        );
    }
    let duration_ns = spec.duration.as_nanos();
    if duration_ns == 0 {
        c.error(
            None,
            Some("duration"),
            "duration".into(),
            "duration must be positive".into(),
            "e.g. duration: \"5m\"".into(),
        );
    }
    let warmup_ns = spec.warmup.map_or(duration_ns / 10, Duration::as_nanos);
    if duration_ns > 0 && warmup_ns >= duration_ns {
        c.error(
            None,
            Some("warmup"),
            "warmup".into(),
            format!(
                "warmup ({}) must be shorter than duration ({})",
                Duration::from_nanos(warmup_ns),
                spec.duration
            ),
            format!(
                "lengthen the run or shorten the warm-up, e.g. --set warmup={}",
                Duration::from_nanos(duration_ns / 10)
            ),
        );
    }
    if spec.requests == Some(0) {
        c.error(
            None,
            Some("requests"),
            "requests".into(),
            "requests must be at least 1 (or left out)".into(),
            "write a whole number of requests, e.g. requests: 100000, or remove the field to run for the whole duration".into(),
        );
    }
    if spec.limits.max_in_flight == 0 {
        c.error(
            None,
            Some("max_in_flight"),
            "limits.max_in_flight".into(),
            "must be at least 1".into(),
            format!(
                "write a whole number of calls, e.g. max_in_flight: {}",
                Limits::default().max_in_flight
            ),
        );
    }
    if !(1..=MAX_HOPS).contains(&spec.limits.max_hops) {
        c.error(
            None,
            Some("max_hops"),
            "limits.max_hops".into(),
            format!(
                "must be between 1 and {MAX_HOPS}, got {}",
                spec.limits.max_hops
            ),
            format!(
                "write a depth from 1 to {MAX_HOPS}, e.g. max_hops: {}",
                Limits::default().max_hops
            ),
        );
    }
    if spec.metrics.window.as_nanos() == 0 {
        c.error(
            None,
            Some("window"),
            "metrics.window".into(),
            "the window must be positive".into(),
            "write a positive duration, e.g. window: \"1s\"".into(),
        );
    }
    if !(2..=MAX_POINTS).contains(&spec.metrics.max_points) {
        c.error(
            None,
            Some("max_points"),
            "metrics.max_points".into(),
            format!(
                "keep between 2 and {MAX_POINTS} points per series, got {} (each is allocated up front for every component)",
                spec.metrics.max_points
            ),
            format!("write a count from 2 to {MAX_POINTS}, e.g. max_points: 1000"),
        );
    }
    if spec.workloads.is_empty() {
        c.error(
            None,
            Some("workloads"),
            "workloads".into(),
            "the model has no workload, so nothing would arrive".into(),
            "add e.g. workloads: {\"users\": Open(rate: \"100/s\", to: \"web\")}".into(),
        );
    }
    if let Some(slo) = &spec.slo
        && let Some(er) = slo.error_rate
        && !(0.0..=1.0).contains(&er)
    {
        c.error(
            None,
            Some("error_rate"),
            "slo.error_rate".into(),
            format!("an error rate is between 0 and 1, got {er}"),
            "write a fraction, e.g. error_rate: 0.001 for 0.1 %".into(),
        );
    }

    // Names → ids: workloads first, then components, each sorted (BTreeMap order).
    let mut names: Vec<String> = spec.workloads.keys().cloned().collect();
    for name in spec.components.keys() {
        if spec.workloads.contains_key(name) {
            c.error(
                Some(name),
                None,
                format!("components.{name}"),
                format!("`{name}` is both a workload and a component"),
                "rename one of them".into(),
            );
        }
        names.push(name.clone());
    }
    let n_workloads = spec.workloads.len();

    // Classes: the union of every workload's mix.
    let mut classes: Vec<String> = Vec::new();
    for w in spec.workloads.values() {
        let mix = match w {
            Workload::Open(o) => &o.mix,
            Workload::Closed(cl) => &cl.mix,
        };
        if mix.is_empty() {
            classes.push("default".into());
        }
        classes.extend(mix.keys().cloned());
    }
    classes.sort();
    classes.dedup();
    if classes.len() > 64 {
        c.error(
            None,
            Some("mix"),
            "workloads".into(),
            format!(
                "{} request classes; at most 64 are supported",
                classes.len()
            ),
            "merge classes that behave alike: a class is worth its own name only when its work or calls differ".into(),
        );
    }
    let (class_writes, class_sizes) = class_data(&mut c, &spec, &classes);
    let places = places(&mut c, &spec, n_workloads);
    let regions = places.regions.clone();

    let mut nodes: Vec<Node> = Vec::with_capacity(names.len());
    for (name, w) in &spec.workloads {
        let p = format!("workloads.{name}");
        let (to, mix, keys, shares_regions, timeout) = match w {
            Workload::Open(o) => (&o.to, &o.mix, &o.keys, &o.regions, o.timeout),
            Workload::Closed(cl) => (&cl.to, &cl.mix, &cl.keys, &cl.regions, cl.timeout),
        };
        let to_id = KindCx {
            checker: &mut c,
            prefix: "workloads",
            entry: name,
            spec: &spec,
            classes: &classes,
            class_writes: &class_writes,
            class_sizes: &class_sizes,
            regions: &regions,
            n_workloads,
        }
        .resolve(to, "to", "to")
        .unwrap_or(0);
        c.shares(mix, name, "mix", format!("{p}.mix"));
        c.shares(shares_regions, name, "regions", format!("{p}.regions"));
        let mix_cumulative = if mix.is_empty() {
            cumulative(
                classes
                    .iter()
                    .map(|cl| if cl == "default" { 1.0 } else { 0.0 }),
            )
        } else {
            cumulative(classes.iter().map(|cl| mix.get(cl).copied().unwrap_or(0.0)))
        };
        let keys = match *keys {
            Keys::Uniform { n } | Keys::Zipf { n, .. } if n == 0 => {
                c.error(
                    Some(name),
                    Some("keys"),
                    format!("{p}.keys.n"),
                    "needs at least one key".into(),
                    "write n: 1 or more, e.g. keys: Zipf(n: 100000, s: 0.99)".into(),
                );
                KeyModel::Uniform(1)
            }
            Keys::Uniform { n } => KeyModel::Uniform(n),
            Keys::Zipf { n, s } => {
                if !(s.is_finite() && s >= 0.0) {
                    c.error(
                        Some(name),
                        Some("keys"),
                        format!("{p}.keys.s"),
                        format!("the Zipf exponent must be ≥ 0, got {s}"),
                        "write a finite exponent of 0 or more (0 is uniform; web caches see about 0.6–1.2), e.g. s: 0.99".into(),
                    );
                }
                KeyModel::Zipf(n, s.max(0.0))
            }
        };
        if timeout == Some(Duration::ZERO) {
            c.error(
                Some(name),
                Some("timeout"),
                format!("{p}.timeout"),
                "a timeout must be positive (or left out)".into(),
                "write a positive duration, e.g. timeout: \"2s\", or remove the field for no timeout".into(),
            );
        }
        let regions_cum: Vec<(u8, f64)> = shares_regions
            .keys()
            .map(|r| {
                regions
                    .iter()
                    .position(|g| g == r)
                    .map_or(0, |i| (i + 1) as u8)
            })
            .zip(cumulative(shares_regions.values().copied()))
            .collect();
        let source = match w {
            Workload::Open(o) => Source::Open {
                rate_per_s: o.rate.as_per_s(),
                profile: profile(&mut c, &o.profile, o.rate.as_per_s(), name, &p),
                arrivals: o.arrivals,
            },
            Workload::Closed(cl) => {
                if cl.users == 0 {
                    c.error(
                        Some(name),
                        Some("users"),
                        format!("{p}.users"),
                        "a closed workload needs at least 1 user".into(),
                        "write users: 1 or more, e.g. Closed(users: 100, ...)".into(),
                    );
                }
                Source::Closed {
                    users: cl.users,
                    think: c.sampler(&cl.think, name, "think", format!("{p}.think")),
                }
            }
        };
        let sessions = match w {
            Workload::Open(o) => o.sessions,
            Workload::Closed(cl) => cl.users,
        };
        nodes.push(Node {
            name: name.clone(),
            kind: NodeKind::Workload(WorkloadModel {
                to: to_id,
                source,
                mix_cumulative,
                keys,
                sessions,
                regions: regions_cum,
                timeout_ns: timeout.map(Duration::as_nanos),
            }),
            place: Place::default(),
        });
    }

    for (name, comp) in &spec.components {
        let mut cx = KindCx {
            checker: &mut c,
            prefix: "components",
            entry: name,
            spec: &spec,
            classes: &classes,
            class_writes: &class_writes,
            class_sizes: &class_sizes,
            regions: &regions,
            n_workloads,
        };
        let kind = comp.validate(&mut cx);
        let place = places.of_node.get(nodes.len()).copied().unwrap_or_default();
        nodes.push(Node {
            name: name.clone(),
            kind,
            place,
        });
    }

    if c.errors.is_empty() {
        routing_checks(&mut c, &nodes, n_workloads);
        depth_check(&mut c, &nodes, n_workloads, spec.limits.max_hops);
    }
    let mut events = Vec::new();
    if c.errors.is_empty() {
        let end_ns = duration_ns.saturating_add(spec.limits.drain.as_nanos());
        for (i, (at, cmd)) in spec.events.iter().enumerate() {
            let path = format!("events.{i}");
            if at.as_nanos() > end_ns {
                c.error(
                    None,
                    Some("events"),
                    path.clone(),
                    format!(
                        "at {at} the run is over (arrivals end at {}, the drain by {})",
                        spec.duration,
                        Duration::from_nanos(end_ns)
                    ),
                    "schedule it within the duration".into(),
                );
            }
            match cmd.resolve(&nodes, &regions, &places.zones) {
                Ok(action) => events.push((at.as_nanos(), action)),
                Err(r) => c.error(None, Some("events"), path, r.message, r.hint.unwrap_or_else(|| "check the command against the model's components, instances and regions".into())),
            }
        }
        // By time; at one instant, in the order listed.
        events.sort_by_key(|e| e.0);
    }
    let expectations = expectations(&mut c, &spec);
    if !c.errors.is_empty() {
        return Err(c.errors);
    }
    let name = if spec.name.is_empty() {
        origin
            .file
            .and_then(|f| f.file_stem())
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into())
    } else {
        spec.name.clone()
    };
    Ok(Topology {
        file: origin.file.map(Path::to_path_buf),
        name,
        duration_ns,
        warmup_ns,
        requests: spec.requests,
        seed: spec.seed,
        classes,
        class_writes,
        regions,
        zones: places.zones,
        region_latency_ns: places.region_latency_ns,
        zone_latency_ns: spec.zone_latency.as_nanos(),
        nodes,
        slo: spec.slo.clone(),
        limits: spec.limits.clone(),
        window_ns: spec.metrics.window.as_nanos(),
        max_points: spec.metrics.max_points,
        warnings: c.warnings,
        events,
        expectations,
        spec,
    })
}

/// The top-level `classes`: whether each class (by id) writes, and its value sizes. Every
/// name must be a class some workload sends.
fn class_data(
    c: &mut Checker,
    spec: &TopologySpec,
    classes: &[String],
) -> (Vec<bool>, Vec<Sampler>) {
    for name in spec.classes.keys() {
        if !classes.contains(name) {
            let hint =
                did_you_mean(name, classes.iter().map(String::as_str)).unwrap_or_else(|| {
                    format!(
                        "the classes are the keys of the workloads' `mix`: {}",
                        classes.join(", ")
                    )
                });
            c.error_at_string(
                "classes",
                (name, true, 0),
                format!("classes.{name}"),
                format!("no workload sends requests of class `{name}`"),
                hint,
            );
        }
    }
    let mut writes = Vec::with_capacity(classes.len());
    let mut sizes = Vec::with_capacity(classes.len());
    for name in classes {
        let class = spec.classes.get(name);
        writes.push(match class.and_then(|cl| cl.op) {
            Some(op) => op == super::spec::Operation::Write,
            None => name == "write",
        });
        let dist = class.map(|cl| cl.size.clone()).unwrap_or_default();
        sizes.push(match dist.sampler() {
            Ok(s) => s,
            Err(e) => {
                c.error(
                    None,
                    Some("classes"),
                    format!("classes.{name}.size"),
                    e,
                    dist.fix_hint().into(),
                );
                Sampler::Const(0)
            }
        });
    }
    (writes, sizes)
}

/// The `expect` entries, each checked on its own (`topology::expect`); problems are located
/// at the entry's metric string.
fn expectations(c: &mut Checker, spec: &TopologySpec) -> Vec<Expectation> {
    // The nth entry with the same metric text is the nth such string in the section.
    let nth = |i: usize| {
        let metric = spec.expect.get(i).map_or("", |e| e.metric.as_str());
        spec.expect[..i]
            .iter()
            .filter(|e| e.metric == metric)
            .count()
    };
    let text = c.origin.text;
    let (out, problems) = super::expect::check(&spec.expect, |i| {
        let metric = spec.expect.get(i).map_or("", |e| e.metric.as_str());
        text.and_then(|t| locate_string_in_top_field(t, "expect", metric, false, nth(i)))
    });
    for p in problems {
        let metric = spec.expect.get(p.index).map_or("", |e| e.metric.as_str());
        c.error_at_string(
            "expect",
            (metric, false, nth(p.index)),
            format!("expect.{}.{}", p.index, p.field),
            p.message,
            p.hint,
        );
    }
    out
}

/// The model's places, validated: what [`Topology`] keeps, and each node's place.
struct Places {
    regions: Vec<String>,
    zones: Vec<Zone>,
    region_latency_ns: Vec<u64>,
    /// By node id (workloads first: no place).
    of_node: Vec<Place>,
}

/// Regions (listed, else the names the workloads' shares use), zones, the latency matrix and
/// the components' placement.
fn places(c: &mut Checker, spec: &TopologySpec, n_workloads: usize) -> Places {
    fn shares(w: &Workload) -> &BTreeMap<String, f64> {
        match w {
            Workload::Open(o) => &o.regions,
            Workload::Closed(cl) => &cl.regions,
        }
    }
    // Region id i + 1 is regions[i].
    let regions: Vec<String> = if spec.regions.is_empty() {
        let mut named: Vec<String> = spec
            .workloads
            .values()
            .flat_map(|w| shares(w).keys().cloned())
            .collect();
        named.sort();
        named.dedup();
        named
    } else {
        let listed: Vec<String> = spec.regions.keys().cloned().collect();
        for (name, w) in &spec.workloads {
            for r in shares(w).keys().filter(|r| !spec.regions.contains_key(*r)) {
                c.error(
                    Some(name),
                    Some("regions"),
                    format!("workloads.{name}.regions.{r}"),
                    format!(
                        "no region named `{r}` in the model's `regions` ({})",
                        listed.join(", ")
                    ),
                    did_you_mean(r, listed.iter().map(String::as_str))
                        .or_else(|| Some(format!("add `\"{r}\": Region()` to `regions`")))
                        .unwrap_or_default(),
                );
            }
        }
        listed
    };
    if regions.len() > MAX_REGIONS {
        c.error(
            None,
            Some("regions"),
            "regions".into(),
            format!(
                "{} regions; at most {MAX_REGIONS} are supported",
                regions.len()
            ),
            format!("merge regions: at most {MAX_REGIONS}"),
        );
    }

    // Zones, region by region; a name belongs to one region and is not a region's name.
    let mut zones: Vec<Zone> = Vec::new();
    let mut listed_times: BTreeMap<&str, usize> = BTreeMap::new();
    for (ri, (region, r)) in spec.regions.iter().enumerate() {
        for (zi, zone) in r.zones.iter().enumerate() {
            let nth = listed_times.entry(zone.as_str()).or_insert(0);
            let before = *nth;
            *nth += 1;
            let path = format!("regions.{region}.zones.{zi}");
            if let Some(other) = zones.iter().find(|z| z.name == *zone) {
                let other = regions
                    .get(usize::from(other.region).wrapping_sub(1))
                    .map_or("", String::as_str);
                let msg = if other == region {
                    format!("zone `{zone}` is listed twice in region `{region}`")
                } else {
                    format!("zone `{zone}` is in two regions, `{other}` and `{region}`")
                };
                c.error_at_string(
                    "regions",
                    (zone, false, before),
                    path,
                    msg,
                    "a zone belongs to one region: rename or remove one".into(),
                );
            } else if spec.regions.contains_key(zone) {
                c.error_at_string(
                    "regions",
                    (zone, false, before),
                    path,
                    format!("zone `{zone}` has the name of a region"),
                    "placement names a zone or a region: give the zone its own name".into(),
                );
            } else {
                zones.push(Zone {
                    name: zone.clone(),
                    region: u8::try_from(ri + 1).unwrap_or(u8::MAX),
                });
            }
        }
    }
    if zones.len() > MAX_ZONES {
        c.error(
            None,
            Some("regions"),
            "regions".into(),
            format!("{} zones; at most {MAX_ZONES} are supported", zones.len()),
            format!("merge zones: at most {MAX_ZONES} over all regions"),
        );
    }

    // The latency matrix over region ids (0 = none), symmetric.
    let n = regions.len() + 1;
    let mut latency_ns = vec![0u64; n * n];
    let mut given = vec![false; n * n];
    let mut named_times: BTreeMap<String, usize> = BTreeMap::new();
    for (i, (a, b, d)) in spec.region_latency.iter().enumerate() {
        let mut id = |c: &mut Checker, name: &str, end: usize| -> Option<usize> {
            let nth = named_times.entry(name.to_string()).or_insert(0);
            let before = *nth;
            *nth += 1;
            if let Some(k) = regions.iter().position(|r| r == name) {
                return Some(k + 1);
            }
            let known = if regions.is_empty() {
                "the model has no regions".to_string()
            } else {
                format!("regions: {}", regions.join(", "))
            };
            c.error_at_string(
                "region_latency",
                (name, false, before),
                format!("region_latency.{i}.{end}"),
                format!("no region named `{name}` ({known})"),
                did_you_mean(name, regions.iter().map(String::as_str))
                    .or_else(|| {
                        Some("list regions under `regions`, or name the workloads' regions".into())
                    })
                    .unwrap_or_default(),
            );
            None
        };
        let (ia, ib) = (id(c, a, 0), id(c, b, 1));
        let (Some(ia), Some(ib)) = (ia, ib) else {
            continue;
        };
        if ia == ib {
            if d.as_nanos() > 0 {
                c.error_at_string(
                    "region_latency",
                    (
                        a,
                        false,
                        named_times.get(a).map_or(0, |k| k.saturating_sub(2)),
                    ),
                    format!("region_latency.{i}"),
                    format!("a latency from region `{a}` to itself"),
                    "calls within a region pay `zone_latency` between zones".into(),
                );
            }
            continue;
        }
        if given[ia * n + ib] {
            c.error_at_string(
                "region_latency",
                (
                    a,
                    false,
                    named_times.get(a).map_or(0, |k| k.saturating_sub(1)),
                ),
                format!("region_latency.{i}"),
                format!("the latency between `{a}` and `{b}` is given twice"),
                "keep one entry per pair of regions (it holds both ways)".into(),
            );
            continue;
        }
        for (x, y) in [(ia, ib), (ib, ia)] {
            given[x * n + y] = true;
            latency_ns[x * n + y] = d.as_nanos();
        }
    }

    // Each component's place: a zone, else a region.
    let mut of_node = vec![Place::default(); n_workloads + spec.components.len()];
    let mut value_times: BTreeMap<&str, usize> = BTreeMap::new();
    for (comp, at) in &spec.placement {
        let nth = value_times.entry(at.as_str()).or_insert(0);
        let before = *nth;
        *nth += 1;
        let path = format!("placement.{comp}");
        match spec.components.keys().position(|k| k == comp) {
            Some(i) => {
                let place = if let Some(z) = zones.iter().position(|z| z.name == *at) {
                    Some(Place {
                        region: zones[z].region,
                        zone: u8::try_from(z + 1).unwrap_or(u8::MAX),
                    })
                } else {
                    regions.iter().position(|r| r == at).map(|r| Place {
                        region: u8::try_from(r + 1).unwrap_or(u8::MAX),
                        zone: 0,
                    })
                };
                match place {
                    Some(p) => {
                        if let Some(slot) = of_node.get_mut(n_workloads + i) {
                            *slot = p;
                        }
                    }
                    None => {
                        let candidates = zones
                            .iter()
                            .map(|z| z.name.as_str())
                            .chain(regions.iter().map(String::as_str));
                        let hint = did_you_mean(at, candidates.clone()).or_else(|| {
                            Some(if regions.is_empty() {
                                "list regions and their zones under `regions`".into()
                            } else {
                                format!("places: {}", candidates.collect::<Vec<_>>().join(", "))
                            })
                        });
                        c.error_at_string(
                            "placement",
                            (at, false, before),
                            path,
                            format!("no zone or region named `{at}`"),
                            hint.unwrap_or_default(),
                        );
                    }
                }
            }
            None => {
                let msg = if spec.workloads.contains_key(comp) {
                    format!("`{comp}` is a workload; its requests come from its `regions` shares")
                } else {
                    format!("no component named `{comp}` to place")
                };
                c.error_at_string(
                    "placement",
                    (comp, true, 0),
                    path,
                    msg,
                    did_you_mean(comp, spec.components.keys().map(String::as_str)).unwrap_or_else(
                        || {
                            if spec.components.contains_key(comp)
                                || spec.workloads.contains_key(comp)
                            {
                                "`placement` keys are component names".into()
                            } else {
                                format!(
                                    "the components are: {}",
                                    spec.components
                                        .keys()
                                        .map(|n| format!("`{n}`"))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                )
                            }
                        },
                    ),
                );
            }
        }
    }
    Places {
        regions,
        zones,
        region_latency_ns: latency_ns,
        of_node,
    }
}

fn profile(c: &mut Checker, p: &Profile, base: f64, entry: &str, path: &str) -> RateProfile {
    let path = format!("{path}.profile");
    let shaped = shape(c, p, base, entry, &path);
    // Levels written as rates are refused above 1e9/s as they are parsed; a peak made of a
    // base and a factor (a spike, a day cycle) or read from a trace is checked here.
    let peak = shaped.max_rate(base);
    if peak > MAX_RATE_PER_S {
        let (field, what, fix) = match p {
            Profile::Spike { .. } => (
                "multiplier",
                format!("the spike's peak, {base}/s × the multiplier,"),
                format!(
                    "keep multiplier × rate at most 1e9/s: a multiplier of at most {}",
                    trim_factor(MAX_RATE_PER_S / base)
                ),
            ),
            Profile::Diurnal { .. } => (
                "amplitude",
                format!("the day cycle's peak, {base}/s × (1 + amplitude),"),
                "lower the rate or the amplitude so rate × (1 + amplitude) stays at most 1e9/s"
                    .into(),
            ),
            _ => (
                "profile",
                "the profile's highest rate".into(),
                "keep every rate of the profile at most 1e9/s".into(),
            ),
        };
        c.error(
            Some(entry),
            Some(field),
            if field == "profile" {
                path.clone()
            } else {
                format!("{path}.{field}")
            },
            format!(
                "{what} is {peak:e}/s, too high: simulated time counts nanoseconds, so a rate can be at most 1e9/s"
            ),
            fix,
        );
    }
    shaped
}

/// A factor as a hint writes it: at most three decimals, rounded down.
fn trim_factor(x: f64) -> String {
    let down = (x * 1000.0).floor() / 1000.0;
    format!("{down}")
}

/// The validated shape of a profile (its peak is checked by [`profile`]).
fn shape(c: &mut Checker, p: &Profile, base: f64, entry: &str, path: &str) -> RateProfile {
    let path = path.to_string();
    match p {
        Profile::Constant => RateProfile::Constant,
        Profile::Step { at, to } => RateProfile::Step {
            at_ns: at.as_nanos(),
            to_per_s: to.as_per_s(),
        },
        Profile::Ramp { to, start, over } => {
            if over.as_nanos() == 0 {
                c.error(
                    Some(entry),
                    Some("over"),
                    format!("{path}.over"),
                    "a ramp needs a positive length (use Step for a jump)".into(),
                    "write a positive length, e.g. over: \"1m\"".into(),
                );
            }
            RateProfile::Ramp {
                to_per_s: to.as_per_s(),
                start_ns: start.as_nanos(),
                over_ns: over.as_nanos().max(1),
            }
        }
        Profile::Diurnal {
            amplitude,
            period,
            peak_at,
        } => {
            if !(0.0..1.0).contains(amplitude) {
                c.error(
                    Some(entry),
                    Some("amplitude"),
                    format!("{path}.amplitude"),
                    format!(
                        "amplitude must be in [0, 1) so the rate stays positive, got {amplitude}"
                    ),
                    "write an amplitude from 0 (flat) to below 1, e.g. amplitude: 0.5 for a peak 3 times the trough".into(),
                );
            }
            if period.as_nanos() == 0 {
                c.error(
                    Some(entry),
                    Some("period"),
                    format!("{path}.period"),
                    "the period must be positive".into(),
                    "write a positive period, e.g. period: \"24h\"".into(),
                );
            }
            RateProfile::Diurnal {
                amplitude: *amplitude,
                period_ns: period.as_nanos().max(1),
                peak_ns: peak_at.as_nanos(),
            }
        }
        Profile::Spike {
            at,
            multiplier,
            rise,
            hold,
            decay,
        } => {
            if !(multiplier.is_finite() && *multiplier >= 1.0) {
                c.error(
                    Some(entry),
                    Some("multiplier"),
                    format!("{path}.multiplier"),
                    format!("a spike multiplies the rate by at least 1, got {multiplier}"),
                    "write a finite multiplier of 1 or more, e.g. multiplier: 10.0 for ten times the rate".into(),
                );
            }
            RateProfile::Spike {
                at_ns: at.as_nanos(),
                multiplier: *multiplier,
                rise_ns: rise.as_nanos().max(1),
                hold_ns: hold.as_nanos(),
                decay_ns: decay.as_nanos().max(1),
            }
        }
        Profile::Piecewise(points) => {
            let mut pts: Vec<(u64, f64)> = points
                .iter()
                .map(|(t, r)| (t.as_nanos(), r.as_per_s()))
                .collect();
            if pts.windows(2).any(|w| w[0].0 >= w[1].0) {
                c.error(
                    Some(entry),
                    Some("profile"),
                    path,
                    "piecewise times must increase".into(),
                    "list the points in time order, each later than the one before, e.g. Piecewise([(\"1m\", \"200/s\"), (\"2m\", \"50/s\")])".into(),
                );
            }
            pts.sort_by_key(|p| p.0);
            RateProfile::Piecewise(pts)
        }
        Profile::Trace { file } => match load_trace(&c.origin.base_dir.join(file)) {
            Ok(pts) => {
                if pts.iter().all(|p| p.1 == 0.0) && base > 0.0 {
                    c.error(
                        Some(entry),
                        Some("file"),
                        path.clone(),
                        "the trace's rates are all zero".into(),
                        "give some rows a positive rate (t_s,rate_per_s), or remove the workload"
                            .into(),
                    );
                }
                RateProfile::Piecewise(pts)
            }
            Err(e) => {
                let (e, hint) = crate::units::split_hint(&e);
                let hint = hint.unwrap_or_else(|| {
                    "the path is relative to the model file's folder; the file is CSV rows `t_s,rate_per_s` with increasing times".into()
                });
                c.error(Some(entry), Some("file"), path, e, hint);
                RateProfile::Constant
            }
        },
    }
}

/// Read a `t_s,rate_per_s` CSV trace.
fn load_trace(path: &Path) -> Result<Vec<(u64, f64)>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read trace {}: {e}", path.display()))?;
    let mut pts: Vec<(u64, f64)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut cols = line.split(',').map(str::trim);
        let (Some(t), Some(r)) = (cols.next(), cols.next()) else {
            return Err(format!(
                "{}:{}: expected `t_s,rate_per_s`",
                path.display(),
                i + 1
            ));
        };
        let (Ok(t), Ok(r)) = (t.parse::<f64>(), r.parse::<f64>()) else {
            if i == 0 && pts.is_empty() {
                continue; // header
            }
            return Err(format!(
                "{}:{}: expected two numbers, got `{line}`",
                path.display(),
                i + 1
            ));
        };
        let row = format!("{}:{}", path.display(), i + 1);
        if !(t.is_finite() && r.is_finite()) {
            return Err(crate::units::with_hint(
                format!(
                    "{row}: `{line}` holds a number that is not finite (inf, NaN, or too large)"
                ),
                "write finite numbers: the time in seconds, the rate in requests per second",
            ));
        }
        if t < 0.0 || r < 0.0 {
            return Err(format!("{row}: times and rates cannot be negative"));
        }
        if r > MAX_RATE_PER_S {
            return Err(crate::units::with_hint(
                format!(
                    "{row}: the rate {r:e}/s is too high: simulated time counts nanoseconds, so a rate can be at most 1e9/s"
                ),
                "the second column is requests per second: keep it at most 1e9 (is it per minute, or scaled?)",
            ));
        }
        let t_ns = crate::engine::time::secs_to_nanos(t);
        if pts.last().is_some_and(|p| p.0 >= t_ns) {
            return Err(format!("{}:{}: times must increase", path.display(), i + 1));
        }
        pts.push((t_ns, r));
    }
    if pts.is_empty() {
        return Err(format!("trace {} has no rows", path.display()));
    }
    Ok(pts)
}

/// Loops with no exit are errors, loops that can exit are warnings, unreached components
/// are warnings.
fn routing_checks(c: &mut Checker, nodes: &[Node], n_workloads: usize) {
    let n = nodes.len();
    let out: Vec<Vec<(NodeId, bool)>> = nodes
        .iter()
        .map(|n| n.kind.edges().iter().map(|e| (e.to, e.always)).collect())
        .collect();
    // can_finish: a service can answer if all its mandatory calls can; a balancer if any
    // backend can. Least fixpoint from "nothing can finish".
    let mut can_finish = vec![false; n];
    loop {
        let mut changed = false;
        for i in n_workloads..n {
            if can_finish[i] {
                continue;
            }
            let ok = match nodes[i].kind.finishes() {
                Finishes::WhenAllRequiredFinish => out[i]
                    .iter()
                    .filter(|e| e.1)
                    .all(|e| can_finish[e.0 as usize]),
                Finishes::WhenAnyFinishes => out[i].iter().any(|e| can_finish[e.0 as usize]),
            };
            if ok {
                can_finish[i] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    // Reachability from the workloads.
    let mut reached = vec![false; n];
    let mut stack: Vec<usize> = (0..n_workloads).collect();
    while let Some(i) = stack.pop() {
        if reached[i] {
            continue;
        }
        reached[i] = true;
        stack.extend(out[i].iter().map(|e| e.0 as usize));
    }
    for i in n_workloads..n {
        let name = &nodes[i].name;
        if !can_finish[i] {
            let cycle = find_cycle(&out, i).map(|cyc| {
                cyc.iter()
                    .map(|&j| nodes[j].name.as_str())
                    .collect::<Vec<_>>()
                    .join(" → ")
            });
            c.error(
                Some(name),
                None,
                format!("components.{name}"),
                format!("routing loop with no exit{}: every request that reaches `{name}` calls around the loop forever", cycle.map(|s| format!(" ({s})")).unwrap_or_default()),
                "give one call in the loop a probability below 1, or remove it".into(),
            );
        } else if !reached[i] {
            c.warn(name, "nothing sends requests to this component".into(), Some("connect it with a workload's `to`, a call or a load balancer's backends, or remove it".into()));
        }
    }
    if c.errors.is_empty() {
        deadlock_check(c, nodes, n_workloads, &reached);
        // A cycle that can exit still bounces requests; warn once per component on a cycle.
        for i in n_workloads..n {
            if reached[i] && find_cycle(&out, i).is_some() {
                let name = nodes[i].name.clone();
                c.warn(
                    &name,
                    "requests can come back to this component through its calls (a cycle)".into(),
                    Some(
                        "requests that go round too often fail with hop_limit (limits.max_hops)"
                            .into(),
                    ),
                );
            }
        }
    }
}

/// A cycle of calls that wait without a timeout, through a component that keeps its thread
/// while it waits (a thread-pool service), can deadlock under load: every thread fills with
/// calls waiting on answers that queue for those same threads. Not an error (light traffic
/// may never fill the pool), so a warning per cycle, at its first such component; the run
/// reports a deadlock that happens (`deadlocked`).
fn deadlock_check(c: &mut Checker, nodes: &[Node], n_workloads: usize, reached: &[bool]) {
    let out: Vec<Vec<(NodeId, bool)>> = nodes
        .iter()
        .map(|n| {
            n.kind
                .edges()
                .iter()
                .filter(|e| e.waits)
                .map(|e| (e.to, e.always))
                .collect()
        })
        .collect();
    let mut seen: Vec<Vec<usize>> = Vec::new();
    for i in n_workloads..nodes.len() {
        if !reached[i] || !nodes[i].kind.keeps_threads_while_waiting() {
            continue;
        }
        let Some(cycle) = find_cycle(&out, i) else {
            continue;
        };
        let mut members = cycle.clone();
        members.sort_unstable();
        members.dedup();
        if seen.contains(&members) {
            continue;
        }
        seen.push(members);
        let path: Vec<String> = cycle
            .iter()
            .map(|&j| format!("`{}`", nodes[j].name))
            .collect();
        let name = nodes[i].name.clone();
        let next = cycle
            .get(1)
            .map_or(name.as_str(), |&j| nodes[j].name.as_str());
        c.warn(
            &name,
            format!(
                "the call cycle {} can deadlock under load: once every thread of `{name}` waits on `{next}`, the calls that come back round to `{name}` queue for a thread that never comes free",
                path.join(" → ")
            ),
            Some(
                "give a call in the cycle a `timeout` (a timed-out call frees its thread), or make every service in the cycle `server: Async`".into(),
            ),
        );
    }
}

/// A call chain deeper than `limits.max_hops` fails every request that takes it with
/// `hop_limit`: refuse it here rather than let every such request fail. Chains are followed
/// along every edge (whatever its probability), cycles excepted (a cycle that can exit is a
/// warning of its own; it goes as deep as its requests bounce).
fn depth_check(c: &mut Checker, nodes: &[Node], n_workloads: usize, max_hops: u32) {
    let out: Vec<Vec<usize>> = nodes
        .iter()
        .map(|n| n.kind.edges().iter().map(|e| e.to as usize).collect())
        .collect();
    // The longest chain of components starting at each node (itself included), its next
    // node, by depth-first search; an edge back onto the current path is skipped.
    let mut memo: Vec<Option<(u32, Option<usize>)>> = vec![None; nodes.len()];
    let mut on_path = vec![false; nodes.len()];
    fn longest(
        i: usize,
        out: &[Vec<usize>],
        memo: &mut [Option<(u32, Option<usize>)>],
        on_path: &mut [bool],
    ) -> u32 {
        if let Some((d, _)) = memo[i] {
            return d;
        }
        on_path[i] = true;
        let mut best = (1u32, None);
        for &j in &out[i] {
            if on_path[j] {
                continue;
            }
            let d = 1 + longest(j, out, memo, on_path);
            if d > best.0 {
                best = (d, Some(j));
            }
        }
        on_path[i] = false;
        memo[i] = Some(best);
        best.0
    }
    for w in 0..n_workloads {
        let Some(&first) = out[w].first() else {
            continue;
        };
        let depth = longest(first, &out, &mut memo, &mut on_path);
        if depth <= max_hops {
            continue;
        }
        let mut chain = vec![nodes[w].name.as_str()];
        let mut at = Some(first);
        while let Some(i) = at {
            if chain.len() > 12 {
                chain.push("…");
                break;
            }
            chain.push(nodes[i].name.as_str());
            at = memo[i].and_then(|m| m.1);
        }
        let name = nodes[w].name.clone();
        c.error(
            Some(&name),
            None,
            "limits.max_hops".into(),
            format!(
                "requests from `{name}` can go {depth} calls deep ({}), beyond limits.max_hops = {max_hops}: each that does fails with hop_limit",
                chain.join(" → ")
            ),
            format!(
                "raise limits.max_hops to at least {depth}, or shorten the chain"
            ),
        );
    }
}

/// A cycle through `start`, as node indices, if any.
fn find_cycle(out: &[Vec<(NodeId, bool)>], start: usize) -> Option<Vec<usize>> {
    // BFS from start's successors back to start, remembering parents.
    let mut parent = vec![usize::MAX; out.len()];
    let mut queue = std::collections::VecDeque::new();
    for &(j, _) in &out[start] {
        let j = j as usize;
        if parent[j] == usize::MAX {
            parent[j] = start;
            queue.push_back(j);
        }
    }
    while let Some(i) = queue.pop_front() {
        if i == start {
            let mut path = vec![start];
            let mut k = parent[start];
            while k != start {
                path.push(k);
                k = parent[k];
            }
            path.push(start);
            path.reverse();
            return Some(path);
        }
        for &(j, _) in &out[i] {
            let j = j as usize;
            if parent[j] == usize::MAX {
                parent[j] = i;
                queue.push_back(j);
            }
        }
    }
    None
}
