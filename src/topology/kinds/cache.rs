//! The cache kind as files write it (`Cache(maxmemory: "64MB", maxmemory_policy:
//! "allkeys-lru", ...)`, knobs named as Redis names them) and as validation leaves it
//! ([`CacheModel`]). How it runs: `components/cache.rs`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{CommandCx, Edge, KindModel, KindSpec, OwnCommand, OwnCommandInfo};
use crate::dist::{Dist, Sampler};
use crate::topology::diagnostic::did_you_mean;
use crate::topology::events::{CommandArgs, Refusal};
use crate::topology::validate::KindCx;
use crate::units::{Bytes, Duration, with_hint};

fn default_service_time() -> Dist {
    Dist::Const(Duration::from_nanos(200_000))
}

/// Which key goes when a write needs memory the cache does not have: Redis's
/// `maxmemory-policy`, by its names. `allkeys-*` pick among every key, `volatile-*` only
/// among keys with a TTL (with none, they refuse like `noeviction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EvictionPolicy {
    /// Refuse writes that need memory (`oom`); reads still work. Redis's default.
    #[default]
    NoEviction,
    /// The least recently used key (exact).
    AllKeysLru,
    /// The least frequently used key (exact; ties: the least recently used of them).
    AllKeysLfu,
    /// A key at random.
    AllKeysRandom,
    /// The least recently used key with a TTL.
    VolatileLru,
    /// The least frequently used key with a TTL.
    VolatileLfu,
    /// A key with a TTL, at random.
    VolatileRandom,
    /// The key with the nearest expiry.
    VolatileTtl,
}

/// Which order eviction keeps among the keys it may evict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvictionOrder {
    /// None: nothing is evicted.
    None,
    /// Recency.
    Lru,
    /// Frequency, then recency.
    Lfu,
    /// None (a uniform pick).
    Random,
    /// Expiry time.
    Ttl,
}

impl EvictionPolicy {
    /// Every policy with its Redis name.
    pub const ALL: [(EvictionPolicy, &'static str); 8] = [
        (EvictionPolicy::NoEviction, "noeviction"),
        (EvictionPolicy::AllKeysLru, "allkeys-lru"),
        (EvictionPolicy::AllKeysLfu, "allkeys-lfu"),
        (EvictionPolicy::AllKeysRandom, "allkeys-random"),
        (EvictionPolicy::VolatileLru, "volatile-lru"),
        (EvictionPolicy::VolatileLfu, "volatile-lfu"),
        (EvictionPolicy::VolatileRandom, "volatile-random"),
        (EvictionPolicy::VolatileTtl, "volatile-ttl"),
    ];

    /// Its Redis name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(p, _)| *p == self)
            .map_or("noeviction", |(_, n)| n)
    }

    /// Whether only keys with a TTL may be evicted.
    pub fn volatile_only(self) -> bool {
        matches!(
            self,
            EvictionPolicy::VolatileLru
                | EvictionPolicy::VolatileLfu
                | EvictionPolicy::VolatileRandom
                | EvictionPolicy::VolatileTtl
        )
    }

    /// The order its victims are picked in.
    pub fn order(self) -> EvictionOrder {
        match self {
            EvictionPolicy::NoEviction => EvictionOrder::None,
            EvictionPolicy::AllKeysLru | EvictionPolicy::VolatileLru => EvictionOrder::Lru,
            EvictionPolicy::AllKeysLfu | EvictionPolicy::VolatileLfu => EvictionOrder::Lfu,
            EvictionPolicy::AllKeysRandom | EvictionPolicy::VolatileRandom => EvictionOrder::Random,
            EvictionPolicy::VolatileTtl => EvictionOrder::Ttl,
        }
    }

    /// Parse a Redis policy name.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if let Some((p, _)) = Self::ALL.iter().find(|(_, n)| *n == t) {
            return Ok(*p);
        }
        let names = Self::ALL.map(|(_, n)| n);
        // Redis's config file spells them in lower case with dashes; forgive the rest.
        let folded = t.to_ascii_lowercase().replace('_', "-");
        let hint = if let Some((_, n)) = Self::ALL.iter().find(|(_, n)| *n == folded) {
            format!("write \"{n}\" (Redis's spelling)")
        } else {
            did_you_mean(&folded, names.iter().copied())
                .unwrap_or_else(|| format!("the policies are Redis's: {}", names.join(", ")))
        };
        Err(with_hint(
            format!("`{text}` is not a maxmemory policy"),
            hint,
        ))
    }
}

impl fmt::Display for EvictionPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for EvictionPolicy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for EvictionPolicy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = EvictionPolicy;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a Redis maxmemory policy, e.g. \"allkeys-lru\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<EvictionPolicy, E> {
                EvictionPolicy::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

impl JsonSchema for EvictionPolicy {
    fn schema_name() -> Cow<'static, str> {
        "EvictionPolicy".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = Self::ALL.iter().map(|(_, n)| *n).collect();
        json_schema!({
            "type": "string",
            "enum": names,
            "description": "A Redis maxmemory policy: noeviction, allkeys-lru, allkeys-lfu, allkeys-random, volatile-lru, volatile-lfu, volatile-random, volatile-ttl.",
        })
    }
}

/// What a writing request does to the cached copy of its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum OnWrite {
    /// Delete the key (DEL): the next read misses and refills from the database
    /// (look-aside caches such as Facebook's memcache invalidate this way).
    #[default]
    Invalidate,
    /// Store the written value (SET, with the class's TTL): the next read hits.
    Update,
}

/// A cache (Redis, Memcached): keys with values of the request classes' sizes, a memory or
/// key limit, an eviction policy and TTLs. A call looks its key up (`Get`: the answer is
/// `Hit` or `Miss`), stores it (`Set`, a fill) or deletes it (`Delete`), as the service's
/// call says (`Call(to: "cache", op: Set)`); a call that says nothing does what its
/// request's class does (`classes`: a read gets, a write follows `on_write`).
///
/// Eviction is exact (LRU and LFU in O(1) per operation, not Redis's sampling); a key
/// expires exactly at its TTL (Redis checks `now > expiry`; the TTL is set by the fill and
/// not renewed by reads, as `SET key value EX ttl` then `GET` do). Memory counts values
/// only (Redis adds some 50–100 bytes of its own per key: add them to the classes' sizes if
/// it matters). One instance, no queueing: a lookup takes `service_time` however many run
/// at once (a single Redis thread serves some 100 000 operations a second, far beyond what
/// most models send it). Killing it loses its contents: it comes back cold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cache {
    /// Memory for values (Redis `maxmemory`), e.g. `"64MB"` or `"1GiB"`. Default: no limit.
    #[serde(default)]
    pub maxmemory: Option<Bytes>,
    /// Most keys held at once (a capacity in entries, as Memcached's item limit or a
    /// simulation's thought experiment). Default: no limit.
    #[serde(default)]
    pub max_keys: Option<u64>,
    /// Which key goes when a write needs room (Redis `maxmemory-policy`): `"noeviction"`
    /// (Redis's default: the write fails with `oom`), `"allkeys-lru"`, `"allkeys-lfu"`,
    /// `"allkeys-random"`, `"volatile-lru"`, `"volatile-lfu"`, `"volatile-random"`,
    /// `"volatile-ttl"`. The volatile ones evict only keys with a TTL.
    #[serde(default)]
    pub maxmemory_policy: EvictionPolicy,
    /// Time to live of a stored key, set when it is stored (`SET ... EX`) and not renewed by
    /// reads. Default: none (keys stay until evicted; they are not volatile).
    #[serde(default)]
    pub ttl: Option<Duration>,
    /// TTL for particular request classes, overriding `ttl`.
    #[serde(default)]
    pub ttl_by_class: BTreeMap<String, Duration>,
    /// What a writing request (a class that writes, `classes`) does to its key when the call
    /// does not say (`op`): `Invalidate` (DEL, the default) or `Update` (SET).
    #[serde(default)]
    pub on_write: OnWrite,
    /// Time an operation takes, as its caller sees it (a round trip to Redis in one data
    /// centre). Default: 200 µs.
    #[serde(default = "default_service_time")]
    pub service_time: Dist,
}

/// A validated cache.
#[derive(Debug, Clone)]
pub struct CacheModel {
    /// Memory limit for values, bytes (`u64::MAX`: none).
    pub max_bytes: u64,
    /// Key limit (`u64::MAX`: none).
    pub max_keys: u64,
    /// Eviction policy.
    pub policy: EvictionPolicy,
    /// TTL by class id, ns (0: none).
    pub ttl_ns: Vec<u64>,
    /// Whether each class writes.
    pub class_writes: Vec<bool>,
    /// Value size by class id, bytes.
    pub class_sizes: Vec<Sampler>,
    /// What a write does.
    pub on_write: OnWrite,
    /// Time per operation.
    pub service_time: Sampler,
}

impl KindSpec for Cache {
    type Model = CacheModel;

    fn validate(&self, cx: &mut KindCx<'_, '_>) -> CacheModel {
        if self.max_keys == Some(0) {
            cx.error(
                "max_keys",
                "max_keys",
                "a cache that holds no key caches nothing".into(),
                "write max_keys: 1 or more, e.g. max_keys: 10000, or leave it out for no limit"
                    .into(),
            );
        }
        if self.maxmemory == Some(Bytes::ZERO) {
            // Redis reads `maxmemory 0` as "no limit"; here a limit is written out or left out.
            cx.error(
                "maxmemory",
                "maxmemory",
                "maxmemory: \"0B\" leaves no room for any value".into(),
                "leave maxmemory out for no limit (what Redis's `maxmemory 0` means), or write e.g. maxmemory: \"64MB\"".into(),
            );
        }
        if self.ttl == Some(Duration::ZERO) {
            cx.error(
                "ttl",
                "ttl",
                "a TTL must be positive (or left out)".into(),
                "write e.g. ttl: \"5m\", or leave it out for keys that never expire".into(),
            );
        }
        let classes = cx.classes().len();
        let mut ttl_ns = vec![self.ttl.map_or(0, Duration::as_nanos); classes];
        for (class, ttl) in &self.ttl_by_class {
            let path = format!("ttl_by_class.{class}");
            if *ttl == Duration::ZERO {
                cx.error(
                    "ttl_by_class",
                    &path,
                    format!("the TTL of class `{class}` must be positive"),
                    "write e.g. \"30s\"; a class whose keys should not expire needs no entry when `ttl` is left out".into(),
                );
            }
            if let Some(i) = cx.class_id(class, "ttl_by_class", &path) {
                ttl_ns[i] = ttl.as_nanos();
            }
        }
        let unlimited = self.maxmemory.is_none() && self.max_keys.is_none();
        if unlimited && self.maxmemory_policy != EvictionPolicy::NoEviction {
            cx.warn(
                format!(
                    "maxmemory_policy \"{}\" never applies: the cache has no maxmemory nor max_keys",
                    self.maxmemory_policy
                ),
                Some("give it a limit, e.g. maxmemory: \"64MB\" or max_keys: 10000".into()),
            );
        }
        if self.maxmemory_policy.volatile_only() && ttl_ns.iter().all(|t| *t == 0) {
            cx.warn(
                format!(
                    "maxmemory_policy \"{}\" evicts only keys with a TTL, and no key gets one: the cache refuses writes when full, like noeviction",
                    self.maxmemory_policy
                ),
                Some("set a ttl (or ttl_by_class), or use an allkeys-* policy".into()),
            );
        }
        let service_time = cx.sampler(&self.service_time, "service_time", "service_time");
        CacheModel {
            max_bytes: self.maxmemory.map_or(u64::MAX, Bytes::get),
            max_keys: self.max_keys.unwrap_or(u64::MAX),
            policy: self.maxmemory_policy,
            ttl_ns,
            class_writes: cx.class_writes().to_vec(),
            class_sizes: cx.class_sizes().to_vec(),
            on_write: self.on_write,
            service_time,
        }
    }
}

impl KindModel for CacheModel {
    fn edges(&self) -> Vec<Edge> {
        Vec::new()
    }

    fn reads_keys(&self) -> bool {
        true
    }

    const OWN_COMMANDS: &'static [OwnCommandInfo] = &[OwnCommandInfo {
        name: "flush",
        summary: "Empty the cache (Redis FLUSHALL): every key goes at once, reads miss until fills bring them back, and the database behind it feels the refill.",
        args: &[],
    }];

    fn resolve_command(
        &self,
        name: &str,
        args: &CommandArgs,
        cx: &CommandCx<'_>,
    ) -> Result<OwnCommand, Refusal> {
        let _ = cx;
        if let Some(k) = args.keys().next() {
            return Err(Refusal {
                message: format!("`{name}` takes no argument `{k}`"),
                hint: Some("write Do(component: \"cache\", command: \"flush\")".into()),
            });
        }
        Ok(OwnCommand {
            code: 0,
            args: [0, 0],
        })
    }
}
