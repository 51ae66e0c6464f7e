//! Parameter sweeps: one model, some fields varied over lists or ranges (a grid of all their
//! combinations, or zipped), each point run as independent replications; every point's result
//! is written to its own file as soon as it is done (atomically: written aside, then renamed),
//! so an interrupted sweep resumes where it stopped, and a point that fails is recorded with
//! its error while the others go on. The table (`sweep.csv`, `sweep.json`) is assembled from
//! the point files at the end.
//!
//! Points share replication seeds (replication r of every point uses the model's seed and
//! index r): common random numbers. Each component and workload draws from its own named
//! streams, so a change that leaves the draws in step (a rate, a timeout) compares points on
//! the same random inputs; one that changes who draws what (a replica count splits a service's
//! draws over more instances) only partly does.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::replications::{aggregate, at, run as replicate};
use crate::simulation::RunOptions;
use crate::topology::Override;

/// A sweep file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// The model file, relative to the sweep file.
    pub model: PathBuf,
    /// The fields to vary, each by its dotted path (as `--set` writes it).
    pub vary: Vec<Vary>,
    /// How the fields' values combine into points.
    #[serde(default)]
    pub combine: Combine,
    /// Independent replications per point (their seeds are shared by every point).
    #[serde(default = "default_replications")]
    pub replications: u32,
    /// The figures each point reports, by dotted path into the report
    /// (`end_to_end.latency_s.p99`); default: the end-to-end headline figures.
    #[serde(default)]
    pub columns: Vec<String>,
    /// Charts of the table, drawn to PNG and SVG beside it.
    #[serde(default)]
    pub plots: Vec<super::plot::Plot>,
}

fn default_replications() -> u32 {
    5
}

/// Most points one sweep may have (a range's `steps` or a grid past it is likely a typo).
pub const MAX_POINTS: usize = 100_000;

/// How values combine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Combine {
    /// Every combination of the fields' values (the first field varies slowest).
    #[default]
    Grid,
    /// The i-th value of every field together (all lists as long).
    Zip,
}

/// One varied field.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Vary {
    /// Its dotted path (`workloads.users.rate`, `components.web.replicas`).
    pub path: String,
    /// Its values, as a file writes them (`"2000/s"`, `8`)...
    #[serde(default)]
    pub values: Vec<SweepValue>,
    /// ...or a range of numbers.
    #[serde(default)]
    pub range: Option<Range>,
}

/// A value of a varied field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SweepValue {
    /// A number (`8`, `0.5`).
    Number(f64),
    /// Text: a duration, a rate, a name (`"250ms"`, `"4000/s"`).
    Text(String),
}

/// A range of numbers, with an optional unit appended to each (`"/s"`, `"ms"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub enum Range {
    /// `steps` values evenly spaced from `from` to `to`, both included.
    Linear {
        /// First value.
        from: f64,
        /// Last value.
        to: f64,
        /// How many values (≥ 2).
        steps: u32,
        /// Appended to each value (`"/s"`); none by default.
        #[serde(default)]
        unit: String,
    },
    /// `steps` values evenly spaced in logarithm from `from` to `to` (both > 0).
    Log {
        /// First value.
        from: f64,
        /// Last value.
        to: f64,
        /// How many values (≥ 2).
        steps: u32,
        /// Appended to each value; none by default.
        #[serde(default)]
        unit: String,
    },
}

impl SweepValue {
    /// As RON for an override.
    fn ron(&self) -> String {
        match self {
            SweepValue::Number(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", *x as i64),
            SweepValue::Number(x) => format!("{x}"),
            SweepValue::Text(t) => format!("{t:?}"),
        }
    }

    /// As a table cell.
    fn cell(&self) -> Value {
        match self {
            SweepValue::Number(x) if x.fract() == 0.0 && x.abs() < 1e15 => Value::from(*x as i64),
            SweepValue::Number(x) => Value::from(*x),
            SweepValue::Text(t) => Value::from(t.clone()),
        }
    }
}

impl Vary {
    /// Its values, the range expanded.
    fn expand(&self) -> Result<Vec<SweepValue>, String> {
        let Some(range) = &self.range else {
            if self.values.is_empty() {
                return Err(format!("`{}`: give `values` or a `range`", self.path));
            }
            return Ok(self.values.clone());
        };
        if !self.values.is_empty() {
            return Err(format!(
                "`{}`: give `values` or a `range`, not both",
                self.path
            ));
        }
        let (from, to, steps, unit, log) = match range {
            Range::Linear {
                from,
                to,
                steps,
                unit,
            } => (*from, *to, *steps, unit, false),
            Range::Log {
                from,
                to,
                steps,
                unit,
            } => (*from, *to, *steps, unit, true),
        };
        if steps < 2 || !from.is_finite() || !to.is_finite() || (log && (from <= 0.0 || to <= 0.0))
        {
            return Err(format!(
                "`{}`: a range needs finite ends (positive for Log) and at least 2 steps",
                self.path
            ));
        }
        if steps as usize > MAX_POINTS {
            return Err(format!(
                "`{}`: {steps} steps; a sweep has at most {MAX_POINTS} points",
                self.path
            ));
        }
        Ok((0..steps)
            .map(|i| {
                let f = f64::from(i) / f64::from(steps - 1);
                let x = if log {
                    (from.ln() + f * (to.ln() - from.ln())).exp()
                } else {
                    from + f * (to - from)
                };
                // Round away float noise (12 significant digits) so 2.9999999999999996
                // prints as 3, whatever the magnitude (1e-12 stays 1e-12); a linear range's
                // zero crossing is 0, not 1e-17.
                let x = if !log && x.abs() < 1e-12 * from.abs().max(to.abs()) {
                    0.0
                } else {
                    round_significant(x)
                };
                if unit.is_empty() {
                    SweepValue::Number(x)
                } else {
                    SweepValue::Text(format!("{x}{unit}"))
                }
            })
            .collect())
    }
}

/// `x` to 12 significant digits (float noise of a range's arithmetic removed).
fn round_significant(x: f64) -> f64 {
    format!("{x:.11e}").parse().unwrap_or(x)
}

/// One point of a sweep: its index and the value of each varied field.
#[derive(Debug, Clone)]
pub struct Point {
    /// Its index (file names and order).
    pub index: usize,
    /// The value of each varied field, in `vary` order.
    pub values: Vec<SweepValue>,
}

impl Sweep {
    /// Read a sweep file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
            .from_str::<Sweep>(&text)
            .map_err(|e| {
                format!(
                    "{}:{}:{}: {}",
                    path.display(),
                    e.span.start.line,
                    e.span.start.col,
                    e.code
                )
            })
    }

    /// Its points, in order.
    pub fn points(&self) -> Result<Vec<Point>, String> {
        if self.vary.is_empty() {
            return Err("a sweep varies at least one field (`vary`)".into());
        }
        if !(1..=super::replications::MAX_REPLICATIONS).contains(&self.replications) {
            return Err(format!(
                "`replications` is 1 to {}",
                super::replications::MAX_REPLICATIONS
            ));
        }
        let lists = self
            .vary
            .iter()
            .map(Vary::expand)
            .collect::<Result<Vec<_>, _>>()?;
        let count = match self.combine {
            Combine::Grid => lists.iter().try_fold(1usize, |n, l| n.checked_mul(l.len())),
            Combine::Zip => Some(lists[0].len()),
        };
        if count.is_none_or(|n| n > MAX_POINTS) {
            return Err(format!(
                "{} points; a sweep has at most {MAX_POINTS} (fewer values, or split it)",
                count.map_or_else(|| "more than 2^64".to_string(), |n| n.to_string())
            ));
        }
        let varied = |path: &str| self.vary.iter().any(|v| v.path == path);
        let columns = self.columns();
        for p in &self.plots {
            if !varied(&p.x) {
                return Err(format!(
                    "plot `{}`: x `{}` is not a varied field",
                    p.file, p.x
                ));
            }
            if let Some(s) = p.series.as_deref().filter(|s| !varied(s)) {
                return Err(format!(
                    "plot `{}`: series `{s}` is not a varied field",
                    p.file
                ));
            }
            if !columns.contains(&p.y) {
                return Err(format!(
                    "plot `{}`: y `{}` is not one of the columns ({})",
                    p.file,
                    p.y,
                    columns.join(", ")
                ));
            }
            if p.file.is_empty() || p.file.contains(['/', '\\']) {
                return Err(format!(
                    "plot `{}`: `file` is a plain name, without folders",
                    p.file
                ));
            }
        }
        let values: Vec<Vec<SweepValue>> = match self.combine {
            Combine::Zip => {
                let n = lists[0].len();
                if let Some(v) = self.vary.iter().zip(&lists).find(|(_, l)| l.len() != n) {
                    return Err(format!(
                        "combine: Zip needs lists of one length: `{}` has {} values, `{}` has {n}",
                        v.0.path,
                        v.1.len(),
                        self.vary[0].path
                    ));
                }
                (0..n)
                    .map(|i| lists.iter().map(|l| l[i].clone()).collect())
                    .collect()
            }
            Combine::Grid => lists.iter().fold(vec![Vec::new()], |acc, list| {
                acc.iter()
                    .flat_map(|prefix| {
                        list.iter().map(move |v| {
                            let mut p = prefix.clone();
                            p.push(v.clone());
                            p
                        })
                    })
                    .collect()
            }),
        };
        Ok(values
            .into_iter()
            .enumerate()
            .map(|(index, values)| Point { index, values })
            .collect())
    }

    /// The figures each point reports.
    pub fn columns(&self) -> Vec<String> {
        if self.columns.is_empty() {
            [
                "end_to_end.throughput_per_s",
                "end_to_end.latency_s.mean",
                "end_to_end.latency_s.p99",
                "end_to_end.error_rate",
            ]
            .map(String::from)
            .to_vec()
        } else {
            self.columns.clone()
        }
    }
}

/// Point `p`'s values as its row names them, and as overrides of the model.
fn point_params(sweep: &Sweep, p: &Point) -> (serde_json::Map<String, Value>, Vec<Override>) {
    let params = sweep
        .vary
        .iter()
        .zip(&p.values)
        .map(|(v, x)| (v.path.clone(), x.cell()))
        .collect();
    let overrides = sweep
        .vary
        .iter()
        .zip(&p.values)
        .map(|(v, x)| Override {
            path: v.path.clone(),
            value: x.ron(),
        })
        .collect();
    (params, overrides)
}

/// Run point `p` of `sweep` (model at `model`): its row, or its error.
fn run_point(sweep: &Sweep, model: &Path, p: &Point, seed: Option<u64>) -> Value {
    let (params, overrides) = point_params(sweep, p);
    let topo = match crate::topology::load_file(model, &overrides) {
        Ok(t) => t,
        Err(e) => {
            return serde_json::json!({"point": p.index, "params": params, "error": e.to_string()});
        }
    };
    if let Err(d) = crate::topology::size::RunSize::of(&topo).check(false) {
        return serde_json::json!({"point": p.index, "params": params, "error": d.to_string()});
    }
    let reports = replicate(
        &topo,
        &RunOptions {
            seed,
            ..Default::default()
        },
        sweep.replications,
    );
    let agg = aggregate(&reports);
    let mut figures = serde_json::Map::new();
    for c in sweep.columns() {
        let mean = at(&agg, &c).cloned().unwrap_or(Value::Null);
        let half = at(&agg["ci95"], &c).cloned().unwrap_or(Value::Null);
        figures.insert(c, serde_json::json!({"mean": mean, "ci95": half}));
    }
    serde_json::json!({
        "point": p.index,
        "params": params,
        "replications": sweep.replications,
        "verdict_pass": agg["verdict"]["pass"],
        "figures": figures,
    })
}

/// Write `bytes` to `path` atomically: aside, then renamed over it. The file aside is this
/// writer's own (`NAME.PID.N.tmp`), so two processes writing the same folder (two shards,
/// a sweep run twice at once) never write into each other's, and each rename is whole.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.{n}.tmp", std::process::id()));
    let tmp = path.with_file_name(name);
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// What a sweep did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Points run now.
    pub ran: usize,
    /// Points found done from an earlier, interrupted run.
    pub resumed: usize,
    /// Points that failed (recorded with their error).
    pub failed: usize,
    /// All rows, in point order.
    pub rows: Vec<Value>,
    /// Charts drawn (their PNG paths).
    pub plots: Vec<PathBuf>,
    /// Charts that could not be drawn, and why.
    pub plot_errors: Vec<String>,
}

/// Run the sweep in `sweep_file` into `out` (created), resuming from the point files an
/// earlier run left there. `stop_after` stops after that many new points (tests of resuming).
pub fn run(
    sweep_file: &Path,
    out: &Path,
    seed: Option<u64>,
    stop_after: Option<usize>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Outcome, String> {
    let sweep = Sweep::load(sweep_file)?;
    let points = sweep.points()?;
    let model = sweep_file
        .parent()
        .unwrap_or(Path::new("."))
        .join(&sweep.model);
    let dir = out.join("points");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let file_of = |p: &Point| dir.join(format!("{:05}.json", p.index));
    let done: Vec<bool> = points.iter().map(|p| file_of(p).exists()).collect();
    // A point file left by another sweep (other values or replications) is not this point's.
    for p in points
        .iter()
        .zip(&done)
        .filter(|(_, d)| **d)
        .map(|(p, _)| p)
    {
        let path = file_of(p);
        let row: Value = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_slice(&t).map_err(|e| e.to_string()))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let (params, _) = point_params(&sweep, p);
        if row["params"] != Value::Object(params)
            || (row.get("error").is_none() && row["replications"] != sweep.replications)
        {
            return Err(format!(
                "{} is a point of another sweep (its values or replications differ from this file's point {}); write to another --out, or remove {}",
                path.display(),
                p.index,
                dir.display()
            ));
        }
    }
    let todo: Vec<&Point> = points
        .iter()
        .zip(&done)
        .filter(|(_, d)| !**d)
        .map(|(p, _)| p)
        .take(stop_after.unwrap_or(usize::MAX))
        .collect();
    let finished = std::sync::atomic::AtomicUsize::new(done.iter().filter(|d| **d).count());
    let total = points.len();
    todo.par_iter()
        .map(|p| {
            let row = run_point(&sweep, &model, p, seed);
            let text = serde_json::to_vec_pretty(&row).map_err(|e| e.to_string())?;
            write_atomic(&file_of(p), &text)
                .map_err(|e| format!("{}: {e}", file_of(p).display()))?;
            let n = finished.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress(n, total);
            Ok(())
        })
        .collect::<Result<Vec<()>, String>>()?;
    let mut outcome = Outcome {
        ran: todo.len(),
        resumed: done.iter().filter(|d| **d).count(),
        ..Default::default()
    };
    for p in &points {
        let Ok(text) = std::fs::read(file_of(p)) else {
            continue; // not run yet (stopped early)
        };
        let row: Value =
            serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", file_of(p).display()))?;
        outcome.failed += usize::from(row.get("error").is_some());
        outcome.rows.push(row);
    }
    if outcome.rows.len() == total {
        write_table(&sweep, out, &outcome.rows)?;
        for p in &sweep.plots {
            match super::plot::draw(p, &outcome.rows, out) {
                Ok(()) => outcome.plots.push(out.join(format!("{}.png", p.file))),
                Err(e) => outcome.plot_errors.push(e),
            }
        }
    }
    Ok(outcome)
}

/// `sweep.json` (every row) and `sweep.csv` (one line per point: the varied fields, then each
/// figure's mean and 95 % half-width, then the error if the point failed).
fn write_table(sweep: &Sweep, out: &Path, rows: &[Value]) -> Result<(), String> {
    let json = serde_json::to_vec_pretty(&serde_json::json!({"points": rows}))
        .map_err(|e| e.to_string())?;
    write_atomic(&out.join("sweep.json"), &json).map_err(|e| e.to_string())?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let columns = sweep.columns();
    let mut header: Vec<String> = sweep.vary.iter().map(|v| v.path.clone()).collect();
    for c in &columns {
        header.push(c.clone());
        header.push(format!("{c}.ci95"));
    }
    header.push("error".into());
    w.write_record(&header).map_err(|e| e.to_string())?;
    let text = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    for row in rows {
        let mut record: Vec<String> = sweep
            .vary
            .iter()
            .map(|v| text(&row["params"][&v.path]))
            .collect();
        for c in &columns {
            record.push(text(&row["figures"][c]["mean"]));
            record.push(text(&row["figures"][c]["ci95"]));
        }
        record.push(text(&row["error"]));
        w.write_record(&record).map_err(|e| e.to_string())?;
    }
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    write_atomic(&out.join("sweep.csv"), &bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sweep(vary: Vec<Vary>) -> Sweep {
        Sweep {
            model: "m.ron".into(),
            vary,
            combine: Combine::Grid,
            replications: 2,
            columns: Vec::new(),
            plots: Vec::new(),
        }
    }

    fn range(path: &str, r: Range) -> Vary {
        Vary {
            path: path.into(),
            values: Vec::new(),
            range: Some(r),
        }
    }

    #[test]
    fn range_values_keep_their_magnitude_and_lose_only_float_noise() {
        let log = range(
            "p",
            Range::Log {
                from: 1e-12,
                to: 1e-9,
                steps: 4,
                unit: String::new(),
            },
        );
        let xs = log.expand().unwrap();
        assert_eq!(
            xs,
            [1e-12, 1e-11, 1e-10, 1e-9].map(SweepValue::Number).to_vec()
        );
        let lin = range(
            "p",
            Range::Linear {
                from: -0.3,
                to: 0.3,
                steps: 3,
                unit: "s".into(),
            },
        );
        let xs = lin.expand().unwrap();
        assert_eq!(xs[1], SweepValue::Text("0s".into()));
        let thirds = range(
            "p",
            Range::Linear {
                from: 0.0,
                to: 3.0,
                steps: 4,
                unit: String::new(),
            },
        );
        assert_eq!(thirds.expand().unwrap()[3], SweepValue::Number(3.0));
    }

    #[test]
    fn a_huge_range_or_grid_is_refused_before_anything_is_allocated() {
        let huge = |steps| {
            range(
                "p",
                Range::Linear {
                    from: 0.0,
                    to: 1.0,
                    steps,
                    unit: String::new(),
                },
            )
        };
        let e = sweep(vec![huge(u32::MAX)]).points().unwrap_err();
        assert!(e.contains("at most 100000 points"), "{e}");
        let e = sweep(vec![huge(1000), huge(1000)]).points().unwrap_err();
        assert!(e.contains("1000000 points"), "{e}");
        assert_eq!(
            sweep(vec![huge(300), huge(300)]).points().unwrap().len(),
            90_000
        );
    }

    #[test]
    fn an_atomic_write_leaves_no_file_aside_and_each_writer_has_its_own() {
        let dir = std::env::temp_dir().join(format!("fc-sweep-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Another writer's file aside (an interrupted run, another shard) is left alone.
        let theirs = dir.join("sweep.json.1.0.tmp");
        std::fs::write(&theirs, b"partial").unwrap();
        write_atomic(&dir.join("sweep.json"), b"{}").unwrap();
        write_atomic(&dir.join("sweep.csv"), b"a,b").unwrap();
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["sweep.csv", "sweep.json", "sweep.json.1.0.tmp"]);
        assert_eq!(std::fs::read(dir.join("sweep.json")).unwrap(), b"{}");
        // Concurrent writers of one file: every rename succeeds and the file is whole.
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| write_atomic(&dir.join("p.json"), &[b'x'; 100_000]).unwrap());
            }
        });
        assert_eq!(std::fs::read(dir.join("p.json")).unwrap().len(), 100_000);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
