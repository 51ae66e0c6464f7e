//! The command-line face: parse arguments, load models, run, print. No simulation logic
//! lives here; errors are handled once, here, and turned into exit codes.

pub mod bench;
mod format;
mod progress;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::simulation::{RunOptions, Simulation};
use crate::topology::{self, Diagnostic, Override, TopologyError};

/// Exit codes.
pub mod exit {
    /// Everything passed.
    pub const OK: u8 = 0;
    /// The verdict failed (an SLO target, stability, nothing completed or arrived).
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
    /// Run a model and print its golden signals, verdict and expectations (exit 1 when the
    /// verdict fails: an SLO target missed, the run unstable, no request completed, nothing
    /// arrived; with --check-expect, an expectation not met).
    Run {
        /// The model file (.ron).
        file: PathBuf,
        /// Seed for every random stream (default: the model's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Arrival window, e.g. 5m (overrides the model's `duration`).
        #[arg(long, allow_hyphen_values = true)]
        duration: Option<String>,
        /// Warm-up: a duration (overrides the model's `warmup`), or `auto` to choose it by
        /// MSER-5 from a pilot of the replications (stationary models only).
        #[arg(long, allow_hyphen_values = true, value_name = "DURATION|auto")]
        warmup: Option<String>,
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
        /// Print the verdict but exit 0 even when it fails (SLO missed, unstable, nothing
        /// completed).
        #[arg(long)]
        no_fail: bool,
        /// Fail the verdict (exit 1) when one of the model's `expect` entries does not hold;
        /// without it they are only reported.
        #[arg(long)]
        check_expect: bool,
        /// Draw no progress line (it is drawn on a terminal for runs longer than a second).
        #[arg(long)]
        no_progress: bool,
        /// Run even when the model would offer more than 1e10 requests (refused otherwise,
        /// as a likely typo).
        #[arg(long)]
        allow_huge: bool,
        /// Run N independent replications in parallel and report each figure as a mean with
        /// its 95 % confidence interval (replication r uses the seed and replication index r).
        #[arg(long, value_name = "N")]
        replications: Option<u32>,
        /// Add replications in batches (of --replications, default 10) until every headline
        /// figure's 95 % half-width is within this fraction of its mean, e.g. 0.05 (or under
        /// an absolute floor), or --max-replications is reached.
        #[arg(long, value_name = "FRACTION")]
        precision: Option<f64>,
        /// The most replications --precision may run.
        #[arg(long, value_name = "N", default_value_t = 1000)]
        max_replications: u32,
    },
    /// Check model files; print every problem with its location (exit 2 when one is invalid).
    Validate {
        /// Model files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Override fields before validating (same as for `run`).
        #[arg(long = "set", value_name = "PATH=VALUE")]
        set: Vec<String>,
        /// Print the diagnostics as one JSON object (for CI pipelines).
        #[arg(long)]
        json: bool,
        /// Accept models that would offer more than 1e10 requests.
        #[arg(long)]
        allow_huge: bool,
    },
    /// Run a sweep file: a model with fields varied over lists or ranges, each point as
    /// independent replications; writes DIR/sweep.csv and DIR/sweep.json, and resumes an
    /// interrupted sweep from the point files it left in DIR/points.
    Sweep {
        /// The sweep file (.ron).
        file: PathBuf,
        /// Where to write the results.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Seed for every point (default: the model's).
        #[arg(long)]
        seed: Option<u64>,
        /// Stop after this many new points (the rest run when the sweep is run again).
        #[arg(long, value_name = "N", hide = true)]
        stop_after: Option<usize>,
        /// Run one slice of the points, i/n (default: from SLURM_ARRAY_TASK_ID and
        /// SLURM_ARRAY_TASK_COUNT when set; a Kubernetes Indexed Job passes
        /// $JOB_COMPLETION_INDEX/N).
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
        /// Run nothing: gather the point files of slices run into these folders into --out and
        /// write the table (repeatable).
        #[arg(long, value_name = "DIR")]
        merge: Vec<PathBuf>,
    },
    /// Compare two JSON reports (`run --json`) figure by figure: the difference, and whether
    /// it is significant when both are of replications (`--replications`).
    Compare {
        /// The first report (the baseline).
        a: PathBuf,
        /// The second report.
        b: PathBuf,
        /// Every figure both have, not only the headline ones.
        #[arg(long)]
        all: bool,
        /// Print the comparison as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the model reference (Markdown) generated from the schema.
    Reference,
    /// Print a JSON Schema: of topology files, or of the JSON report.
    Schema {
        /// `topology`, `report` or `sweep`.
        #[arg(default_value = "topology")]
        what: String,
    },
    /// Measure the engine against a hand-written baseline loop (prints figures).
    Bench(bench::BenchArgs),
    /// Open a model in the desktop window: run it live, break it, watch it react (needs a
    /// display; exit 3 without one).
    Gui {
        /// The model file (.ron).
        #[arg(default_value = "models/quickstart.ron")]
        file: PathBuf,
        /// Seed for every random stream (default: the model's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Start running at once.
        #[arg(long)]
        play: bool,
        /// Simulated seconds per wall second: 1, 10, 100 or max.
        #[arg(long, default_value = "1")]
        speed: String,
        /// Arrival window, e.g. 1h (overrides the model's `duration`).
        #[arg(long, allow_hyphen_values = true)]
        duration: Option<String>,
    },
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

/// What `run` was asked to do, after the flags were checked.
struct RunRequest {
    file: PathBuf,
    seed: Option<u64>,
    duration: Option<String>,
    warmup: Option<String>,
    set: Vec<String>,
    json: bool,
    series: bool,
    csv: Option<PathBuf>,
    no_fail: bool,
    check_expect: bool,
    no_progress: bool,
    allow_huge: bool,
    replications: Option<u32>,
    precision: Option<f64>,
    max_replications: u32,
}

fn dispatch(args: Args) -> anyhow::Result<u8> {
    match args.command {
        Cmd::Run {
            file,
            seed,
            duration,
            warmup,
            set,
            json,
            series,
            csv,
            no_fail,
            check_expect,
            no_progress,
            allow_huge,
            replications,
            precision,
            max_replications,
        } => run(RunRequest {
            file,
            seed,
            duration,
            warmup,
            set,
            json,
            series,
            csv,
            no_fail,
            check_expect,
            no_progress,
            allow_huge,
            replications,
            precision,
            max_replications,
        }),
        Cmd::Validate {
            files,
            set,
            json,
            allow_huge,
        } => validate(&files, &set, json, allow_huge),
        Cmd::Compare { a, b, all, json } => compare(&a, &b, all, json),
        Cmd::Sweep {
            file,
            out,
            seed,
            stop_after,
            shard,
            merge,
        } => sweep(&file, &out, seed, stop_after, shard.as_deref(), &merge),
        Cmd::Reference => {
            print!("{}", topology::reference::markdown());
            Ok(exit::OK)
        }
        Cmd::Schema { what } => {
            let schema = match what.as_str() {
                "topology" => topology::reference::schema(),
                "report" => crate::simulation::report_schema(),
                "sweep" => {
                    serde_json::to_value(schemars::schema_for!(crate::experiments::sweep::Sweep))?
                }
                other => {
                    eprintln!(
                        "error: unknown schema `{other}`; choose `topology`, `report` or `sweep`"
                    );
                    return Ok(exit::BAD_INPUT);
                }
            };
            println!("{}", serde_json::to_string_pretty(&schema)?);
            Ok(exit::OK)
        }
        Cmd::Bench(b) => bench::run(&b),
        Cmd::Gui {
            file,
            seed,
            play,
            speed,
            duration,
        } => gui(file, seed, play, &speed, duration),
    }
}

#[cfg(feature = "gui")]
fn gui(
    file: PathBuf,
    seed: Option<u64>,
    play: bool,
    speed: &str,
    duration: Option<String>,
) -> anyhow::Result<u8> {
    let Some(speed) = crate::gui::Speed::parse(speed) else {
        eprintln!("error: --speed {speed}: choose 1, 10, 100 or max");
        return Ok(exit::BAD_INPUT);
    };
    crate::gui::run(&crate::gui::GuiArgs {
        file,
        seed,
        play,
        speed,
        duration,
    })
}

#[cfg(not(feature = "gui"))]
fn gui(
    file: PathBuf,
    seed: Option<u64>,
    play: bool,
    speed: &str,
    duration: Option<String>,
) -> anyhow::Result<u8> {
    let _ = (file, seed, play, speed, duration);
    eprintln!(
        "error: this flashcrowd was built without its GUI (`--no-default-features`); rebuild with the default features: cargo build --release (or --features gui)"
    );
    Ok(exit::RUNTIME)
}

fn run(mut req: RunRequest) -> anyhow::Result<u8> {
    if req.series && !req.json {
        eprintln!(
            "error: --series adds the time series to the JSON report, so it needs --json (for CSV files, use --csv DIR)"
        );
        return Ok(exit::BAD_INPUT);
    }
    let mut overrides = match parse_overrides(&req.set) {
        Ok(o) => o,
        Err(code) => return Ok(code),
    };
    // Options that change the run, recorded in the report's provenance.
    let mut flags = Vec::new();
    let mut flag_paths = Vec::new();
    if let Some(s) = req.seed {
        flags.push(format!("--seed {s}"));
    }
    // A duration flag is an override of its field, blamed on the flag when it is refused.
    let mut duration_flag = |field: &str, text: &str, extra: &str| -> Result<(), u8> {
        let d = crate::units::Duration::parse(text).map_err(|msg| {
            eprintln!("error: --{field}: {msg}{extra}");
            exit::BAD_INPUT
        })?;
        overrides.push(Override {
            path: field.into(),
            value: format!("\"{d}\""),
        });
        flag_paths.push((field.to_string(), format!("--{field}")));
        flags.push(format!("--{field} {d}"));
        Ok(())
    };
    if let Some(d) = &req.duration
        && let Err(code) = duration_flag("duration", d, "")
    {
        return Ok(code);
    }
    let auto_warmup = req.warmup.as_deref() == Some("auto");
    if let Some(w) = req.warmup.as_deref().filter(|w| *w != "auto")
        && let Err(code) = duration_flag("warmup", w, " (or write `auto`)")
    {
        return Ok(code);
    }
    if auto_warmup {
        flags.push("--warmup auto".into());
    }
    if req.no_fail {
        flags.push("--no-fail".into());
    }
    if req.check_expect {
        flags.push("--check-expect".into());
    }
    if let Some(p) = req.precision {
        use crate::experiments::replications::MAX_REPLICATIONS;
        if !(p > 0.0 && p < 1.0) {
            eprintln!(
                "error: --precision is a fraction between 0 and 1, e.g. 0.05 for ±5 %, got {p}"
            );
            return Ok(exit::BAD_INPUT);
        }
        if !(2..=MAX_REPLICATIONS).contains(&req.max_replications) {
            eprintln!(
                "error: --max-replications takes 2 to {MAX_REPLICATIONS}, got {}",
                req.max_replications
            );
            return Ok(exit::BAD_INPUT);
        }
        flags.push(format!("--precision {p}"));
        if req.replications.is_none() {
            req.replications = Some(10);
        }
    }
    if let Some(n) = req.replications {
        use crate::experiments::replications::MAX_REPLICATIONS;
        if !(1..=MAX_REPLICATIONS).contains(&n) {
            eprintln!("error: --replications takes 1 to {MAX_REPLICATIONS}, got {n}");
            return Ok(exit::BAD_INPUT);
        }
        if req.series || req.csv.is_some() {
            eprintln!(
                "error: time series belong to one run: drop --series/--csv, or run one replication with --seed S (replication 0 of seed S)"
            );
            return Ok(exit::BAD_INPUT);
        }
        flags.push(format!("--replications {n}"));
    }
    let (mut topo, text) = match load(&req.file, &overrides, &flag_paths) {
        Ok(t) => t,
        Err(e) => {
            print_load_error(&req.file, &e);
            return Ok(exit::BAD_INPUT);
        }
    };
    // An absurd size is refused with its estimate (a likely typo), before anything runs.
    if let Err(mut d) = topology::size::RunSize::of(&topo).check(req.allow_huge) {
        d.file = Some(req.file.clone());
        d.line_col = d
            .path
            .as_deref()
            .and_then(|p| topology::parse::locate_top_field(&text, p));
        eprintln!("{d}");
        return Ok(exit::BAD_INPUT);
    }
    // An output folder that cannot be written is found before the run, not after it.
    if let Some(dir) = &req.csv
        && let Err(e) = format::prepare_csv_dir(dir)
    {
        eprintln!("error: --csv {}: {e:#}", dir.display());
        return Ok(exit::RUNTIME);
    }
    if !req.json {
        for w in &topo.warnings {
            eprintln!("{w}");
        }
    }
    let options = RunOptions {
        seed: req.seed,
        replication: 0,
        series: req.series || req.csv.is_some(),
        check_expectations: req.check_expect,
    };
    let model_hash = format!("{:016x}", topology::fnv1a64(text.as_bytes()));
    let warmup_choice = if auto_warmup {
        let n = req.replications.unwrap_or(1);
        match crate::experiments::warmup::choose(&topo, &options, n) {
            Ok(c) => {
                topo.warmup_ns = (c.chosen_s * 1e9).round() as u64;
                Some(c)
            }
            Err(msg) => {
                eprintln!("error: {msg}");
                return Ok(exit::BAD_INPUT);
            }
        }
    } else {
        None
    };
    if let Some(n) = req.replications {
        use crate::experiments::replications as reps;
        let options = RunOptions {
            series: false,
            ..options
        };
        let (reports, mut agg) = match req.precision {
            Some(relative) => reps::run_to_precision(
                &topo,
                &options,
                reps::Precision {
                    relative,
                    batch: n,
                    max: req.max_replications,
                },
            ),
            None => {
                let reports = reps::run(&topo, &options, n);
                let agg = reps::aggregate(&reports);
                (reports, agg)
            }
        };
        drop(reports);
        if let Some(c) = &warmup_choice {
            agg["warmup_auto"] = serde_json::to_value(c)?;
        }
        agg["provenance"]["model_fnv1a64"] = serde_json::Value::from(model_hash);
        agg["provenance"]["overrides"] = serde_json::json!(req.set);
        agg["provenance"]["flags"] = serde_json::json!(flags);
        if req.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&agg).context("serializing the report")?
            );
        } else {
            print!("{}", format::replications_summary(&agg, &topo, req.no_fail));
        }
        let pass = agg["verdict"]["pass"].as_bool().unwrap_or(false);
        return Ok(if pass || req.no_fail {
            exit::OK
        } else {
            exit::FAILED
        });
    }
    let sim = Simulation::new(&topo, options);
    let draw = !req.no_progress && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut report = progress::run(sim, draw, topo.duration_ns as f64 / 1e9);
    report.provenance.model_fnv1a64 = Some(model_hash);
    report.warmup_auto = warmup_choice;
    report.provenance.overrides = req.set.clone();
    report.provenance.flags = flags;
    // The report first, whatever then happens to the files.
    let csv_series = match (&req.csv, req.series) {
        (None, _) => Default::default(),
        (Some(_), false) => std::mem::take(&mut report.series),
        (Some(_), true) => report.series.clone(),
    };
    if req.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).context("serializing the report")?
        );
    } else {
        print!("{}", format::summary(&report, &topo, req.no_fail));
    }
    if let Some(dir) = &req.csv
        && let Err(e) = format::write_csv(dir, &csv_series)
    {
        eprintln!("error: writing CSV to {}: {e:#}", dir.display());
        return Ok(exit::RUNTIME);
    }
    Ok(if report.verdict.pass || req.no_fail {
        exit::OK
    } else {
        exit::FAILED
    })
}

/// `flashcrowd sweep FILE --out DIR`.
fn sweep(
    file: &std::path::Path,
    out: &std::path::Path,
    seed: Option<u64>,
    stop_after: Option<usize>,
    shard: Option<&str>,
    merge: &[PathBuf],
) -> anyhow::Result<u8> {
    use crate::experiments::sweep::{self as sw, Shard};
    let progress = |done: usize, total: usize| eprintln!("point {done}/{total} done");
    let shard = match shard.map(Shard::parse) {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            eprintln!("error: {e}");
            return Ok(exit::BAD_INPUT);
        }
        None => match Shard::from_slurm(|k| std::env::var(k).ok()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(exit::BAD_INPUT);
            }
        },
    };
    let result = if merge.is_empty() {
        sw::run_slice(file, out, seed, stop_after, shard, &progress)
    } else {
        sw::merge(file, out, merge)
    };
    match result {
        Ok(o) => {
            print!("{}", format::sweep_summary(&o, out));
            for e in &o.plot_errors {
                eprintln!("error: {e}");
            }
            Ok(if o.plot_errors.is_empty() {
                exit::OK
            } else {
                exit::RUNTIME
            })
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(exit::BAD_INPUT)
        }
    }
}

/// `flashcrowd compare A B`.
fn compare(a: &std::path::Path, b: &std::path::Path, all: bool, json: bool) -> anyhow::Result<u8> {
    use crate::experiments::compare::{Side, compare as diff, is_headline};
    let read = |p: &std::path::Path| -> Result<serde_json::Value, String> {
        let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("{}:{}:{}: not JSON: {e}", p.display(), e.line(), e.column()))?;
        if v.get("schema_version").is_none() || v.get("end_to_end").is_none() {
            return Err(format!(
                "{}: not a flashcrowd report (write one with `flashcrowd run MODEL --json > FILE`)",
                p.display()
            ));
        }
        Ok(v)
    };
    let (va, vb) = match (read(a), read(b)) {
        (Ok(va), Ok(vb)) => (va, vb),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return Ok(exit::BAD_INPUT);
        }
    };
    let (sa, sb) = (Side::of(&va), Side::of(&vb));
    let rows: Vec<_> = diff(&sa, &sb)
        .into_iter()
        .filter(|r| all || is_headline(&r.metric))
        .collect();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "a": a, "b": b,
                "a_replications": sa.replications, "b_replications": sb.replications,
                "rows": rows,
            }))?
        );
    } else {
        print!(
            "{}",
            format::comparison(&rows, (a, sa.replications), (b, sb.replications))
        );
    }
    Ok(exit::OK)
}

/// One file's result, for `validate --json`.
#[derive(serde::Serialize)]
struct Validated {
    file: PathBuf,
    ok: bool,
    workloads: usize,
    components: usize,
    /// Errors, then warnings.
    diagnostics: Vec<DiagnosticJson>,
}

/// A diagnostic as CI tools read it: every location field flat, null when unknown.
#[derive(serde::Serialize)]
struct DiagnosticJson {
    severity: topology::Severity,
    file: Option<PathBuf>,
    line: Option<usize>,
    column: Option<usize>,
    path: Option<String>,
    component: Option<String>,
    message: String,
    hint: Option<String>,
}

impl From<&Diagnostic> for DiagnosticJson {
    fn from(d: &Diagnostic) -> Self {
        Self {
            severity: d.severity,
            file: d.file.clone(),
            line: d.line_col.map(|(l, _)| l),
            column: d.line_col.map(|(_, c)| c),
            path: d.path.clone(),
            component: d.component.clone(),
            message: d.message.clone(),
            hint: d.hint.clone(),
        }
    }
}

fn validate(files: &[PathBuf], set: &[String], json: bool, allow_huge: bool) -> anyhow::Result<u8> {
    let overrides = match set
        .iter()
        .map(|s| Override::parse(s))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(o) => o,
        Err(d) => {
            if json {
                let out = serde_json::json!({ "ok": false, "files": [], "diagnostics": [DiagnosticJson::from(&d)] });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                eprintln!("{d}");
            }
            return Ok(exit::BAD_INPUT);
        }
    };
    let mut worst = exit::OK;
    let mut results = Vec::new();
    for f in files {
        // A model that loads is also checked for size (a likely typo's absurd run).
        let result = load(f, &overrides, &[]).and_then(|(t, text)| {
            match topology::size::RunSize::of(&t).check(allow_huge) {
                Ok(()) => Ok((t, text)),
                Err(mut d) => {
                    d.file = Some(f.clone());
                    d.line_col = d
                        .path
                        .as_deref()
                        .and_then(|p| topology::parse::locate_top_field(&text, p));
                    Err(TopologyError::Invalid(vec![d]))
                }
            }
        });
        if result.is_err() {
            worst = exit::BAD_INPUT;
        }
        if json {
            results.push(match &result {
                Ok((t, _)) => Validated {
                    file: f.clone(),
                    ok: true,
                    workloads: t.spec.workloads.len(),
                    components: t.spec.components.len(),
                    diagnostics: t.warnings.iter().map(DiagnosticJson::from).collect(),
                },
                Err(e) => Validated {
                    file: f.clone(),
                    ok: false,
                    workloads: 0,
                    components: 0,
                    diagnostics: match e {
                        TopologyError::Io { .. } => {
                            let mut d = Diagnostic::error(e.to_string());
                            d.file = Some(f.clone());
                            vec![DiagnosticJson::from(&d)]
                        }
                        _ => e.diagnostics().iter().map(DiagnosticJson::from).collect(),
                    },
                },
            });
            continue;
        }
        match result {
            Ok((t, _)) => {
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
            Err(e) => print_load_error(f, &e),
        }
    }
    if json {
        let out = serde_json::json!({ "ok": worst == exit::OK, "files": results });
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(worst)
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

/// Load a model; returns it with the file's text (for the report's hash). Problems that come
/// from an override or a flag name it (`--set components.web.threads`, `--duration`) rather
/// than the model's own line, where the value was replaced.
fn load(
    file: &Path,
    overrides: &[Override],
    flag_paths: &[(String, String)],
) -> Result<(topology::Topology, String), TopologyError> {
    let text = topology::read_model(file)?;
    let base_dir = file.parent().unwrap_or(Path::new("."));
    // The expectations' metrics are checked against the report's shape, one layer up.
    let loaded = topology::load_str(&text, Some(file), base_dir, overrides).and_then(|t| {
        let problems = crate::simulation::check_expectations(&t);
        if problems.is_empty() {
            Ok(t)
        } else {
            Err(TopologyError::Invalid(problems))
        }
    });
    match loaded {
        Ok(t) => Ok((t, text)),
        Err(TopologyError::Invalid(mut diags)) => {
            for d in &mut diags {
                blame_overrides(d, overrides, flag_paths);
            }
            Err(TopologyError::Invalid(diags))
        }
        Err(e) => Err(e),
    }
}

/// A diagnostic at a path an override (or a flag) replaced is about the value given on the
/// command line: say so, and drop the model's line, which no longer holds that value.
fn blame_overrides(d: &mut Diagnostic, overrides: &[Override], flag_paths: &[(String, String)]) {
    let Some(path) = d.path.clone() else { return };
    let hits = |p: &str| path == p || path.starts_with(&format!("{p}."));
    if let Some((_, flag)) = flag_paths.iter().find(|(p, _)| hits(p)) {
        d.path = Some(flag.clone());
        d.line_col = None;
        // The hint speaks the file's syntax (`duration: "5m"`); speak the flag's.
        if d.hint
            .as_deref()
            .is_some_and(|h| h.contains(&format!("{path}:")))
        {
            d.hint = Some(format!("e.g. {flag} 5m"));
        }
    } else if overrides.iter().any(|o| hits(&o.path.replace('"', ""))) {
        d.path = Some(format!("--set {path}"));
        d.line_col = None;
    }
}

fn print_load_error(file: &Path, e: &TopologyError) {
    if let TopologyError::Io { .. } = e {
        eprintln!("error: {e}");
        return;
    }
    for d in e.diagnostics() {
        eprintln!("{d}");
    }
    let n = e.diagnostics().len();
    eprintln!(
        "{}: {n} error{} found",
        file.display(),
        if n == 1 { "" } else { "s" }
    );
}
