//! The `expect` section: what a model's `look_for` promises, written as figures of the report
//! and a comparison each (`Expect(metric: "end_to_end.latency_s.p99", near: "46ms", within:
//! "10%")`), so the runner can check the promise and lessons can build on it.
//!
//! This module holds the schema (what the file says) and the checks that need nothing but the
//! entry itself: one comparison per entry, a tolerance only with `near`, bounds in order, no
//! percentage where a value is meant. Whether the metric exists in a report of the model is
//! checked against the report's shape one layer up (`metrics::expect`, called by
//! `simulation::check_expectations`), which knows each kind's figures; this module must never
//! know them.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::units::{Duration, Rate};

/// One expectation: a figure of the report and what it should be. Give exactly one of
/// `near` (with `within`), `below`, `above`, `between` and `equals`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The figure, as a dotted path into the JSON report (`flashcrowd run --json`):
    /// `end_to_end.latency_s.p99`, `end_to_end.error_rate`, `components.db.cpu_utilization`,
    /// `components.lb.errors_by_cause.instance_down`, `workloads.users.throughput_per_s`,
    /// `components.web.by_class.read.latency_s.p50`, `verdict.pass`. A name with dots is
    /// quoted: `components."web.v2".cpu_utilization`. A figure whose key ends in `_s` (or
    /// lies in a `…_s` summary such as `latency_s`) is a duration and takes values with a
    /// unit (`"46ms"`); one ending in `_per_s` is a rate (`"900/s"`); others take plain
    /// numbers (`0.9`, `0`), and `true`/`false` for yes-or-no figures.
    pub metric: String,
    /// Holds when the figure is within `within` of this value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub near: Option<ExpectValue>,
    /// The tolerance of `near`: a percentage is relative to the value (`"10%"`: ±10 % of it);
    /// anything else is absolute, in the figure's unit (`"2ms"`, `"50/s"`, `0.02`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<ExpectValue>,
    /// Holds when the figure is strictly below this value (`below: "300ms"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below: Option<ExpectValue>,
    /// Holds when the figure is strictly above this value (`above: 0`: at least one, for a
    /// count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub above: Option<ExpectValue>,
    /// Holds when the figure lies between the two values, both included
    /// (`between: ("40ms", "52ms")`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub between: Option<(ExpectValue, ExpectValue)>,
    /// Holds when the figure is exactly this value (`equals: 0`, `equals: true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<ExpectValue>,
    /// What the expectation teaches, in a sentence (the report and lessons show it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub why: String,
}

/// A value an expectation compares a figure with: a number (`0.9`, `0`), a duration
/// (`"46ms"`), a rate (`"900/s"`), a percentage (`"10%"`, for `within` only) or
/// `true`/`false`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ExpectValue {
    /// `true` or `false`.
    Flag(bool),
    /// A plain number.
    Number(f64),
    /// A duration (compared with a figure in seconds).
    Duration(Duration),
    /// A rate, per second.
    Rate(f64),
    /// A percentage, as written (`10` for `"10%"`).
    Percent(f64),
}

/// What kind of quantity a value (or a figure) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantityKind {
    /// Yes or no.
    Flag,
    /// A plain number (counts, ratios, means of counts).
    Number,
    /// Seconds (written with a duration unit).
    Seconds,
    /// Per second (written as a rate).
    PerSecond,
    /// A percentage (a relative tolerance).
    Percent,
}

impl QuantityKind {
    /// How a value of this kind is written, for messages.
    pub fn example(self) -> &'static str {
        match self {
            QuantityKind::Flag => "true or false",
            QuantityKind::Number => "a plain number, e.g. 0.9",
            QuantityKind::Seconds => "a duration with its unit, e.g. \"46ms\"",
            QuantityKind::PerSecond => "a rate with its unit, e.g. \"900/s\"",
            QuantityKind::Percent => "a percentage, e.g. \"10%\"",
        }
    }
}

impl ExpectValue {
    /// Its kind.
    pub fn kind(self) -> QuantityKind {
        match self {
            ExpectValue::Flag(_) => QuantityKind::Flag,
            ExpectValue::Number(_) => QuantityKind::Number,
            ExpectValue::Duration(_) => QuantityKind::Seconds,
            ExpectValue::Rate(_) => QuantityKind::PerSecond,
            ExpectValue::Percent(_) => QuantityKind::Percent,
        }
    }

    /// Its number in the report's units (seconds, per second; a percentage as written;
    /// 1 or 0 for a flag).
    pub fn as_f64(self) -> f64 {
        match self {
            ExpectValue::Flag(b) => f64::from(u8::from(b)),
            ExpectValue::Number(x) | ExpectValue::Rate(x) | ExpectValue::Percent(x) => x,
            ExpectValue::Duration(d) => d.as_secs_f64(),
        }
    }

    /// Parse the text form: a percentage (`"10%"`), a rate (`"900/s"`, `"0/s"`) or a
    /// duration (`"46ms"`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if let Some(num) = t.strip_suffix('%') {
            let x: f64 = num
                .trim()
                .parse()
                .map_err(|_| format!("`{text}` is not a percentage: write e.g. \"10%\""))?;
            if !x.is_finite() {
                return Err(format!("`{text}`: a percentage must be finite"));
            }
            return Ok(ExpectValue::Percent(x));
        }
        if let Some((num, unit)) = t.split_once('/') {
            // A rate may be 0 here (`above: "0/s"`), which a model's rates may not.
            if num.trim().parse::<f64>() == Ok(0.0) {
                return Rate::parse(&format!("1/{unit}")).map(|_| ExpectValue::Rate(0.0));
            }
            return Rate::parse(t).map(|r| ExpectValue::Rate(r.as_per_s()));
        }
        Duration::parse(t).map(ExpectValue::Duration)
    }
}

impl fmt::Display for ExpectValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectValue::Flag(b) => write!(f, "{b}"),
            ExpectValue::Number(x) => write!(f, "{x}"),
            ExpectValue::Duration(d) => write!(f, "\"{d}\""),
            ExpectValue::Rate(r) => write!(f, "\"{r}/s\""),
            ExpectValue::Percent(p) => write!(f, "\"{p}%\""),
        }
    }
}

impl Serialize for ExpectValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ExpectValue::Flag(b) => s.serialize_bool(*b),
            ExpectValue::Number(x) => s.serialize_f64(*x),
            ExpectValue::Duration(d) => s.serialize_str(&d.to_string()),
            ExpectValue::Rate(r) => s.serialize_str(&format!("{r}/s")),
            ExpectValue::Percent(p) => s.serialize_str(&format!("{p}%")),
        }
    }
}

impl<'de> Deserialize<'de> for ExpectValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ExpectValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a number (0.9), a duration (\"46ms\"), a rate (\"900/s\"), a percentage (\"10%\") or true/false",
                )
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ExpectValue, E> {
                Ok(ExpectValue::Flag(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ExpectValue, E> {
                Ok(ExpectValue::Number(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ExpectValue, E> {
                Ok(ExpectValue::Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ExpectValue, E> {
                if v.is_finite() {
                    Ok(ExpectValue::Number(v))
                } else {
                    Err(E::custom(format!(
                        "`{v}`: an expected value must be a finite number"
                    )))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ExpectValue, E> {
                ExpectValue::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for ExpectValue {
    fn schema_name() -> Cow<'static, str> {
        "ExpectValue".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": ["number", "string", "boolean"],
            "description": "A value an expectation compares a figure with: a plain number (`0.9`, `0`), a duration with its unit (`\"46ms\"`), a rate (`\"900/s\"`), a percentage (`\"10%\"`, only as `within`), or `true`/`false` (only with `equals`). Numbers must be finite.",
            "x-unit": "expect-value",
        })
    }
}

/// How an expectation compares, validated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Comparison {
    /// |figure − value| ≤ tolerance.
    Near {
        /// The value.
        value: ExpectValue,
        /// The tolerance, as written: a percentage is relative to `value`, anything else
        /// absolute.
        within: ExpectValue,
    },
    /// figure < value.
    Below(ExpectValue),
    /// figure > value.
    Above(ExpectValue),
    /// low ≤ figure ≤ high.
    Between(ExpectValue, ExpectValue),
    /// figure = value.
    Equals(ExpectValue),
}

impl Comparison {
    /// The values it compares with (not the tolerance).
    pub fn values(&self) -> Vec<ExpectValue> {
        match *self {
            Comparison::Near { value, .. }
            | Comparison::Below(value)
            | Comparison::Above(value)
            | Comparison::Equals(value) => vec![value],
            Comparison::Between(lo, hi) => vec![lo, hi],
        }
    }

    /// The range of figures that hold, in the report's units: (low, high), each `None` when
    /// open. `below` and `above` exclude their bound; the others include theirs.
    pub fn range(&self) -> (Option<f64>, Option<f64>) {
        match *self {
            Comparison::Near { value, within } => {
                let v = value.as_f64();
                let tol = match within {
                    ExpectValue::Percent(p) => (v * p / 100.0).abs(),
                    other => other.as_f64(),
                };
                (Some(v - tol), Some(v + tol))
            }
            Comparison::Below(v) => (None, Some(v.as_f64())),
            Comparison::Above(v) => (Some(v.as_f64()), None),
            Comparison::Between(lo, hi) => (Some(lo.as_f64()), Some(hi.as_f64())),
            Comparison::Equals(v) => (Some(v.as_f64()), Some(v.as_f64())),
        }
    }
}

impl fmt::Display for Comparison {
    /// As written in the file: `near: "46ms", within: "10%"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Comparison::Near { value, within } => write!(f, "near: {value}, within: {within}"),
            Comparison::Below(v) => write!(f, "below: {v}"),
            Comparison::Above(v) => write!(f, "above: {v}"),
            Comparison::Between(lo, hi) => write!(f, "between: ({lo}, {hi})"),
            Comparison::Equals(v) => write!(f, "equals: {v}"),
        }
    }
}

/// One validated expectation.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// The metric as written.
    pub metric: String,
    /// Its path, split at dots outside quotes (quotes removed).
    pub path: Vec<String>,
    /// The comparison.
    pub comparison: Comparison,
    /// What it teaches (may be empty).
    pub why: String,
    /// Its index in the `expect` list.
    pub index: usize,
    /// Where its metric is written in the file (line, column), if known.
    pub line_col: Option<(usize, usize)>,
}

/// A problem with one entry: the field it concerns (`metric`, `between`...), what is wrong
/// and the fix.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Index of the entry.
    pub index: usize,
    /// The field of the entry.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

/// Split a metric path at dots outside double quotes; `None` when a quote is left open or
/// a segment is empty.
pub fn split_metric(metric: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for ch in metric.chars() {
        match ch {
            '"' => quoted = !quoted,
            '.' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    (!quoted && out.iter().all(|s| !s.trim().is_empty())).then_some(out)
}

/// Check the entries on their own (see the module docs); `line_col(i)` locates entry `i`.
pub fn check(
    entries: &[Expect],
    line_col: impl Fn(usize) -> Option<(usize, usize)>,
) -> (Vec<Expectation>, Vec<Problem>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (index, e) in entries.iter().enumerate() {
        let mut problem = |field: &'static str, message: String, hint: String| {
            problems.push(Problem {
                index,
                field,
                message,
                hint,
            });
        };
        let path = split_metric(&e.metric);
        if path.is_none() {
            problem(
                "metric",
                if e.metric.trim().is_empty() {
                    "the metric is empty".to_string()
                } else {
                    format!("`{}` is not a dotted path of names", e.metric)
                },
                "name a figure of the JSON report, e.g. \"end_to_end.latency_s.p99\" (quote a name with dots: components.\"web.v2\".cpu_utilization)".into(),
            );
        }
        let given: Vec<&'static str> = [
            ("near", e.near.is_some()),
            ("below", e.below.is_some()),
            ("above", e.above.is_some()),
            ("between", e.between.is_some()),
            ("equals", e.equals.is_some()),
        ]
        .iter()
        .filter(|(_, g)| *g)
        .map(|(n, _)| *n)
        .collect();
        let comparison = match (e.near, e.below, e.above, e.between, e.equals) {
            _ if given.len() > 1 => {
                problem(
                    given[1],
                    format!(
                        "an expectation makes one comparison, this one makes {}: {}",
                        given.len(),
                        given.join(", ")
                    ),
                    "split it into one Expect(...) per comparison (`between` gives a range)".into(),
                );
                None
            }
            (Some(value), ..) => match e.within {
                Some(within) => Some(Comparison::Near { value, within }),
                None => {
                    problem(
                        "near",
                        "`near` needs a tolerance".into(),
                        "add `within:`: a percentage is relative (\"10%\"), anything else is absolute in the figure's unit (\"2ms\", 0.02)".into(),
                    );
                    None
                }
            },
            (None, Some(v), ..) => Some(Comparison::Below(v)),
            (None, None, Some(v), ..) => Some(Comparison::Above(v)),
            (None, None, None, Some((lo, hi)), _) => Some(Comparison::Between(lo, hi)),
            (None, None, None, None, Some(v)) => Some(Comparison::Equals(v)),
            (None, None, None, None, None) => {
                problem(
                    "metric",
                    format!("the expectation on `{}` compares with nothing", e.metric),
                    "add one of near: (with within:), below:, above:, between: or equals:".into(),
                );
                None
            }
        };
        let stray_within = e.within.is_some() && e.near.is_none() && given.len() <= 1;
        if stray_within {
            problem(
                "within",
                "`within` is the tolerance of `near`, and this expectation has no `near`".into(),
                "write near: VALUE, within: TOLERANCE, or drop `within`".into(),
            );
        }
        let Some(comparison) = comparison.filter(|_| !stray_within) else {
            continue;
        };
        if let Some((field, message, hint)) = comparison_problem(&comparison) {
            problem(field, message, hint);
            continue;
        }
        if let Some(path) = path {
            out.push(Expectation {
                metric: e.metric.clone(),
                path,
                comparison,
                why: e.why.clone(),
                index,
                line_col: line_col(index),
            });
        }
    }
    (out, problems)
}

/// What makes a comparison impossible, whatever the figure: a percentage or a flag where
/// they mean nothing, bounds out of order or of two kinds, a negative tolerance.
fn comparison_problem(c: &Comparison) -> Option<(&'static str, String, String)> {
    let field = match c {
        Comparison::Near { .. } => "near",
        Comparison::Below(_) => "below",
        Comparison::Above(_) => "above",
        Comparison::Between(..) => "between",
        Comparison::Equals(_) => "equals",
    };
    for v in c.values() {
        match v {
            ExpectValue::Percent(p) => {
                return Some((
                    field,
                    format!("`{field}: \"{p}%\"`: a percentage is only a tolerance (`within`)"),
                    format!(
                        "write a share as a plain number ({}), or a relative tolerance as near: VALUE, within: \"{p}%\"",
                        p / 100.0
                    ),
                ));
            }
            ExpectValue::Flag(b) if !matches!(c, Comparison::Equals(_)) => {
                return Some((
                    field,
                    format!("`{field}: {b}`: true and false can only be compared with `equals`"),
                    format!("write equals: {b}"),
                ));
            }
            _ => {}
        }
    }
    match *c {
        Comparison::Between(lo, hi) => {
            if lo.kind() != hi.kind() {
                return Some((
                    "between",
                    format!("the bounds {lo} and {hi} are of two kinds"),
                    "write both bounds the same way, in the figure's unit: two durations (\"40ms\"), two rates (\"900/s\") or two numbers".into(),
                ));
            }
            if lo.as_f64() > hi.as_f64() {
                return Some((
                    "between",
                    format!("the range ({lo}, {hi}) is empty: its low bound is above its high one"),
                    format!("write the low bound first: between: ({hi}, {lo})"),
                ));
            }
        }
        Comparison::Near { value, within } => match within {
            ExpectValue::Flag(_) => {
                return Some((
                    "within",
                    "a tolerance is a percentage or an amount, not true or false".into(),
                    "e.g. within: \"10%\"".into(),
                ));
            }
            ExpectValue::Percent(p) if p < 0.0 => {
                return Some((
                    "within",
                    format!("a tolerance cannot be negative, got \"{p}%\""),
                    format!("write within: \"{}%\"", -p),
                ));
            }
            ExpectValue::Percent(_) if value.as_f64() == 0.0 => {
                return Some((
                    "within",
                    "a percentage of 0 is 0: the tolerance would be nothing".into(),
                    "give an absolute tolerance in the figure's unit (\"1ms\", 0.01), or use below:"
                        .into(),
                ));
            }
            ExpectValue::Percent(_) => {}
            other if other.as_f64() < 0.0 => {
                return Some((
                    "within",
                    format!("a tolerance cannot be negative, got {other}"),
                    format!("write within: {}", ExpectValue::Number(-other.as_f64())),
                ));
            }
            other if other.kind() != value.kind() => {
                return Some((
                    "within",
                    format!("the tolerance {other} is not of the kind of the value {value}"),
                    format!(
                        "give it in the value's unit ({}), or as a percentage (\"10%\")",
                        value.kind().example()
                    ),
                ));
            }
            _ => {}
        },
        _ => {}
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect(text: &str) -> Expect {
        crate::topology::parse::ron_options()
            .from_str(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn values_are_read_with_their_units() {
        let e = expect(r#"Expect(metric: "a.b", near: "46ms", within: "10%", why: "M/M/1")"#);
        assert_eq!(e.near.map(ExpectValue::kind), Some(QuantityKind::Seconds));
        assert_eq!(e.within, Some(ExpectValue::Percent(10.0)));
        assert_eq!(
            ExpectValue::parse("30/min").map(ExpectValue::as_f64),
            Ok(0.5)
        );
        assert_eq!(ExpectValue::parse("0/s"), Ok(ExpectValue::Rate(0.0)));
        assert!(ExpectValue::parse("0/parsec").is_err());
        assert!(ExpectValue::parse("46").is_err());
        assert_eq!(
            expect(r#"Expect(metric: "x", above: 0)"#).above,
            Some(ExpectValue::Number(0.0))
        );
        assert_eq!(
            expect(r#"Expect(metric: "x", equals: true)"#).equals,
            Some(ExpectValue::Flag(true))
        );
    }

    #[test]
    fn near_with_a_percentage_is_relative_and_an_amount_is_absolute() {
        let rel = Comparison::Near {
            value: ExpectValue::Number(2.0),
            within: ExpectValue::Percent(10.0),
        };
        let (lo, hi) = rel.range();
        assert!((lo.unwrap() - 1.8).abs() < 1e-12 && (hi.unwrap() - 2.2).abs() < 1e-12);
        let abs = Comparison::Near {
            value: ExpectValue::Number(2.0),
            within: ExpectValue::Number(0.5),
        };
        assert_eq!(abs.range(), (Some(1.5), Some(2.5)));
        assert_eq!(rel.to_string(), "near: 2, within: \"10%\"");
    }

    #[test]
    fn impossible_comparisons_are_problems() {
        for (text, field, says) in [
            (
                r#"Expect(metric: "m", between: ("52ms", "40ms"))"#,
                "between",
                "is empty",
            ),
            (
                r#"Expect(metric: "m", between: ("40ms", 0.5))"#,
                "between",
                "two kinds",
            ),
            (
                r#"Expect(metric: "m", near: 1.0, within: -0.1)"#,
                "within",
                "negative",
            ),
            (
                r#"Expect(metric: "m", near: 1.0, within: "-5%")"#,
                "within",
                "negative",
            ),
            (
                r#"Expect(metric: "m", near: 0, within: "5%")"#,
                "within",
                "percentage of 0",
            ),
            (
                r#"Expect(metric: "m", near: "1ms")"#,
                "near",
                "needs a tolerance",
            ),
            (
                r#"Expect(metric: "m", below: 1, within: 0.1)"#,
                "within",
                "no `near`",
            ),
            (
                r#"Expect(metric: "m", below: 1, above: 0)"#,
                "above",
                "one comparison",
            ),
            (r#"Expect(metric: "m")"#, "metric", "compares with nothing"),
            (
                r#"Expect(metric: "m", below: "50%")"#,
                "below",
                "only a tolerance",
            ),
            (
                r#"Expect(metric: "m", above: true)"#,
                "above",
                "only be compared with `equals`",
            ),
            (
                r#"Expect(metric: "a..b", below: 1)"#,
                "metric",
                "dotted path",
            ),
            (r#"Expect(metric: "", below: 1)"#, "metric", "empty"),
        ] {
            let (ok, problems) = check(&[expect(text)], |_| None);
            assert!(ok.is_empty(), "{text}");
            assert!(
                problems
                    .iter()
                    .any(|p| p.field == field && p.message.contains(says)),
                "{text}: {problems:?}"
            );
        }
    }

    #[test]
    fn a_quoted_name_keeps_its_dots() {
        assert_eq!(
            split_metric("components.\"web.v2\".cpu_utilization"),
            Some(vec![
                "components".into(),
                "web.v2".into(),
                "cpu_utilization".into()
            ])
        );
        assert_eq!(split_metric("a.\"b"), None);
    }
}
