//! `flashcrowd bench`: the engine's speed and memory against a minimal hand-written
//! BinaryHeap loop of the same models, measured in one run so the ratio is meaningful on a
//! noisy machine. Each case runs in its own process so peak memory is its own. Prints
//! figures; asserts nothing about time.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::path::PathBuf;
use std::time::Instant;

use rand::RngExt;
use rand_distr::{Distribution, Exp1};

use crate::engine::{Rng, StreamKey};
use crate::simulation::{RunOptions, Simulation};
use crate::topology::{self, Override};

/// Arguments of `flashcrowd bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Requests per case (the issue's figure is 1 000 000).
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
    /// Run one case in this process and print its figures as JSON (used internally).
    #[arg(long, hide = true)]
    pub case: Option<String>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Figures {
    case: String,
    requests: u64,
    events: u64,
    wall_s: f64,
    peak_rss_kib: u64,
    mean_latency_s: f64,
}

/// Run the benchmark (or one case of it).
pub fn run(args: &BenchArgs) -> anyhow::Result<u8> {
    if let Some(case) = &args.case {
        let f = run_case(case, args)?;
        println!("{}", serde_json::to_string(&f)?);
        return Ok(super::exit::OK);
    }
    let exe = std::env::current_exe()?;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    println!(
        "flashcrowd bench — {} requests per case, fastest of {} runs",
        args.requests,
        args.repeat.max(1)
    );
    println!(
        "machine: {cpu}, {} cores; load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
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
    let mut results: Vec<Figures> = Vec::new();
    // Every round's wall time by case, for the paired ratios.
    let mut walls: BTreeMap<String, Vec<f64>> = BTreeMap::new();
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
            walls.entry(f.case.clone()).or_default().push(f.wall_s);
            match results.iter_mut().find(|r| r.case == f.case) {
                Some(best) if f.wall_s < best.wall_s => *best = f,
                Some(_) => {}
                None => results.push(f),
            }
        }
    }
    println!(
        "{:<20} {:>10} {:>12} {:>14} {:>14} {:>12} {:>12}",
        "case", "wall s", "requests", "requests/s", "events/s", "peak MiB", "mean lat s"
    );
    for f in &results {
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
    let get = |name: &str| results.iter().find(|f| f.case == name);
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
            if let (Some(b), Some(e)) = (
                walls.get(&format!("{model}-baseline")),
                walls.get(&format!("{model}-{case}")),
            ) && let Some((pairs, q)) = paired_quartiles(b, e)
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

/// The number of pairs and the quartiles of the ratios engine / baseline of runs made in the
/// same round (moments apart, the engine right after its baseline unless it is an `--against`
/// binary's, so a slow phase of a shared host hits both halves of a pair); `None` under four
/// usable rounds.
fn paired_quartiles(baseline: &[f64], engine: &[f64]) -> Option<(usize, [f64; 3])> {
    let mut r: Vec<f64> = baseline
        .iter()
        .zip(engine)
        .filter(|(b, _)| **b > 0.0)
        .map(|(b, e)| e / b)
        .collect();
    if r.len() < 4 {
        return None;
    }
    r.sort_by(f64::total_cmp);
    let at = |q: f64| {
        // Linear interpolation between closest ranks.
        let x = q * (r.len() - 1) as f64;
        let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
        r[lo] + (r[hi] - r[lo]) * (x - lo as f64)
    };
    Some((r.len(), [at(0.25), at(0.5), at(0.75)]))
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn run_case(case: &str, args: &BenchArgs) -> anyhow::Result<Figures> {
    let (name, scale) = match case.strip_suffix("-x10") {
        Some(n) => (n, 10),
        None => (case, 1),
    };
    let requests = args.requests * scale;
    let start = Instant::now();
    let (events, mean) = match name {
        "mm1-baseline" => baseline_mm1(requests),
        "web-baseline" => baseline_web(requests),
        "mm1-engine" | "web-engine" => {
            let file = args.models.join(if name == "mm1-engine" {
                "mm1.ron"
            } else {
                "web.ron"
            });
            let ov = [Override {
                path: "requests".into(),
                value: requests.to_string(),
            }];
            let topo = topology::load_file(&file, &ov).map_err(|e| anyhow::anyhow!("{e}"))?;
            let r = Simulation::new(&topo, RunOptions::default()).run();
            (r.events, r.end_to_end.latency_s.mean)
        }
        other => anyhow::bail!("unknown bench case `{other}`"),
    };
    Ok(Figures {
        case: case.into(),
        requests,
        events,
        wall_s: start.elapsed().as_secs_f64(),
        peak_rss_kib: peak_rss_kib(),
        mean_latency_s: mean,
    })
}

fn stream(purpose: &str) -> Rng {
    StreamKey {
        seed: 1,
        replication: 0,
        owner: "baseline",
        replica: 0,
        purpose,
    }
    .rng()
}

fn exp_ns(rng: &mut Rng, mean_ns: f64) -> u64 {
    let e: f64 = Exp1.sample(rng);
    (e * mean_ns) as u64
}

/// M/M/1, arrivals 900/s, service 1000/s: the smallest correct event loop.
fn baseline_mm1(n: u64) -> (u64, f64) {
    let mut arr = stream("a");
    let mut svc = stream("s");
    // (time, seq, kind): 0 = arrival, 1 = departure.
    let mut heap: BinaryHeap<Reverse<(u64, u64, u8)>> = BinaryHeap::new();
    let mut queue: VecDeque<u64> = VecDeque::new();
    let mut seq = 0u64;
    let mut events = 0u64;
    let (mut arrived, mut done, mut sum) = (0u64, 0u64, 0u128);
    heap.push(Reverse((exp_ns(&mut arr, 1e9 / 900.0), seq, 0)));
    while let Some(Reverse((t, _, kind))) = heap.pop() {
        events += 1;
        seq += 1;
        if kind == 0 {
            arrived += 1;
            queue.push_back(t);
            if queue.len() == 1 {
                heap.push(Reverse((t + exp_ns(&mut svc, 1e6), seq, 1)));
            }
            if arrived < n {
                heap.push(Reverse((t + exp_ns(&mut arr, 1e9 / 900.0), seq, 0)));
            }
        } else {
            let Some(a) = queue.pop_front() else { continue };
            sum += u128::from(t - a);
            done += 1;
            if !queue.is_empty() {
                heap.push(Reverse((t + exp_ns(&mut svc, 1e6), seq, 1)));
            }
        }
    }
    (events, sum as f64 / done.max(1) as f64 / 1e9)
}

/// Poisson 9000/s → round robin over 10 single-thread servers (exp 1 ms) → 0.1 ms delay →
/// 20 % to a single-thread DB (exp 0.389 ms).
fn baseline_web(n: u64) -> (u64, f64) {
    const WEB: usize = 10;
    let mut arr = stream("a");
    let mut svc = stream("s");
    let mut route = stream("r");
    // kind: 0 arrival, 1 web departure (server in id), 2 delay done, 3 db departure.
    let mut heap: BinaryHeap<Reverse<(u64, u64, u8, u32)>> = BinaryHeap::new();
    let mut web: Vec<VecDeque<u64>> = vec![VecDeque::new(); WEB];
    let mut db: VecDeque<u64> = VecDeque::new();
    let mut delayed: VecDeque<u64> = VecDeque::new(); // constant delay: FIFO
    let (mut seq, mut events, mut arrived, mut rr, mut done, mut sum) =
        (0u64, 0u64, 0u64, 0usize, 0u64, 0u128);
    heap.push(Reverse((exp_ns(&mut arr, 1e9 / 9000.0), 0, 0, 0)));
    while let Some(Reverse((t, _, kind, id))) = heap.pop() {
        events += 1;
        seq += 1;
        match kind {
            0 => {
                arrived += 1;
                let s = rr;
                rr = (rr + 1) % WEB;
                web[s].push_back(t);
                if web[s].len() == 1 {
                    heap.push(Reverse((t + exp_ns(&mut svc, 1e6), seq, 1, s as u32)));
                }
                if arrived < n {
                    heap.push(Reverse((t + exp_ns(&mut arr, 1e9 / 9000.0), seq, 0, 0)));
                }
            }
            1 => {
                let s = id as usize;
                let Some(a) = web[s].pop_front() else {
                    continue;
                };
                delayed.push_back(a);
                heap.push(Reverse((t + 100_000, seq, 2, 0)));
                if !web[s].is_empty() {
                    heap.push(Reverse((t + exp_ns(&mut svc, 1e6), seq, 1, s as u32)));
                }
            }
            2 => {
                let Some(a) = delayed.pop_front() else {
                    continue;
                };
                if route.random::<f64>() < 0.2 {
                    db.push_back(a);
                    if db.len() == 1 {
                        heap.push(Reverse((t + exp_ns(&mut svc, 389_000.0), seq, 3, 0)));
                    }
                } else {
                    sum += u128::from(t - a);
                    done += 1;
                }
            }
            _ => {
                let Some(a) = db.pop_front() else { continue };
                sum += u128::from(t - a);
                done += 1;
                if !db.is_empty() {
                    heap.push(Reverse((t + exp_ns(&mut svc, 389_000.0), seq, 3, 0)));
                }
            }
        }
    }
    (events, sum as f64 / done.max(1) as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::paired_quartiles;

    #[test]
    fn paired_quartiles_interpolate_between_ranks() {
        // Ratios 1, 2, 3, 4 in scrambled round order.
        let q = paired_quartiles(&[1.0, 1.0, 2.0, 1.0], &[3.0, 1.0, 8.0, 2.0]);
        assert_eq!(q, Some((4, [1.75, 2.5, 3.25])));
        // One slow round does not move the median.
        let q = paired_quartiles(&[1.0; 5], &[2.0, 2.0, 9.0, 2.0, 2.0]);
        assert_eq!(q, Some((5, [2.0, 2.0, 2.0])));
    }

    #[test]
    fn paired_quartiles_need_four_usable_rounds() {
        assert_eq!(paired_quartiles(&[1.0; 3], &[2.0; 3]), None);
        assert_eq!(paired_quartiles(&[1.0, 0.0, 1.0, 1.0], &[2.0; 4]), None);
    }
}
