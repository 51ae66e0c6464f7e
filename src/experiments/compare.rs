//! Two reports side by side, figure by figure: the difference and, when both carry
//! confidence intervals (`run --replications`), whether it is significant (Welch's t test at
//! 5 %, from each mean's 95 % half-width and replication count).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::stats::t975;
use crate::metrics::flat::flatten;

/// One report as compare reads it.
#[derive(Debug, Clone, Default)]
pub struct Side {
    /// Every measured number, by path.
    pub values: BTreeMap<String, f64>,
    /// The 95 % half-width of each, when the report is of replications.
    pub half: BTreeMap<String, f64>,
    /// How many replications (1 for a single run).
    pub replications: u64,
}

impl Side {
    /// Read a report's JSON (a single run's or replications').
    pub fn of(report: &Value) -> Self {
        Self {
            values: flatten(report),
            half: report.get("ci95").map(flatten).unwrap_or_default(),
            replications: report
                .get("replications")
                .and_then(Value::as_u64)
                .unwrap_or(1),
        }
    }

    /// The standard error of the figure at `path`, when known.
    fn standard_error(&self, path: &str) -> Option<f64> {
        let half = *self.half.get(path)?;
        let df = u32::try_from(self.replications.checked_sub(1)?).ok()?;
        (df > 0).then(|| half / t975(df))
    }
}

/// One figure of both reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Its path.
    pub metric: String,
    /// In the first report.
    pub a: f64,
    /// In the second.
    pub b: f64,
    /// b − a.
    pub diff: f64,
    /// (b − a) / |a|; null when a is 0.
    pub relative: Option<f64>,
    /// Whether the difference is significant at 5 % (Welch); null without intervals on both
    /// sides.
    pub significant: Option<bool>,
}

/// Every figure both reports have, in path order.
pub fn compare(a: &Side, b: &Side) -> Vec<Row> {
    a.values
        .iter()
        .filter_map(|(path, &x)| {
            let &y = b.values.get(path)?;
            let significant = match (a.standard_error(path), b.standard_error(path)) {
                (Some(sa), Some(sb)) => Some(welch_significant(
                    x,
                    sa,
                    a.replications,
                    y,
                    sb,
                    b.replications,
                )),
                _ => None,
            };
            Some(Row {
                metric: path.clone(),
                a: x,
                b: y,
                diff: y - x,
                relative: (x != 0.0).then(|| (y - x) / x.abs()),
                significant,
            })
        })
        .collect()
}

/// Welch's two-sided t test at 5 % of two means with standard errors `sa`, `sb` from `na`,
/// `nb` samples.
fn welch_significant(a: f64, sa: f64, na: u64, b: f64, sb: f64, nb: u64) -> bool {
    let var = sa * sa + sb * sb;
    if var == 0.0 {
        return a != b;
    }
    let dfa = (na.saturating_sub(1)).max(1) as f64;
    let dfb = (nb.saturating_sub(1)).max(1) as f64;
    let df = var * var / (sa.powi(4) / dfa + sb.powi(4) / dfb);
    let df = df.floor().clamp(1.0, f64::from(u32::MAX)) as u32;
    (b - a).abs() > t975(df) * var.sqrt()
}

/// Whether `path` is one of the headline figures (`compare` shows these unless asked for
/// all): end-to-end traffic, latency and errors, and each component's throughput, P99,
/// error rate, utilization and P99 wait.
pub fn is_headline(path: &str) -> bool {
    const END_TO_END: [&str; 6] = [
        "end_to_end.throughput_per_s",
        "end_to_end.latency_s.mean",
        "end_to_end.latency_s.p50",
        "end_to_end.latency_s.p95",
        "end_to_end.latency_s.p99",
        "end_to_end.error_rate",
    ];
    const COMPONENT: [&str; 6] = [
        ".throughput_per_s",
        ".latency_s.p99",
        ".error_rate",
        ".cpu_utilization",
        ".thread_occupancy",
        ".wait_s.p99",
    ];
    if END_TO_END.contains(&path) {
        return true;
    }
    let Some(rest) = path.strip_prefix("components.") else {
        return false;
    };
    // One segment for the name (possibly quoted), then the figure.
    let after_name = if let Some(quoted) = rest.strip_prefix('"') {
        quoted.find('"').map(|i| &quoted[i + 1..])
    } else {
        rest.find('.').map(|i| &rest[i..])
    };
    after_name.is_some_and(|f| COMPONENT.contains(&f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_difference_is_significant_only_beyond_both_intervals_noise() {
        let a =
            serde_json::json!({"x": {"y": 10.0}, "ci95": {"x": {"y": 1.0}}, "replications": 10});
        let near =
            serde_json::json!({"x": {"y": 10.5}, "ci95": {"x": {"y": 1.0}}, "replications": 10});
        let far =
            serde_json::json!({"x": {"y": 14.0}, "ci95": {"x": {"y": 1.0}}, "replications": 10});
        let rows = compare(&Side::of(&a), &Side::of(&near));
        assert_eq!(rows[0].significant, Some(false));
        assert_eq!(rows[0].diff, 0.5);
        assert_eq!(
            compare(&Side::of(&a), &Side::of(&far))[0].significant,
            Some(true)
        );
        // Single runs carry no intervals: nothing is judged.
        let single = serde_json::json!({"x": {"y": 14.0}});
        assert_eq!(
            compare(&Side::of(&a), &Side::of(&single))[0].significant,
            None
        );
    }

    #[test]
    fn headline_figures_are_picked_by_path() {
        assert!(is_headline("end_to_end.latency_s.p99"));
        assert!(is_headline("components.db.cpu_utilization"));
        assert!(is_headline("components.\"web.v2\".latency_s.p99"));
        assert!(!is_headline("components.db.latency_s.p50"));
        assert!(!is_headline("components.db.per_replica.0.arrivals"));
    }
}
