//! `validate --json` prints machine-readable diagnostics for CI: file, line, column, path,
//! component, message, hint, and the same exit code as the text form.

use crate::common::cli;

#[test]
fn validate_json_lists_located_diagnostics_per_file() {
    let out = cli(&[
        "validate",
        "--json",
        "models/mm1.ron",
        "tests/broken/unknown_field_typo.ron",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    let files = v["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["file"], "models/mm1.ron");
    assert_eq!(files[0]["ok"], true);
    assert_eq!(files[0]["diagnostics"], serde_json::json!([]));
    let d = &files[1]["diagnostics"][0];
    assert_eq!(files[1]["ok"], false);
    assert_eq!(d["severity"], "error");
    assert_eq!(d["file"], "tests/broken/unknown_field_typo.ron");
    assert_eq!(d["line"], 7);
    assert!(d["column"].as_u64().is_some());
    assert_eq!(d["path"], "components.web");
    assert_eq!(d["component"], "web");
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `thread`")
    );
    assert_eq!(d["hint"], "did you mean `threads`?");
}

#[test]
fn validate_json_reports_missing_files_and_passes_good_ones() {
    let out = cli(&["validate", "--json", "models/nope.ron"]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["files"][0]["diagnostics"][0]["message"]
            .as_str()
            .unwrap()
            .contains("cannot read")
    );
    let out = cli(&["validate", "--json", "models/quickstart.ron"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["files"][0]["components"], 3);
}
