//! Commands as data: what a model's `events` section, the GUI and a test can tell a running
//! simulation, addressed by name ([`Command`]), and the same resolved to node ids
//! ([`Action`]) by one resolver, so a command that validates in a file is applied exactly as
//! one sent live.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use super::kinds::{CommandCx, OwnCommand};
use super::model::{Node, NodeId, Place, Zone};
use crate::units::Duration;

/// The arguments of a kind's own command, by name, as the file writes them (`"web"`, `1`,
/// `"2s"`).
pub type CommandArgs = BTreeMap<String, serde_json::Value>;

/// A change to a running simulation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub enum Command {
    /// Kill one instance of a component, or all of them when `instance` is left out: the
    /// work it holds fails with `instance_down`, and so does work sent to it while down.
    Kill {
        /// The component.
        component: String,
        /// The instance (0-based); default: every instance.
        #[serde(default)]
        instance: Option<u32>,
    },
    /// Bring a killed instance back, empty (every instance when `instance` is left out).
    Revive {
        /// The component.
        component: String,
        /// The instance (0-based); default: every instance.
        #[serde(default)]
        instance: Option<u32>,
    },
    /// Multiply the arrival rate of one workload, or of all of them when `workload` is left
    /// out (the traffic slider): 1.0 is the model's rate, 2.0 doubles it.
    Traffic {
        /// The multiplier (≥ 0).
        scale: f64,
        /// The workload; default: every workload.
        #[serde(default)]
        workload: Option<String>,
    },
    /// Set a service's number of instances (a manual scale-out or scale-in). New instances
    /// start empty and balancers in front of it start sending to them; removed ones take no
    /// new work and finish what they hold.
    Replicas {
        /// The service.
        component: String,
        /// The new count (1 to 100 000).
        count: u32,
    },
    /// Delay every answer the component gives by `latency`, for `lasting` (default: until
    /// the end of the run) — a slow disk, a noisy neighbour.
    AddLatency {
        /// The component.
        component: String,
        /// Extra time before each answer leaves.
        latency: Duration,
        /// How long the slowdown lasts; default: to the end.
        #[serde(default)]
        lasting: Option<Duration>,
    },
    /// Make a component fail this fraction of the requests it answers, for `lasting`
    /// (default: until the end of the run): they fail with `injected` after their work,
    /// like an HTTP 500.
    FailFraction {
        /// The component.
        component: String,
        /// The fraction failed, 0 to 1.
        fraction: f64,
        /// How long it lasts; default: to the end.
        #[serde(default)]
        lasting: Option<Duration>,
    },
    /// Take an availability zone down: every instance of every component placed in it is
    /// killed (as `Kill` does), until a `ZoneRestore`.
    ZoneOutage {
        /// The zone (from `regions`).
        zone: String,
    },
    /// Bring a zone back: every instance of every component placed in it is revived, empty.
    ZoneRestore {
        /// The zone.
        zone: String,
    },
    /// Take a whole region down: every component placed in it or in one of its zones is
    /// killed, until a `RegionRestore`.
    RegionOutage {
        /// The region.
        region: String,
    },
    /// Bring a region back: every component placed in it or in its zones is revived, empty.
    RegionRestore {
        /// The region.
        region: String,
    },
    /// A command of the component's own kind, by name, with its arguments by name: a
    /// balancer's `backend_down` and `backend_up` (nginx's `down` on an upstream server). The
    /// model reference lists each kind's commands.
    Do {
        /// The component.
        component: String,
        /// The command (`backend_down`).
        command: String,
        /// Its arguments (`{"backend": "web", "instance": 1}`).
        #[serde(default)]
        args: CommandArgs,
    },
    /// Set a field by its dotted path (as `--set` writes it), for the fields the model
    /// reference marks as live: `workloads.NAME.rate` and `components.NAME.replicas`.
    Set {
        /// The dotted path.
        path: String,
        /// The new value, as in the file (`"4000/s"`, `8`).
        value: String,
    },
}

/// A command that was applied, and when (the report's `events_applied`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AppliedEvent {
    /// When it applied, s.
    pub at_s: f64,
    /// When it applied, ns (exact: a model's `events` entry at this time replays it).
    pub at_ns: u64,
    /// The command.
    pub command: Command,
    /// Why the component did not take it, if it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// A command resolved to node ids, ready to apply.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    /// Kill one instance (or all: `None`) of a node.
    Kill {
        /// The component.
        node: NodeId,
        /// The instance, or every instance.
        replica: Option<u32>,
    },
    /// Revive one instance (or all).
    Revive {
        /// The component.
        node: NodeId,
        /// The instance, or every instance.
        replica: Option<u32>,
    },
    /// Set a workload's traffic multiplier (every workload's when `node` is `None`).
    Traffic {
        /// The workload, or all.
        node: Option<NodeId>,
        /// The multiplier.
        scale: f64,
    },
    /// Set a service's instance count.
    Replicas {
        /// The service.
        node: NodeId,
        /// The new count.
        count: u32,
    },
    /// Delay a node's answers.
    AddLatency {
        /// The component.
        node: NodeId,
        /// Extra delay, ns.
        latency_ns: u64,
        /// How long, ns (`u64::MAX`: to the end).
        lasting_ns: u64,
    },
    /// Fail a fraction of a node's answers.
    FailFraction {
        /// The component.
        node: NodeId,
        /// The fraction.
        fraction: f64,
        /// How long, ns (`u64::MAX`: to the end).
        lasting_ns: u64,
    },
    /// A kind's own command.
    Own {
        /// The component.
        node: NodeId,
        /// The command, resolved by its kind.
        command: OwnCommand,
    },
    /// Kill (`down`) or revive every instance of the components placed in a place.
    Outage {
        /// The zone or region.
        place: PlaceRef,
        /// Down (an outage) or up again (a restore).
        down: bool,
    },
}

/// A zone or a whole region, by id (1-based, see `Topology::zones` and `regions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceRef {
    /// One availability zone.
    Zone(u8),
    /// A region: the components placed in it and in its zones.
    Region(u8),
}

impl PlaceRef {
    /// Whether a component at `place` is in this zone or region.
    pub fn holds(self, place: Place) -> bool {
        match self {
            PlaceRef::Zone(z) => place.zone == z,
            PlaceRef::Region(r) => place.region == r,
        }
    }
}

/// A model's nodes, looked up by name.
#[derive(Clone, Copy)]
struct Nodes<'a>(&'a [Node]);

impl Nodes<'_> {
    fn node_id(&self, name: &str) -> Option<NodeId> {
        self.0
            .iter()
            .position(|n| n.name == name)
            .map(|i| i as NodeId)
    }
}

impl std::ops::Deref for Nodes<'_> {
    type Target = [Node];
    fn deref(&self) -> &[Node] {
        self.0
    }
}

/// Most instances a command may set (as `replicas` in a file).
const MAX_INSTANCES: u32 = super::validate::MAX_REPLICAS;

/// Why a command cannot apply to this model: a sentence, and a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

fn refuse(message: String, hint: String) -> Refusal {
    Refusal {
        message,
        hint: Some(hint),
    }
}

/// `names` as a hint lists them: `a`, `b`, `c`.
fn listed<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Command {
    /// Resolve names to ids and check the command against a model's nodes, regions and
    /// zones (`Topology::nodes`, `regions`, `zones`).
    pub fn resolve(
        &self,
        nodes: &[Node],
        regions: &[String],
        zones: &[Zone],
    ) -> Result<Action, Refusal> {
        let topo = Nodes(nodes);
        let component = |name: &str| -> Result<NodeId, Refusal> {
            match topo.node_id(name) {
                Some(id) if !topo[id as usize].kind.is_workload() => Ok(id),
                Some(_) => Err(refuse(
                    format!("`{name}` is a workload, not a component"),
                    "address a workload with Traffic(workload: ...)".into(),
                )),
                None => {
                    let names = || {
                        topo.iter()
                            .filter(|n| !n.kind.is_workload())
                            .map(|n| n.name.as_str())
                    };
                    Err(refuse(
                        format!("no component named `{name}`"),
                        super::diagnostic::did_you_mean(name, names())
                            .unwrap_or_else(|| format!("the components are: {}", listed(names()))),
                    ))
                }
            }
        };
        let instance = |node: NodeId, instance: Option<u32>| -> Result<Option<u32>, Refusal> {
            let n = topo[node as usize].kind.instances();
            match instance {
                Some(i) if i >= n => Err(refuse(
                    format!(
                        "`{}` has {n} instance{}; there is no instance {i}",
                        topo[node as usize].name,
                        if n == 1 { "" } else { "s" }
                    ),
                    format!("instances are numbered 0 to {}", n - 1),
                )),
                other => Ok(other),
            }
        };
        let lasting = |d: Option<Duration>| d.map_or(u64::MAX, Duration::as_nanos);
        Ok(match self {
            Command::Kill {
                component: c,
                instance: i,
            } => {
                let node = component(c)?;
                Action::Kill {
                    node,
                    replica: instance(node, *i)?,
                }
            }
            Command::Revive {
                component: c,
                instance: i,
            } => {
                let node = component(c)?;
                Action::Revive {
                    node,
                    replica: instance(node, *i)?,
                }
            }
            Command::Traffic { scale, workload } => {
                if !(scale.is_finite() && *scale >= 0.0) {
                    return Err(refuse(
                        format!("a traffic scale is a finite number ≥ 0, got {scale}"),
                        "1.0 is the model's rate, 2.0 doubles it, 0 stops it".into(),
                    ));
                }
                let node = match workload {
                    None => None,
                    Some(w) => match topo.node_id(w) {
                        Some(id) if topo[id as usize].kind.is_workload() => Some(id),
                        _ => {
                            let names = || {
                                topo.iter()
                                    .filter(|n| n.kind.is_workload())
                                    .map(|n| n.name.as_str())
                            };
                            return Err(refuse(
                                format!("no workload named `{w}`"),
                                super::diagnostic::did_you_mean(w, names()).unwrap_or_else(|| {
                                    format!("the workloads are: {}", listed(names()))
                                }),
                            ));
                        }
                    },
                };
                // The scaled peak of each workload it reaches must stay a rate simulated
                // time can represent.
                for (name, peak) in topo
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| node.is_none_or(|n| n as usize == *i))
                    .filter_map(|(_, n)| match n.kind.as_workload().map(|w| &w.source) {
                        Some(super::model::Source::Open {
                            rate_per_s,
                            profile,
                            ..
                        }) => Some((&n.name, profile.max_rate(*rate_per_s))),
                        _ => None,
                    })
                {
                    if peak * scale > crate::units::MAX_RATE_PER_S {
                        return Err(refuse(
                            format!(
                                "a traffic scale of {scale} takes `{name}` to {:.3e}/s at its peak, above 1e9/s (one arrival per nanosecond)",
                                peak * scale
                            ),
                            format!(
                                "use a scale of at most {} for `{name}`",
                                (crate::units::MAX_RATE_PER_S / peak * 1000.0).floor() / 1000.0
                            ),
                        ));
                    }
                }
                Action::Traffic {
                    node,
                    scale: *scale,
                }
            }
            Command::Replicas {
                component: c,
                count,
            } => {
                let node = component(c)?;
                if !topo[node as usize].kind.scalable() {
                    return Err(refuse(
                        format!(
                            "`{c}` is a {}, whose instance count cannot change",
                            topo[node as usize].kind.kind_name()
                        ),
                        "scale a service".into(),
                    ));
                }
                if !(1..=MAX_INSTANCES).contains(count) {
                    return Err(refuse(
                        format!("an instance count is between 1 and {MAX_INSTANCES}, got {count}"),
                        "kill every instance to take a service down".into(),
                    ));
                }
                Action::Replicas {
                    node,
                    count: *count,
                }
            }
            Command::AddLatency {
                component: c,
                latency,
                lasting: d,
            } => Action::AddLatency {
                node: component(c)?,
                latency_ns: latency.as_nanos(),
                lasting_ns: lasting(*d),
            },
            Command::FailFraction {
                component: c,
                fraction,
                lasting: d,
            } => {
                if !(0.0..=1.0).contains(fraction) {
                    return Err(refuse(
                        format!("a fraction is between 0 and 1, got {fraction}"),
                        "0.05 fails one request in twenty".into(),
                    ));
                }
                Action::FailFraction {
                    node: component(c)?,
                    fraction: *fraction,
                    lasting_ns: lasting(*d),
                }
            }
            Command::ZoneOutage { zone } | Command::ZoneRestore { zone } => {
                let Some(i) = zones.iter().position(|z| z.name == *zone) else {
                    let names = || zones.iter().map(|z| z.name.as_str());
                    let hint = if regions.contains(zone) {
                        format!("`{zone}` is a region: use RegionOutage / RegionRestore")
                    } else if zones.is_empty() {
                        "the model lists no zones: give its `regions` some `zones`".into()
                    } else {
                        super::diagnostic::did_you_mean(zone, names())
                            .unwrap_or_else(|| format!("zones: {}", listed(names())))
                    };
                    return Err(refuse(format!("no zone named `{zone}`"), hint));
                };
                Action::Outage {
                    place: PlaceRef::Zone(u8::try_from(i + 1).unwrap_or(u8::MAX)),
                    down: matches!(self, Command::ZoneOutage { .. }),
                }
            }
            Command::RegionOutage { region } | Command::RegionRestore { region } => {
                let Some(i) = regions.iter().position(|r| r == region) else {
                    return Err(refuse(
                        format!("no region named `{region}`"),
                        super::diagnostic::did_you_mean(region, regions.iter().map(String::as_str))
                            .unwrap_or_else(|| {
                                if regions.is_empty() {
                                    "the model has no regions: list them under `regions`".into()
                                } else {
                                    format!("regions: {}", regions.join(", "))
                                }
                            }),
                    ));
                };
                Action::Outage {
                    place: PlaceRef::Region(u8::try_from(i + 1).unwrap_or(u8::MAX)),
                    down: matches!(self, Command::RegionOutage { .. }),
                }
            }
            Command::Do {
                component: c,
                command,
                args,
            } => {
                let node = component(c)?;
                let kind = &topo[node as usize].kind;
                let own = kind.own_commands();
                if !own.iter().any(|o| o.name == command) {
                    let names: Vec<&str> = own.iter().map(|o| o.name).collect();
                    return Err(refuse(
                        format!(
                            "a {} has no command `{command}`",
                            kind.kind_name()
                        ),
                        super::diagnostic::did_you_mean(command, names.iter().copied())
                            .unwrap_or_else(|| {
                                if names.is_empty() {
                                    format!(
                                        "a {} has only the core commands (Kill, Revive, AddLatency, FailFraction...)",
                                        kind.kind_name()
                                    )
                                } else {
                                    format!("its commands: {}", names.join(", "))
                                }
                            }),
                    ));
                }
                let node_id = |name: &str| topo.node_id(name);
                let instances =
                    |id: NodeId| topo.get(id as usize).map_or(0, |n| n.kind.instances());
                let cx = CommandCx {
                    node_id: &node_id,
                    instances: &instances,
                };
                Action::Own {
                    node,
                    command: kind.resolve_command(command, args, &cx)?,
                }
            }
            Command::Set { path, value } => return set_live(topo, path, value, regions, zones),
        })
    }
}

/// `Set` of a live field: the workload rate becomes a traffic multiplier, a service's
/// `replicas` an instance count. Every other field is refused.
fn set_live(
    topo: Nodes<'_>,
    path: &str,
    value: &str,
    regions: &[String],
    zones: &[Zone],
) -> Result<Action, Refusal> {
    let live = "live fields: workloads.NAME.rate, components.NAME.replicas";
    let parts: Vec<&str> = path.split('.').collect();
    match parts.as_slice() {
        ["workloads", name, "rate"] => {
            let workloads = || {
                topo.iter()
                    .filter(|n| n.kind.is_workload())
                    .map(|n| n.name.as_str())
            };
            let Some(node) = topo.node_id(name) else {
                return Err(refuse(
                    format!("no workload named `{name}`"),
                    super::diagnostic::did_you_mean(name, workloads())
                        .unwrap_or_else(|| format!("the workloads are: {}", listed(workloads()))),
                ));
            };
            let Some(workload) = topo[node as usize].kind.as_workload() else {
                return Err(refuse(
                    format!("`{name}` is not a workload"),
                    format!(
                        "a component's live field is components.{name}.replicas; the workloads are: {}",
                        listed(workloads())
                    ),
                ));
            };
            let base = match workload.source {
                super::model::Source::Open { rate_per_s, .. } => rate_per_s,
                super::model::Source::Closed { .. } => {
                    return Err(refuse(
                        format!("`{name}` is a closed workload: it has users, not a rate"),
                        "its users and think time are fixed while it runs; change them in the model".into(),
                    ));
                }
            };
            let text = value.trim().trim_matches('"');
            let rate = crate::units::Rate::parse(text).map_err(|e| {
                let (e, hint) = crate::units::split_hint(&e);
                refuse(
                    format!("`{text}` is not a rate: {e}"),
                    hint.unwrap_or_else(|| "e.g. \"4000/s\"".into()),
                )
            })?;
            let scale = if base > 0.0 {
                rate.as_per_s() / base
            } else {
                return Err(refuse(
                    format!("`{name}` has rate 0 in the model; scale it with Traffic instead"),
                    format!("e.g. Traffic(workload: \"{name}\", scale: 2.0)"),
                ));
            };
            Ok(Action::Traffic {
                node: Some(node),
                scale,
            })
        }
        ["components", name, "replicas"] => {
            let count: u32 = value.trim().parse().map_err(|_| {
                refuse(
                    format!("`{value}` is not an instance count"),
                    "e.g. 8".into(),
                )
            })?;
            Command::Replicas {
                component: (*name).to_string(),
                count,
            }
            .resolve(topo.0, regions, zones)
        }
        _ => Err(refuse(
            format!("`{path}` cannot change while the simulation runs"),
            live.into(),
        )),
    }
}
