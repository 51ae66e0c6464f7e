//! The one list of component kinds.
//!
//! Every layer that has something per kind — the file schema (`topology::kinds::Component`),
//! the validated model (`topology::kinds::NodeKind`) and the live component
//! (`components::Live`) — generates its enum and its forwarding `match`es from this list, so
//! a kind is added here once and a forgotten piece fails to compile. Nothing else in the crate
//! matches over kinds with `_ =>`, `if let` or `matches!` (docs/ARCHITECTURE.md, *Adding a
//! component kind*).
//!
//! Each entry names the kind's variant, its name in reports and files (`name`, which is also
//! its module's name in `topology/kinds/` and in `components/`), and its three types: the
//! schema it is written in, the validated model, and the live component. The doc comment
//! becomes the variant's documentation in the schema and the model reference.

/// Calls the macro `$callback` with the list of component kinds (see the module docs).
#[macro_export]
#[doc(hidden)]
macro_rules! for_each_kind {
    ($callback:ident) => {
        $callback! {
            /// A service (web server, API, database-like backend): replicas with threads and
            /// CPUs, an optional queue limit, and downstream calls made before answering.
            Service {
                name: "service",
                spec: $crate::topology::kinds::service::Service,
                model: $crate::topology::kinds::service::ServiceModel,
                live: $crate::components::service::Service,
            },
            /// A load balancer spreading requests over backends (nginx upstream semantics).
            LoadBalancer {
                name: "load_balancer",
                spec: $crate::topology::kinds::load_balancer::LoadBalancer,
                model: $crate::topology::kinds::load_balancer::LoadBalancerModel,
                live: $crate::components::load_balancer::LoadBalancer,
            },
            /// An L7 router (API gateway, ingress): sends each request to one component chosen
            /// by its class or its region, else to a default route.
            Router {
                name: "router",
                spec: $crate::topology::kinds::router::Router,
                model: $crate::topology::kinds::router::RouterModel,
                live: $crate::components::router::Router,
            },
            /// A cache (Redis, Memcached): lookups that hit or miss, fills and invalidations,
            /// a memory or key limit with Redis's eviction policies, TTLs.
            Cache {
                name: "cache",
                spec: $crate::topology::kinds::cache::Cache,
                model: $crate::topology::kinds::cache::CacheModel,
                live: $crate::components::cache::Cache,
            },
        }
    };
}
