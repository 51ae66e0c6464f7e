//! A cache (Redis, Memcached): keys with values, a memory or key limit, Redis's eviction
//! policies and TTLs. Callers look keys up (`Get`: the answer carries `Hit` or `Miss`),
//! fill them (`Set`) and invalidate them (`Delete`); cache-aside is a service's calls made
//! conditional on the answer (`Call(to: "db", when: Miss)`).
//!
//! The store ([`Store`]) keeps one 32-byte entry per key in a slab indexed by a key → slot
//! hash map, and the eviction order threaded through the entries: a doubly-linked recency
//! list (LRU), frequency buckets each with its own recency list (LFU, O(1) per operation
//! after Shah, Mitra and Matani), a dense array for uniform picks (random), or the expiry
//! index (volatile-ttl). Keys with a TTL are also in an expiry index (a B-tree by expiry), so
//! a key is gone exactly at its expiry whatever touches the cache next. The store never
//! iterates its hash map: a run is a pure function of its seed.
//!
//! A value's size comes from its request class's size distribution, drawn from a stream
//! seeded by the key (and the class), so a key takes the same memory every time it is
//! stored and requests carry no size. Operations apply when their service time ends; the
//! answer leaves at that instant.

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use rand::RngExt;

use super::{
    Answer, Build, CallId, CommandError, CommandInfo, Component, Ctx, FigureInfo, FigureUnit,
    KindMeta, Liveness, NodeCommand, Side, Timer,
};
use crate::dist::Sampler;
use crate::engine::rng::splitmix64;
use crate::engine::{Rng, StreamKey};
use crate::metrics::report::Figures;
use crate::metrics::{ErrorCause, KindValues, NodeStats, SeriesColumn, SeriesMerge, Window};
use crate::topology::NodeId;
use crate::topology::kinds::cache::{CacheModel, EvictionOrder, OnWrite};
use crate::topology::spec::{AnswerValue, Op};

/// No slot (the end of a list).
const NIL: u32 = u32::MAX;

/// No expiry.
const NEVER: u64 = u64::MAX;

/// One cached key: 32 bytes.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The key.
    key: u64,
    /// When it expires, ns ([`NEVER`]: no TTL).
    expires_ns: u64,
    /// Its value's size, bytes.
    size: u32,
    /// Neighbours in its recency list (LRU: the cache's; LFU: its bucket's); the free list's
    /// link while the slot is free.
    prev: u32,
    next: u32,
    /// LFU: its bucket; random: its position in the pick array; else unused.
    aux: u32,
}

/// The keys of one access count (LFU), most recent first.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    freq: u64,
    head: u32,
    tail: u32,
    /// Neighbouring buckets, by increasing count.
    prev: u32,
    next: u32,
}

/// A hasher for u64 keys: one multiply folded (keys are ranks, dense and small).
#[derive(Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    #[inline]
    fn write_u64(&mut self, k: u64) {
        let m = u128::from(k ^ self.0) * 0x9E37_79B9_7F4A_7C15;
        self.0 = (m as u64) ^ ((m >> 64) as u64);
    }
}

/// What a store operation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// The value is stored.
    Yes,
    /// No room, and nothing may be evicted (`noeviction`, or `volatile-*` with no key
    /// with a TTL): Redis's OOM error.
    OutOfMemory,
}

/// The keys of a cache and their eviction order (see the module docs).
#[derive(Debug)]
pub struct Store {
    order: EvictionOrder,
    volatile_only: bool,
    max_bytes: u64,
    max_keys: u64,
    entries: Vec<Entry>,
    free: u32,
    index: HashMap<u64, u32, BuildHasherDefault<KeyHasher>>,
    /// LRU: most recent first.
    head: u32,
    tail: u32,
    /// LFU buckets (a slab) and the least frequent one.
    buckets: Vec<Bucket>,
    free_bucket: u32,
    lfu_head: u32,
    /// Random: the slots eviction may pick from.
    pickable: Vec<u32>,
    /// Keys with a TTL, by expiry.
    expiry: BTreeSet<(u64, u32)>,
    /// Random eviction's picks.
    pick_rng: Rng,
    /// Bytes of values held.
    pub used_bytes: u64,
    /// Keys evicted since the start.
    pub evictions: u64,
    /// Keys expired since the start.
    pub expired: u64,
}

impl Store {
    /// An empty store; random eviction draws from `pick_rng`.
    pub fn new(
        order: EvictionOrder,
        volatile_only: bool,
        max_bytes: u64,
        max_keys: u64,
        pick_rng: Rng,
    ) -> Self {
        Self {
            order,
            volatile_only,
            max_bytes,
            max_keys,
            entries: Vec::new(),
            free: NIL,
            index: HashMap::default(),
            head: NIL,
            tail: NIL,
            buckets: Vec::new(),
            free_bucket: NIL,
            lfu_head: NIL,
            pickable: Vec::new(),
            expiry: BTreeSet::new(),
            pick_rng,
            used_bytes: 0,
            evictions: 0,
            expired: 0,
        }
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when it holds no key.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Drop every key (a flush, a kill); counters stay.
    pub fn clear(&mut self) {
        let rng = self.pick_rng.clone();
        let mut fresh = Store::new(
            self.order,
            self.volatile_only,
            self.max_bytes,
            self.max_keys,
            rng,
        );
        fresh.evictions = self.evictions;
        fresh.expired = self.expired;
        *self = fresh;
    }

    /// Bytes the store's own structures take (entries, index, eviction order, expiry
    /// index), from their capacities: what a key costs beyond its value.
    pub fn overhead_bytes(&self) -> usize {
        use std::mem::size_of;
        // A hashbrown table: one (key, slot) pair and one control byte per bucket; its
        // buckets are its capacity rounded up to a power of two over 7/8.
        let buckets = (self.index.capacity() * 8 / 7).next_power_of_two();
        // A B-tree node holds up to 11 elements plus its header and, inside, 12 edges.
        let btree = self.expiry.len() * (size_of::<(u64, u32)>() + 8) * 3 / 2;
        self.entries.capacity() * size_of::<Entry>()
            + buckets * (size_of::<(u64, u32)>() + 1)
            + self.buckets.capacity() * size_of::<Bucket>()
            + self.pickable.capacity() * size_of::<u32>()
            + btree
    }

    /// Whether a key with this expiry is in the eviction order.
    #[inline]
    fn tracked(&self, expires_ns: u64) -> bool {
        self.order != EvictionOrder::None
            && self.order != EvictionOrder::Ttl
            && (!self.volatile_only || expires_ns != NEVER)
    }

    /// Remove every key whose expiry has passed (`now > expiry`, as Redis reads it).
    pub fn expire(&mut self, now_ns: u64) {
        while let Some(&(at, slot)) = self.expiry.first() {
            if at >= now_ns {
                break;
            }
            self.remove_slot(slot);
            self.expired += 1;
        }
    }

    /// GET: whether `key` is held (the hit counts as an access).
    pub fn get(&mut self, key: u64, now_ns: u64) -> bool {
        self.expire(now_ns);
        let Some(&slot) = self.index.get(&key) else {
            return false;
        };
        self.touch(slot);
        true
    }

    /// DEL: remove `key`; whether it was held.
    pub fn delete(&mut self, key: u64, now_ns: u64) -> bool {
        self.expire(now_ns);
        match self.index.get(&key) {
            Some(&slot) => {
                self.remove_slot(slot);
                true
            }
            None => false,
        }
    }

    /// SET: store `key` with a value of `size` bytes that expires `ttl_ns` from now (0:
    /// never), evicting as the policy says to make room.
    pub fn set(&mut self, key: u64, size: u32, ttl_ns: u64, now_ns: u64) -> Stored {
        self.expire(now_ns);
        let expires_ns = if ttl_ns == 0 {
            NEVER
        } else {
            now_ns.saturating_add(ttl_ns).min(NEVER - 1)
        };
        let existing = self.index.get(&key).copied();
        let old_size = existing.map_or(0, |s| u64::from(self.entries[s as usize].size));
        if u64::from(size) > self.max_bytes {
            return Stored::OutOfMemory;
        }
        let keys_after = self.index.len() as u64 + u64::from(existing.is_none());
        // Make room, never evicting the key being stored.
        let except = existing.unwrap_or(NIL);
        let mut keys_after = keys_after;
        while self.used_bytes - old_size + u64::from(size) > self.max_bytes
            || keys_after > self.max_keys
        {
            let Some(victim) = self.victim(except) else {
                return Stored::OutOfMemory;
            };
            self.remove_slot(victim);
            self.evictions += 1;
            keys_after -= 1;
        }
        match existing {
            Some(slot) => {
                let e = self.entries[slot as usize];
                self.used_bytes = self.used_bytes - u64::from(e.size) + u64::from(size);
                self.entries[slot as usize].size = size;
                if e.expires_ns != expires_ns {
                    if e.expires_ns != NEVER {
                        self.expiry.remove(&(e.expires_ns, slot));
                    }
                    if expires_ns != NEVER {
                        self.expiry.insert((expires_ns, slot));
                    }
                    let (was, is) = (self.tracked(e.expires_ns), self.tracked(expires_ns));
                    self.entries[slot as usize].expires_ns = expires_ns;
                    match (was, is) {
                        (true, false) => self.untrack(slot),
                        (false, true) => self.track(slot),
                        _ => {}
                    }
                }
                self.touch(slot);
            }
            None => {
                let slot = self.alloc(Entry {
                    key,
                    expires_ns,
                    size,
                    prev: NIL,
                    next: NIL,
                    aux: NIL,
                });
                self.index.insert(key, slot);
                self.used_bytes += u64::from(size);
                if expires_ns != NEVER {
                    self.expiry.insert((expires_ns, slot));
                }
                if self.tracked(expires_ns) {
                    self.track(slot);
                }
            }
        }
        Stored::Yes
    }

    /// The key eviction would take now, other than `except`.
    fn victim(&mut self, except: u32) -> Option<u32> {
        match self.order {
            EvictionOrder::None => None,
            EvictionOrder::Lru => {
                let t = self.tail;
                if t == NIL {
                    return None;
                }
                if t != except {
                    return Some(t);
                }
                let p = self.entries[t as usize].prev;
                (p != NIL).then_some(p)
            }
            EvictionOrder::Lfu => {
                // The least recent of the least frequent; past `except` if it is that.
                let mut b = self.lfu_head;
                while b != NIL {
                    let mut e = self.buckets[b as usize].tail;
                    while e != NIL {
                        if e != except {
                            return Some(e);
                        }
                        e = self.entries[e as usize].prev;
                    }
                    b = self.buckets[b as usize].next;
                }
                None
            }
            EvictionOrder::Random => match self.pickable.len() {
                0 => None,
                1 if self.pickable[0] == except => None,
                n => {
                    let mut i = self.pick_rng.random_range(0..n);
                    if self.pickable[i] == except {
                        i = (i + 1) % n;
                    }
                    Some(self.pickable[i])
                }
            },
            EvictionOrder::Ttl => self.expiry.iter().map(|&(_, s)| s).find(|&s| s != except),
        }
    }

    /// An access: LRU moves it to the front, LFU counts it.
    #[inline]
    fn touch(&mut self, slot: u32) {
        if !self.tracked(self.entries[slot as usize].expires_ns) {
            return;
        }
        match self.order {
            EvictionOrder::Lru => {
                if self.head != slot {
                    self.lru_unlink(slot);
                    self.lru_push_front(slot);
                }
            }
            EvictionOrder::Lfu => self.lfu_increment(slot),
            EvictionOrder::None | EvictionOrder::Random | EvictionOrder::Ttl => {}
        }
    }

    /// Put a key into the eviction order (as new: most recent, count 1).
    fn track(&mut self, slot: u32) {
        match self.order {
            EvictionOrder::Lru => self.lru_push_front(slot),
            EvictionOrder::Lfu => self.lfu_insert(slot),
            EvictionOrder::Random => {
                self.entries[slot as usize].aux = self.pickable.len() as u32;
                self.pickable.push(slot);
            }
            EvictionOrder::None | EvictionOrder::Ttl => {}
        }
    }

    /// Take a key out of the eviction order.
    fn untrack(&mut self, slot: u32) {
        match self.order {
            EvictionOrder::Lru => self.lru_unlink(slot),
            EvictionOrder::Lfu => self.lfu_remove(slot),
            EvictionOrder::Random => {
                let pos = self.entries[slot as usize].aux as usize;
                self.pickable.swap_remove(pos);
                if let Some(&moved) = self.pickable.get(pos) {
                    self.entries[moved as usize].aux = pos as u32;
                }
            }
            EvictionOrder::None | EvictionOrder::Ttl => {}
        }
    }

    fn remove_slot(&mut self, slot: u32) {
        let e = self.entries[slot as usize];
        if self.tracked(e.expires_ns) {
            self.untrack(slot);
        }
        if e.expires_ns != NEVER {
            self.expiry.remove(&(e.expires_ns, slot));
        }
        self.index.remove(&e.key);
        self.used_bytes -= u64::from(e.size);
        self.entries[slot as usize].next = self.free;
        self.free = slot;
    }

    fn alloc(&mut self, e: Entry) -> u32 {
        if self.free != NIL {
            let slot = self.free;
            self.free = self.entries[slot as usize].next;
            self.entries[slot as usize] = e;
            slot
        } else {
            self.entries.push(e);
            (self.entries.len() - 1) as u32
        }
    }

    fn lru_unlink(&mut self, slot: u32) {
        let Entry { prev, next, .. } = self.entries[slot as usize];
        match prev {
            NIL => self.head = next,
            p => self.entries[p as usize].next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.entries[n as usize].prev = prev,
        }
    }

    fn lru_push_front(&mut self, slot: u32) {
        let old = self.head;
        self.entries[slot as usize].prev = NIL;
        self.entries[slot as usize].next = old;
        match old {
            NIL => self.tail = slot,
            o => self.entries[o as usize].prev = slot,
        }
        self.head = slot;
    }

    /// A new bucket of count `freq` after bucket `after` (NIL: first).
    fn bucket_new(&mut self, freq: u64, after: u32) -> u32 {
        let next = match after {
            NIL => self.lfu_head,
            a => self.buckets[a as usize].next,
        };
        let b = Bucket {
            freq,
            head: NIL,
            tail: NIL,
            prev: after,
            next,
        };
        let id = if self.free_bucket != NIL {
            let id = self.free_bucket;
            self.free_bucket = self.buckets[id as usize].next;
            self.buckets[id as usize] = b;
            id
        } else {
            self.buckets.push(b);
            (self.buckets.len() - 1) as u32
        };
        match after {
            NIL => self.lfu_head = id,
            a => self.buckets[a as usize].next = id,
        }
        if next != NIL {
            self.buckets[next as usize].prev = id;
        }
        id
    }

    fn bucket_free(&mut self, id: u32) {
        let Bucket { prev, next, .. } = self.buckets[id as usize];
        match prev {
            NIL => self.lfu_head = next,
            p => self.buckets[p as usize].next = next,
        }
        if next != NIL {
            self.buckets[next as usize].prev = prev;
        }
        self.buckets[id as usize].next = self.free_bucket;
        self.free_bucket = id;
    }

    fn bucket_push_front(&mut self, id: u32, slot: u32) {
        let old = self.buckets[id as usize].head;
        let e = &mut self.entries[slot as usize];
        e.prev = NIL;
        e.next = old;
        e.aux = id;
        match old {
            NIL => self.buckets[id as usize].tail = slot,
            o => self.entries[o as usize].prev = slot,
        }
        self.buckets[id as usize].head = slot;
    }

    /// Unlink `slot` from its bucket; returns the bucket and whether it is now empty.
    fn bucket_unlink(&mut self, slot: u32) -> (u32, bool) {
        let Entry {
            prev, next, aux, ..
        } = self.entries[slot as usize];
        match prev {
            NIL => self.buckets[aux as usize].head = next,
            p => self.entries[p as usize].next = next,
        }
        match next {
            NIL => self.buckets[aux as usize].tail = prev,
            n => self.entries[n as usize].prev = prev,
        }
        (aux, self.buckets[aux as usize].head == NIL)
    }

    fn lfu_insert(&mut self, slot: u32) {
        let b = match self.lfu_head {
            h if h != NIL && self.buckets[h as usize].freq == 1 => h,
            _ => self.bucket_new(1, NIL),
        };
        self.bucket_push_front(b, slot);
    }

    fn lfu_increment(&mut self, slot: u32) {
        let b = self.entries[slot as usize].aux;
        let Bucket { freq, next, .. } = self.buckets[b as usize];
        let target = if next != NIL && self.buckets[next as usize].freq == freq + 1 {
            next
        } else {
            self.bucket_new(freq + 1, b)
        };
        let (from, empty) = self.bucket_unlink(slot);
        self.bucket_push_front(target, slot);
        if empty {
            self.bucket_free(from);
        }
    }

    fn lfu_remove(&mut self, slot: u32) {
        let (from, empty) = self.bucket_unlink(slot);
        if empty {
            self.bucket_free(from);
        }
    }

    /// The access count of `key` (LFU), for tests.
    pub fn frequency(&self, key: u64) -> Option<u64> {
        let slot = *self.index.get(&key)?;
        (self.order == EvictionOrder::Lfu && self.tracked(self.entries[slot as usize].expires_ns))
            .then(|| self.buckets[self.entries[slot as usize].aux as usize].freq)
    }

    /// Self-check: the index, the eviction order and the byte count agree.
    pub fn check(&self) -> Result<(), String> {
        let mut bytes = 0u64;
        let mut tracked = 0usize;
        for (&key, &slot) in &self.index {
            let e = self.entries.get(slot as usize).ok_or("slot out of range")?;
            if e.key != key {
                return Err(format!("slot {slot} holds key {} under key {key}", e.key));
            }
            bytes += u64::from(e.size);
            tracked += usize::from(self.tracked(e.expires_ns));
        }
        if bytes != self.used_bytes {
            return Err(format!(
                "values add to {bytes} B, counted {}",
                self.used_bytes
            ));
        }
        let listed = match self.order {
            EvictionOrder::Lru => {
                let (mut n, mut s, mut prev) = (0, self.head, NIL);
                while s != NIL {
                    if self.entries[s as usize].prev != prev {
                        return Err(format!("LRU list broken at slot {s}"));
                    }
                    prev = s;
                    s = self.entries[s as usize].next;
                    n += 1;
                }
                if prev != self.tail {
                    return Err("LRU tail is not the list's end".into());
                }
                n
            }
            EvictionOrder::Lfu => {
                let (mut n, mut b, mut last) = (0, self.lfu_head, 0);
                while b != NIL {
                    let bucket = self.buckets[b as usize];
                    if bucket.freq <= last || bucket.head == NIL {
                        return Err(format!("LFU bucket {b} out of order or empty"));
                    }
                    last = bucket.freq;
                    let mut s = bucket.head;
                    while s != NIL {
                        if self.entries[s as usize].aux != b {
                            return Err(format!("slot {s} in bucket {b} names another"));
                        }
                        s = self.entries[s as usize].next;
                        n += 1;
                    }
                    b = bucket.next;
                }
                n
            }
            EvictionOrder::Random => self.pickable.len(),
            EvictionOrder::None | EvictionOrder::Ttl => tracked,
        };
        if listed != tracked {
            return Err(format!(
                "{listed} keys in the eviction order, {tracked} evictable"
            ));
        }
        Ok(())
    }
}

/// Counters over the whole run; the figures are their differences across the counting
/// window.
#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    hits: u64,
    misses: u64,
    sets: u64,
    deletes: u64,
    evictions: u64,
    expired: u64,
    refused: u64,
}

impl Counters {
    fn minus(self, o: Counters) -> Counters {
        Counters {
            hits: self.hits - o.hits,
            misses: self.misses - o.misses,
            sets: self.sets - o.sets,
            deletes: self.deletes - o.deletes,
            evictions: self.evictions - o.evictions,
            expired: self.expired - o.expired,
            refused: self.refused - o.refused,
        }
    }
}

/// A running cache.
#[derive(Debug)]
pub struct Cache {
    /// Its node id.
    pub node: NodeId,
    model: CacheModel,
    store: Store,
    /// Operation times (stream "service").
    rng: Rng,
    /// The seed value sizes derive from (with the key and the class).
    size_seed: u64,
    /// A constant service time, through its delay lane.
    fixed: Option<Timer>,
    oom: ErrorCause,
    liveness: Liveness,
    counters: Counters,
    at_open: Option<Counters>,
    at_close: Option<Counters>,
    /// Memory and keys when the counting window closed.
    close_state: Option<(u64, usize)>,
    /// Hits and misses when the last series window closed.
    series_mark: (u64, u64),
}

/// The series columns: the hit ratio of the window's lookups, and memory and keys at its
/// end.
const SERIES: &[SeriesColumn] = &[
    SeriesColumn {
        name: "hit_ratio",
        summary: "Hits / lookups in the window (0 when there was none).",
        merge: SeriesMerge::TimeAverage,
    },
    SeriesColumn {
        name: "memory_bytes",
        summary: "Bytes of values held at the window's end.",
        merge: SeriesMerge::Max,
    },
    SeriesColumn {
        name: "keys",
        summary: "Keys held at the window's end.",
        merge: SeriesMerge::Max,
    },
];

impl Component for Cache {
    type Model = CacheModel;

    const META: KindMeta = KindMeta {
        label: "Cache",
        summary: "A cache (Redis, Memcached): lookups that hit or miss, fills, invalidations, maxmemory with Redis's eviction policies, TTLs.",
        commands: &[
            CommandInfo {
                name: "kill",
                summary: "Take the cache down: what it holds is lost and calls fail with instance_down; revived, it starts cold.",
            },
            CommandInfo {
                name: "revive",
                summary: "Bring the cache back, empty.",
            },
            CommandInfo {
                name: "flush",
                summary: "Empty the cache (FLUSHALL): reads miss until fills bring the keys back.",
            },
        ],
        error_causes: &["oom"],
        figures: &[
            FigureInfo {
                name: "hits",
                summary: "Lookups (GET) that found their key, in the counting window.",
                unit: FigureUnit::Count,
                column: Some("hits"),
            },
            FigureInfo {
                name: "misses",
                summary: "Lookups that did not, in the counting window.",
                unit: FigureUnit::Count,
                column: Some("misses"),
            },
            FigureInfo {
                name: "hit_ratio",
                summary: "hits / (hits + misses); null without lookups.",
                unit: FigureUnit::Ratio,
                column: Some("hit ratio"),
            },
            FigureInfo {
                name: "sets",
                summary: "Values stored (fills, updates), in the counting window.",
                unit: FigureUnit::Count,
                column: None,
            },
            FigureInfo {
                name: "deletes",
                summary: "Deletions (invalidations), in the counting window.",
                unit: FigureUnit::Count,
                column: None,
            },
            FigureInfo {
                name: "evictions",
                summary: "Keys evicted to make room, in the counting window.",
                unit: FigureUnit::Count,
                column: Some("evicted"),
            },
            FigureInfo {
                name: "expired",
                summary: "Keys removed at their TTL, in the counting window.",
                unit: FigureUnit::Count,
                column: None,
            },
            FigureInfo {
                name: "refused",
                summary: "Stores refused for want of memory (error oom), in the counting window.",
                unit: FigureUnit::Count,
                column: None,
            },
            FigureInfo {
                name: "memory_bytes",
                summary: "Bytes of values held when the counting window closed.",
                unit: FigureUnit::Bytes,
                column: Some("memory"),
            },
            FigureInfo {
                name: "keys",
                summary: "Keys held when the counting window closed.",
                unit: FigureUnit::Count,
                column: Some("keys"),
            },
        ],
        series: SERIES,
        example: r#"Cache(maxmemory: "64MB", maxmemory_policy: "allkeys-lru", ttl: "5m")"#,
    };

    fn build(model: &CacheModel, b: &Build<'_>) -> Self {
        let key = |purpose| StreamKey {
            seed: b.seed,
            replication: b.replication,
            owner: b.name,
            replica: 0,
            purpose,
        };
        let fixed = match model.service_time {
            Sampler::Const(ns) if ns > 0 => Some(Timer::new(ns)),
            _ => None,
        };
        Self {
            node: b.node,
            store: Store::new(
                model.policy.order(),
                model.policy.volatile_only(),
                model.max_bytes,
                model.max_keys,
                key("evict").rng(),
            ),
            model: model.clone(),
            rng: key("service").rng(),
            size_seed: key("sizes").rng().random(),
            fixed,
            oom: b.cause("oom"),
            liveness: Liveness::default(),
            counters: Counters::default(),
            at_open: None,
            at_close: None,
            close_state: None,
            series_mark: (0, 0),
        }
    }

    fn start(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(t) = &mut self.fixed {
            ctx.register(t);
        }
    }

    fn on_call(&mut self, id: CallId, ctx: &mut Ctx<'_>) {
        let max_hops = ctx.max_hops();
        let Some(call) = ctx.arrive(id) else { return };
        if call.hops > max_hops {
            ctx.refuse(id, ErrorCause::HOP_LIMIT);
            return;
        }
        if self.liveness.is_down() {
            ctx.refuse(id, ErrorCause::INSTANCE_DOWN);
            return;
        }
        match self.fixed {
            Some(t) => ctx.call_timer(t, id, 0, Side::Callee),
            None => {
                let ns = self.model.service_time.sample(&mut self.rng);
                if ns == 0 {
                    self.execute(id, ctx);
                } else {
                    ctx.call_timer(Timer::new(ns), id, 0, Side::Callee);
                }
            }
        }
    }

    /// A cache makes no calls.
    fn on_answer(&mut self, answer: Answer, ctx: &mut Ctx<'_>) {
        let _ = (answer, ctx);
        debug_assert!(false, "a cache makes no calls");
    }

    /// The operation's service time is over: apply it and answer.
    fn on_call_timer(&mut self, id: CallId, _replica: u32, _arg: u32, ctx: &mut Ctx<'_>) {
        self.execute(id, ctx);
    }

    fn on_window_edge(&mut self, now_ns: u64, open: bool) {
        self.sync(now_ns);
        if open {
            self.at_open = Some(self.counters);
        } else if self.at_close.is_none() {
            self.at_close = Some(self.counters);
            self.close_state = Some((self.store.used_bytes, self.store.len()));
        }
    }

    fn series_values(&mut self, _stats: &mut NodeStats, now_ns: u64, _len_ns: u64) -> KindValues {
        self.sync(now_ns);
        let (h0, m0) = self.series_mark;
        let (h, m) = (self.counters.hits - h0, self.counters.misses - m0);
        self.series_mark = (self.counters.hits, self.counters.misses);
        let ratio = if h + m == 0 {
            0.0
        } else {
            h as f64 / (h + m) as f64
        };
        [
            ratio,
            self.store.used_bytes as f64,
            self.store.len() as f64,
            0.0,
        ]
    }

    fn figures(&self, _stats: &NodeStats, _window: &Window, _end_ns: u64) -> Figures {
        let c = match self.at_open {
            Some(open) => self.at_close.unwrap_or(self.counters).minus(open),
            None => Counters::default(),
        };
        let (memory, keys) = self
            .close_state
            .unwrap_or((self.store.used_bytes, self.store.len()));
        let lookups = c.hits + c.misses;
        let mut f = Figures::new();
        f.insert("hits".into(), serde_json::json!(c.hits));
        f.insert("misses".into(), serde_json::json!(c.misses));
        f.insert(
            "hit_ratio".into(),
            if lookups == 0 {
                serde_json::Value::Null
            } else {
                serde_json::json!(c.hits as f64 / lookups as f64)
            },
        );
        f.insert("sets".into(), serde_json::json!(c.sets));
        f.insert("deletes".into(), serde_json::json!(c.deletes));
        f.insert("evictions".into(), serde_json::json!(c.evictions));
        f.insert("expired".into(), serde_json::json!(c.expired));
        f.insert("refused".into(), serde_json::json!(c.refused));
        f.insert("memory_bytes".into(), serde_json::json!(memory));
        f.insert("keys".into(), serde_json::json!(keys));
        f
    }

    fn on_command(&mut self, cmd: NodeCommand, ctx: &mut Ctx<'_>) -> Result<(), CommandError> {
        match cmd {
            // flush (the only own command).
            NodeCommand::Own(_) => {
                self.sync(ctx.now_ns());
                self.store.clear();
                Ok(())
            }
            NodeCommand::Kill { .. } => {
                let r = self.liveness.command(self.node, Self::META.label, cmd, ctx);
                if r.is_ok() {
                    // Redis without persistence: what it held is gone.
                    self.sync(ctx.now_ns());
                    self.store.clear();
                }
                r
            }
            _ => self.liveness.command(self.node, Self::META.label, cmd, ctx),
        }
    }

    fn check_invariants(
        &self,
        calls: super::NodeCalls<'_>,
        stats: &NodeStats,
    ) -> Result<(), String> {
        let _ = (calls, stats);
        self.store.check()
    }
}

impl Cache {
    /// The store, for tests and tools.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Bring the counters up to date with the store's own (evictions, expiries) at `now_ns`.
    fn sync(&mut self, now_ns: u64) {
        self.store.expire(now_ns);
        self.counters.evictions = self.store.evictions;
        self.counters.expired = self.store.expired;
    }

    /// The size of `key`'s value as class `class` stores it: a draw of the class's size
    /// distribution from a stream seeded by the key and the class.
    fn size_of(&self, key: u64, class: u8) -> u32 {
        let sampler = &self.model.class_sizes[usize::from(class)];
        let bytes = match sampler {
            Sampler::Const(b) => *b,
            _ => {
                let seed = splitmix64(self.size_seed ^ key) ^ (u64::from(class) << 56);
                let mut rng = Rng::new(u128::from(seed) << 64 | u128::from(splitmix64(seed)));
                sampler.sample(&mut rng)
            }
        };
        bytes.min(u64::from(u32::MAX)) as u32
    }

    /// Apply call `id`'s operation now and answer it.
    fn execute(&mut self, id: CallId, ctx: &mut Ctx<'_>) {
        let Some(call) = ctx.call(id) else { return };
        if call.outcome.is_some() {
            return; // Answered already (the cache was killed meanwhile).
        }
        let attrs = call.attrs;
        let now = ctx.now_ns();
        let class = usize::from(attrs.class);
        let op = match attrs.op {
            0 if self.model.class_writes.get(class).copied().unwrap_or(false) => {
                match self.model.on_write {
                    OnWrite::Invalidate => Op::Delete,
                    OnWrite::Update => Op::Set,
                }
            }
            0 | 1 => Op::Get,
            2 => Op::Set,
            _ => Op::Delete,
        };
        let outcome = match op {
            Op::Get => {
                if self.store.get(attrs.key, now) {
                    self.counters.hits += 1;
                    Ok(AnswerValue::Hit.code())
                } else {
                    self.counters.misses += 1;
                    Ok(AnswerValue::Miss.code())
                }
            }
            Op::Set => {
                let size = self.size_of(attrs.key, attrs.class);
                let ttl = self.model.ttl_ns.get(class).copied().unwrap_or(0);
                match self.store.set(attrs.key, size, ttl, now) {
                    Stored::Yes => {
                        self.counters.sets += 1;
                        Ok(AnswerValue::None.code())
                    }
                    Stored::OutOfMemory => {
                        self.counters.refused += 1;
                        Err(self.oom)
                    }
                }
            }
            Op::Delete => {
                self.store.delete(attrs.key, now);
                self.counters.deletes += 1;
                Ok(AnswerValue::None.code())
            }
        };
        ctx.reply(id, outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A naive reference: a Vec of (key, last use, uses), scanned for the victim.
    struct Naive {
        lfu: bool,
        cap: usize,
        keys: Vec<(u64, u64, u64)>,
        clock: u64,
    }

    impl Naive {
        fn access(&mut self, key: u64) -> bool {
            self.clock += 1;
            if let Some(k) = self.keys.iter_mut().find(|k| k.0 == key) {
                k.1 = self.clock;
                k.2 += 1;
                return true;
            }
            if self.keys.len() == self.cap {
                let victim = (0..self.keys.len())
                    .min_by_key(|&i| {
                        let (_, last, uses) = self.keys[i];
                        if self.lfu { (uses, last) } else { (0, last) }
                    })
                    .unwrap();
                self.keys.swap_remove(victim);
            }
            self.keys.push((key, self.clock, 1));
            false
        }
    }

    fn test_rng() -> Rng {
        Rng::new(7)
    }

    fn zipf_keys(n: u64, count: usize, seed: u64) -> Vec<u64> {
        let z = crate::dist::ZipfSampler::new(n, 0.9);
        let mut rng = StreamKey {
            seed,
            replication: 0,
            owner: "test",
            replica: 0,
            purpose: "keys",
        }
        .rng();
        (0..count).map(|_| z.sample(&mut rng)).collect()
    }

    /// Cache-aside on the store alone: GET, and SET on a miss.
    fn run_store(store: &mut Store, keys: &[u64]) -> Vec<bool> {
        keys.iter()
            .enumerate()
            .map(|(t, &k)| {
                let hit = store.get(k, t as u64);
                if !hit {
                    assert_eq!(store.set(k, 100, 0, t as u64), Stored::Yes);
                }
                hit
            })
            .collect()
    }

    #[test]
    fn exact_lru_and_lfu_make_the_same_choices_as_a_naive_scan() {
        for (lfu, order) in [(false, EvictionOrder::Lru), (true, EvictionOrder::Lfu)] {
            let keys = zipf_keys(500, 20_000, 3);
            let mut store = Store::new(order, false, u64::MAX, 50, test_rng());
            let mut naive = Naive {
                lfu,
                cap: 50,
                keys: Vec::new(),
                clock: 0,
            };
            let got = run_store(&mut store, &keys);
            let want: Vec<bool> = keys.iter().map(|&k| naive.access(k)).collect();
            assert_eq!(got, want, "lfu: {lfu}");
            store.check().unwrap();
            assert_eq!(store.len(), 50);
            assert!(store.evictions > 1000);
            if lfu {
                for &(k, _, uses) in &naive.keys {
                    assert_eq!(store.frequency(k), Some(uses));
                }
            }
        }
    }

    #[test]
    fn memory_limits_evict_until_the_value_fits_and_noeviction_refuses() {
        let mut s = Store::new(EvictionOrder::Lru, false, 1000, u64::MAX, test_rng());
        for k in 1..=4 {
            assert_eq!(s.set(k, 250, 0, 0), Stored::Yes);
        }
        assert_eq!(s.used_bytes, 1000);
        // 600 B needs three of the oldest to go.
        assert_eq!(s.set(9, 600, 0, 1), Stored::Yes);
        assert_eq!((s.len(), s.used_bytes, s.evictions), (2, 850, 3));
        assert!(s.get(4, 2) && s.get(9, 2) && !s.get(1, 2));
        // Larger than the whole memory: refused, nothing evicted.
        assert_eq!(s.set(10, 1001, 0, 3), Stored::OutOfMemory);
        assert_eq!(s.evictions, 3);
        let mut n = Store::new(EvictionOrder::None, false, u64::MAX, 3, test_rng());
        for k in 1..=3 {
            assert_eq!(n.set(k, 1, 0, 0), Stored::Yes);
        }
        assert_eq!(n.set(4, 1, 0, 0), Stored::OutOfMemory);
        // Overwriting a held key needs no new room.
        assert_eq!(n.set(2, 1, 0, 0), Stored::Yes);
        s.check().unwrap();
        n.check().unwrap();
    }

    #[test]
    fn volatile_policies_evict_only_keys_with_a_ttl_and_volatile_ttl_the_nearest() {
        for order in [
            EvictionOrder::Lru,
            EvictionOrder::Lfu,
            EvictionOrder::Random,
            EvictionOrder::Ttl,
        ] {
            let mut s = Store::new(order, true, u64::MAX, 3, test_rng());
            assert_eq!(s.set(1, 1, 0, 0), Stored::Yes); // no TTL: never evicted
            assert_eq!(s.set(2, 1, 500, 0), Stored::Yes);
            assert_eq!(s.set(3, 1, 100, 0), Stored::Yes);
            assert_eq!(s.set(4, 1, 300, 0), Stored::Yes);
            assert!(s.get(1, 1), "{order:?}: the key without TTL stays");
            if order == EvictionOrder::Ttl {
                assert!(!s.get(3, 1), "volatile-ttl evicts the nearest expiry");
            }
            if order == EvictionOrder::Lru {
                assert!(!s.get(2, 1), "volatile-lru evicts the oldest volatile key");
            }
            s.check().unwrap();
            // Only non-volatile keys left to evict: refused.
            let mut only = Store::new(order, true, u64::MAX, 1, test_rng());
            assert_eq!(only.set(1, 1, 0, 0), Stored::Yes);
            assert_eq!(only.set(2, 1, 0, 0), Stored::OutOfMemory);
        }
    }

    #[test]
    fn keys_expire_exactly_after_their_ttl_and_reads_do_not_renew_it() {
        let mut s = Store::new(EvictionOrder::Lru, false, u64::MAX, u64::MAX, test_rng());
        assert_eq!(s.set(7, 10, 1000, 0), Stored::Yes);
        assert!(s.get(7, 999));
        assert!(
            s.get(7, 1000),
            "alive at its expiry (Redis: expired when now > expiry)"
        );
        assert!(!s.get(7, 1001));
        assert_eq!((s.expired, s.len(), s.used_bytes), (1, 0, 0));
        // A SET renews it; a SET without TTL makes it persistent.
        assert_eq!(s.set(7, 10, 1000, 2000), Stored::Yes);
        assert_eq!(s.set(7, 10, 0, 2500), Stored::Yes);
        assert!(s.get(7, 1_000_000));
        s.check().unwrap();
    }

    #[test]
    fn random_eviction_keeps_its_pick_array_dense() {
        let mut s = Store::new(EvictionOrder::Random, false, u64::MAX, 100, test_rng());
        let keys = zipf_keys(1000, 20_000, 5);
        run_store(&mut s, &keys);
        s.check().unwrap();
        assert_eq!(s.len(), 100);
        for k in 1..=1000 {
            s.delete(k, 30_000);
        }
        assert!(s.is_empty());
        s.check().unwrap();
    }

    #[test]
    fn bytes_per_cached_key() {
        // The store's own structures per key, from their capacities, at 1 M keys (values
        // aside): recorded in docs/ARCHITECTURE.md.
        for (order, ttl) in [
            (EvictionOrder::Lru, 0),
            (EvictionOrder::Lfu, 0),
            (EvictionOrder::Lru, 1_000_000_000),
        ] {
            let mut s = Store::new(order, false, u64::MAX, u64::MAX, test_rng());
            let n = 1_000_000u64;
            for k in 1..=n {
                s.set(k, 100, ttl, k);
            }
            let per_key = s.overhead_bytes() as f64 / n as f64;
            eprintln!("{order:?} ttl {ttl}: {per_key:.1} bytes per key");
            // 10 M keys must fit comfortably in 24 GB: well under 2 GB.
            assert!(per_key < 120.0, "{per_key} bytes per key");
        }
    }

    /// Resident memory of this process, bytes (Linux).
    fn rss_bytes() -> u64 {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
        pages * 4096
    }

    #[test]
    #[ignore = "measures memory: 10 M keys, about 1 GB; run alone with --ignored --nocapture"]
    fn ten_million_keys_fit_comfortably() {
        for (order, ttl) in [
            (EvictionOrder::Lru, 0),
            (EvictionOrder::Lfu, 3_600_000_000_000),
        ] {
            let before = rss_bytes();
            let mut s = Store::new(order, false, u64::MAX, u64::MAX, test_rng());
            let n = 10_000_000u64;
            for k in 1..=n {
                s.set(k.wrapping_mul(0x9E37_79B9_7F4A_7C15), 1000, ttl, k);
            }
            let per_key = (rss_bytes() - before) as f64 / n as f64;
            eprintln!(
                "{order:?} ttl {ttl}: {per_key:.1} bytes per key resident ({:.1} by capacity)",
                s.overhead_bytes() as f64 / n as f64
            );
            assert!(per_key < 200.0);
            drop(s);
        }
    }
}
