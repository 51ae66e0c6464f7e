//! Human-readable output: the golden-signal summary, the per-component table, the SLO
//! verdict; and the time series as CSV.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::metrics::{CommonPoint, LatencySummary, Report, SeriesPoint};
use crate::topology::Topology;

/// Seconds as a short human duration ("4.12 ms").
pub fn secs(s: f64) -> String {
    if s == 0.0 {
        "0".into()
    } else if s < 1e-3 {
        format!("{:.0} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{s:.3} s")
    }
}

fn pct(x: f64) -> String {
    format!("{:.2} %", x * 100.0)
}

pub fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A latency figure, or "n/a" when nothing was measured.
fn lat(l: &LatencySummary, v: f64) -> String {
    if l.count == 0 { "n/a".into() } else { secs(v) }
}

fn latency_line(l: &LatencySummary) -> String {
    if l.count == 0 {
        return "n/a (no request succeeded)".into();
    }
    format!(
        "p50 {} · p95 {} · p99 {} · p99.9 {} · max {}",
        secs(l.p50),
        secs(l.p95),
        secs(l.p99),
        secs(l.p999),
        secs(l.max)
    )
}

/// A size in bytes with a decimal unit (`6.1 MB`).
fn bytes(b: f64) -> String {
    match b {
        b if b >= 1e12 => format!("{:.1} TB", b / 1e12),
        b if b >= 1e9 => format!("{:.1} GB", b / 1e9),
        b if b >= 1e6 => format!("{:.1} MB", b / 1e6),
        b if b >= 1e3 => format!("{:.1} KB", b / 1e3),
        b => format!("{b:.0} B"),
    }
}

/// A kind figure as a table cell, by its unit.
fn figure_cell(f: &crate::components::FigureInfo, v: Option<&serde_json::Value>) -> String {
    use crate::components::FigureUnit;
    let Some(v) = v else { return "-".into() };
    match f.unit {
        FigureUnit::Ratio => v
            .as_f64()
            .map_or("-".into(), |u| format!("{:.0} %", u * 100.0)),
        FigureUnit::Number => v.as_f64().map_or("-".into(), |x| format!("{x:.1}")),
        FigureUnit::Count => v.as_u64().map_or("-".into(), count),
        FigureUnit::Bytes => v.as_f64().map_or("-".into(), bytes),
        FigureUnit::Latency => match serde_json::from_value::<LatencySummary>(v.clone()) {
            Ok(l) => lat(&l, l.p99),
            Err(_) => "-".into(),
        },
        FigureUnit::Shares => {
            let Some(m) = v.as_object() else {
                return "-".into();
            };
            let total: u64 = m.values().filter_map(serde_json::Value::as_u64).sum();
            if total == 0 {
                return "-".into();
            }
            m.iter()
                .map(|(k, n)| {
                    let share = n.as_u64().unwrap_or(0) as f64 / total as f64;
                    format!("{k} {:.0} %", share * 100.0)
                })
                .collect::<Vec<_>>()
                .join(", ")
        }
        FigureUnit::List => "-".into(),
    }
}

/// Print `rows` (the first is the header) as aligned columns: the first `left` columns
/// left-aligned, the others right-aligned.
fn table(o: &mut String, rows: &[Vec<String>], left: usize) {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::from(" ");
        for (i, cell) in row.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            if i < left {
                let _ = write!(line, " {cell}{}", " ".repeat(pad));
            } else {
                let _ = write!(line, " {}{cell}", " ".repeat(pad));
            }
        }
        let _ = writeln!(o, "{}", line.trim_end());
    }
}

/// The text summary of a run; `no_fail` says the verdict does not set the exit code.
pub fn summary(r: &Report, topo: &Topology, no_fail: bool) -> String {
    let mut o = String::new();
    let e = &r.end_to_end;
    let _ = writeln!(
        o,
        "flashcrowd {} — {} (seed {})",
        env!("CARGO_PKG_VERSION"),
        r.model,
        r.seed
    );
    if !topo.spec.description.is_empty() {
        let _ = writeln!(o, "{}", topo.spec.description.trim());
    }
    let p = &r.provenance;
    let mut inputs = Vec::new();
    if let Some(h) = &p.model_fnv1a64 {
        inputs.push(format!("model fnv1a64 {h}"));
    }
    inputs.extend(p.overrides.iter().map(|o| format!("--set {o}")));
    inputs.extend(p.flags.iter().cloned());
    if !inputs.is_empty() {
        let _ = writeln!(o, "inputs: {}", inputs.join(" · "));
    }
    let shortened = if r.arrival_window_s < r.model_duration_s {
        format!(
            ", closed early by `requests:` (duration {:.1} s)",
            r.model_duration_s
        )
    } else {
        String::new()
    };
    if let Some(c) = &r.warmup_auto {
        let _ = writeln!(
            o,
            "{}",
            warmup_line(&serde_json::to_value(c).unwrap_or_default())
        );
    }
    let _ = writeln!(
        o,
        "arrivals 0–{:.1} s{shortened}, counted after a {:.1} s warm-up · simulated until {:.2} s (drain included) · {} events · {:.2} s wall\n",
        r.arrival_window_s,
        r.warmup_s,
        r.end_s,
        count(r.events),
        r.wall_s
    );
    let _ = writeln!(
        o,
        "Golden signals, end to end ({:.1} s counted)",
        r.arrival_window_s - r.warmup_s
    );
    let _ = writeln!(
        o,
        "  traffic     {:.1} req/s answered ({} offered)",
        e.throughput_per_s,
        count(e.offered)
    );
    if e.latency_s.count == 0 {
        let _ = writeln!(o, "  latency     {}", latency_line(&e.latency_s));
    } else {
        let _ = writeln!(
            o,
            "  latency     {}  (mean {})",
            latency_line(&e.latency_s),
            secs(e.latency_s.mean)
        );
    }
    let causes: Vec<String> = e
        .errors_by_cause
        .iter()
        .map(|(k, v)| format!("{k} {}", count(*v)))
        .collect();
    let _ = writeln!(
        o,
        "  errors      {} ({} of {}){}",
        pct(e.error_rate),
        count(e.errors),
        count(e.completed + e.errors),
        if causes.is_empty() {
            String::new()
        } else {
            format!(": {}", causes.join(", "))
        }
    );
    let mut sat: Vec<(f64, String)> = Vec::new();
    for (name, c) in &r.components {
        if let Some(u) = c.figure("cpu_utilization") {
            sat.push((u, format!("{name} cpu {:.0} %", u * 100.0)));
        }
        if let Some(u) = c.figure("thread_occupancy") {
            sat.push((u, format!("{name} threads {:.0} %", u * 100.0)));
        }
    }
    sat.sort_by(|a, b| b.0.total_cmp(&a.0));
    let top: Vec<String> = sat.into_iter().take(3).map(|s| s.1).collect();
    if !top.is_empty() {
        let _ = writeln!(o, "  saturation  {}", top.join(", "));
    }
    if e.censored > 0 {
        let _ = writeln!(
            o,
            "  censored    {} unfinished after the drain",
            count(e.censored)
        );
    }
    let _ = writeln!(o);

    if r.workloads.len() > 1 {
        let _ = writeln!(o, "Workloads");
        for (name, w) in &r.workloads {
            let _ = writeln!(
                o,
                "  {name:<14} {:>9.1} req/s  errors {:>7}  p50 {:>9}  p99 {:>9}",
                w.throughput_per_s,
                pct(w.error_rate),
                lat(&w.latency_s, w.latency_s.p50),
                lat(&w.latency_s, w.latency_s.p99)
            );
        }
        let _ = writeln!(o);
    }

    let _ = writeln!(o, "Components");
    // One table per kind: the common columns, then the kind's own (its figures that have a
    // column), in registry order.
    for kind in crate::components::KINDS {
        let members: Vec<(&String, &crate::metrics::report::ComponentReport)> = r
            .components
            .iter()
            .filter(|(_, c)| c.kind == kind.name)
            .collect();
        if members.is_empty() {
            continue;
        }
        let own: Vec<&crate::components::FigureInfo> = kind
            .meta
            .figures
            .iter()
            .filter(|f| f.column.is_some())
            .collect();
        let mut header: Vec<String> = [kind.name, "arrivals", "ok/s", "errors", "p50", "p99"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        header.extend(own.iter().filter_map(|f| f.column).map(str::to_string));
        let mut rows: Vec<Vec<String>> = vec![header];
        for (name, c) in members {
            let mut row = vec![
                if c.replicas > 1 {
                    format!("{name} ×{}", c.replicas)
                } else {
                    name.clone()
                },
                count(c.arrivals),
                format!("{:.1}", c.throughput_per_s),
                if c.errors == 0 {
                    "0".into()
                } else {
                    format!("{} ({})", count(c.errors), pct(c.error_rate))
                },
                lat(&c.latency_s, c.latency_s.p50),
                lat(&c.latency_s, c.latency_s.p99),
            ];
            row.extend(own.iter().map(|f| figure_cell(f, c.figures.get(f.name))));
            rows.push(row);
        }
        table(&mut o, &rows, 1);
    }
    let _ = writeln!(o);
    if !r.events_applied.is_empty() {
        let _ = writeln!(o, "Events");
        for e in &r.events_applied {
            let one_line = ron::ser::PrettyConfig::new()
                .compact_structs(true)
                .compact_maps(true);
            let command = crate::topology::parse::ron_options()
                .to_string_pretty(&e.command, one_line)
                .unwrap_or_else(|_| format!("{:?}", e.command));
            let refused = e
                .refused
                .as_ref()
                .map(|why| format!("  (refused: {why})"))
                .unwrap_or_default();
            let _ = writeln!(o, "  {:>10.3} s  {command}{refused}", e.at_s);
        }
        let _ = writeln!(o);
    }
    // Warnings about the run (those from loading went to stderr before it).
    for w in r.warnings.iter().skip(topo.warnings.len()) {
        let _ = writeln!(o, "warning: {w}");
    }
    if let Some(slo) = &r.slo {
        let parts: Vec<String> = slo
            .targets
            .iter()
            .map(|t| {
                let (a, g) = if t.name == "error_rate" {
                    (pct(t.actual), pct(t.target))
                } else {
                    (secs(t.actual), secs(t.target))
                };
                // A target with nothing to judge fails; say so rather than print a 0.
                let judged = if t.name == "error_rate" {
                    e.completed + e.errors > 0
                } else {
                    e.latency_s.count > 0
                };
                if !judged {
                    return format!("{} n/a, nothing to judge against {g}", t.name);
                }
                format!("{} {a} {} {g}", t.name, if t.pass { "≤" } else { ">" })
            })
            .collect();
        if slo.pass {
            let _ = writeln!(o, "SLO: PASS ({})", parts.join("; "));
        } else {
            let _ = writeln!(
                o,
                "SLO: FAIL — {} missed ({})",
                slo.failed.join(", "),
                parts.join("; ")
            );
        }
    }
    if r.verdict.pass {
        let _ = writeln!(o, "Verdict: PASS");
    } else {
        let _ = writeln!(
            o,
            "Verdict: FAIL{}",
            if no_fail { " (--no-fail: exit 0)" } else { "" }
        );
        for reason in &r.verdict.reasons {
            let _ = writeln!(o, "  {reason}");
        }
    }
    if !topo.spec.look_for.is_empty() {
        let _ = writeln!(o, "Look for: {}", topo.spec.look_for.trim());
    }
    expectations(&mut o, r);
    o
}

/// A figure of an expectation, in its unit.
fn figure(unit: &str, x: f64) -> String {
    match unit {
        "s" => secs(x),
        "per_s" => format!("{x:.1}/s"),
        _ if x.fract() == 0.0 && x.abs() < 1e15 => {
            if x < 0.0 {
                format!("-{}", count(x.abs() as u64))
            } else {
                count(x as u64)
            }
        }
        _ => format!("{}", (x * 1e4).round() / 1e4),
    }
}

/// The "Expectations" section: one line per entry of the model's `expect`, whether it
/// holds, what was measured and what was expected.
fn expectations(o: &mut String, r: &Report) {
    if r.expectations.is_empty() {
        return;
    }
    let held = r.expectations.iter().filter(|e| e.holds).count();
    let total = r.expectations.len();
    let _ = writeln!(o, "\nExpectations ({held} of {total} hold)");
    let mut rows = Vec::new();
    for e in &r.expectations {
        let actual = match (&e.actual, &e.note) {
            (serde_json::Value::Number(n), _) => figure(&e.unit, n.as_f64().unwrap_or(f64::NAN)),
            (serde_json::Value::Bool(b), _) => b.to_string(),
            (_, Some(note)) => format!("n/a: {note}"),
            (other, None) => other.to_string(),
        };
        let range = match (e.low, e.high) {
            (Some(lo), Some(hi)) if e.comparison.starts_with("near") => {
                format!(" [{} – {}]", figure(&e.unit, lo), figure(&e.unit, hi))
            }
            _ => String::new(),
        };
        rows.push(vec![
            if e.holds { "✓" } else { "✗" }.to_string(),
            e.metric.clone(),
            actual,
            format!("expected {}{range}", e.comparison),
            // What an unmet expectation teaches is worth reading.
            if e.holds {
                String::new()
            } else {
                e.why.clone()
            },
        ]);
    }
    // Metric left-aligned, figure right-aligned, the expectation as written after them.
    let width = |k: usize| rows.iter().map(|r| r[k].chars().count()).max().unwrap_or(0);
    let (wm, wa) = (width(1), width(2));
    for row in &rows {
        let _ = writeln!(
            o,
            "  {} {}{}  {}{}  {}",
            row[0],
            row[1],
            " ".repeat(wm - row[1].chars().count()),
            " ".repeat(wa - row[2].chars().count()),
            row[2],
            row[3]
        );
        if !row[4].is_empty() {
            let _ = writeln!(o, "      why: {}", row[4]);
        }
    }
    let p = &r.provenance;
    let changed: Vec<String> = p
        .overrides
        .iter()
        .map(|s| format!("--set {s}"))
        .chain(
            p.flags
                .iter()
                .filter(|f| f.starts_with("--duration") || f.starts_with("--seed"))
                .cloned(),
        )
        .collect();
    if !changed.is_empty() {
        let _ = writeln!(
            o,
            "  They were written for the model as given, not as changed by {}: they may rightly differ.",
            changed.join(" ")
        );
    }
    if held < total {
        if p.flags.iter().any(|f| f == "--check-expect") {
            let _ = writeln!(o, "  --check-expect: the verdict fails on them.");
        } else {
            let _ = writeln!(
                o,
                "  {} not met: reported only (the verdict stands; --check-expect fails it).",
                total - held
            );
        }
    }
}

/// Create `dir` if needed and check that a file can be written in it (before the run).
pub fn prepare_csv_dir(dir: &Path) -> anyhow::Result<()> {
    use anyhow::Context;
    std::fs::create_dir_all(dir).context("cannot create the folder")?;
    let probe = dir.join(format!(".flashcrowd-write-check-{}", std::process::id()));
    std::fs::write(&probe, b"").context("cannot write in the folder")?;
    std::fs::remove_file(&probe).context("cannot remove a file from the folder")?;
    Ok(())
}

/// The CSV file name of a series: its name with every byte outside `[A-Za-z0-9_-]`
/// percent-encoded (`%` itself included), so names map to distinct files and back.
pub fn csv_file_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out.push_str(".csv");
    out
}

/// Write one CSV per series into `dir` (named by [`csv_file_name`]).
pub fn write_csv(dir: &Path, series: &BTreeMap<String, Vec<SeriesPoint>>) -> anyhow::Result<()> {
    use anyhow::Context;
    std::fs::create_dir_all(dir)?;
    for (name, points) in series {
        let path = dir.join(csv_file_name(name));
        let write = || -> anyhow::Result<()> {
            let mut w = csv::Writer::from_path(&path)?;
            // The common columns, then the kind's own (every point of a series has the same).
            let own: Vec<&String> = points
                .first()
                .map(|p| p.figures.keys().collect())
                .unwrap_or_default();
            w.write_record(
                CommonPoint::COLUMNS
                    .iter()
                    .copied()
                    .chain(own.iter().map(|k| k.as_str())),
            )?;
            for p in points {
                let fields = p.common.csv_fields();
                let own_fields = own.iter().map(|k| p.figure(k).unwrap_or(0.0).to_string());
                w.write_record(fields.into_iter().chain(own_fields))?;
            }
            w.flush()?;
            Ok(())
        };
        write().with_context(|| format!("{}", path.display()))?;
    }
    Ok(())
}

/// What `--warmup auto` chose, in a line.
fn warmup_line(c: &serde_json::Value) -> String {
    let f = |k: &str| c[k].as_f64().unwrap_or(0.0);
    let mut line = format!(
        "warm-up chosen by {}: {:.1} s ({} of {} batches of five {:.1} s windows; pilot of {} replication{})",
        c["method"].as_str().unwrap_or("MSER-5"),
        f("chosen_s"),
        c["truncated_batches"],
        c["batches"],
        f("window_s"),
        c["pilot_replications"],
        if c["pilot_replications"].as_u64() == Some(1) {
            ""
        } else {
            "s"
        }
    );
    if c["at_limit"].as_bool() == Some(true) {
        line.push_str(" — at the end of the search: the run is likely too short for its transient, run longer");
    }
    line
}

/// What `sweep` prints: each point's parameters and figures (mean ± half-width), and where
/// the files are.
pub fn sweep_summary(o: &crate::experiments::sweep::Outcome, out: &Path) -> String {
    let mut s = String::new();
    for row in &o.rows {
        let params: Vec<String> = row["params"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| match v.as_str() {
                        Some(t) => format!("{k}={t}"),
                        None => format!("{k}={v}"),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let figures: Vec<String> = match row.get("error") {
            Some(e) => vec![format!("FAILED: {}", e.as_str().unwrap_or_default())],
            None => row["figures"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            let mean = v["mean"]
                                .as_f64()
                                .map_or("n/a".into(), |x| figure_value(k, x));
                            match v["ci95"].as_f64() {
                                Some(h) => format!("{k} {mean} ± {}", figure_value(k, h)),
                                None => format!("{k} {mean}"),
                            }
                        })
                        .collect()
                })
                .unwrap_or_default(),
        };
        let _ = writeln!(s, "{}: {}", params.join(", "), figures.join(" · "));
    }
    let _ = writeln!(
        s,
        "\n{} points ({} run now, {} from an earlier run, {} failed){}",
        o.rows.len(),
        o.ran,
        o.resumed,
        o.failed,
        if o.rows.is_empty() {
            String::new()
        } else {
            format!(
                "; table in {} and {}",
                out.join("sweep.csv").display(),
                out.join("sweep.json").display()
            )
        }
    );
    for p in &o.plots {
        let _ = writeln!(s, "chart {} (and .svg)", p.display());
    }
    s
}

/// A measured number of an aggregated replications report and its 95 % half-width, as
/// `mean ± half` in the unit `show` writes.
fn pm(agg: &serde_json::Value, path: &str, show: impl Fn(f64) -> String) -> String {
    use crate::experiments::replications::at;
    let Some(mean) = at(agg, path).and_then(serde_json::Value::as_f64) else {
        return "n/a".into();
    };
    match at(&agg["ci95"], path).and_then(serde_json::Value::as_f64) {
        Some(h) => format!("{} ± {}", show(mean), show(h)),
        None => show(mean),
    }
}

/// The summary of `n` replications: the headline figures as mean ± 95 % half-width, per
/// component the same, and the verdict over every replication.
pub fn replications_summary(agg: &serde_json::Value, topo: &Topology, no_fail: bool) -> String {
    let mut o = String::new();
    let n = agg["replications"].as_u64().unwrap_or(0);
    let _ = writeln!(
        o,
        "flashcrowd {} — {} (seed {}, {n} independent replications)",
        env!("CARGO_PKG_VERSION"),
        agg["model"].as_str().unwrap_or_default(),
        agg["seed"]
    );
    if !topo.spec.description.is_empty() {
        let _ = writeln!(o, "{}", topo.spec.description.trim());
    }
    if let Some(c) = agg.get("warmup_auto").filter(|c| c.is_object()) {
        let _ = writeln!(o, "{}", warmup_line(c));
    }
    let _ = writeln!(
        o,
        "each: arrivals 0–{:.1} s, counted after a {:.1} s warm-up · figures are the mean over the replications ± the half-width of its 95 % confidence interval (Student t) · {:.2} s of run time summed over the replications\n",
        agg["arrival_window_s"].as_f64().unwrap_or(0.0),
        agg["warmup_s"].as_f64().unwrap_or(0.0),
        agg["wall_s"].as_f64().unwrap_or(0.0) * n as f64,
    );
    let rate = |x: f64| format!("{x:.1}/s");
    let percent = |x: f64| format!("{:.2} %", x * 100.0);
    let _ = writeln!(o, "Golden signals, end to end");
    let _ = writeln!(
        o,
        "  traffic     {} answered",
        pm(agg, "end_to_end.throughput_per_s", rate)
    );
    let _ = writeln!(
        o,
        "  latency     mean {} · p50 {} · p95 {} · p99 {}",
        pm(agg, "end_to_end.latency_s.mean", secs),
        pm(agg, "end_to_end.latency_s.p50", secs),
        pm(agg, "end_to_end.latency_s.p95", secs),
        pm(agg, "end_to_end.latency_s.p99", secs),
    );
    let _ = writeln!(
        o,
        "  errors      {}",
        pm(agg, "end_to_end.error_rate", percent)
    );
    let _ = writeln!(o, "\nComponents");
    if let Some(components) = agg["components"].as_object() {
        let width = components.keys().map(String::len).max().unwrap_or(4).max(4);
        for (name, c) in components {
            let base = format!("components.{name}");
            let mut cells = vec![
                format!(
                    "ok/s {}",
                    pm(agg, &format!("{base}.throughput_per_s"), rate)
                ),
                format!("p99 {}", pm(agg, &format!("{base}.latency_s.p99"), secs)),
            ];
            if c.get("error_rate").and_then(serde_json::Value::as_f64) > Some(0.0) {
                cells.push(format!(
                    "errors {}",
                    pm(agg, &format!("{base}.error_rate"), percent)
                ));
            }
            // The kind's own ratios that have a column in the single-run table (utilization,
            // hit ratio...).
            let kind = c.get("kind").and_then(serde_json::Value::as_str);
            let figures = crate::components::KINDS
                .iter()
                .find(|k| Some(k.name) == kind)
                .map_or(&[][..], |k| k.meta.figures);
            for f in figures {
                use crate::components::FigureUnit;
                let Some(column) = f.column else { continue };
                if !c.get(f.name).is_some_and(serde_json::Value::is_number) {
                    continue;
                }
                let path = format!("{base}.{}", f.name);
                if f.unit == FigureUnit::Ratio {
                    cells.push(format!("{column} {}", pm(agg, &path, percent)));
                }
            }
            let _ = writeln!(o, "  {name:<width$}  {}", cells.join(" · "));
        }
    }
    if let Some(p) = agg.get("precision").filter(|p| p.is_object()) {
        let target = p["target_relative"].as_f64().unwrap_or(0.0) * 100.0;
        let widest = &p["widest"];
        let detail = match (widest["metric"].as_str(), widest["half_width"].as_f64()) {
            (Some(m), Some(h)) => format!(
                "; widest: {m} ± {} (allowed ± {})",
                figure_value(m, h),
                figure_value(m, widest["allowed"].as_f64().unwrap_or(0.0))
            ),
            _ => String::new(),
        };
        let _ = writeln!(
            o,
            "\nPrecision: {} ±{target} % after {n} replications{detail}",
            if p["met"].as_bool() == Some(true) {
                "every headline figure within"
            } else {
                "NOT reached (the --max-replications limit):"
            }
        );
    }
    let pass = agg["verdict"]["pass"].as_bool().unwrap_or(false);
    let _ = writeln!(
        o,
        "\nVerdict: {} (over all {n} replications){}",
        if pass { "PASS" } else { "FAIL" },
        if !pass && no_fail {
            " — not failing the exit code (--no-fail)"
        } else {
            ""
        }
    );
    if let Some(reasons) = agg["verdict"]["reasons"].as_array() {
        for r in reasons.iter().take(10) {
            let _ = writeln!(o, "  - {}", r.as_str().unwrap_or_default());
        }
        if reasons.len() > 10 {
            let _ = writeln!(o, "  … and {} more", reasons.len() - 10);
        }
    }
    o
}

/// A figure of `compare`, in the unit its path says.
fn figure_value(path: &str, x: f64) -> String {
    let last = path.rsplit('.').next().unwrap_or(path);
    let parent = path.rsplit('.').nth(1).unwrap_or("");
    if parent.ends_with("_s") && x.is_finite() {
        secs(x)
    } else if last.ends_with("_per_s") {
        format!("{x:.1}/s")
    } else if [
        "error_rate",
        "cpu_utilization",
        "thread_occupancy",
        "waited_fraction",
    ]
    .contains(&last)
    {
        format!("{:.2} %", x * 100.0)
    } else if x.fract() == 0.0 && x.abs() < 1e15 {
        count(x.abs() as u64).to_string()
    } else {
        format!("{x:.4}")
    }
}

/// The text of `compare`: one line per figure, the difference and its significance.
pub fn comparison(
    rows: &[crate::experiments::compare::Row],
    a: (&Path, u64),
    b: (&Path, u64),
) -> String {
    let mut o = String::new();
    let runs = |n: u64| {
        if n > 1 {
            format!("{n} replications")
        } else {
            "one run".to_string()
        }
    };
    let _ = writeln!(
        o,
        "a = {} ({}), b = {} ({})",
        a.0.display(),
        runs(a.1),
        b.0.display(),
        runs(b.1)
    );
    if a.1 < 2 || b.1 < 2 {
        let _ = writeln!(
            o,
            "(significance needs confidence intervals on both sides: run each with --replications N)"
        );
    }
    let width = rows
        .iter()
        .map(|r| r.metric.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let _ = writeln!(
        o,
        "\n{:<width$}  {:>12}  {:>12}  {:>22}  significant",
        "metric", "a", "b", "b − a"
    );
    for r in rows {
        let diff = format!(
            "{}{}{}",
            if r.diff >= 0.0 { "+" } else { "−" },
            figure_value(&r.metric, r.diff.abs()),
            r.relative
                .map(|x| format!(" ({:+.1} %)", x * 100.0))
                .unwrap_or_default()
        );
        let _ = writeln!(
            o,
            "{:<width$}  {:>12}  {:>12}  {:>22}  {}",
            r.metric,
            figure_value(&r.metric, r.a),
            figure_value(&r.metric, r.b),
            diff,
            match r.significant {
                Some(true) => "yes",
                Some(false) => "no",
                None => "n/a",
            }
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(12), "12");
        assert_eq!(secs(0.0041234), "4.12 ms");
        assert_eq!(secs(0.0000412), "41 µs");
        assert_eq!(secs(2.5), "2.500 s");
    }

    #[test]
    fn csv_names_are_distinct_and_reversible() {
        assert_eq!(csv_file_name("web-1_a"), "web-1_a.csv");
        assert_eq!(csv_file_name("a.b"), "a%2Eb.csv");
        assert_eq!(csv_file_name("a_b"), "a_b.csv");
        assert_eq!(csv_file_name("50%"), "50%25.csv");
        assert_eq!(csv_file_name("é/x"), "%C3%A9%2Fx.csv");
    }
}
