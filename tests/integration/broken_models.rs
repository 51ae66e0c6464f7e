//! The corpus of broken models in tests/broken/: each has one mistake and a first line
//! `// expect: <text>`; `flashcrowd validate` must refuse it (exit 2, never a panic) with that
//! text in a message located at `file:line:col`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn validate(file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flashcrowd"))
        .arg("validate")
        .arg(file)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

/// The corpus files, relative to the crate root, sorted.
fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .map(|p| Path::new("tests/broken").join(p.file_name().unwrap()))
        .collect();
    files.sort();
    files
}

/// The text after `// expect:` on the first line.
fn expectation(file: &Path) -> String {
    // Lossy: one model of the corpus is deliberately not UTF-8 (after its first line).
    let bytes = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let first = text.lines().next().unwrap_or_default();
    let Some(expect) = first.strip_prefix("// expect:") else {
        panic!(
            "{}: the first line must be `// expect: <text>`",
            file.display()
        );
    };
    let expect = expect.trim().to_string();
    assert!(!expect.is_empty(), "{}: empty expectation", file.display());
    expect
}

/// Whether `stderr` holds `file` followed by `:<digits>:<digits>`.
fn has_line_col(stderr: &str, file: &str) -> bool {
    stderr.match_indices(file).any(|(i, _)| {
        let rest = &stderr[i + file.len()..];
        let digits = |s: &str| -> usize { s.chars().take_while(char::is_ascii_digit).count() };
        let Some(rest) = rest.strip_prefix(':') else {
            return false;
        };
        let n = digits(rest);
        if n == 0 {
            return false;
        }
        let Some(rest) = rest[n..].strip_prefix(':') else {
            return false;
        };
        digits(rest) > 0
    })
}

#[test]
fn broken_corpus_is_large_enough() {
    let files = corpus();
    assert!(
        files.len() >= 60,
        "only {} broken models in tests/broken",
        files.len()
    );
    for f in &files {
        expectation(f);
    }
}

#[test]
fn broken_models_are_refused_with_located_explained_errors() {
    let mut failures = Vec::new();
    for file in corpus() {
        let expect = expectation(&file);
        let out = validate(&file);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let name = file.to_string_lossy().into_owned();
        // The expectation must come from a message, not from the file name printed with it.
        let messages = stderr.replace(&name, "");
        let mut problems = Vec::new();
        if out.status.code() != Some(2) {
            problems.push(format!("exit code {:?}, expected 2", out.status.code()));
        }
        if stderr.contains("panicked") {
            problems.push("the loader panicked".into());
        }
        if !messages.contains(&expect) {
            problems.push(format!("stderr does not contain `{expect}`"));
        }
        if !has_line_col(&stderr, &name) {
            problems.push(format!(
                "stderr does not locate the error as `{name}:line:col`"
            ));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{name}:\n  {}\n  stderr:\n{stderr}",
                problems.join("\n  ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn broken_model_errors_name_the_field_path() {
    // Value errors found by the parser carry the same dotted path as validation errors.
    for (file, path) in [
        ("tests/broken/cpus_negative.ron", "components.web.cpus: "),
        ("tests/broken/threads_zero.ron", "components.web.threads: "),
        ("tests/broken/rate_no_unit.ron", "workloads.users.rate: "),
        (
            "tests/broken/call_without_to.ron",
            "components.web.calls.0: ",
        ),
        ("tests/broken/warmup_too_long.ron", "warmup: "),
        (
            "tests/broken/call_probability_above_one.ron",
            "components.web.calls.1.probability: ",
        ),
    ] {
        let out = validate(Path::new(file));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(path), "{file}: no `{path}` in\n{stderr}");
    }
}

#[test]
fn unreached_component_is_only_a_warning() {
    let dir = std::env::temp_dir().join(format!("fc-broken-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("unreached.ron");
    std::fs::write(
        &file,
        r#"Topology(
    name: "unreached",
    duration: "1m",
    workloads: { "users": Open(rate: "100/s", to: "web") },
    components: {
        "web":   Service(threads: 8, cpu: Exp(mean: "2ms")),
        "cache": Service(threads: 8, cpu: Exp(mean: "0.2ms")),
    },
)
"#,
    )
    .unwrap();
    let out = validate(&file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    assert!(stderr.contains("warning"), "{stderr}");
    assert!(stderr.contains("nothing sends requests"), "{stderr}");
    assert!(stderr.contains("cache"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn every_error_in_the_broken_corpus_has_a_hint() {
    // Issue 11: every located error says how to fix it (the valid range, the unit to write,
    // the did-you-mean); warnings may go without one.
    let files: Vec<String> = corpus()
        .iter()
        .map(|f| f.to_string_lossy().into_owned())
        .collect();
    let mut args = vec!["validate", "--json"];
    args.extend(files.iter().map(String::as_str));
    let out = Command::new(env!("CARGO_BIN_EXE_flashcrowd"))
        .args(&args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let reports = v["files"].as_array().unwrap();
    assert_eq!(reports.len(), files.len());
    let mut errors = 0;
    let mut missing = Vec::new();
    for f in reports {
        for d in f["diagnostics"].as_array().unwrap() {
            if d["severity"] != "error" {
                continue;
            }
            errors += 1;
            let hint = d["hint"].as_str().unwrap_or_default().trim();
            let message = d["message"].as_str().unwrap_or_default();
            if hint.is_empty() || hint == message {
                missing.push(format!("{}: {message}", f["file"]));
            }
        }
    }
    assert!(
        errors >= files.len(),
        "{errors} errors in {} files",
        files.len()
    );
    assert!(
        missing.is_empty(),
        "errors without a hint:\n{}",
        missing.join("\n")
    );
}
