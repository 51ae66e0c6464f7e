//! The model reference in docs/ is generated from the schema and must be current; it covers
//! every field the parser accepts.

use flashcrowd::topology::reference;

/// Fail when the checked-in `doc` differs from what the code generates now (or rewrite it
/// with UPDATE_DOCS=1); `command` is how a person regenerates it.
fn assert_current(doc: &str, generated: &str, command: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(doc);
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    if on_disk != generated {
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, generated).unwrap();
        } else {
            panic!("{doc} is stale: run `{command} > {doc}` (or UPDATE_DOCS=1 cargo test)");
        }
    }
}

#[test]
fn model_reference_is_current_and_complete() {
    let generated = reference::markdown();
    assert_current(
        "docs/MODEL_REFERENCE.md",
        &generated,
        "cargo run -- reference",
    );
    let fields = reference::all_fields();
    assert!(fields.len() > 60, "{fields:?}");
    for f in &fields {
        let name = f.rsplit('.').next().unwrap();
        assert!(
            generated.contains(&format!("| `{name}` |")),
            "reference misses {f}"
        );
    }
    for must in [
        "Service.threads",
        "Service.queue_limit",
        "OpenWorkload.rate",
        "LoadBalancer.policy",
        "Call.timeout",
        "Limits.max_in_flight",
    ] {
        assert!(
            fields.iter().any(|f| f == must),
            "schema lacks {must}: {fields:?}"
        );
    }
}

#[test]
fn report_schema_is_current() {
    let generated =
        serde_json::to_string_pretty(&flashcrowd::simulation::report_schema()).unwrap() + "\n";
    assert_current(
        "docs/report.schema.json",
        &generated,
        "cargo run -- schema report",
    );
}
