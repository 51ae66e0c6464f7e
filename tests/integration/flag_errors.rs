//! An error in a value given on the command line names the flag the user typed
//! (`--duration`, `--set path`), not the model's own line, which no longer holds that value.

use crate::common::{cli, stderr};

#[test]
fn duration_flag_errors_name_the_flag() {
    let out = cli(&["run", "models/mm1.ron", "--duration", "5parsecs"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.starts_with("error: --duration: `5parsecs`"), "{err}");
    assert!(!err.contains("--set"), "{err}");

    let out = cli(&["run", "models/mm1.ron", "--duration", "0s"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("models/mm1.ron: error: --duration: duration must be positive\n  hint: e.g. --duration 5m"),
        "{err}"
    );
}

#[test]
fn set_errors_found_by_validation_name_the_override() {
    let out = cli(&["run", "models/mm1.ron", "--set", "duration=\"0s\""]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    // No `models/mm1.ron:5:…`: the model's line holds the old value.
    assert!(
        err.contains("models/mm1.ron: error: --set duration: duration must be positive"),
        "{err}"
    );
}

#[test]
fn negative_duration_flag_reaches_the_duration_parser() {
    // Not taken by the argument parser for an unknown flag `-1`.
    let out = cli(&["run", "models/mm1.ron", "--duration", "-1s"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("--duration: `-1s`: a duration cannot be negative"),
        "{err}"
    );
}
