//! The command-line face: parse arguments, load models, run, print. No simulation logic
//! lives here; errors are handled once, here, and turned into exit codes.

pub mod bench;
mod format;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::simulation::{RunOptions, Simulation};
use crate::topology::{self, Override, TopologyError};

/// Exit codes.
pub mod exit {
    /// Everything passed.
    pub const OK: u8 = 0;
    /// An SLO target or check failed.
    pub const FAILED: u8 = 1;
    /// The input (model, flags) was bad.
    pub const BAD_INPUT: u8 = 2;
    /// Runtime or I/O failure.
    pub const RUNTIME: u8 = 3;
}

#[derive(Parser, Debug)]
#[command(
    name = "flashcrowd",
    version,
    about = "Discrete-event simulator of scalable web architectures"
)]
struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run a model and print its golden signals (exit 1 when an SLO target fails).
    Run {
        /// The model file (.ron).
        file: PathBuf,
        /// Seed for every random stream (default: the model's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Arrival window, e.g. 5m (overrides the model's `duration`).
        #[arg(long)]
        duration: Option<String>,
        /// Override a field: path=value, e.g. components.web.replicas=8 (repeatable).
        #[arg(long = "set", value_name = "PATH=VALUE")]
        set: Vec<String>,
        /// Print the report as one JSON object.
        #[arg(long)]
        json: bool,
        /// Include the time series in the JSON report.
        #[arg(long)]
        series: bool,
        /// Write the time series as CSV files (one per component and workload) into DIR.
        #[arg(long, value_name = "DIR")]
        csv: Option<PathBuf>,
    },
    /// Check model files; print every problem with its location (exit 2 when one is invalid).
    Validate {
        /// Model files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Override fields before validating (same as for `run`).
        #[arg(long = "set", value_name = "PATH=VALUE")]
        set: Vec<String>,
    },
    /// Print the model reference (Markdown) generated from the schema.
    Reference,
    /// Print a JSON Schema: of topology files, or of the JSON report.
    Schema {
        /// `topology` or `report`.
        #[arg(default_value = "topology")]
        what: String,
    },
    /// Measure the engine against a hand-written baseline loop (prints figures).
    Bench(bench::BenchArgs),
}

/// Run the CLI and return its exit code.
pub fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::BAD_INPUT
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match dispatch(args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::RUNTIME)
        }
    }
}

fn dispatch(args: Args) -> anyhow::Result<u8> {
    match args.command {
        Cmd::Run {
            file,
            seed,
            duration,
            set,
            json,
            series,
            csv,
        } => {
            let mut overrides = match parse_overrides(&set) {
                Ok(o) => o,
                Err(code) => return Ok(code),
            };
            if let Some(d) = duration {
                overrides.push(Override {
                    path: "duration".into(),
                    value: format!("\"{d}\""),
                });
            }
            let topo = match load(&file, &overrides) {
                Ok(t) => t,
                Err(code) => return Ok(code),
            };
            if !json {
                for w in &topo.warnings {
                    eprintln!("{w}");
                }
            }
            let report = Simulation::new(
                &topo,
                RunOptions {
                    seed,
                    replication: 0,
                    series: series || csv.is_some(),
                },
            )
            .run();
            if let Some(dir) = &csv {
                format::write_csv(dir, &report)
                    .with_context(|| format!("writing CSV to {}", dir.display()))?;
            }
            let mut printed = report.clone();
            if !series {
                printed.series.clear();
            }
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&printed).context("serializing the report")?
                );
            } else {
                print!("{}", format::summary(&printed, &topo));
            }
            Ok(if report.slo.as_ref().is_some_and(|s| !s.pass) {
                exit::FAILED
            } else {
                exit::OK
            })
        }
        Cmd::Validate { files, set } => {
            let overrides = match parse_overrides(&set) {
                Ok(o) => o,
                Err(code) => return Ok(code),
            };
            let mut worst = exit::OK;
            for f in &files {
                match load(f, &overrides) {
                    Ok(t) => {
                        for w in &t.warnings {
                            eprintln!("{w}");
                        }
                        println!(
                            "{}: ok ({} workloads, {} components{})",
                            f.display(),
                            t.spec.workloads.len(),
                            t.spec.components.len(),
                            if t.warnings.is_empty() {
                                String::new()
                            } else {
                                format!(", {} warnings", t.warnings.len())
                            }
                        );
                    }
                    Err(code) => worst = worst.max(code),
                }
            }
            Ok(worst)
        }
        Cmd::Reference => {
            print!("{}", topology::reference::markdown());
            Ok(exit::OK)
        }
        Cmd::Schema { what } => {
            let schema = match what.as_str() {
                "topology" => topology::reference::schema(),
                "report" => serde_json::to_value(schemars::schema_for!(crate::metrics::Report))?,
                other => {
                    eprintln!("error: unknown schema `{other}`; choose `topology` or `report`");
                    return Ok(exit::BAD_INPUT);
                }
            };
            println!("{}", serde_json::to_string_pretty(&schema)?);
            Ok(exit::OK)
        }
        Cmd::Bench(b) => bench::run(&b),
    }
}

fn parse_overrides(set: &[String]) -> Result<Vec<Override>, u8> {
    set.iter()
        .map(|s| Override::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|d| {
            eprintln!("{d}");
            exit::BAD_INPUT
        })
}

/// Load a model, printing its diagnostics; the error is the exit code to use.
fn load(file: &Path, overrides: &[Override]) -> Result<topology::Topology, u8> {
    match topology::load_file(file, overrides) {
        Ok(t) => Ok(t),
        Err(e @ TopologyError::Io { .. }) => {
            eprintln!("error: {e}");
            Err(exit::BAD_INPUT)
        }
        Err(e) => {
            for d in e.diagnostics() {
                eprintln!("{d}");
            }
            let n = e.diagnostics().len();
            eprintln!(
                "{}: {n} error{} found",
                file.display(),
                if n == 1 { "" } else { "s" }
            );
            Err(exit::BAD_INPUT)
        }
    }
}
