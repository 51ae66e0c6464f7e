//! Places: regions, zones and the placement of components. Calls between regions pay the
//! one-way latency both ways, a workload's requests pay it from their drawn region to the
//! component they enter, and zone or region outages kill exactly what is placed there.

use flashcrowd::metrics::{Report, SeriesPoint};
use flashcrowd::simulation::{RunOptions, Simulation};
use flashcrowd::topology::events::Command;

use crate::common::{errors_of, load, run};

/// A constant-time request: `api` (2 ms) calls `db` (3 ms) over a 1 ms link; `{places}` is
/// spliced into the model's top level.
fn two_tier(places: &str) -> Report {
    let topo = load(&format!(
        r#"Topology(duration: "10s", warmup: "1s", seed: 3,
        {places}
        workloads: {{"users": Open(rate: "200/s", to: "api")}},
        components: {{
            "api": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("2ms"),
                calls: [Call(to: "db", latency: Const("1ms"))]),
            "db": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("3ms")),
        }})"#
    ));
    run(&topo, 0)
}

/// Every request took exactly `ms` (successes only; none failed).
fn assert_every_request_took(r: &Report, ms: f64) {
    let e = &r.end_to_end;
    assert!(e.completed > 1000, "{} completed", e.completed);
    assert_eq!(e.errors, 0);
    assert_eq!(e.latency_s.max, ms / 1e3, "max");
    assert!(
        (e.latency_s.mean - ms / 1e3).abs() < 1e-12,
        "mean {} s, expected {ms} ms",
        e.latency_s.mean
    );
}

const REGIONS: &str = r#"regions: {"eu": Region(zones: ["eu-1a", "eu-1b"]), "us": Region()},
    region_latency: [("eu", "us", "40ms")], zone_latency: "1ms","#;

#[test]
fn a_call_across_regions_pays_the_one_way_latency_there_and_back() {
    // 2 + 1 + 3 + 1 ms without places.
    assert_every_request_took(&two_tier(""), 7.0);
    let across = two_tier(&format!(
        r#"{REGIONS} placement: {{"api": "eu-1a", "db": "us"}},"#
    ));
    assert_every_request_took(&across, 7.0 + 2.0 * 40.0);
    // The callee's own figures do not include the trip.
    assert_eq!(across.components["db"].latency_s.max, 0.003);
    assert_eq!(across.components["api"].latency_s.max, 0.087);
}

#[test]
fn calls_between_zones_of_a_region_pay_the_zone_latency_and_within_a_zone_nothing() {
    let zones = two_tier(&format!(
        r#"{REGIONS} placement: {{"api": "eu-1a", "db": "eu-1b"}},"#
    ));
    assert_every_request_took(&zones, 7.0 + 2.0 * 1.0);
    let same_zone = two_tier(&format!(
        r#"{REGIONS} placement: {{"api": "eu-1a", "db": "eu-1a"}},"#
    ));
    assert_every_request_took(&same_zone, 7.0);
    // A component placed in the region itself is in no zone: no zone latency.
    let region = two_tier(&format!(
        r#"{REGIONS} placement: {{"api": "eu-1a", "db": "eu"}},"#
    ));
    assert_every_request_took(&region, 7.0);
    // An unplaced component pays nothing to anyone.
    let unplaced = two_tier(&format!(r#"{REGIONS} placement: {{"api": "us"}},"#));
    assert_every_request_took(&unplaced, 7.0);
}

#[test]
fn requests_pay_the_latency_from_their_region_to_the_component_they_enter() {
    // The router sits in `us` with no overhead and sends each region's requests to its own
    // (constant 2 ms) service in `us`: the arrival counts say how many came from each region
    // (no warm-up, and arrivals stop a second before the end, so every request is counted
    // everywhere).
    let topo = load(
        r#"Topology(duration: "20s", warmup: "0s", seed: 17,
        regions: {"eu": Region(), "us": Region()},
        region_latency: [("us", "eu", "30ms")],
        placement: {"gw": "us", "from-eu": "us", "from-us": "us"},
        workloads: {"users": Open(rate: "500/s", to: "gw", regions: {"eu": 0.25, "us": 0.75})},
        components: {
            "gw": Router(routes: [Route(regions: ["eu"], to: "from-eu")], default: "from-us",
                overhead: Const("0s")),
            "from-eu": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("2ms")),
            "from-us": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("2ms")),
        },
        events: [("19s", Traffic(scale: 0.0))])"#,
    );
    let r = run(&topo, 0);
    let e = &r.end_to_end;
    assert_eq!(e.errors, 0);
    let (eu, us) = (
        r.components["from-eu"].arrivals,
        r.components["from-us"].arrivals,
    );
    assert_eq!(eu + us, e.completed);
    // From the EU: 2 ms + 2 × 30 ms; from the US: 2 ms.
    let mean = (eu as f64 * 0.062 + us as f64 * 0.002) / e.completed as f64;
    assert!(
        (e.latency_s.mean - mean).abs() < 1e-12,
        "mean {} s, share-weighted {mean} s",
        e.latency_s.mean
    );
    assert_eq!(e.latency_s.max, 0.062);
    // A quarter of the requests come from the EU (4 binomial standard deviations).
    let n = e.completed as f64;
    let sd = (n * 0.25 * 0.75).sqrt();
    assert!(
        (eu as f64 - 0.25 * n).abs() < 4.0 * sd,
        "{eu} of {n} from eu"
    );
    // Inside `us` nothing more is paid.
    assert_eq!(r.components["from-eu"].latency_s.max, 0.002);
}

/// One workload per component (`a` in zone eu-1a, `b` in eu-1b, `c` in the region eu, `d`
/// unplaced), with `events` spliced in.
fn four_places(events: &str) -> Report {
    let mut workloads = String::new();
    let mut components = String::new();
    for c in ["a", "b", "c", "d"] {
        workloads += &format!(r#""to-{c}": Open(rate: "200/s", to: "{c}"), "#);
        components += &format!(
            r#""{c}": Service(replicas: 2, threads: 8, cpus: 2, cpu: Exp(mean: "2ms")), "#
        );
    }
    let topo = load(&format!(
        r#"Topology(duration: "40s", warmup: "0s", seed: 5,
        regions: {{"eu": Region(zones: ["eu-1a", "eu-1b"]), "us": Region(zones: ["us-1a"])}},
        placement: {{"a": "eu-1a", "b": "eu-1b", "c": "eu"}},
        workloads: {{{workloads}}},
        components: {{{components}}},
        events: [{events}])"#
    ));
    Simulation::new(
        &topo,
        RunOptions {
            series: true,
            ..Default::default()
        },
    )
    .run()
}

/// Whether component `c` failed requests in every series window of [from, to) and only
/// there.
fn fails_only_between(r: &Report, c: &str, from: f64, to: f64) {
    let series: &[SeriesPoint] = &r.series[c];
    for p in series {
        if (from..to).contains(&p.t_s) {
            // 200/s all fail: 200 per 1 s window (Poisson sd 14).
            assert!(p.errors > 100, "{c}: {} errors at {} s", p.errors, p.t_s);
            assert_eq!(p.completions, 0, "{c}: completions at {} s", p.t_s);
        } else {
            assert_eq!(p.errors, 0, "{c}: errors at {} s", p.t_s);
        }
    }
    let report = &r.components[c];
    assert_eq!(
        report.errors_by_cause.get("instance_down"),
        Some(&report.errors)
    );
}

fn untouched(r: &Report, c: &str) {
    assert_eq!(r.components[c].errors, 0, "{c} failed requests");
}

#[test]
fn a_zone_outage_takes_down_exactly_the_components_in_that_zone_until_restored() {
    let r =
        four_places(r#"("20s", ZoneOutage(zone: "eu-1a")), ("30s", ZoneRestore(zone: "eu-1a"))"#);
    fails_only_between(&r, "a", 20.0, 30.0);
    for c in ["b", "c", "d"] {
        untouched(&r, c);
    }
    assert_eq!(errors_of(&r, "instance_down"), r.end_to_end.errors);
    assert!(r.events_applied.iter().all(|e| e.refused.is_none()));
}

#[test]
fn a_region_outage_takes_down_its_zones_and_the_components_placed_in_the_region() {
    let r =
        four_places(r#"("10s", RegionOutage(region: "eu")), ("25s", RegionRestore(region: "eu"))"#);
    for c in ["a", "b", "c"] {
        fails_only_between(&r, c, 10.0, 25.0);
    }
    untouched(&r, "d");
    // An outage of a zone where nothing runs changes nothing.
    let idle = four_places(r#"("10s", ZoneOutage(zone: "us-1a"))"#);
    assert_eq!(idle.end_to_end.errors, 0);
}

#[test]
fn outages_of_unknown_places_are_refused_with_a_suggestion() {
    let topo = load(
        r#"Topology(duration: "5s",
        regions: {"eu-west": Region(zones: ["eu-west-1a"])},
        placement: {"web": "eu-west-1a"},
        workloads: {"users": Open(rate: "10/s", to: "web")},
        components: {"web": Service(cpu: Exp(mean: "1ms"))})"#,
    );
    let mut sim = Simulation::new(&topo, RunOptions::default());
    let refused = |sim: &mut Simulation, cmd: Command| match sim.command(&cmd) {
        Err(e) => e.to_string(),
        Ok(()) => panic!("{cmd:?} was accepted"),
    };
    let typo = refused(
        &mut sim,
        Command::ZoneOutage {
            zone: "eu-west-1b".into(),
        },
    );
    assert!(typo.contains("no zone named `eu-west-1b`"), "{typo}");
    assert!(typo.contains("eu-west-1a"), "{typo}");
    let region = refused(
        &mut sim,
        Command::ZoneRestore {
            zone: "eu-west".into(),
        },
    );
    assert!(region.contains("RegionOutage"), "{region}");
    let unknown = refused(
        &mut sim,
        Command::RegionOutage {
            region: "us-east".into(),
        },
    );
    assert!(unknown.contains("no region named `us-east`"), "{unknown}");
}
