//! The router kind as files write it (`Router(routes: [...], default: ...)`) and as
//! validation leaves it ([`RouterModel`]: a table from (class, region) to the component that
//! serves it). How it runs: `components/router.rs`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Edge, Finishes, KindModel, KindSpec};
use crate::dist::{Dist, Sampler};
use crate::topology::model::NodeId;
use crate::topology::validate::KindCx;
use crate::units::Duration;

fn default_overhead() -> Dist {
    Dist::Const(Duration::from_nanos(150_000))
}

/// One routing rule: requests matching every given condition go to `to`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// The component that serves matching requests.
    pub to: String,
    /// Request classes this route takes (an ingress path rule, an API gateway route); empty =
    /// any class.
    #[serde(default)]
    pub classes: Vec<String>,
    /// Regions this route takes (geo routing: the region the request comes from); empty =
    /// any region.
    #[serde(default)]
    pub regions: Vec<String>,
}

/// An L7 router: the first route that matches a request sends it on; requests no route takes
/// go to `default`, or fail with `no_route` (an ingress's 404) when there is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Router {
    /// Rules, tried in order.
    #[serde(default)]
    pub routes: Vec<Route>,
    /// Where requests that match no route go. Default: nowhere (they fail with `no_route`).
    #[serde(default)]
    pub default: Option<String>,
    /// Processing time the router adds to each request, on the way in (an HTTP proxy parses
    /// the request). Default: 150 µs.
    #[serde(default = "default_overhead")]
    pub overhead: Dist,
}

/// A validated router.
#[derive(Debug, Clone)]
pub struct RouterModel {
    /// Route targets, in rule order, then the default (if any) last.
    pub targets: Vec<NodeId>,
    /// Route names for reports: `to` of each rule, then `default`.
    pub target_names: Vec<String>,
    /// Regions known to the model (the table's second dimension), 0 = no region.
    pub regions: usize,
    /// The route index for each (class, region): `table[class * regions + region]`;
    /// [`RouterModel::NO_ROUTE`] when nothing takes it.
    pub table: Vec<u16>,
    /// Per-request overhead.
    pub overhead: Sampler,
}

impl RouterModel {
    /// Table entry of a request no route takes.
    pub const NO_ROUTE: u16 = u16::MAX;

    /// The route index of a request of `class` from `region`, if any.
    #[inline]
    pub fn route(&self, class: u8, region: u8) -> Option<usize> {
        let i = usize::from(class) * self.regions + usize::from(region);
        match self.table.get(i) {
            Some(&r) if r != Self::NO_ROUTE => Some(usize::from(r)),
            _ => None,
        }
    }
}

/// Most routes one router may have.
pub const MAX_ROUTES: usize = 1000;

impl KindSpec for Router {
    type Model = RouterModel;

    fn validate(&self, cx: &mut KindCx<'_, '_>) -> RouterModel {
        if self.routes.is_empty() && self.default.is_none() {
            cx.error(
                "routes",
                "routes",
                "a router needs at least one route or a default".into(),
                "e.g. routes: [Route(classes: [\"write\"], to: \"writer\")], default: \"web\""
                    .into(),
            );
        }
        if self.routes.len() > MAX_ROUTES {
            cx.error(
                "routes",
                "routes",
                format!("{} routes; at most {MAX_ROUTES}", self.routes.len()),
                format!("merge routes that go to the same component (a route takes several classes and regions); at most {MAX_ROUTES}"),
            );
        }
        let classes = cx.classes().len();
        // Region 0 is "no region"; region ids start at 1.
        let regions = cx.regions().len() + 1;
        let mut table = vec![RouterModel::NO_ROUTE; classes * regions];
        let mut targets = Vec::new();
        let mut target_names = Vec::new();
        for (i, route) in self.routes.iter().enumerate() {
            let rp = format!("routes.{i}");
            let to = cx.resolve(&route.to, "to", &format!("{rp}.to"));
            let mut class_ok = vec![route.classes.is_empty(); classes];
            for cl in &route.classes {
                if let Some(id) = cx.class_id(cl, "classes", &format!("{rp}.classes")) {
                    class_ok[id] = true;
                }
            }
            let mut region_ok = vec![route.regions.is_empty(); regions];
            for r in &route.regions {
                if let Some(id) = cx.region_id(r, "regions", &format!("{rp}.regions")) {
                    region_ok[id] = true;
                }
            }
            let Some(to) = to else { continue };
            let index = targets.len() as u16;
            targets.push(to);
            target_names.push(route.to.clone());
            let mut takes_any = false;
            for (c, _) in class_ok.iter().enumerate().filter(|(_, ok)| **ok) {
                for (r, _) in region_ok.iter().enumerate().filter(|(_, ok)| **ok) {
                    // The first rule that matches wins.
                    let slot = &mut table[c * regions + r];
                    if *slot == RouterModel::NO_ROUTE {
                        *slot = index;
                        takes_any = true;
                    }
                }
            }
            if !takes_any && class_ok.iter().any(|ok| *ok) && region_ok.iter().any(|ok| *ok) {
                cx.warn(
                    format!("route {i} (to `{}`) never matches: earlier routes take every request it would", route.to),
                    Some("move it before the routes that shadow it, or remove it".into()),
                );
            }
        }
        if let Some(default) = &self.default
            && let Some(to) = cx.resolve(default, "default", "default")
        {
            let index = targets.len() as u16;
            targets.push(to);
            target_names.push(default.clone());
            for slot in table.iter_mut().filter(|s| **s == RouterModel::NO_ROUTE) {
                *slot = index;
            }
        }
        let overhead = cx.sampler(&self.overhead, "overhead", "overhead");
        RouterModel {
            targets,
            target_names,
            regions,
            table,
            overhead,
        }
    }
}

impl KindModel for RouterModel {
    fn edges(&self) -> Vec<Edge> {
        let mut to = self.targets.clone();
        to.sort_unstable();
        to.dedup();
        to.into_iter()
            .map(|to| Edge {
                to,
                always: false,
                waits: true,
            })
            .collect()
    }

    fn finishes(&self) -> Finishes {
        Finishes::WhenAnyFinishes
    }
}
