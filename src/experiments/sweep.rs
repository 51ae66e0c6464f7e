//! Parameter sweeps: one model, some fields varied over lists or ranges (a grid of all their
//! combinations, or zipped), each point run as independent replications; every point's result
//! is written to its own file as soon as it is done (atomically: written aside, then renamed),
//! so an interrupted sweep resumes where it stopped, and a point that fails is recorded with
//! its error while the others go on. The table (`sweep.csv`, `sweep.json`) is assembled from
//! the point files at the end.
//!
//! Points share replication seeds (replication r of every point uses the model's seed and
//! index r): common random numbers, so differences between points are not noise of their
//! streams.

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
        Ok((0..steps)
            .map(|i| {
                let f = f64::from(i) / f64::from(steps - 1);
                let x = if log {
                    (from.ln() + f * (to.ln() - from.ln())).exp()
                } else {
                    from + f * (to - from)
                };
                // Round away float noise (1e-9 relative) so 2.9999999 prints as 3.
                let x = (x * 1e9).round() / 1e9;
                if unit.is_empty() {
                    SweepValue::Number(x)
                } else {
                    SweepValue::Text(format!("{x}{unit}"))
                }
            })
            .collect())
    }
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

/// Run point `p` of `sweep` (model at `model`): its row, or its error.
fn run_point(sweep: &Sweep, model: &Path, p: &Point, seed: Option<u64>) -> Value {
    let overrides: Vec<Override> = sweep
        .vary
        .iter()
        .zip(&p.values)
        .map(|(v, x)| Override {
            path: v.path.clone(),
            value: x.ron(),
        })
        .collect();
    let params: serde_json::Map<String, Value> = sweep
        .vary
        .iter()
        .zip(&p.values)
        .map(|(v, x)| (v.path.clone(), x.cell()))
        .collect();
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

/// Write `bytes` to `path` atomically: aside, then renamed over it.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
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
