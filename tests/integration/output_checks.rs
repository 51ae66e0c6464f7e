//! Output problems surface early: an unwritable `--csv` folder stops the run before it
//! starts (exit 3); a file that fails after the run is reported after the report is printed
//! (exit 3); CSV file names are distinct and reversible; `--series` needs `--json`.

use crate::common::{cli, model_file, scratch, stderr, stdout};

const MODEL: &str = r#"Topology(duration: "3s", warmup: "1s",
    workloads: {"w": Open(rate: "100/s", to: "a.b")},
    components: {
        "a.b": Service(cpu: Exp(mean: "1ms"), calls: [Call(to: "a_b")]),
        "a_b": Service(cpu: Exp(mean: "1ms"), calls: [Call(to: "50%")]),
        "50%": Service(cpu: Exp(mean: "1ms")),
    })"#;

#[test]
fn unwritable_csv_folder_fails_before_the_run() {
    let dir = scratch("csv-unwritable");
    let m = model_file(&dir, "m.ron", MODEL);
    // A folder below a plain file cannot be created, even by root.
    let blocker = dir.join("file");
    std::fs::write(&blocker, "x").unwrap();
    let target = blocker.join("out");
    let out = cli(&["run", &m, "--csv", target.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stdout(&out).is_empty(), "the run should not have started");
    assert!(stderr(&out).contains("--csv"), "{}", stderr(&out));
}

#[test]
fn csv_failure_after_the_run_prints_the_report_first() {
    // A series name too long for a file name fails only when its file is written.
    let dir = scratch("csv-late-failure");
    let long = "x".repeat(300);
    let m = model_file(
        &dir,
        "m.ron",
        &format!(
            r#"Topology(duration: "3s", warmup: "1s",
                workloads: {{"w": Open(rate: "100/s", to: "{long}")}},
                components: {{"{long}": Service(cpu: Exp(mean: "1ms"))}})"#
        ),
    );
    let out = cli(&["run", &m, "--csv", dir.join("out").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stdout(&out).contains("Verdict: PASS"), "{}", stdout(&out));
    assert!(stderr(&out).contains("writing CSV"), "{}", stderr(&out));
}

#[test]
fn csv_file_names_are_distinct_and_reversible() {
    let dir = scratch("csv-names");
    let m = model_file(&dir, "m.ron", MODEL);
    let out_dir = dir.join("out");
    let out = cli(&["run", &m, "--csv", out_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut names: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["50%25.csv", "a%2Eb.csv", "a_b.csv", "w.csv"]);
    // Decoding gives the names back.
    for (file, name) in [("50%25.csv", "50%"), ("a%2Eb.csv", "a.b")] {
        let stem = file.trim_end_matches(".csv");
        let mut bytes = Vec::new();
        let mut it = stem.bytes();
        while let Some(b) = it.next() {
            if b == b'%' {
                let hex: String = [it.next().unwrap(), it.next().unwrap()]
                    .iter()
                    .map(|&c| char::from(c))
                    .collect();
                bytes.push(u8::from_str_radix(&hex, 16).unwrap());
            } else {
                bytes.push(b);
            }
        }
        assert_eq!(String::from_utf8(bytes).unwrap(), name);
    }
}

#[test]
fn series_without_json_is_refused() {
    let out = cli(&["run", "models/mm1.ron", "--series"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--series"), "{}", stderr(&out));
    assert!(stderr(&out).contains("needs --json"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
}
