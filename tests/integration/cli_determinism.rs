//! Every bundled model, through the command line: the same seed gives the same `--json
//! --series` output (with `wall_s`, the only key allowed to differ, removed) and the same
//! `--csv` folder, byte for byte. The models run at their full `duration`: each takes well
//! under a second here, so nothing is shortened.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::{cli, scratch, stderr};

fn bundled_models() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "bundled models not found: {files:?}");
    files
}

/// The JSON report with `wall_s` removed, and the exit code.
fn json_run(model: &Path) -> (String, Option<i32>) {
    let out = cli(&["run", model.to_str().unwrap(), "--json", "--series"]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}: {}",
        model.display(),
        stderr(&out)
    );
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let wall = v.as_object_mut().unwrap().remove("wall_s");
    assert!(wall.is_some(), "no wall_s in the report");
    (v.to_string(), out.status.code())
}

/// Every file of a CSV folder, by name.
fn csv_run(model: &Path) -> BTreeMap<String, Vec<u8>> {
    let dir = scratch("determinism-csv");
    let out = cli(&[
        "run",
        model.to_str().unwrap(),
        "--csv",
        dir.to_str().unwrap(),
    ]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let files: BTreeMap<String, Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    std::fs::remove_dir_all(&dir).ok();
    files
}

#[test]
fn every_bundled_model_gives_the_same_json_and_csv_twice() {
    for model in bundled_models() {
        let (a, code_a) = json_run(&model);
        let (b, code_b) = json_run(&model);
        assert_eq!(code_a, code_b, "{}: exit codes differ", model.display());
        assert!(a == b, "{}: the JSON reports differ", model.display());
        assert!(a.contains("\"series\""), "{}: no series", model.display());

        let x = csv_run(&model);
        let y = csv_run(&model);
        assert!(!x.is_empty(), "{}: no CSV written", model.display());
        assert_eq!(
            x.keys().collect::<Vec<_>>(),
            y.keys().collect::<Vec<_>>(),
            "{}",
            model.display()
        );
        for (name, bytes) in &x {
            assert!(
                *bytes == y[name],
                "{}: {name} differs between runs",
                model.display()
            );
        }
    }
}
