//! The progress line `run` draws on a terminal: simulated time against the run's length, the
//! requests so far, the live P99 of the latest time-series window, and an estimate of the
//! wall time left. It reads [`crate::simulation::Snapshot`]s only, like the GUI.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::engine::{SimTime, StepOutcome};
use crate::metrics::Report;
use crate::simulation::Simulation;

/// Runs shorter than this draw nothing.
const QUIET_FOR: Duration = Duration::from_secs(1);
/// Between two redraws.
const REDRAW_EVERY: Duration = Duration::from_millis(200);
/// Events handled between two looks at the clock.
const STEP_EVENTS: u64 = 500_000;
/// Width of the bar, characters.
const BAR: usize = 24;

/// Run `sim` to the end, drawing progress on stderr when `draw` (a terminal, not
/// `--no-progress`) and the run lasts long enough to need it. The report is the same as
/// [`Simulation::run`]'s: stepping changes nothing.
pub fn run(mut sim: Simulation, draw: bool, end_s: f64) -> Report {
    if !draw {
        return sim.run();
    }
    let start = Instant::now();
    let mut last_draw: Option<Instant> = None;
    while sim.step(SimTime::MAX, STEP_EVENTS) != StepOutcome::Idle {
        let now = Instant::now();
        if now - start < QUIET_FOR || last_draw.is_some_and(|t| now - t < REDRAW_EVERY) {
            continue;
        }
        last_draw = Some(now);
        let line = line(&sim, start.elapsed().as_secs_f64(), end_s);
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{line}\x1b[K");
        let _ = err.flush();
    }
    if last_draw.is_some() {
        // Clear the line: the report follows.
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[K");
        let _ = err.flush();
    }
    sim.finish()
}

/// One progress line for the run as it stands.
fn line(sim: &Simulation, wall_s: f64, end_s: f64) -> String {
    let snap = sim.snapshot();
    let done = (snap.now_s / end_s.max(1e-9)).clamp(0.0, 1.0);
    let filled = (done * BAR as f64).round() as usize;
    let bar: String = "#".repeat(filled) + &"-".repeat(BAR - filled);
    let e2e = &snap.report.end_to_end;
    let requests = e2e.completed + e2e.errors;
    // The live P99: the worst workload's latest window.
    let p99 = snap
        .latest
        .iter()
        .filter(|(name, _)| snap.report.workloads.contains_key(*name))
        .map(|(_, p)| p.p99_s)
        .fold(0.0, f64::max);
    let eta = if done > 0.0 && done < 1.0 {
        format!("ETA {:.0} s", wall_s * (1.0 - done) / done)
    } else {
        "draining".into()
    };
    format!(
        "[{bar}] {:.1} / {:.1} s simulated · {} requests · p99 {} (last window) · {eta}",
        snap.now_s,
        end_s,
        super::format::count(requests),
        super::format::secs(p99),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulation::RunOptions;

    #[test]
    fn the_progress_line_reads_the_run_as_it_stands() {
        let topo = crate::topology::load_str(
            r#"Topology(duration: "10s", warmup: "1s",
                workloads: {"users": Open(rate: "500/s", to: "s")},
                components: {"s": Service(threads: "unlimited", cpus: "unlimited", cpu: Const("1ms"))})"#,
            None,
            std::path::Path::new("."),
            &[],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut sim = Simulation::new(&topo, RunOptions::default());
        sim.step(SimTime::from_secs_f64(5.0), u64::MAX);
        let l = line(&sim, 2.0, 10.0);
        assert!(
            l.starts_with("[############------------] 5.0 / 10.0 s simulated"),
            "{l}"
        );
        // Every request takes 1 ms (a pure delay): the live P99 is it, within the 3 %
        // buckets of a window.
        assert!(l.contains("p99 1.0"), "{l}");
        // Half done in 2 s of wall time: 2 s left.
        assert!(l.ends_with("ETA 2 s"), "{l}");
    }
}
