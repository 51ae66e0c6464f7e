//! Mutation fuzzing of the loader: every bundled model, crudely tokenized and then damaged
//! (tokens deleted, duplicated, replaced, swapped, the text truncated), must load or be refused
//! with diagnostics — never panic. What loads must also survive writing back to RON and loading
//! again, unchanged. The cases come from a recorded seed (`DEFAULT_FUZZ_SEED`, or the
//! `FLASHCROWD_FUZZ_SEED` environment variable); a failure prints it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use flashcrowd::topology;
use proptest::prelude::*;
use proptest::sample::Index;

/// The bundled models: (path, directory, text).
fn models() -> &'static [(PathBuf, PathBuf, String)] {
    static MODELS: OnceLock<Vec<(PathBuf, PathBuf, String)>> = OnceLock::new();
    MODELS.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut out = Vec::new();
        for dir in ["models", "models/bench"] {
            let dir = root.join(dir);
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "ron"))
                .collect();
            files.sort();
            for f in files {
                let text = std::fs::read_to_string(&f).unwrap();
                out.push((f, dir.clone(), text));
            }
        }
        assert!(out.len() >= 5, "bundled models not found");
        out
    })
}

/// Split text into runs of word characters, runs of whitespace, and single other characters;
/// concatenating the tokens gives the text back.
fn tokenize(text: &str) -> Vec<String> {
    #[derive(PartialEq, Clone, Copy)]
    enum Class {
        Word,
        Space,
        Punct,
    }
    let class = |c: char| {
        if c.is_alphanumeric() || matches!(c, '_' | '.' | '-') {
            Class::Word
        } else if c.is_whitespace() {
            Class::Space
        } else {
            Class::Punct
        }
    };
    let mut out: Vec<String> = Vec::new();
    let mut prev: Option<Class> = None;
    for c in text.chars() {
        let k = class(c);
        match out.last_mut() {
            Some(last) if prev == Some(k) && k != Class::Punct => last.push(c),
            _ => out.push(c.to_string()),
        }
        prev = Some(k);
    }
    out
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete(Index),
    Duplicate(Index),
    /// Replace a token with another token of the same file.
    ReplaceFromFile(Index, Index),
    ReplaceRandom(Index, String),
    Swap(Index, Index),
    /// Keep only the first tokens.
    Truncate(Index),
}

fn random_token() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z_]{1,8}",
        "-?[0-9]{1,6}(\\.[0-9]{1,3})?",
        "\"[a-z0-9/. -]{0,6}\"",
        "[(){}\\[\\]:,\"/#*]{1,3}",
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|x| x.to_string()),
        "\\PC{0,4}",
        prop::sample::select(vec![
            "unlimited",
            "\"0s\"",
            "\"0/s\"",
            "\"-1ms\"",
            "\"1e308s\"",
            "\"1e-300/s\"",
            "\"NaN/s\"",
            "\"inf\"",
            "\"\"",
            "0",
            "-0.0",
            "1e400",
            "NaN",
            "inf",
            "Some",
            "None",
            "Service",
            "LoadBalancer",
            "Open",
            "Closed",
            "Call",
            "Piecewise",
            "Trace",
            "Empirical",
            "LogNormal",
            "Zipf",
            "r#\"x\"#",
            "/*",
            "//",
        ])
        .prop_map(str::to_string),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => any::<Index>().prop_map(Mutation::Delete),
        2 => any::<Index>().prop_map(Mutation::Duplicate),
        3 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::ReplaceFromFile(a, b)),
        3 => (any::<Index>(), random_token()).prop_map(|(a, s)| Mutation::ReplaceRandom(a, s)),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(text: &str, mutations: &[Mutation]) -> String {
    let original = tokenize(text);
    let mut toks = original.clone();
    for m in mutations {
        if toks.is_empty() {
            break;
        }
        match m {
            Mutation::Delete(i) => {
                toks.remove(i.index(toks.len()));
            }
            Mutation::Duplicate(i) => {
                let i = i.index(toks.len());
                toks.insert(i, toks[i].clone());
            }
            Mutation::ReplaceFromFile(i, j) => {
                let i = i.index(toks.len());
                toks[i] = original[j.index(original.len())].clone();
            }
            Mutation::ReplaceRandom(i, s) => {
                let i = i.index(toks.len());
                toks[i] = s.clone();
            }
            Mutation::Swap(i, j) => {
                let (i, j) = (i.index(toks.len()), j.index(toks.len()));
                toks.swap(i, j);
            }
            Mutation::Truncate(i) => {
                toks.truncate(i.index(toks.len()));
            }
        }
    }
    toks.concat()
}

/// Load damaged text; when it loads, write it back and load that again.
fn check(path: &Path, dir: &Path, text: &str) -> Result<(), TestCaseError> {
    let Ok(topo) = topology::load_str(text, Some(path), dir, &[]) else {
        return Ok(());
    };
    let ron = topology::to_ron(&topo.spec)
        .map_err(|e| TestCaseError::fail(format!("to_ron failed: {e}\ninput:\n{text}")))?;
    match topology::load_str(&ron, Some(path), dir, &[]) {
        Ok(again) => prop_assert_eq!(
            &again.spec,
            &topo.spec,
            "the model changed on a round trip through RON:\n{}",
            ron
        ),
        Err(e) => {
            return Err(TestCaseError::fail(format!(
                "a model that loaded does not load after writing it back:\n{e}\nwritten:\n{ron}\ninput:\n{text}"
            )));
        }
    }
    Ok(())
}

#[test]
fn loader_fuzz_tokenizer_round_trips() {
    for (_, _, text) in models() {
        assert_eq!(tokenize(text).concat(), *text);
    }
}

#[test]
fn loader_fuzz_bundled_models_round_trip() {
    for (path, dir, text) in models() {
        check(path, dir, text).unwrap();
    }
}

/// The fuzz seed used unless `FLASHCROWD_FUZZ_SEED` gives another (a failure prints the one
/// it ran with, so any failure replays exactly).
const DEFAULT_FUZZ_SEED: u64 = 20_261_202;

#[test]
fn loader_fuzz_never_panics() {
    use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};
    let seed = match std::env::var("FLASHCROWD_FUZZ_SEED") {
        Ok(s) => s
            .trim()
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("FLASHCROWD_FUZZ_SEED={s:?} is not a whole number")),
        Err(_) => DEFAULT_FUZZ_SEED,
    };
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = ProptestConfig {
        cases: 1024,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let strategy = (any::<Index>(), prop::collection::vec(mutation(), 1..=4));
    let result = runner.run(&strategy, |(model, mutations)| {
        let (path, dir, text) = &models()[model.index(models().len())];
        let damaged = mutate(text, &mutations);
        check(path, dir, &damaged)
    });
    if let Err(e) = result {
        panic!(
            "loader fuzz failed with seed {seed} (replay: FLASHCROWD_FUZZ_SEED={seed} cargo test loader_fuzz_never_panics):\n{e}"
        );
    }
}
