//! Hostile and mistaken `--set` values: deep nesting is refused with a clear error (no stack
//! overflow), bare text only fills fields that take text or a unit, and names with dots
//! work when quoted (and are suggested when not).

use crate::common::{cli, model_file, scratch, stderr};

const MODEL: &str = r#"Topology(duration: "3s", warmup: "1s",
    workloads: {"w": Open(rate: "100/s", to: "web.v2")},
    components: {"web.v2": Service(cpu: Exp(mean: "1ms"))})"#;

fn run_with(set: &str) -> std::process::Output {
    let dir = scratch("set-values");
    let m = model_file(&dir, "m.ron", MODEL);
    cli(&["run", &m, "--json", "--set", set])
}

#[test]
fn deeply_nested_value_is_refused_without_a_crash() {
    let out = run_with(&format!(
        "components.\"web.v2\".replicas={}",
        "[".repeat(30_000)
    ));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("nested deeper than 64 brackets"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bare_text_is_taken_only_where_the_field_takes_text() {
    let out = run_with("workloads.w.rate=200/s");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let out = run_with("components.\"web.v2\".replicas=2x");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("expected a number (it is 1 now)"), "{err}");
    assert!(!err.contains("did you mean"), "{err}");

    let out = run_with("components.\"web.v2\".cpu=Exp(mean: 2ms)");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("is not a value this field takes"), "{err}");
    assert!(err.contains("text goes in double quotes"), "{err}");
    assert!(!err.contains("did you mean"), "{err}");
}

#[test]
fn dotted_names_work_quoted_and_are_suggested_unquoted() {
    let out = run_with("components.\"web.v2\".replicas=2");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["components"]["web.v2"]["replicas"], 2);

    let out = run_with("components.web.v2.replicas=2");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(
            "names with dots are quoted in a path: --set 'components.\"web.v2\".replicas=...'"
        ),
        "{err}"
    );
}

#[test]
fn non_finite_numbers_get_their_own_message() {
    let dir = scratch("set-nonfinite");
    let m = model_file(
        &dir,
        "m.ron",
        r#"Topology(duration: "3s", warmup: "1s",
            workloads: {"w": Open(rate: "100/s", to: "s",
                profile: Spike(at: "1s", multiplier: 2.0, hold: "1s"))},
            components: {"s": Service(cpu: Exp(mean: "1ms"))})"#,
    );
    for value in ["inf", "NaN", "1e999", "-inf"] {
        let out = cli(&[
            "run",
            &m,
            "--set",
            &format!("workloads.w.profile.multiplier={value}"),
        ]);
        assert_eq!(out.status.code(), Some(2), "{value}");
        let err = stderr(&out);
        assert!(err.contains("not finite"), "{value}: {err}");
        assert!(!err.contains("negative"), "{value}: {err}");
    }
}
