//! Quantities written with units in topology files: durations (`"250us"`, `"5ms"`, `"1.5s"`,
//! `"2m"`), rates (`"9000/s"`, `"30/min"`) and capacities (`32` or `"unlimited"`).
//!
//! Parsing happens during deserialization so a bad unit is reported at its line and column.
//! Each type serializes back to a canonical string, which is what `--set` and saving use.
//!
//! It sits at the crate root, below both [`crate::topology`] (the schema) and [`crate::dist`]
//! (whose parameters are durations), so neither imports the other for them; it knows only
//! the engine's integer time and must never know the schema or the simulation.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::engine::time::{NANOS_PER_SEC, nanos_to_secs};

/// The longest duration simulated time can hold (2⁶⁴ ns), as users read it.
const MAX_DURATION_TEXT: &str = "about 584 years (\"213503d\")";

/// The highest rate nanosecond time can represent: one event per nanosecond.
pub const MAX_RATE_PER_S: f64 = 1e9;

/// What separates a message from its hint in an error text that passes through serde as one
/// string (`E::custom`): [`split_hint`] takes them apart again, and printed whole the text
/// reads as a diagnostic with its `hint:` line.
pub const HINT_MARK: &str = "\n  hint: ";

/// One error text of a message and the hint that says how to fix it ([`split_hint`]).
pub fn with_hint(message: impl fmt::Display, hint: impl fmt::Display) -> String {
    format!("{message}{HINT_MARK}{hint}")
}

/// The message and the hint of an error text made by [`with_hint`] (no hint in other text).
pub fn split_hint(text: &str) -> (String, Option<String>) {
    match text.split_once(HINT_MARK) {
        Some((message, hint)) => (message.to_string(), Some(hint.to_string())),
        None => (text.to_string(), None),
    }
}

/// The units of a duration, as hints list them.
const DURATION_UNITS: &str = "the units are ns, us, ms, s, m, h, d";

/// A span of simulated time, written with a unit: `"250us"`, `"5ms"`, `"1.5s"`, `"2m"`, `"1h"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration {
    nanos: u64,
}

impl Duration {
    /// Zero.
    pub const ZERO: Duration = Duration { nanos: 0 };

    /// From nanoseconds.
    pub const fn from_nanos(nanos: u64) -> Self {
        Self { nanos }
    }

    /// From seconds.
    pub fn from_secs_f64(secs: f64) -> Self {
        Self {
            nanos: crate::engine::time::secs_to_nanos(secs),
        }
    }

    /// Nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.nanos
    }

    /// Seconds.
    pub fn as_secs_f64(self) -> f64 {
        nanos_to_secs(self.nanos)
    }

    /// Parse `"<number><unit>"`; units ns, us (or µs), ms, s, m (or min), h, d.
    pub fn parse(text: &str) -> Result<Self, String> {
        runaway(text)?;
        let t = text.trim();
        if t == "0" {
            return Ok(Self::ZERO);
        }
        let split = t
            .find(|c: char| {
                !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')
            })
            .unwrap_or(t.len());
        // "1e3s" parses as number "1e3" then "s"; but "5ms" must not eat the "m"... digits and
        // '.' only contain 'e' in exponents, and no unit starts with 'e'.
        let (num, unit) = t.split_at(split);
        let value: f64 = num.parse().map_err(|_| {
            with_hint(
                format!("`{text}` is not a duration: expected a number with a unit"),
                format!("write e.g. \"250us\", \"5ms\", \"1.5s\" or \"2m\"; {DURATION_UNITS}"),
            )
        })?;
        let scale = match unit.trim() {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            "" => {
                return Err(with_hint(
                    format!("`{text}` has no unit"),
                    format!("write e.g. \"{num}ms\" or \"{num}s\"; {DURATION_UNITS}"),
                ));
            }
            other => {
                return Err(with_hint(
                    format!("`{text}`: unknown duration unit `{other}`"),
                    format!("write e.g. \"{num}s\"; {DURATION_UNITS} (minutes are `m` or `min`)"),
                ));
            }
        };
        if value.is_nan() {
            return Err(with_hint(
                format!("`{text}`: a duration must be a number, not NaN"),
                "write a number with a unit, e.g. \"5ms\"",
            ));
        }
        if value.is_infinite() {
            return Err(with_hint(
                format!("`{text}`: a duration must be finite"),
                format!("the longest is {MAX_DURATION_TEXT}"),
            ));
        }
        if value < 0.0 {
            return Err(with_hint(
                format!("`{text}`: a duration cannot be negative"),
                "write zero or more, e.g. \"0s\" or \"5m\"",
            ));
        }
        // Simulated time is u64 nanoseconds: beyond that the clock would saturate.
        if value * scale * 1e9 >= u64::MAX as f64 {
            return Err(with_hint(
                format!(
                    "`{text}` is too long: simulated time counts nanoseconds in 64 bits, so the longest duration is {MAX_DURATION_TEXT}"
                ),
                "write at most \"213503d\"; a few hours of simulated time show a web system's steady state",
            ));
        }
        Ok(Self::from_secs_f64(value * scale))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.nanos;
        if ns == 0 {
            return write!(f, "0s");
        }
        // The largest unit that shows the value exactly with at most three decimals.
        if ns >= NANOS_PER_SEC && ns % 1_000_000 == 0 {
            write!(f, "{}s", trim_float(ns as f64 / NANOS_PER_SEC as f64))
        } else if ns >= 1_000_000 && ns % 1_000 == 0 {
            write!(f, "{}ms", trim_float(ns as f64 / 1e6))
        } else if ns >= 1_000 {
            write!(f, "{}us", trim_float(ns as f64 / 1e3))
        } else {
            write!(f, "{ns}ns")
        }
    }
}

/// A quantity that spans lines is a string that lost its closing quote and swallowed what
/// followed; say so instead of quoting the whole swallowed text back.
fn runaway(text: &str) -> Result<(), String> {
    match text.lines().next() {
        Some(first) if text.contains('\n') => Err(with_hint(
            format!(
                "`{}…` runs over several lines: its closing `\"` is probably missing",
                first.trim_end()
            ),
            "add the `\"` that closes the value on its own line",
        )),
        _ => Ok(()),
    }
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration with a unit, e.g. \"5ms\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                Duration::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                if v == 0 {
                    return Ok(Duration::ZERO);
                }
                Err(E::custom(with_hint(
                    format!("`{v}` has no unit"),
                    format!("write it as a string with its unit, e.g. \"{v}ms\"; {DURATION_UNITS}"),
                )))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                Err(E::custom(with_hint(
                    format!("`{v}` has no unit"),
                    "write it as a string with its unit, e.g. \"5ms\"; a duration is zero or more",
                )))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
                Err(E::custom(with_hint(
                    format!("`{v}` has no unit"),
                    format!("write it as a string with its unit, e.g. \"{v}s\"; {DURATION_UNITS}"),
                )))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A duration with a unit: ns, us, ms, s, m, h, d (e.g. \"250us\", \"5ms\", \"1.5s\", \"2m\").",
            "x-unit": "duration",
        })
    }
}

/// Events per unit time, written `"9000/s"`, `"30/min"`, `"5/ms"`, `"100/h"`; always positive.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Rate {
    per_s: f64,
}

impl Rate {
    /// From events per second (must be positive and finite).
    pub fn per_s(per_s: f64) -> Result<Self, String> {
        if per_s.is_finite() && per_s > 0.0 {
            Ok(Self { per_s })
        } else {
            Err(with_hint(
                format!("a rate must be positive, got {per_s}/s"),
                "write a positive rate with its unit, e.g. \"100/s\"",
            ))
        }
    }

    /// Events per second.
    pub fn as_per_s(self) -> f64 {
        self.per_s
    }

    /// Parse `"<number>/<unit>"`; units ns, us, ms, s, min (or m), h, d.
    pub fn parse(text: &str) -> Result<Self, String> {
        runaway(text)?;
        let t = text.trim();
        let Some((num, unit)) = t.split_once('/') else {
            return Err(with_hint(
                format!("`{text}` is not a rate: it has no `/unit`"),
                "write e.g. \"9000/s\" or \"30/min\" (units /s, /min, /h)",
            ));
        };
        let value: f64 = num.trim().parse().map_err(|_| {
            with_hint(
                format!("`{text}` is not a rate: expected a number before `/`"),
                "write e.g. \"9000/s\" or \"30/min\"",
            )
        })?;
        let per_unit_s = match unit.trim() {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" | "sec" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            other => {
                return Err(with_hint(
                    format!("`{text}`: unknown rate unit `/{other}`"),
                    format!(
                        "write e.g. \"{}/s\"; the units are /s, /min (or /m), /h, /d, /ms, /us",
                        num.trim()
                    ),
                ));
            }
        };
        if value.is_nan() {
            return Err(with_hint(
                format!("`{text}`: a rate must be a number, not NaN"),
                "write a positive number with its unit, e.g. \"100/s\"",
            ));
        }
        if value.is_infinite() {
            return Err(with_hint(
                format!("`{text}`: a rate must be finite"),
                "write at most \"1e9/s\" (one event per nanosecond), e.g. \"100/s\"",
            ));
        }
        if value <= 0.0 {
            return Err(with_hint(
                format!("`{text}`: a rate must be positive"),
                "write e.g. \"100/s\"; to stop traffic for a while use a profile (Step, Piecewise) that drops to a low rate, or remove the workload",
            ));
        }
        let per_s = value / per_unit_s;
        if per_s > MAX_RATE_PER_S {
            return Err(with_hint(
                format!(
                    "`{text}` is too high: simulated time counts nanoseconds, so a rate can be at most 1e9/s (one event per nanosecond)"
                ),
                "check the unit (/s, /min, /h); for more traffic, split it over several workloads of at most \"1e9/s\" each",
            ));
        }
        Self::per_s(per_s)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s", self.per_s)
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Rate;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a rate with a unit, e.g. \"9000/s\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Rate, E> {
                Rate::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Rate, E> {
                Err(E::custom(with_hint(
                    format!("`{v}` has no unit"),
                    format!("write it as a string with its unit, e.g. \"{v}/s\" or \"{v}/min\""),
                )))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Rate, E> {
                Err(E::custom(with_hint(
                    format!("`{v}` is not a rate: a rate is positive, with a unit"),
                    "write e.g. \"100/s\"",
                )))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Rate, E> {
                Err(E::custom(with_hint(
                    format!("`{v}` has no unit"),
                    format!("write it as a string with its unit, e.g. \"{v}/s\" or \"{v}/min\""),
                )))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Rate {
    fn schema_name() -> Cow<'static, str> {
        "Rate".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A positive rate: a number, `/`, and a unit: s, min, h (e.g. \"9000/s\", \"30/min\").",
            "x-unit": "rate",
        })
    }
}

/// The units of a size, as hints list them.
const SIZE_UNITS: &str =
    "the units are B, KB, MB, GB, TB (powers of 1000) and KiB, MiB, GiB, TiB (powers of 1024)";

/// An amount of memory or data, written with a unit: `"512B"`, `"2KB"`, `"1.5MB"`, `"4GiB"`.
/// KB, MB, GB and TB are powers of 1000; KiB, MiB, GiB and TiB powers of 1024 (what Redis's
/// `maxmemory 100mb` means: write `"100MiB"`). Case matters: `mb` is refused with a hint,
/// since Redis reads it as MiB and most other tools as MB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Bytes {
    bytes: u64,
}

impl Bytes {
    /// Zero.
    pub const ZERO: Bytes = Bytes { bytes: 0 };

    /// From a number of bytes.
    pub const fn new(bytes: u64) -> Self {
        Self { bytes }
    }

    /// The number of bytes.
    pub const fn get(self) -> u64 {
        self.bytes
    }

    /// Parse `"<number><unit>"`; units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB.
    pub fn parse(text: &str) -> Result<Self, String> {
        runaway(text)?;
        let t = text.trim();
        if t == "0" {
            return Ok(Self::ZERO);
        }
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let value: f64 = num.parse().map_err(|_| {
            with_hint(
                format!("`{text}` is not a size: expected a number with a unit"),
                format!("write e.g. \"512B\", \"2KB\" or \"1.5MB\"; {SIZE_UNITS}"),
            )
        })?;
        let scale = match unit.trim() {
            "B" => 1.0,
            "KB" | "kB" => 1e3,
            "MB" => 1e6,
            "GB" => 1e9,
            "TB" => 1e12,
            "KiB" => 1024.0,
            "MiB" => 1024.0 * 1024.0,
            "GiB" => 1024.0 * 1024.0 * 1024.0,
            "TiB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
            "" => {
                return Err(with_hint(
                    format!("`{text}` has no unit"),
                    format!("write e.g. \"{num}B\" or \"{num}KB\"; {SIZE_UNITS}"),
                ));
            }
            other => {
                let lower = other.to_ascii_lowercase();
                let hint = match lower.as_str() {
                    "b" | "kb" | "mb" | "gb" | "tb" | "k" | "m" | "g" | "t" => {
                        let upper = lower.trim_end_matches('b').to_ascii_uppercase();
                        format!(
                            "units are case-sensitive: write \"{num}{upper}B\" (powers of 1000) or \"{num}{upper}iB\" (powers of 1024, what Redis's `{lower}` means in its config)"
                        )
                    }
                    "kib" | "mib" | "gib" | "tib" => format!(
                        "write \"{num}{}iB\"; {SIZE_UNITS}",
                        lower[..1].to_ascii_uppercase()
                    ),
                    _ => format!("write e.g. \"{num}KB\"; {SIZE_UNITS}"),
                };
                return Err(with_hint(
                    format!("`{text}`: unknown size unit `{other}`"),
                    hint,
                ));
            }
        };
        if !value.is_finite() || value < 0.0 {
            return Err(with_hint(
                format!("`{text}`: a size is a finite number of zero or more"),
                "write e.g. \"2KB\"",
            ));
        }
        let bytes = value * scale;
        if bytes >= u64::MAX as f64 {
            return Err(with_hint(
                format!("`{text}` is too large"),
                "write at most a few TB",
            ));
        }
        Ok(Self {
            bytes: bytes.round() as u64,
        })
    }
}

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.bytes;
        // The largest decimal unit that shows the value exactly with at most three decimals;
        // powers of 1024 print in their binary unit when exact.
        for (unit, scale) in [
            ("TiB", 1u64 << 40),
            ("GiB", 1 << 30),
            ("MiB", 1 << 20),
            ("KiB", 1 << 10),
        ] {
            if b >= scale && b % scale == 0 && b % 1000 != 0 {
                return write!(f, "{}{unit}", b / scale);
            }
        }
        for (unit, scale) in [("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)] {
            let v = b as f64 / scale;
            if v >= 1.0 && (v * 1000.0).fract() == 0.0 {
                return write!(f, "{}{unit}", trim_float(v));
            }
        }
        write!(f, "{b}B")
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Bytes;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size with a unit, e.g. \"2KB\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Bytes, E> {
                Bytes::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Bytes, E> {
                if v == 0 {
                    return Ok(Bytes::ZERO);
                }
                Err(E::custom(with_hint(
                    format!("`{v}` has no unit"),
                    format!(
                        "write it as a string with its unit: {v} bytes is \"{}\"; {SIZE_UNITS}",
                        Bytes::new(v)
                    ),
                )))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Bytes, E> {
                Err(E::custom(with_hint(
                    format!("`{v}` is not a size: a size is zero or more, with a unit"),
                    "write e.g. \"2KB\"",
                )))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Bytes, E> {
                Err(E::custom(with_hint(
                    format!("`{v}` has no unit"),
                    format!("write it as a string with its unit, e.g. \"{v}KB\"; {SIZE_UNITS}"),
                )))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Bytes {
    fn schema_name() -> Cow<'static, str> {
        "Bytes".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A size with a unit: B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. \"512B\", \"2KB\", \"1.5MB\", \"4GiB\".",
            "x-unit": "bytes",
        })
    }
}

/// A count of servers, threads or slots: a positive integer, or `"unlimited"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capacity {
    /// At most this many (at least 1).
    Limited(u32),
    /// No limit.
    Unlimited,
}

impl Capacity {
    /// The limit as a number, `u32::MAX` for unlimited.
    pub fn get(self) -> u32 {
        match self {
            Capacity::Limited(n) => n,
            Capacity::Unlimited => u32::MAX,
        }
    }

    /// True for `"unlimited"`.
    pub fn is_unlimited(self) -> bool {
        matches!(self, Capacity::Unlimited)
    }
}

impl fmt::Display for Capacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Capacity::Limited(n) => write!(f, "{n}"),
            Capacity::Unlimited => f.write_str("unlimited"),
        }
    }
}

impl Serialize for Capacity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Capacity::Limited(n) => s.serialize_u32(*n),
            Capacity::Unlimited => s.serialize_str("unlimited"),
        }
    }
}

/// Reads a capacity; `min` is the smallest count accepted (1 for servers, 0 for queues).
struct CapacityVisitor {
    min: u64,
}

impl Visitor<'_> for CapacityVisitor {
    type Value = Capacity;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.min == 0 {
            f.write_str("a non-negative integer or \"unlimited\"")
        } else {
            f.write_str("a positive integer or \"unlimited\"")
        }
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Capacity, E> {
        if v < self.min {
            return Err(E::custom(with_hint(
                format!("a capacity must be at least 1, got {v}"),
                "write 1 or more, e.g. 8, or \"unlimited\" for no limit",
            )));
        }
        u32::try_from(v).map(Capacity::Limited).map_err(|_| {
            E::custom(with_hint(
                format!("{v} is too large (at most {})", u32::MAX),
                "write \"unlimited\" for no limit",
            ))
        })
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Capacity, E> {
        match u64::try_from(v) {
            Ok(u) => self.visit_u64(u),
            Err(_) => Err(E::custom(with_hint(
                format!("a capacity cannot be negative, got {v}"),
                "write a whole number, e.g. 4, or \"unlimited\"",
            ))),
        }
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Capacity, E> {
        Err(E::custom(with_hint(
            format!("a capacity is a whole number, got {v}"),
            format!("write a whole number, e.g. {}", v.ceil().max(1.0)),
        )))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Capacity, E> {
        runaway(v).map_err(E::custom)?;
        match v.trim().to_ascii_lowercase().as_str() {
            "unlimited" | "inf" | "infinite" => Ok(Capacity::Unlimited),
            other => other
                .parse::<u64>()
                .map_err(|_| {
                    let hint = if other.starts_with("unl") || other.starts_with("inf") {
                        "did you mean \"unlimited\"?"
                    } else {
                        "e.g. 8, or \"unlimited\" for no limit"
                    };
                    E::custom(with_hint(
                        format!("`{v}` is not a capacity: write a whole number or \"unlimited\""),
                        hint,
                    ))
                })
                .and_then(|n| self.visit_u64(n)),
        }
    }
}

impl<'de> Deserialize<'de> for Capacity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CapacityVisitor { min: 1 })
    }
}

/// How many requests may wait: a whole number (0 = no waiting room: reject as soon as every
/// thread is busy, a loss system as in Erlang B), or `"unlimited"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QueueLimit(pub Capacity);

impl QueueLimit {
    /// The limit as a number, `u32::MAX` for unlimited.
    pub fn get(self) -> u32 {
        self.0.get()
    }
}

impl Serialize for QueueLimit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for QueueLimit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CapacityVisitor { min: 0 })
            .map(QueueLimit)
    }
}

impl JsonSchema for QueueLimit {
    fn schema_name() -> Cow<'static, str> {
        "QueueLimit".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A whole number (0 = no waiting room), or \"unlimited\".",
            "anyOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "enum": ["unlimited"]}
            ],
            "x-unit": "count",
        })
    }
}

impl JsonSchema for Capacity {
    fn schema_name() -> Cow<'static, str> {
        "Capacity".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A positive integer, or \"unlimited\".",
            "anyOf": [
                {"type": "integer", "minimum": 1},
                {"type": "string", "enum": ["unlimited"]}
            ],
            "x-unit": "count",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print_canonically() {
        for (text, ns) in [
            ("250us", 250_000),
            ("5ms", 5_000_000),
            ("1.5s", 1_500_000_000),
            ("2m", 120_000_000_000),
            ("1h", 3_600_000_000_000),
            ("0", 0),
            ("100ns", 100),
            ("0.389ms", 389_000),
        ] {
            let d = Duration::parse(text).unwrap();
            assert_eq!(d.as_nanos(), ns, "{text}");
            assert_eq!(Duration::parse(&d.to_string()).unwrap(), d, "{text} -> {d}");
        }
        assert_eq!(Duration::parse("1.5s").unwrap().to_string(), "1.5s");
        assert_eq!(Duration::parse("389us").unwrap().to_string(), "389us");
        assert!(Duration::parse("5").unwrap_err().contains("no unit"));
        assert!(
            Duration::parse("5 parsecs")
                .unwrap_err()
                .contains("unknown duration unit")
        );
        assert!(Duration::parse("-5ms").unwrap_err().contains("negative"));
        assert!(
            Duration::parse("5ms,\n    seed: 1,\n")
                .unwrap_err()
                .contains("`5ms,…` runs over several lines")
        );
    }

    #[test]
    fn rates_parse_and_refuse_zero() {
        assert_eq!(Rate::parse("9000/s").unwrap().as_per_s(), 9000.0);
        assert_eq!(Rate::parse("30/min").unwrap().as_per_s(), 0.5);
        assert!(Rate::parse("0/s").unwrap_err().contains("positive"));
        assert!(Rate::parse("-3/s").is_err());
        assert!(Rate::parse("9000").unwrap_err().contains("not a rate"));
        assert!(
            Rate::parse("9000/fortnight")
                .unwrap_err()
                .contains("unknown rate unit")
        );
        let r = Rate::parse("2.5/ms").unwrap();
        assert_eq!(Rate::parse(&r.to_string()).unwrap(), r);
    }

    #[test]
    fn sizes_beyond_nanosecond_time_are_refused() {
        // 2^64 ns is about 584.5 years: 213503 days fit, 213504 do not.
        assert!(Duration::parse("213503d").is_ok());
        assert!(Duration::parse("213504d").unwrap_err().contains("too long"));
        assert!(Duration::parse("600y").is_err());
        assert!(Duration::parse("1e400s").unwrap_err().contains("finite"));
        assert!(Rate::parse("1e9/s").is_ok());
        assert!(Rate::parse("2e9/s").unwrap_err().contains("at most 1e9/s"));
        assert!(Rate::parse("2/ns").unwrap_err().contains("at most 1e9/s"));
        assert!(Rate::parse("inf/s").unwrap_err().contains("finite"));
        assert!(Rate::parse("NaN/s").unwrap_err().contains("not NaN"));
    }

    #[test]
    fn capacities() {
        let c: Capacity = ron::from_str("32").unwrap();
        assert_eq!(c, Capacity::Limited(32));
        let c: Capacity = ron::from_str("\"unlimited\"").unwrap();
        assert!(c.is_unlimited());
        assert!(ron::from_str::<Capacity>("0").is_err());
        assert!(ron::from_str::<Capacity>("-2").is_err());
    }

    #[test]
    fn sizes_parse_with_their_units_and_print_back() {
        for (text, bytes) in [
            ("512B", 512),
            ("2KB", 2000),
            ("1.5MB", 1_500_000),
            ("4GiB", 4 << 30),
            ("1KiB", 1024),
            ("0", 0),
            ("3TB", 3_000_000_000_000),
        ] {
            let b = Bytes::parse(text).unwrap();
            assert_eq!(b.get(), bytes, "{text}");
            assert_eq!(Bytes::parse(&b.to_string()).unwrap(), b, "{text} → {b}");
        }
        assert_eq!(Bytes::new(1_500_000).to_string(), "1.5MB");
        assert_eq!(Bytes::new(100 << 20).to_string(), "100MiB");
    }

    #[test]
    fn bad_sizes_say_how_to_write_them() {
        for (text, says) in [
            ("2", "has no unit"),
            ("2mb", "case-sensitive"),
            ("2 kib", "KiB"),
            ("2 parsecs", "unknown size unit"),
            ("-1KB", "zero or more"),
            ("lots", "not a size"),
        ] {
            let err = Bytes::parse(text).unwrap_err();
            let (message, hint) = split_hint(&err);
            assert!(
                message.contains(says) || hint.as_deref().is_some_and(|h| h.contains(says)),
                "{text}: {err}"
            );
            assert!(hint.is_some(), "{text}: every error has a hint: {err}");
        }
    }
}
