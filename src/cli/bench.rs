//! `flashcrowd bench`, the face: its arguments, the processes that run each case (one process
//! per case, so peak memory is its own; rounds interleaved, so a noisy machine slows engine and
//! baseline alike) and the printed table and ratios. What a case measures, the hand-written
//! baselines and the statistics over rounds live in [`crate::bench`]. Prints figures; asserts
//! nothing about time.

use std::path::PathBuf;

use crate::bench::{Figures, Machine, Rounds};

/// Arguments of `flashcrowd bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Requests per case (the figure is 1 000 000).
    #[arg(long, default_value_t = 1_000_000)]
    pub requests: u64,
    /// Directory holding bench models (mm1.ron, web.ron).
    #[arg(long, default_value = "models/bench")]
    pub models: PathBuf,
    /// Also run each engine case 10× longer to check that memory stays flat.
    #[arg(long)]
    pub memory: bool,
    /// Runs per case (interleaved); the fastest counts, which filters out a busy machine.
    #[arg(long, default_value_t = 5)]
    pub repeat: u32,
    /// Another flashcrowd binary (say, a build of the previous commit): its engine cases run
    /// interleaved with this one's, against the same baseline runs, so two builds are
    /// compared under the same machine noise.
    #[arg(long, value_name = "BINARY")]
    pub against: Option<PathBuf>,
    /// Measure what a live snapshot costs on a 100-component model (and nothing else).
    #[arg(long)]
    pub snapshot: bool,
    /// Run one case in this process and print its figures as JSON (used internally).
    #[arg(long, hide = true)]
    pub case: Option<String>,
}

/// Run the benchmark (or one case of it).
pub fn run(args: &BenchArgs) -> anyhow::Result<u8> {
    if let Some(case) = &args.case {
        // The error is shown as it reads, without its causes (the parent prints our stderr).
        let f = crate::bench::run_case(case, args.requests, &args.models)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        println!("{}", serde_json::to_string(&f)?);
        return Ok(super::exit::OK);
    }
    if args.snapshot {
        let c = crate::bench::snapshot_cost(100, 20_000).map_err(|e| anyhow::anyhow!("{e}"))?;
        println!(
            "snapshot of a {}-component model: {:.0} µs each (mean of {}); the run took {:.3} s plain, {:.3} s with a snapshot every 20 000 events; 30 snapshots a second would cost {:.1} % of a core",
            c.components,
            c.per_snapshot_s * 1e6,
            c.snapshots,
            c.plain_run_s,
            c.run_with_snapshots_s,
            c.per_snapshot_s * 30.0 * 100.0
        );
        return Ok(super::exit::OK);
    }
    let exe = std::env::current_exe()?;
    let machine = Machine::current();
    println!(
        "flashcrowd bench — {} requests per case, fastest of {} runs",
        args.requests,
        args.repeat.max(1)
    );
    println!(
        "machine: {}, {} cores; load average {}",
        machine.cpu, machine.cores, machine.load_average
    );
    println!();
    let mut cases = vec![
        ("mm1-baseline", None),
        ("mm1-engine", None),
        ("web-baseline", None),
        ("web-engine", None),
    ];
    if let Some(other) = &args.against {
        cases.extend([
            ("mm1-engine", Some(other.as_path())),
            ("web-engine", Some(other.as_path())),
        ]);
    }
    if args.memory {
        cases.extend([("mm1-engine-x10", None), ("web-engine-x10", None)]);
    }
    let mut rounds = Rounds::default();
    for round in 0..args.repeat.max(1) {
        for &(case, binary) in &cases {
            // The long memory cases once: they measure memory, not speed.
            if round > 0 && case.ends_with("-x10") {
                continue;
            }
            let out = std::process::Command::new(binary.unwrap_or(&exe))
                .args([
                    "bench",
                    "--case",
                    case,
                    "--requests",
                    &args.requests.to_string(),
                    "--models",
                ])
                .arg(&args.models)
                .output()?;
            if !out.status.success() {
                anyhow::bail!(
                    "bench case {case} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            let mut f: Figures = serde_json::from_slice(&out.stdout)?;
            if binary.is_some() {
                f.case = format!("{case}-against");
            }
            rounds.record(f);
        }
    }
    println!(
        "{:<20} {:>10} {:>12} {:>14} {:>14} {:>12} {:>12}",
        "case", "wall s", "requests", "requests/s", "events/s", "peak MiB", "mean lat s"
    );
    for f in rounds.fastest() {
        println!(
            "{:<20} {:>10.3} {:>12} {:>14.0} {:>14.0} {:>12.1} {:>12.6}",
            f.case,
            f.wall_s,
            f.requests,
            f.requests as f64 / f.wall_s,
            f.events as f64 / f.wall_s,
            f.peak_rss_kib as f64 / 1024.0,
            f.mean_latency_s
        );
    }
    let get = |name: &str| rounds.fastest_of(name);
    println!();
    for model in ["mm1", "web"] {
        for (case, what, target) in [
            ("engine", "engine", " (target ≤ 2×)"),
            ("engine-against", "--against binary's engine", ""),
        ] {
            if let (Some(b), Some(e)) = (
                get(&format!("{model}-baseline")),
                get(&format!("{model}-{case}")),
            ) {
                println!(
                    "{model}: {what} wall / baseline wall = {:.2}×{target}",
                    e.wall_s / b.wall_s
                );
            }
            if let Some((pairs, q)) =
                rounds.paired_quartiles(&format!("{model}-baseline"), &format!("{model}-{case}"))
            {
                println!(
                    "{model}:   median of the {pairs} same-round ratios {:.2}× (quartiles {:.2}–{:.2})",
                    q[1], q[0], q[2]
                );
            }
        }
        if let (Some(e), Some(x)) = (
            get(&format!("{model}-engine")),
            get(&format!("{model}-engine-x10")),
        ) {
            println!(
                "{model}: peak memory 10× longer / 1× = {:.3} ({:.1} → {:.1} MiB; target within 10 %)",
                x.peak_rss_kib as f64 / e.peak_rss_kib as f64,
                e.peak_rss_kib as f64 / 1024.0,
                x.peak_rss_kib as f64 / 1024.0
            );
        }
    }
    Ok(super::exit::OK)
}
