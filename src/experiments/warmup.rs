//! An automatic warm-up: MSER-5 (White's marginal standard error rule on batches of five
//! windows) on the cross-replication mean of the end-to-end response-time series.
//!
//! A pilot runs the replications with no warm-up, recording each series window's mean
//! latency; the windows inside the arrival window are averaged across replications and grouped
//! in batches of five; the warm-up is the number of leading batches `d` that minimizes
//! MSER(d) = Σ_{j>d} (z_j − z̄_d)² / (m − d)², searched over the first half of the batches
//! (beyond that the run is too short to tell, which the choice says). Only stationary models
//! qualify: a profile that changes the rate, or an `events` section, makes the transient part
//! of what is measured.

use crate::metrics::Report;
pub use crate::metrics::report::WarmupChoice;
use crate::simulation::RunOptions;
use crate::topology::Topology;
use crate::topology::model::{RateProfile, Source};

/// Windows per MSER batch.
pub const BATCH: usize = 5;

/// Leading batches to drop from batch means `z` by MSER (None with fewer than 4 batches), and
/// whether the minimum is at the end of the search.
pub fn mser(z: &[f64]) -> Option<(usize, bool)> {
    let m = z.len();
    if m < 4 {
        return None;
    }
    let limit = m / 2;
    let mut best = (0, f64::INFINITY);
    for d in 0..=limit {
        let rest = &z[d..];
        let k = rest.len() as f64;
        let mean = rest.iter().sum::<f64>() / k;
        let sse: f64 = rest.iter().map(|x| (x - mean).powi(2)).sum();
        let stat = sse / (k * k);
        if stat < best.1 {
            best = (d, stat);
        }
    }
    Some((best.0, best.0 == limit))
}

/// Why `topo` cannot take an automatic warm-up, if it cannot.
pub fn refuse_non_stationary(topo: &Topology) -> Result<(), String> {
    if !topo.events.is_empty() {
        return Err("--warmup auto needs a stationary model, and this one has an `events` section (what they change is part of what is measured); give a fixed warm-up".into());
    }
    for n in &topo.nodes {
        if let Some(w) = n.kind.as_workload()
            && let Source::Open { profile, .. } = &w.source
            && !matches!(profile, RateProfile::Constant)
        {
            return Err(format!(
                "--warmup auto needs a stationary model, and workload `{}` changes its rate over time (its profile); give a fixed warm-up, or compare windows across replications",
                n.name
            ));
        }
    }
    Ok(())
}

/// The end-to-end mean latency of each series window inside the arrival window, averaged
/// over the workloads by completions.
fn response_series(r: &Report) -> Vec<f64> {
    let mut sums: Vec<(f64, f64)> = Vec::new();
    for name in r.workloads.keys() {
        let Some(points) = r.series.get(name) else {
            continue;
        };
        for (i, p) in points
            .iter()
            .filter(|p| p.t_s + p.window_s <= r.arrival_window_s + 1e-9)
            .enumerate()
        {
            if sums.len() <= i {
                sums.resize(i + 1, (0.0, 0.0));
            }
            let w = p.completions as f64;
            sums[i].0 += p.mean_s * w;
            sums[i].1 += w;
        }
    }
    sums.iter()
        .map(|(s, w)| if *w > 0.0 { s / w } else { 0.0 })
        .collect()
}

/// Run the pilot (`n` replications, no warm-up) and choose the warm-up by MSER-5.
pub fn choose(topo: &Topology, options: &RunOptions, n: u32) -> Result<WarmupChoice, String> {
    refuse_non_stationary(topo)?;
    let mut pilot = topo.clone();
    pilot.warmup_ns = 0;
    let reports = super::replications::run_with_series(&pilot, options, n.max(1));
    let series: Vec<Vec<f64>> = reports.iter().map(response_series).collect();
    let len = series.iter().map(Vec::len).min().unwrap_or(0);
    let window_s = reports
        .first()
        .and_then(|r| r.workloads.keys().next().and_then(|w| r.series.get(w)))
        .and_then(|p| p.first())
        .map_or(topo.window_ns as f64 / 1e9, |p| p.window_s);
    let windows: Vec<f64> = (0..len)
        .map(|i| series.iter().map(|s| s[i]).sum::<f64>() / series.len() as f64)
        .collect();
    let batches: Vec<f64> = windows
        .chunks_exact(BATCH)
        .map(|c| c.iter().sum::<f64>() / BATCH as f64)
        .collect();
    let Some((d, at_limit)) = mser(&batches) else {
        return Err(format!(
            "--warmup auto needs at least {} series windows in the arrival window, and this run has {len}; run longer or make metrics.window shorter",
            4 * BATCH
        ));
    };
    Ok(WarmupChoice {
        method: "MSER-5".into(),
        chosen_s: d as f64 * BATCH as f64 * window_s,
        window_s,
        batches: batches.len(),
        truncated_batches: d,
        pilot_replications: n.max(1),
        at_limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mser_cuts_a_decaying_transient_and_keeps_a_stationary_series() {
        // 60 batches: an exponential transient from 0 to 1 (time constant 4 batches) plus a
        // deterministic ripple; MSER drops the part where the transient is above the ripple.
        let ripple = |j: usize| 0.02 * ((j as f64) * 1.7).sin();
        let z: Vec<f64> = (0..60)
            .map(|j| 1.0 - (-(j as f64) / 4.0).exp() + ripple(j))
            .collect();
        let (d, at_limit) = mser(&z).unwrap();
        assert!((8..=24).contains(&d), "truncated {d}");
        assert!(!at_limit);
        let flat: Vec<f64> = (0..60).map(|j| 1.0 + ripple(j)).collect();
        let (d, _) = mser(&flat).unwrap();
        assert!(d <= 3, "truncated {d} of a stationary series");
        assert_eq!(mser(&[1.0, 2.0, 3.0]), None);
    }
}
