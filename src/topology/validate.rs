//! Stage two of loading: [`TopologySpec`] → [`Topology`]. Resolves names, builds samplers,
//! checks probabilities, references and routing; collects every problem, not just the first.

use std::collections::BTreeMap;
use std::path::Path;

use super::diagnostic::{Diagnostic, did_you_mean};
use super::model::*;
use super::parse::{locate_field, locate_top_field};
use super::spec::{Component, FORMAT_VERSION, Keys, Layer, Profile, TopologySpec, Workload};
use crate::dist::{Dist, Sampler};
use crate::topology::units::Duration;

/// Most replicas one service may have: each is simulated (and balanced over) on its own, so a
/// typo like `replicas: 4000000000` would exhaust memory before the run starts.
pub const MAX_REPLICAS: u32 = 100_000;

/// Deepest call chain a model may allow (`limits.max_hops`).
pub const MAX_HOPS: u32 = 10_000;

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

struct Checker<'a> {
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
        hint: Option<String>,
    ) {
        let mut d = Diagnostic::error(msg).at(path).maybe_hint(hint);
        if let Some(e) = entry {
            d = d.in_component(e);
        }
        let d = self.locate(d, entry, field);
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
                self.error(Some(entry), Some(field), path, e, None);
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
                    None,
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
                Some("make the shares add up to 1, e.g. {\"read\": 0.9, \"write\": 0.1}".into()),
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
            Some(if spec.format_version > FORMAT_VERSION {
                "the file was written by a newer flashcrowd; upgrade".into()
            } else {
                format!("set format_version: {FORMAT_VERSION}")
            }),
        );
    }
    let duration_ns = spec.duration.as_nanos();
    if duration_ns == 0 {
        c.error(
            None,
            Some("duration"),
            "duration".into(),
            "duration must be positive".into(),
            Some("e.g. duration: \"5m\"".into()),
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
            Some(format!(
                "lengthen the run or shorten the warm-up, e.g. --set warmup={}",
                Duration::from_nanos(duration_ns / 10)
            )),
        );
    }
    if spec.requests == Some(0) {
        c.error(
            None,
            Some("requests"),
            "requests".into(),
            "requests must be at least 1 (or left out)".into(),
            None,
        );
    }
    if spec.limits.max_in_flight == 0 {
        c.error(
            None,
            Some("max_in_flight"),
            "limits.max_in_flight".into(),
            "must be at least 1".into(),
            None,
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
            None,
        );
    }
    if spec.metrics.window.as_nanos() == 0 {
        c.error(
            None,
            Some("window"),
            "metrics.window".into(),
            "the window must be positive".into(),
            None,
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
            None,
        );
    }
    if spec.workloads.is_empty() {
        c.error(
            None,
            Some("workloads"),
            "workloads".into(),
            "the model has no workload, so nothing would arrive".into(),
            Some("add e.g. workloads: {\"users\": Open(rate: \"100/s\", to: \"web\")}".into()),
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
            None,
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
                Some("rename one of them".into()),
            );
        }
        names.push(name.clone());
    }
    let n_workloads = spec.workloads.len();
    let component_names: Vec<&str> = spec.components.keys().map(String::as_str).collect();
    let component_id = |name: &str| -> Option<NodeId> {
        spec.components
            .keys()
            .position(|n| n == name)
            .map(|i| (n_workloads + i) as NodeId)
    };

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
            None,
        );
    }
    let class_id = |name: &str| classes.iter().position(|c| c == name);

    let resolve =
        |c: &mut Checker, target: &str, entry: &str, field: &str, path: String| -> Option<NodeId> {
            match component_id(target) {
                Some(id) => Some(id),
                None => {
                    let what = if spec.workloads.contains_key(target) {
                        format!("`{target}` is a workload; requests can only be sent to components")
                    } else {
                        format!("no component named `{target}`")
                    };
                    c.error(
                        Some(entry),
                        Some(field),
                        path,
                        what,
                        // A component is rarely meant to call itself: suggest others.
                        did_you_mean(
                            target,
                            component_names.iter().copied().filter(|n| *n != entry),
                        ),
                    );
                    None
                }
            }
        };

    let mut nodes: Vec<Node> = Vec::with_capacity(names.len());
    for (name, w) in &spec.workloads {
        let p = format!("workloads.{name}");
        let (to, mix, keys, regions, timeout) = match w {
            Workload::Open(o) => (&o.to, &o.mix, &o.keys, &o.regions, o.timeout),
            Workload::Closed(cl) => (&cl.to, &cl.mix, &cl.keys, &cl.regions, cl.timeout),
        };
        let to_id = resolve(&mut c, to, name, "to", format!("{p}.to")).unwrap_or(0);
        c.shares(mix, name, "mix", format!("{p}.mix"));
        c.shares(regions, name, "regions", format!("{p}.regions"));
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
                    None,
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
                        None,
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
                None,
            );
        }
        let regions_cum: Vec<(String, f64)> = regions
            .keys()
            .cloned()
            .zip(cumulative(regions.values().copied()))
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
                        None,
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
        });
    }

    for (name, comp) in &spec.components {
        let p = format!("components.{name}");
        let kind = match comp {
            Component::Service(s) => {
                if s.replicas == 0 {
                    c.error(
                        Some(name),
                        Some("replicas"),
                        format!("{p}.replicas"),
                        "a service needs at least 1 replica".into(),
                        None,
                    );
                }
                if s.replicas > MAX_REPLICAS {
                    c.error(
                        Some(name),
                        Some("replicas"),
                        format!("{p}.replicas"),
                        format!(
                            "{} replicas is more than the {MAX_REPLICAS} this simulator can hold (each replica is simulated on its own)",
                            s.replicas
                        ),
                        Some("use fewer replicas with more threads and cpus each".into()),
                    );
                }
                let base_cpu = c.sampler(&s.cpu, name, "cpu", format!("{p}.cpu"));
                let mut cpu = vec![base_cpu; classes.len()];
                for (class, dist) in &s.cpu_by_class {
                    let sampler = c.sampler(
                        dist,
                        name,
                        "cpu_by_class",
                        format!("{p}.cpu_by_class.{class}"),
                    );
                    match class_id(class) {
                        Some(i) => cpu[i] = sampler,
                        None => c.error(
                            Some(name),
                            Some("cpu_by_class"),
                            format!("{p}.cpu_by_class.{class}"),
                            format!(
                                "no workload sends requests of class `{class}` (classes: {})",
                                classes.join(", ")
                            ),
                            did_you_mean(class, classes.iter().map(String::as_str)),
                        ),
                    }
                }
                let mut calls = Vec::new();
                for (i, call) in s.calls.iter().enumerate() {
                    let cp = format!("{p}.calls.{i}");
                    let to = resolve(&mut c, &call.to, name, "to", format!("{cp}.to"));
                    if !(0.0..=1.0).contains(&call.probability) {
                        c.error(
                            Some(name),
                            Some("probability"),
                            format!("{cp}.probability"),
                            format!("a probability is between 0 and 1, got {}", call.probability),
                            None,
                        );
                    }
                    let mut class_mask = if call.classes.is_empty() { u64::MAX } else { 0 };
                    for cl in &call.classes {
                        match class_id(cl) {
                            Some(i) => class_mask |= 1 << i,
                            None => c.error(
                                Some(name),
                                Some("classes"),
                                format!("{cp}.classes"),
                                format!(
                                    "no workload sends requests of class `{cl}` (classes: {})",
                                    classes.join(", ")
                                ),
                                did_you_mean(cl, classes.iter().map(String::as_str)),
                            ),
                        }
                    }
                    if call.timeout == Some(Duration::ZERO) {
                        c.error(
                            Some(name),
                            Some("timeout"),
                            format!("{cp}.timeout"),
                            "a timeout must be positive (or left out)".into(),
                            None,
                        );
                    }
                    let latency = call
                        .latency
                        .as_ref()
                        .map(|d| c.sampler(d, name, "latency", format!("{cp}.latency")));
                    if let Some(to) = to {
                        calls.push(CallModel {
                            to,
                            probability: call.probability,
                            class_mask,
                            timeout_ns: call.timeout.map(Duration::as_nanos),
                            latency,
                            wait: call.wait,
                        });
                    }
                }
                NodeKind::Service(ServiceModel {
                    replicas: s.replicas.max(1),
                    threads: s.threads.get(),
                    cpus: s.cpus.get(),
                    server: s.server,
                    cpu,
                    queue_limit: s.queue_limit.get(),
                    calls,
                    call_mode: s.call_mode,
                })
            }
            Component::LoadBalancer(lb) => {
                if lb.backends.is_empty() {
                    c.error(
                        Some(name),
                        Some("backends"),
                        format!("{p}.backends"),
                        "a load balancer needs at least one backend".into(),
                        Some("e.g. backends: [\"web\"]".into()),
                    );
                }
                for w in lb.weights.keys() {
                    if !lb.backends.contains(w) {
                        c.error(
                            Some(name),
                            Some("weights"),
                            format!("{p}.weights.{w}"),
                            format!("`{w}` is not one of the backends"),
                            did_you_mean(w, lb.backends.iter().map(String::as_str)),
                        );
                    }
                }
                let mut backends = Vec::new();
                for (i, b) in lb.backends.iter().enumerate() {
                    let weight = lb.weights.get(b).copied().unwrap_or(1);
                    if weight == 0 {
                        c.error(Some(name), Some("weights"), format!("{p}.weights.{b}"), "a weight must be at least 1 (remove the backend to stop sending to it)".into(), None);
                    }
                    let Some(id) =
                        resolve(&mut c, b, name, "backends", format!("{p}.backends.{i}"))
                    else {
                        continue;
                    };
                    match spec.components.get(b) {
                        Some(Component::Service(s)) => {
                            for r in 0..s.replicas.clamp(1, MAX_REPLICAS) {
                                backends.push(Backend {
                                    node: id,
                                    replica: Some(r),
                                    weight: weight.max(1),
                                });
                            }
                        }
                        _ => backends.push(Backend {
                            node: id,
                            replica: None,
                            weight: weight.max(1),
                        }),
                    }
                }
                let default_overhead = match lb.layer {
                    Layer::L4 => Dist::Const(Duration::from_nanos(20_000)),
                    Layer::L7 => Dist::Const(Duration::from_nanos(150_000)),
                };
                let overhead = c.sampler(
                    lb.overhead.as_ref().unwrap_or(&default_overhead),
                    name,
                    "overhead",
                    format!("{p}.overhead"),
                );
                NodeKind::LoadBalancer(LoadBalancerModel {
                    backends,
                    policy: lb.policy,
                    overhead,
                })
            }
        };
        nodes.push(Node {
            name: name.clone(),
            kind,
        });
    }

    if c.errors.is_empty() {
        routing_checks(&mut c, &nodes, n_workloads);
    }
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
        nodes,
        slo: spec.slo.clone(),
        limits: spec.limits.clone(),
        window_ns: spec.metrics.window.as_nanos(),
        max_points: spec.metrics.max_points,
        warnings: c.warnings,
        spec,
    })
}

fn profile(c: &mut Checker, p: &Profile, base: f64, entry: &str, path: &str) -> RateProfile {
    let path = format!("{path}.profile");
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
                    None,
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
                    None,
                );
            }
            if period.as_nanos() == 0 {
                c.error(
                    Some(entry),
                    Some("period"),
                    format!("{path}.period"),
                    "the period must be positive".into(),
                    None,
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
                    None,
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
                    None,
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
                        None,
                    );
                }
                RateProfile::Piecewise(pts)
            }
            Err(e) => {
                c.error(Some(entry), Some("file"), path, e, None);
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
        if !(t.is_finite() && t >= 0.0 && r.is_finite() && r >= 0.0) {
            return Err(format!(
                "{}:{}: times and rates cannot be negative",
                path.display(),
                i + 1
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

/// Outgoing edges of a node, with whether each is always taken.
fn edges(node: &Node) -> Vec<(NodeId, bool)> {
    match &node.kind {
        NodeKind::Workload(w) => vec![(w.to, true)],
        NodeKind::Service(s) => s
            .calls
            .iter()
            .map(|c| {
                (
                    c.to,
                    c.probability >= 1.0 && c.class_mask == u64::MAX && c.wait,
                )
            })
            .collect(),
        NodeKind::LoadBalancer(lb) => {
            let mut v: Vec<(NodeId, bool)> = lb.backends.iter().map(|b| (b.node, false)).collect();
            v.dedup();
            v
        }
    }
}

/// Loops with no exit are errors, loops that can exit are warnings, unreached components
/// are warnings.
fn routing_checks(c: &mut Checker, nodes: &[Node], n_workloads: usize) {
    let n = nodes.len();
    let out: Vec<Vec<(NodeId, bool)>> = nodes.iter().map(edges).collect();
    // can_finish: a service can answer if all its mandatory calls can; a balancer if any
    // backend can. Least fixpoint from "nothing can finish".
    let mut can_finish = vec![false; n];
    loop {
        let mut changed = false;
        for i in n_workloads..n {
            if can_finish[i] {
                continue;
            }
            let ok = match &nodes[i].kind {
                NodeKind::Service(_) => out[i]
                    .iter()
                    .filter(|e| e.1)
                    .all(|e| can_finish[e.0 as usize]),
                NodeKind::LoadBalancer(_) => out[i].iter().any(|e| can_finish[e.0 as usize]),
                NodeKind::Workload(_) => true,
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
                Some("give one call in the loop a probability below 1, or remove it".into()),
            );
        } else if !reached[i] {
            c.warn(name, "nothing sends requests to this component".into(), Some("connect it with a workload's `to`, a call or a load balancer's backends, or remove it".into()));
        }
    }
    if c.errors.is_empty() {
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
