//! Every bundled model loads, says what it shows, and runs, passing the simulation's
//! self-check throughout.

use std::path::Path;

use flashcrowd::engine::{SimTime, StepOutcome};
use flashcrowd::simulation::{RunOptions, Simulation};
use flashcrowd::topology::{self, Override};

fn model_files() -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for dir in ["models", "models/bench"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "ron") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_bundled_model_loads_describes_itself_and_runs() {
    let files = model_files();
    assert!(files.len() >= 6, "{files:?}");
    for f in files {
        let shortened = [
            Override {
                path: "duration".into(),
                value: "\"20s\"".into(),
            },
            Override {
                path: "warmup".into(),
                value: "\"2s\"".into(),
            },
            Override {
                path: "requests".into(),
                value: "None".into(),
            },
        ];
        let topo =
            topology::load_file(&f, &shortened).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(
            !topo.spec.description.trim().is_empty(),
            "{} has no description",
            f.display()
        );
        assert!(
            !topo.spec.look_for.trim().is_empty(),
            "{} has no look_for",
            f.display()
        );
        assert!(
            topo.warnings.is_empty(),
            "{}: {:?}",
            f.display(),
            topo.warnings
        );
        // The bookkeeping self-check holds all along (every 1000 events), whatever the
        // model's commands do (kills, revives, replica changes).
        let mut sim = Simulation::new(&topo, RunOptions::default());
        while sim.step(SimTime::MAX, 1000) != StepOutcome::Idle {
            if let Err(e) = sim.check_invariants() {
                panic!("{} at {:?}: {e}", f.display(), sim.now());
            }
        }
        sim.check_invariants()
            .unwrap_or_else(|e| panic!("{} at the end: {e}", f.display()));
        let r = sim.finish();
        assert!(
            r.end_to_end.completed > 0,
            "{} completed nothing",
            f.display()
        );
        // Saving keeps description and look_for, and the saved text loads to the same spec.
        let saved = topology::to_ron(&topo.spec).unwrap();
        let again = topology::load_str(&saved, None, f.parent().unwrap(), &[]).unwrap();
        assert_eq!(again.spec, topo.spec, "{} does not round-trip", f.display());
    }
}
