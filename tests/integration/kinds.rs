//! Every kind in the registry: it describes itself, its example validates and runs, it shows
//! in the report under its name, and its report object has only keys the JSON Schema knows.

use std::collections::BTreeSet;

use flashcrowd::components::{KINDS, WORKLOAD_META, error_cause_names};
use flashcrowd::metrics::Report;
use flashcrowd::topology::kinds::KIND_NAMES;

use flashcrowd::metrics::CommonPoint;
use flashcrowd::simulation::{RunOptions, Simulation};

use crate::common::{load, run};

/// A model where the kind's example sits between the users and a plain service it calls.
fn model_with(example: &str) -> String {
    // A kind that calls nothing (a cache) gets no backend, which nothing would reach.
    let backend = if example.contains("\"backend\"") {
        r#""backend": Service(threads: 8, cpus: 2, cpu: Exp(mean: "1ms")),"#
    } else {
        ""
    };
    format!(
        r#"Topology(duration: "4s", warmup: "1s", seed: 3,
            workloads: {{"users": Open(rate: "300/s", to: "subject")}},
            components: {{
                "subject": {example},
                {backend}
            }})"#
    )
}

#[test]
fn the_registry_lists_every_kind_once_in_every_layer() {
    let live: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
    assert_eq!(live, KIND_NAMES, "live and topology registries differ");
    let unique: BTreeSet<&str> = live.iter().copied().collect();
    assert_eq!(unique.len(), live.len(), "a kind listed twice: {live:?}");
}

#[test]
fn every_kinds_own_commands_are_in_its_palette_entry() {
    for (kind, own) in flashcrowd::topology::kinds::KIND_OWN_COMMANDS {
        let meta = KINDS.iter().find(|k| k.name == *kind).unwrap().meta;
        for c in *own {
            assert!(
                meta.commands.iter().any(|m| m.name == c.name),
                "{kind}: own command `{}` is not in META.commands",
                c.name
            );
            // A command may take no argument (a cache's flush); each it takes is explained.
            assert!(!c.summary.is_empty(), "{kind}: {c:?}");
            for (name, what) in c.args {
                assert!(!name.is_empty() && !what.is_empty(), "{kind}: {c:?}");
            }
        }
    }
}

#[test]
fn every_kind_describes_itself_for_the_palette() {
    for k in KINDS
        .iter()
        .map(|k| (k.name, k.meta))
        .chain([("workload", WORKLOAD_META)])
    {
        let (name, meta) = k;
        assert!(!meta.label.is_empty(), "{name}: no label");
        assert!(
            meta.summary.len() > 20 && meta.summary.ends_with('.'),
            "{name}: summary `{}` is not a sentence",
            meta.summary
        );
        assert!(!meta.example.is_empty(), "{name}: no example");
        for c in meta.commands {
            assert!(!c.name.is_empty() && !c.summary.is_empty(), "{name}: {c:?}");
        }
        for cause in meta.error_causes {
            assert!(
                error_cause_names().contains(cause),
                "{name}: cause {cause} not registered"
            );
        }
    }
}

/// The property names of the report schema's `ComponentReport`.
fn component_report_keys() -> BTreeSet<String> {
    let schema = serde_json::to_value(schemars::schema_for!(Report)).unwrap();
    let props = &schema["$defs"]["ComponentReport"]["properties"];
    props
        .as_object()
        .expect("ComponentReport has properties")
        .keys()
        .cloned()
        .collect()
}

#[test]
fn every_kind_runs_from_its_example_and_reports_under_its_name() {
    let schema_keys = component_report_keys();
    for kind in KINDS {
        let topo = load(&model_with(kind.meta.example));
        assert!(
            topo.warnings.is_empty(),
            "{}: example warns {:?}",
            kind.name,
            topo.warnings
        );
        let report = Simulation::new(
            &topo,
            RunOptions {
                series: true,
                ..Default::default()
            },
        )
        .run();
        let c = report
            .components
            .get("subject")
            .unwrap_or_else(|| panic!("{}: not in the report", kind.name));
        assert_eq!(c.kind, kind.name);
        // 300/s for 3 counted seconds: ≈ 900 arrivals (Poisson sd 30), all answered.
        assert!(
            (700..1100).contains(&c.arrivals),
            "{}: {} arrivals",
            kind.name,
            c.arrivals
        );
        assert_eq!(c.errors, 0, "{}: {:?}", kind.name, c.errors_by_cause);
        assert_eq!(report.end_to_end.completed, c.completions, "{}", kind.name);
        // Its JSON object carries the common keys the schema documents and the figures
        // its kind declares, each of them, and nothing else.
        let json = serde_json::to_value(c).unwrap();
        let declared: BTreeSet<&str> = kind.meta.figures.iter().map(|f| f.name).collect();
        for key in json.as_object().unwrap().keys() {
            assert!(
                schema_keys.contains(key) || declared.contains(key.as_str()),
                "{}: key `{key}` is neither common nor one of its declared figures",
                kind.name
            );
        }
        // Its series points carry the common columns and exactly the columns its kind
        // declares (no more than the inline slots), none shadowing a common one.
        let columns: BTreeSet<&str> = kind.meta.series.iter().map(|c| c.name).collect();
        assert!(
            kind.meta.series.len() <= flashcrowd::metrics::MAX_SERIES_COLUMNS,
            "{}: too many series columns",
            kind.name
        );
        let points = &report.series["subject"];
        assert!(points.len() >= 4, "{}: {} windows", kind.name, points.len());
        for p in points {
            let keys: BTreeSet<&str> = p.figures.keys().map(String::as_str).collect();
            assert_eq!(keys, columns, "{}: series columns", kind.name);
        }
        for name in &columns {
            assert!(
                !CommonPoint::COLUMNS.contains(name),
                "{}: series column `{name}` shadows a common one",
                kind.name
            );
        }
        for name in &declared {
            assert!(
                c.figures.contains_key(*name),
                "{}: declared figure `{name}` is missing",
                kind.name
            );
            assert!(
                !schema_keys.contains(*name),
                "{}: figure `{name}` shadows a common key",
                kind.name
            );
        }
    }
}

#[test]
fn per_replica_figures_add_up_to_the_service() {
    let topo = load(
        r#"Topology(duration: "30s", warmup: "3s", seed: 12,
            workloads: {"users": Open(rate: "900/s", to: "web")},
            components: {"web": Service(replicas: 3, threads: 4, cpus: 2, cpu: Exp(mean: "4ms"))})"#,
    );
    let r = run(&topo, 0);
    let web = &r.components["web"];
    let per = web.figures["per_replica"].as_array().unwrap();
    assert_eq!(per.len(), 3);
    let sum = |key: &str| per.iter().map(|p| p[key].as_f64().unwrap()).sum::<f64>();
    assert_eq!(sum("arrivals") as u64, web.arrivals);
    assert!(
        (sum("throughput_per_s") - web.throughput_per_s).abs() < 1e-9,
        "{} vs {}",
        sum("throughput_per_s"),
        web.throughput_per_s
    );
    // Equal instances and capacity: the mean of their utilizations is the service's.
    let cpu = web.figure("cpu_utilization").unwrap();
    assert!((sum("cpu_utilization") / 3.0 - cpu).abs() < 1e-9);
    let threads = web.figure("thread_occupancy").unwrap();
    assert!((sum("thread_occupancy") / 3.0 - threads).abs() < 1e-9);
}

#[test]
fn figures_by_class_split_the_component_and_the_end_to_end_figures() {
    // A pure delay with a constant time per class: each class's latency is exact.
    let topo = load(
        r#"Topology(duration: "20s", warmup: "2s", seed: 6,
            workloads: {"users": Open(rate: "500/s", to: "api", mix: {"read": 0.8, "write": 0.2})},
            components: {"api": Service(threads: "unlimited", cpus: "unlimited",
                cpu: Const("2ms"), cpu_by_class: {"write": Const("7ms")})})"#,
    );
    let r = run(&topo, 0);
    for by_class in [&r.components["api"].by_class, &r.end_to_end.by_class] {
        let read = &by_class["read"];
        let write = &by_class["write"];
        assert!((read.latency_s.mean - 0.002).abs() < 1e-9);
        assert!((write.latency_s.mean - 0.007).abs() < 1e-9);
        assert!((write.latency_s.p99 - 0.007).abs() < 0.007 * 1e-3);
        assert_eq!(read.errors + write.errors, 0);
    }
    let c = &r.components["api"];
    assert_eq!(
        c.by_class["read"].arrivals + c.by_class["write"].arrivals,
        c.arrivals
    );
    assert_eq!(
        c.by_class["read"].completions + c.by_class["write"].completions,
        c.completions
    );
    // 20 % writes, binomial sd over 9000 arrivals ≈ 38.
    let writes = c.by_class["write"].arrivals as f64;
    let n = c.arrivals as f64;
    assert!(
        (writes - 0.2 * n).abs() < 4.0 * (n * 0.2 * 0.8).sqrt(),
        "{writes} of {n}"
    );
}
