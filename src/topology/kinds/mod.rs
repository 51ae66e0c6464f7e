//! Component kinds, as files write them and as validation leaves them: one file per kind,
//! each with its schema (serde types whose doc comments are the model reference), its
//! validated model, and the [`KindSpec`] / [`KindModel`] impls that turn one into the other
//! and tell routing checks where requests can go.
//!
//! The [`Component`] and [`NodeKind`] enums are generated from the one list of kinds
//! (`crate::for_each_kind!`); nothing here knows how a kind runs.

pub mod cache;
pub mod load_balancer;
pub mod router;
pub mod service;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::events::{CommandArgs, Refusal};
use super::model::{NodeId, Source, WorkloadModel};
use super::validate::KindCx;

/// A kind's own command, resolved against the model: which of the kind's commands
/// ([`KindModel::OWN_COMMANDS`], by index) and its arguments, encoded by the kind, which
/// decodes them when the command reaches the live component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnCommand {
    /// Index into the kind's [`KindModel::OWN_COMMANDS`].
    pub code: u8,
    /// Kind-defined arguments (node ids, instances, nanoseconds...).
    pub args: [u64; 2],
}

/// A command a kind defines beyond the core ones (`Do(component, command, args)` in a
/// model's `events`): for the model reference, the GUI and validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnCommandInfo {
    /// Its name (`backend_down`).
    pub name: &'static str,
    /// What it does, in a line.
    pub summary: &'static str,
    /// Its arguments: name and what to write.
    pub args: &'static [(&'static str, &'static str)],
}

/// What resolving a kind's own command may look up: the model's component names.
pub struct CommandCx<'a> {
    /// Node id of a component, by name.
    pub node_id: &'a dyn Fn(&str) -> Option<NodeId>,
    /// Instances of a node.
    pub instances: &'a dyn Fn(NodeId) -> u32,
}

/// One outgoing edge of a component: a call it may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    /// The component called.
    pub to: NodeId,
    /// Every request that reaches the caller makes this call and waits for it (so a cycle of
    /// such edges never ends).
    pub always: bool,
    /// When made, the caller waits for the answer with no deadline of its own (a timeout
    /// would answer it): a cycle of such edges through a component that keeps a thread while
    /// it waits ([`KindModel::keeps_threads_while_waiting`]) can deadlock.
    pub waits: bool,
}

/// When a component can answer, in terms of its edges (for the routing-loop check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finishes {
    /// When every `always` edge's target can answer (a service making its calls in turn).
    WhenAllRequiredFinish,
    /// When any edge's target can answer (a balancer or router sends each request one way).
    WhenAnyFinishes,
}

/// A kind's schema: what validation makes of it.
pub trait KindSpec {
    /// The validated model.
    type Model: KindModel;

    /// Instances this component will have (a service's replicas; 1 for most kinds). Read by
    /// other kinds while validating (a balancer gets one backend per instance).
    fn instances(&self) -> u32 {
        1
    }

    /// Check the spec and resolve names; report problems through `cx` (validation goes on
    /// with a best-effort model, so every problem is found in one pass).
    fn validate(&self, cx: &mut KindCx<'_, '_>) -> Self::Model;
}

/// What the rest of the crate asks of a validated kind.
pub trait KindModel {
    /// Where requests can go from here.
    fn edges(&self) -> Vec<Edge>;

    /// When this component can answer (see [`Finishes`]).
    fn finishes(&self) -> Finishes {
        Finishes::WhenAllRequiredFinish
    }

    /// Whether it reads request keys (workloads draw keys only when some component does).
    fn reads_keys(&self) -> bool {
        false
    }

    /// Instances (replicas).
    fn instances(&self) -> u32 {
        1
    }

    /// Whether its instance count can change while it runs (`Replicas`, an autoscaler).
    fn scalable(&self) -> bool {
        false
    }

    /// Whether work waits in it (a service's queue and threads), rather than passing through
    /// it to another component that holds it (a balancer, a router): stability is judged
    /// where work waits, so a backlog is reported once.
    fn holds_work(&self) -> bool {
        false
    }

    /// Whether a call into it can queue for a thread (or any bounded unit of capacity) that
    /// its calls keep while they wait on their own downstream answers: a thread-pool service
    /// with finite threads, a queue and calls to wait on. A cycle of waiting calls through
    /// it can fill it with waiters whose answers queue behind them (a deadlock; the
    /// validation warns, the run detects it).
    fn keeps_threads_while_waiting(&self) -> bool {
        false
    }

    /// The kind's own commands (beyond kill, revive, latency and failure injection).
    const OWN_COMMANDS: &'static [OwnCommandInfo] = &[];

    /// Resolve the own command `name` (one of [`KindModel::OWN_COMMANDS`]) with `args`
    /// against this component, or say why it cannot apply. Called only with a listed name.
    fn resolve_command(
        &self,
        name: &str,
        args: &CommandArgs,
        cx: &CommandCx<'_>,
    ) -> Result<OwnCommand, Refusal> {
        let _ = (args, cx);
        Err(Refusal {
            message: format!("no command `{name}`"),
            hint: None,
        })
    }
}

macro_rules! kind_enums {
    ($( $(#[$doc:meta])* $variant:ident {
        name: $name:literal, spec: $spec:ty, model: $model:ty, live: $live:ty $(,)?
    } ),* $(,)?) => {
        /// A component of the architecture.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub enum Component {
            $( $(#[$doc])* $variant($spec), )*
        }

        impl Component {
            /// The kind's name in files and reports (`service`, `load_balancer`, ...).
            pub fn kind_name(&self) -> &'static str {
                match self {
                    $( Component::$variant(_) => $name, )*
                }
            }

            /// Instances this component will have.
            pub fn instances(&self) -> u32 {
                match self {
                    $( Component::$variant(s) => KindSpec::instances(s), )*
                }
            }

            /// Validate into the runnable kind.
            pub(crate) fn validate(&self, cx: &mut KindCx<'_, '_>) -> NodeKind {
                match self {
                    $( Component::$variant(s) => NodeKind::$variant(KindSpec::validate(s, cx)), )*
                }
            }
        }

        /// A validated node: a workload or a component of some kind.
        #[derive(Debug, Clone)]
        #[allow(clippy::large_enum_variant)]
        pub enum NodeKind {
            /// A source of requests.
            Workload(WorkloadModel),
            $( $(#[$doc])* $variant($model), )*
        }

        impl NodeKind {
            /// The kind's name as reports show it.
            pub fn kind_name(&self) -> &'static str {
                match self {
                    NodeKind::Workload(w) => match w.source {
                        Source::Open { .. } => "open_workload",
                        Source::Closed { .. } => "closed_workload",
                    },
                    $( NodeKind::$variant(_) => $name, )*
                }
            }

            /// Where requests can go from here.
            pub fn edges(&self) -> Vec<Edge> {
                match self {
                    NodeKind::Workload(w) => vec![Edge { to: w.to, always: true, waits: true }],
                    $( NodeKind::$variant(m) => KindModel::edges(m), )*
                }
            }

            /// When it can answer.
            pub fn finishes(&self) -> Finishes {
                match self {
                    NodeKind::Workload(_) => Finishes::WhenAllRequiredFinish,
                    $( NodeKind::$variant(m) => KindModel::finishes(m), )*
                }
            }

            /// Whether it reads request keys.
            pub fn reads_keys(&self) -> bool {
                match self {
                    NodeKind::Workload(_) => false,
                    $( NodeKind::$variant(m) => KindModel::reads_keys(m), )*
                }
            }

            /// Instances (replicas); 1 for a workload.
            pub fn instances(&self) -> u32 {
                match self {
                    NodeKind::Workload(_) => 1,
                    $( NodeKind::$variant(m) => KindModel::instances(m), )*
                }
            }

            /// Whether its instance count can change while it runs.
            pub fn scalable(&self) -> bool {
                match self {
                    NodeKind::Workload(_) => false,
                    $( NodeKind::$variant(m) => KindModel::scalable(m), )*
                }
            }

            /// See [`KindModel::keeps_threads_while_waiting`].
            pub fn keeps_threads_while_waiting(&self) -> bool {
                match self {
                    NodeKind::Workload(_) => false,
                    $( NodeKind::$variant(m) => KindModel::keeps_threads_while_waiting(m), )*
                }
            }

            /// Whether work waits in it (see [`KindModel::holds_work`]).
            pub fn holds_work(&self) -> bool {
                match self {
                    NodeKind::Workload(_) => false,
                    $( NodeKind::$variant(m) => KindModel::holds_work(m), )*
                }
            }

            /// The kind's own commands (none for a workload).
            pub fn own_commands(&self) -> &'static [OwnCommandInfo] {
                match self {
                    NodeKind::Workload(_) => &[],
                    $( NodeKind::$variant(_) => <$model as KindModel>::OWN_COMMANDS, )*
                }
            }

            /// Resolve one of its own commands (see [`KindModel::resolve_command`]).
            pub fn resolve_command(
                &self,
                name: &str,
                args: &CommandArgs,
                cx: &CommandCx<'_>,
            ) -> Result<OwnCommand, Refusal> {
                match self {
                    NodeKind::Workload(_) => Err(Refusal {
                        message: format!("a workload has no command `{name}`"),
                        hint: None,
                    }),
                    $( NodeKind::$variant(m) => KindModel::resolve_command(m, name, args, cx), )*
                }
            }

            /// The workload's model, if this is a workload.
            pub fn as_workload(&self) -> Option<&WorkloadModel> {
                match self {
                    NodeKind::Workload(w) => Some(w),
                    $( NodeKind::$variant(_) => None, )*
                }
            }

            /// True for a workload.
            pub fn is_workload(&self) -> bool {
                match self {
                    NodeKind::Workload(_) => true,
                    $( NodeKind::$variant(_) => false, )*
                }
            }
        }

        /// Every component kind's name, in registry order.
        pub const KIND_NAMES: &[&str] = &[$( $name, )*];

        /// Every kind's own commands (`Do(...)`), by kind name, in registry order.
        pub const KIND_OWN_COMMANDS: &[(&str, &[OwnCommandInfo])] =
            &[$( ($name, <$model as KindModel>::OWN_COMMANDS), )*];
    };
}

crate::for_each_kind!(kind_enums);
