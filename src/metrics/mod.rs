//! Measurements: per-node statistics fed by the components through one sink, time series,
//! and the report that the CLI, JSON, GUI, sweeps and tests all read (one data path).
//!
//! Counting rules (docs/ARCHITECTURE.md): a call is *counted* when it arrives at a node in
//! [warmup, duration); counted calls contribute to arrivals, completions, errors, latency and
//! Little's-law sums wherever they finish, and those unfinished when the drain ends are
//! `censored`. Time averages (utilization, queue length) cover [warmup, duration). Time series
//! cover the whole run, warm-up included. This module knows nothing of how calls are routed.

pub mod expect;
pub mod flat;
pub mod histogram;
pub mod level;
pub mod log_histogram;
pub mod report;
pub mod series;
pub mod stability;

pub use histogram::{LatencyHistogram, LatencySummary};
pub use level::Level;
pub use report::Report;
pub use series::{
    CommonPoint, KindValues, MAX_SERIES_COLUMNS, Series, SeriesColumn, SeriesMerge, SeriesPoint,
};

/// Why a call failed: an open set. The core causes are constants here; a component kind
/// declares causes of its own (`no_route`, `lost_write`, ...) and the registry numbers them
/// after the core ones (`components::error_cause_names`), so reports name every cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ErrorCause(u8);

impl ErrorCause {
    /// The instance's queue was full (`queue_limit`).
    pub const QUEUE_FULL: ErrorCause = ErrorCause(0);
    /// A caller gave up waiting (client or call `timeout`).
    pub const TIMEOUT: ErrorCause = ErrorCause(1);
    /// The instance was down, or died while working on the call.
    pub const INSTANCE_DOWN: ErrorCause = ErrorCause(2);
    /// The model-wide cap on calls in flight was reached (`limits.max_in_flight`).
    pub const OVERLOAD: ErrorCause = ErrorCause(3);
    /// The call went deeper than `limits.max_hops` (a call cycle).
    pub const HOP_LIMIT: ErrorCause = ErrorCause(4);
    /// A `FailFraction` command failed the call on purpose.
    pub const INJECTED: ErrorCause = ErrorCause(5);

    /// The core causes' names, by id.
    pub const CORE: [&'static str; 6] = [
        "queue_full",
        "timeout",
        "instance_down",
        "overload",
        "hop_limit",
        "injected",
    ];

    /// Most causes there can be, core and kinds' together (statistics keep a counter each).
    pub const MAX: usize = 32;

    /// The cause with id `index`, if below [`ErrorCause::MAX`].
    pub fn from_index(index: usize) -> Option<Self> {
        (index < Self::MAX).then_some(ErrorCause(index as u8))
    }

    /// Its id (index into the registry's names).
    #[inline]
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// Sub-bucket bits of the series windows' latency histograms: buckets 1/2⁵ (3 %) of their
/// values wide, plenty for a chart.
const WINDOW_SUB_BITS: u32 = 5;

/// Statistics of one node (a component, or a workload for end-to-end figures).
#[derive(Debug, Clone)]
pub struct NodeStats {
    /// Counted arrivals.
    pub arrivals: u64,
    /// Counted successes.
    pub completions: u64,
    /// Uncounted successes so far; with `completions`, every success (departures in the
    /// window are read between the window's edges), so a counted success bumps one counter.
    uncounted_successes: u64,
    successes_at_open: Option<u64>,
    successes_at_close: Option<u64>,
    successes_at_tick: u64,
    /// Calls in flight, counted or not, when the last series window closed.
    in_flight_at_tick: u64,
    /// Counted failures by cause.
    pub errors: [u64; ErrorCause::MAX],
    /// Counted calls unfinished when the drain ended.
    pub censored: u64,
    /// Counted arrivals, successes (with their latency) and failures, by request class.
    pub by_class: Vec<ClassStats>,
    /// Waits longer than zero of counted calls before their work started (see
    /// [`NodeStats::record_wait`]).
    pub wait: LatencyHistogram,
    /// Counted calls whose work started at once.
    pub waits_zero: u64,
    /// Latency of counted failures.
    pub error_latency: LatencyHistogram,
    /// Counted calls in flight, integrated over all time after warm-up (Little's L).
    pub in_flight_counted: Level,
    /// Uncounted calls in flight (arrived in the warm-up or the drain); with
    /// `in_flight_counted`, every call in flight (for the time series).
    pub in_flight_uncounted: Level,
    /// Busy threads, summed over replicas.
    pub threads_busy: Level,
    /// Busy CPUs, summed over replicas.
    pub cpus_busy: Level,
    /// Requests waiting for a thread, summed over replicas.
    pub queue_len: Level<true>,
    /// Threads across replicas now (`None` = unlimited).
    pub thread_capacity: Option<u64>,
    /// CPUs across replicas now (`None` = unlimited; `Some(0)` = no CPU, e.g. a balancer).
    pub cpu_capacity: Option<u64>,
    /// Threads across replicas over time (the denominator of thread occupancy).
    thread_cap: Level,
    /// CPUs across replicas over time (the denominator of CPU utilization).
    cpu_cap: Level,
    /// Calls in flight (counted or not) when the counting window opened and closed.
    in_flight_at_open: u64,
    in_flight_at_close: Option<u64>,
    win_errors: u64,
    /// Successes' latency in the open series window (read whole and cleared at each tick,
    /// so it keeps no group totals).
    win_latency: log_histogram::LogHistogram<WINDOW_SUB_BITS, false>,
    /// This node's time series.
    pub series: Series,
}

/// One request class's figures at one node. Only what cannot be derived is counted on the
/// hot path: successes are the latency histogram's count, and arrivals are successes +
/// failures + censored (every counted call ends one of these ways).
#[derive(Debug, Clone, Default)]
pub struct ClassStats {
    /// Counted failures.
    pub errors: u64,
    /// Counted calls unfinished when the drain ended.
    pub censored: u64,
    /// Latency of counted successes (the node's latency is the merge over classes: one
    /// histogram record per call).
    pub latency: LatencyHistogram,
}

impl ClassStats {
    /// Counted successes.
    pub fn completions(&self) -> u64 {
        self.latency.count()
    }

    /// Counted arrivals (once the run is over and unfinished calls are censored).
    pub fn arrivals(&self) -> u64 {
        self.completions() + self.errors + self.censored
    }
}

/// The measurement window and series settings shared by every node.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Counting starts, ns.
    pub warmup_ns: u64,
    /// Arrivals stop, ns.
    pub duration_ns: u64,
    /// First series window, ns.
    pub series_window_ns: u64,
    /// Points per series.
    pub max_points: u32,
}

impl Window {
    /// Is a call arriving at `now_ns` counted?
    #[inline]
    pub fn counts(&self, now_ns: u64) -> bool {
        now_ns >= self.warmup_ns && now_ns < self.duration_ns
    }

    /// Length of the counting window, s.
    pub fn length_s(&self) -> f64 {
        (self.duration_ns - self.warmup_ns) as f64 / 1e9
    }
}

impl NodeStats {
    /// Empty statistics for `classes` request classes, with the kind's own series
    /// `columns`.
    pub fn new(
        w: &Window,
        thread_capacity: Option<u64>,
        cpu_capacity: Option<u64>,
        classes: usize,
        columns: &'static [SeriesColumn],
    ) -> Self {
        let _ = w;
        Self {
            arrivals: 0,
            completions: 0,
            uncounted_successes: 0,
            successes_at_open: None,
            successes_at_close: None,
            successes_at_tick: 0,
            in_flight_at_tick: 0,
            errors: [0; ErrorCause::MAX],
            censored: 0,
            // Built one by one: a cloned histogram would be copied, not lazily zeroed.
            by_class: (0..classes.max(1)).map(|_| ClassStats::default()).collect(),
            wait: LatencyHistogram::new(),
            waits_zero: 0,
            error_latency: LatencyHistogram::new(),
            in_flight_counted: Level::new(),
            in_flight_uncounted: Level::new(),
            threads_busy: Level::new(),
            cpus_busy: Level::new(),
            queue_len: Level::new(),
            thread_capacity,
            cpu_capacity,
            thread_cap: Self::capacity_level(thread_capacity),
            cpu_cap: Self::capacity_level(cpu_capacity),
            in_flight_at_open: 0,
            in_flight_at_close: None,
            win_errors: 0,
            win_latency: log_histogram::LogHistogram::default(),
            series: Series::new(w.series_window_ns, w.max_points, columns),
        }
    }

    fn capacity_level(capacity: Option<u64>) -> Level {
        let mut l = Level::new();
        l.add(0, capacity.unwrap_or(0));
        l
    }

    /// The capacity changes now (instances added or removed); unlimited stays unlimited.
    pub fn set_capacity(&mut self, now_ns: u64, threads: Option<u64>, cpus: Option<u64>) {
        for (cap, level, new) in [
            (&mut self.thread_capacity, &mut self.thread_cap, threads),
            (&mut self.cpu_capacity, &mut self.cpu_cap, cpus),
        ] {
            if let (Some(_), Some(n)) = (*cap, new) {
                let old = level.value();
                if n > old {
                    level.add(now_ns, n - old);
                } else {
                    level.sub(now_ns, old - n);
                }
                *cap = Some(n);
            }
        }
    }

    /// ∫busy threads dt / ∫threads dt over the counting window; `None` when threads are
    /// unlimited or there are none.
    pub fn thread_occupancy(&self, end_ns: u64) -> Option<f64> {
        self.thread_capacity?;
        let cap = self.thread_cap.area(end_ns);
        (cap > 0).then(|| self.threads_busy.area(end_ns) as f64 / cap as f64)
    }

    /// ∫busy CPUs dt / ∫CPUs dt over the counting window; `None` when CPUs are unlimited or
    /// there are none.
    pub fn cpu_utilization(&self, end_ns: u64) -> Option<f64> {
        self.cpu_capacity?;
        let cap = self.cpu_cap.area(end_ns);
        (cap > 0).then(|| self.cpus_busy.area(end_ns) as f64 / cap as f64)
    }

    /// A call arrived.
    #[inline(always)]
    pub fn arrive(&mut self, now_ns: u64, counted: bool) {
        if counted {
            self.arrivals += 1;
            self.in_flight_counted.inc(now_ns);
        } else {
            self.in_flight_uncounted.inc(now_ns);
        }
    }

    /// A counted call of class `class` was unfinished when the drain ended.
    pub fn censor(&mut self, class: u8) {
        self.censored += 1;
        if let Some(c) = self.by_class.get_mut(usize::from(class)) {
            c.censored += 1;
        }
    }

    /// Successes so far, and their number when the counting window opened and closed.
    pub fn success_marks(&self) -> (u64, Option<u64>, Option<u64>) {
        (
            self.successes(),
            self.successes_at_open,
            self.successes_at_close,
        )
    }

    /// Successes so far, counted or not.
    pub fn successes(&self) -> u64 {
        self.completions + self.uncounted_successes
    }

    /// Calls in flight now, counted or not.
    pub fn in_flight(&self) -> u64 {
        self.in_flight_counted.value() + self.in_flight_uncounted.value()
    }

    /// A call that arrived at `arrived_ns` finished with `outcome`.
    #[inline(always)]
    pub fn finish(
        &mut self,
        now_ns: u64,
        arrived_ns: u64,
        counted: bool,
        outcome: Result<(), ErrorCause>,
        class: u8,
    ) {
        let latency_ns = now_ns.saturating_sub(arrived_ns);
        // One bucket computation serves the report and the series window.
        let bucket = LatencyHistogram::bucket_of(latency_ns);
        match outcome {
            Ok(()) => self.win_latency.record_index(log_histogram::LogHistogram::<
                WINDOW_SUB_BITS,
                false,
            >::index_from_finer::<
                { histogram::REPORT_SUB_BITS },
            >(bucket, latency_ns)),
            Err(_) => self.win_errors += 1,
        }
        if !counted {
            self.uncounted_successes += u64::from(outcome.is_ok());
            self.in_flight_uncounted.dec(now_ns);
            return;
        }
        self.in_flight_counted.dec(now_ns);
        match outcome {
            Ok(()) => {
                self.completions += 1;
                if let Some(c) = self.by_class.get_mut(usize::from(class)) {
                    c.latency.record_in(bucket, latency_ns);
                }
            }
            Err(cause) => self.count_error(cause, latency_ns, class),
        }
    }

    /// A counted call failed (out of line: `finish` is inlined at every answer).
    #[cold]
    #[inline(never)]
    fn count_error(&mut self, cause: ErrorCause, latency_ns: u64, class: u8) {
        self.errors[cause.index()] += 1;
        if let Some(c) = self.by_class.get_mut(usize::from(class)) {
            c.errors += 1;
        }
        self.error_latency.record(latency_ns);
    }

    /// A call's work started `wait_ns` after it arrived (it waited for a thread, a CPU, a
    /// connection). Counted calls only; a zero wait is a count, not a histogram record.
    #[inline(always)]
    pub fn record_wait(&mut self, counted: bool, wait_ns: u64) {
        if wait_ns == 0 {
            self.waits_zero += u64::from(counted);
        } else if counted {
            self.wait.record(wait_ns);
        }
    }

    /// The figures of a component whose work waits for threads and CPUs (a service; a
    /// balancer keeps the same keys, with no threads or CPUs of its own): occupancy and
    /// utilization over ∫capacity dt, time-averaged busy threads, CPUs and queue, the
    /// longest queue, in the counting window.
    pub fn resource_figures(&self, w: &Window, end_ns: u64) -> report::Figures {
        let len_ns = (w.duration_ns - w.warmup_ns).max(1) as f64;
        let mean = |area: u128| area as f64 / len_ns;
        let mut f = report::Figures::new();
        f.insert(
            "thread_occupancy".into(),
            serde_json::json!(self.thread_occupancy(end_ns)),
        );
        f.insert(
            "cpu_utilization".into(),
            serde_json::json!(self.cpu_utilization(end_ns)),
        );
        f.insert(
            "mean_busy_threads".into(),
            serde_json::json!(mean(self.threads_busy.area(end_ns))),
        );
        f.insert(
            "mean_busy_cpus".into(),
            serde_json::json!(mean(self.cpus_busy.area(end_ns))),
        );
        f.insert(
            "mean_queue_len".into(),
            serde_json::json!(mean(self.queue_len.area(end_ns))),
        );
        f.insert(
            "max_queue_len".into(),
            serde_json::json!(self.queue_len.max()),
        );
        f
    }

    /// The latency histograms of counted successes, one per class.
    pub fn latency_parts(&self) -> impl Iterator<Item = &LatencyHistogram> {
        self.by_class.iter().map(|c| &c.latency)
    }

    /// Latency of counted successes, every class together, summarized.
    pub fn latency_summary(&self) -> LatencySummary {
        let parts: Vec<&LatencyHistogram> = self.latency_parts().collect();
        LatencyHistogram::summary_of(&parts)
    }

    /// The counting window opens (at warm-up) or closes (at the end of arrivals) now.
    pub fn counting_window_edge(&mut self, now_ns: u64, open: bool) {
        // Departures in the window are the successes between its two edges.
        // Edge events run before anything else at their instant (scheduled first at start-up,
        // or with `schedule_first`), so `successes()` holds exactly those before the edge.
        if open {
            self.successes_at_open = Some(self.successes());
            self.in_flight_at_open = self.in_flight();
        } else if self.successes_at_close.is_none() {
            self.successes_at_close = Some(self.successes());
            self.in_flight_at_close = Some(self.in_flight());
        }
        for l in [
            &mut self.threads_busy,
            &mut self.cpus_busy,
            &mut self.thread_cap,
            &mut self.cpu_cap,
            &mut self.in_flight_counted,
            &mut self.in_flight_uncounted,
        ] {
            l.window_edge(now_ns, open);
        }
        self.queue_len.window_edge(now_ns, open);
    }

    /// Successes that finished inside the counting window, whenever they arrived (the
    /// departure rate: what the component could serve).
    pub fn departures_in_window(&self) -> u64 {
        match self.successes_at_open {
            None => 0,
            Some(open) => self.successes_at_close.unwrap_or(self.successes()) - open,
        }
    }

    /// Calls in flight, counted or not, when the counting window closed (now, while it is
    /// still open): the backlog the stability rule judges.
    pub fn in_flight_at_close(&self) -> u64 {
        self.in_flight_at_close.unwrap_or_else(|| self.in_flight())
    }

    /// Calls in flight, counted or not, when the counting window opened.
    pub fn in_flight_at_open(&self) -> u64 {
        self.in_flight_at_open
    }

    /// Time-averaged calls in flight, counted or not, over the counting window.
    pub fn mean_in_flight_in_window(&self, w: &Window, now_ns: u64) -> f64 {
        let area = self.in_flight_counted.area(now_ns) + self.in_flight_uncounted.area(now_ns);
        area as f64 / (w.duration_ns - w.warmup_ns).max(1) as f64
    }

    /// Sum of the sojourn of every counted finished call, ns (successes and failures).
    pub fn sojourn_sum_ns(&self) -> u128 {
        self.by_class
            .iter()
            .map(|c| c.latency.sum_ns())
            .sum::<u128>()
            + self.error_latency.sum_ns()
    }

    /// Counted failures of every cause.
    pub fn error_count(&self) -> u64 {
        self.errors.iter().sum()
    }

    /// The series columns of a component whose work waits for threads and CPUs
    /// ([`NodeStats::resource_series`]): a service's, and a balancer's (which keeps the keys).
    pub const RESOURCE_SERIES: [SeriesColumn; 3] = [
        SeriesColumn {
            name: "mean_queue_len",
            summary: "Time-averaged requests waiting for a thread in the window, all instances.",
            merge: SeriesMerge::TimeAverage,
        },
        SeriesColumn {
            name: "cpu_utilization",
            summary: "∫busy CPUs dt / ∫CPUs dt in the window (0–1); 0 where there are no CPUs or they are unlimited.",
            merge: SeriesMerge::TimeAverage,
        },
        SeriesColumn {
            name: "thread_occupancy",
            summary: "∫busy threads dt / ∫threads dt in the window (0–1); 0 where threads are unlimited.",
            merge: SeriesMerge::TimeAverage,
        },
    ];

    /// The values of [`NodeStats::RESOURCE_SERIES`] for the window ending now (and the
    /// window's integrals restart).
    pub fn resource_series(&mut self, now_ns: u64, len_ns: u64) -> KindValues {
        let queue = self.queue_len.take_window(now_ns) as f64 / len_ns.max(1) as f64;
        let share = |busy: u128, cap: u128, limited: Option<u64>| match limited {
            Some(_) if cap > 0 => busy as f64 / cap as f64,
            _ => 0.0,
        };
        let cpus = self.cpus_busy.take_window(now_ns);
        let cpu_cap = self.cpu_cap.take_window(now_ns);
        let threads = self.threads_busy.take_window(now_ns);
        let thread_cap = self.thread_cap.take_window(now_ns);
        [
            queue,
            share(cpus, cpu_cap, self.cpu_capacity),
            share(threads, thread_cap, self.thread_capacity),
            0.0,
        ]
    }

    /// Close the time-series window that started at `start_ns` and ends now, with the kind's
    /// own `values` for it. Returns true when the series merged (its window doubled).
    pub fn close_series_window(&mut self, start_ns: u64, now_ns: u64, values: KindValues) -> bool {
        let len_ns = now_ns.saturating_sub(start_ns).max(1);
        let len_s = len_ns as f64 / 1e9;
        let avg = |area: u128| area as f64 / len_ns as f64;
        let in_flight = avg(self.in_flight_counted.take_window(now_ns)
            + self.in_flight_uncounted.take_window(now_ns));
        let successes = self.successes();
        let win_completions = successes - self.successes_at_tick;
        self.successes_at_tick = successes;
        let all = win_completions + self.win_errors;
        // Every call that arrives either finishes or is still in flight.
        let in_flight_now = self.in_flight();
        let arrivals = (all + in_flight_now).saturating_sub(self.in_flight_at_tick);
        self.in_flight_at_tick = in_flight_now;
        let (quantiles, mean_ns) = self
            .win_latency
            .take_quantiles_and_mean_ns(win_completions, [0.5, 0.95, 0.99]);
        let [p50, p95, p99] = quantiles.map(|ns| ns as f64 / 1e9);
        let point = CommonPoint {
            t_s: start_ns as f64 / 1e9,
            window_s: len_s,
            arrivals_per_s: arrivals as f64 / len_s,
            throughput_per_s: win_completions as f64 / len_s,
            error_rate: if all > 0 {
                self.win_errors as f64 / all as f64
            } else {
                0.0
            },
            mean_s: mean_ns / 1e9,
            p50_s: p50,
            p95_s: p95,
            p99_s: p99,
            in_flight,
            completions: win_completions,
            errors: self.win_errors,
        };
        self.win_errors = 0;
        self.series.push(point, values)
    }
}
