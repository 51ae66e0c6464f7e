//! Helpers shared by the integration tests.

use std::path::Path;

use flashcrowd::metrics::Report;
use flashcrowd::simulation::{RunOptions, Simulation};
use flashcrowd::topology::events::Command;
use flashcrowd::topology::{self, Topology};

/// Load a model from text (relative files resolve from the crate root).
pub fn load(text: &str) -> Topology {
    match topology::load_str(text, None, Path::new(env!("CARGO_MANIFEST_DIR")), &[]) {
        Ok(t) => t,
        Err(e) => panic!("model does not load:\n{e}"),
    }
}

/// Run replication `r` of a model.
pub fn run(topo: &Topology, r: u32) -> Report {
    Simulation::new(
        topo,
        RunOptions {
            replication: r,
            ..Default::default()
        },
    )
    .run()
}

/// End-to-end errors of one cause (`"timeout"`, `"overload"`…), 0 when there were none.
pub fn errors_of(r: &Report, cause: &str) -> u64 {
    r.end_to_end
        .errors_by_cause
        .get(cause)
        .copied()
        .unwrap_or(0)
}

/// Mean and standard error of `f` over `n` independent replications.
pub fn replicate(topo: &Topology, n: u32, f: impl Fn(&Report) -> f64) -> Estimate {
    let xs: Vec<f64> = (0..n).map(|r| f(&run(topo, r))).collect();
    Estimate::from_samples(&xs)
}

/// An estimate with its standard error.
#[derive(Debug, Clone, Copy)]
pub struct Estimate {
    pub mean: f64,
    pub se: f64,
}

impl Estimate {
    pub fn from_samples(xs: &[f64]) -> Self {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        Self {
            mean,
            se: (var / n).sqrt(),
        }
    }

    /// Assert |mean − theory| ≤ max(bound, 4 SE), with a readable failure.
    pub fn assert_near(&self, theory: f64, bound: f64, what: &str) {
        let tol = bound.max(4.0 * self.se);
        let diff = (self.mean - theory).abs();
        assert!(
            diff <= tol,
            "{what}: estimate {:.6} vs theory {theory:.6}: |diff| {diff:.6} > tolerance {tol:.6} (4 SE = {:.6}, bound {bound:.6})",
            self.mean,
            4.0 * self.se
        );
        eprintln!(
            "{what}: {:.6} vs {theory:.6} (diff {diff:.2e}, tol {tol:.2e})",
            self.mean
        );
    }
}

/// `Kill` of instance `replica` of node `node` (by id) of a running simulation.
pub fn kill(sim: &Simulation, node: u32, replica: u32) -> Command {
    Command::Kill {
        component: sim.names()[node as usize].clone(),
        instance: Some(replica),
    }
}

/// `Revive` of instance `replica` of node `node`.
pub fn revive(sim: &Simulation, node: u32, replica: u32) -> Command {
    Command::Revive {
        component: sim.names()[node as usize].clone(),
        instance: Some(replica),
    }
}

/// Run the `flashcrowd` binary from the crate root.
pub fn cli(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_flashcrowd"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .unwrap()
}

/// A fresh scratch folder, unique to this call (removed first if a previous run left it).
pub fn scratch(name: &str) -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("fc-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Write a model into a scratch folder and return its path.
pub fn model_file(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// stdout as text.
pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
