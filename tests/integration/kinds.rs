//! Every kind in the registry: it describes itself, its example validates and runs, it shows
//! in the report under its name, and its report object has only keys the JSON Schema knows.

use std::collections::BTreeSet;

use flashcrowd::components::{KINDS, WORKLOAD_META, error_cause_names};
use flashcrowd::metrics::Report;
use flashcrowd::topology::kinds::KIND_NAMES;

use crate::common::{load, run};

/// A model where the kind's example sits between the users and a plain service it calls.
fn model_with(example: &str) -> String {
    format!(
        r#"Topology(duration: "4s", warmup: "1s", seed: 3,
            workloads: {{"users": Open(rate: "300/s", to: "subject")}},
            components: {{
                "subject": {example},
                "backend": Service(threads: 8, cpus: 2, cpu: Exp(mean: "1ms")),
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
        let report = run(&topo, 0);
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
        // Its JSON object carries only keys the schema documents.
        let json = serde_json::to_value(c).unwrap();
        for key in json.as_object().unwrap().keys() {
            assert!(
                schema_keys.contains(key),
                "{}: key `{key}` is not in the report schema",
                kind.name
            );
        }
    }
}
