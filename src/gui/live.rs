//! The live run: a driver that steps a [`Simulation`] against the wall clock, takes control
//! messages (play, pause, step, reset, speed, seed, commands) and hands out plain-data
//! [`Frame`]s. It runs on its own thread ([`Link::spawn`]) so the window never waits on the
//! simulation, or in the GUI's own thread one slice per frame ([`Link::stepping`]), which is
//! deterministic and what the tests drive. It only calls `Simulation`'s public API: no
//! simulation logic lives here, and nothing here knows about widgets.

use std::collections::BTreeMap;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::engine::SimTime;
use crate::metrics::SeriesPoint;
use crate::simulation::{RunOptions, Simulation, Snapshot};
use crate::topology::Topology;
use crate::topology::events::Command;

/// How often the worker sends a frame, wall time.
pub const FRAME_INTERVAL: Duration = Duration::from_millis(50);
/// How long the window waits before polling for frames again while the clock runs. egui
/// paints more frames than requested (measured under Xvfb: a 33 ms request gave 56 fps, 66 ms
/// gave 20, 45 ms gives 35), so 45 ms gives about 30 frames a second.
pub const REPAINT_INTERVAL: Duration = Duration::from_millis(45);
/// Events handled between looks at the clock and the control channel at max speed.
const EVENT_CHUNK: u64 = 100_000;

/// How fast simulated time runs against the wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Speed {
    /// Real time.
    #[default]
    X1,
    /// Ten simulated seconds per second.
    X10,
    /// A hundred simulated seconds per second.
    X100,
    /// As fast as the machine goes.
    Max,
}

impl Speed {
    /// Every speed, slowest first.
    pub const ALL: [Speed; 4] = [Speed::X1, Speed::X10, Speed::X100, Speed::Max];

    /// Simulated seconds per wall second (`None`: flat out).
    pub fn factor(self) -> Option<f64> {
        match self {
            Speed::X1 => Some(1.0),
            Speed::X10 => Some(10.0),
            Speed::X100 => Some(100.0),
            Speed::Max => None,
        }
    }

    /// Its label on the speed buttons.
    pub fn label(self) -> &'static str {
        match self {
            Speed::X1 => "1×",
            Speed::X10 => "10×",
            Speed::X100 => "100×",
            Speed::Max => "max",
        }
    }

    /// Parse `1`, `10`, `100` or `max` (the `--speed` flag).
    pub fn parse(s: &str) -> Option<Speed> {
        match s.trim() {
            "1" | "1x" | "1×" => Some(Speed::X1),
            "10" | "10x" | "10×" => Some(Speed::X10),
            "100" | "100x" | "100×" => Some(Speed::X100),
            "max" => Some(Speed::Max),
            _ => None,
        }
    }
}

/// What the GUI tells the live run.
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    /// Run on (at the current speed).
    Play,
    /// Stop the clock.
    Pause,
    /// Advance one series window and stop.
    Step,
    /// Start the run again from time 0 (same model and seed; the recording is cleared).
    Reset,
    /// Change the speed.
    Speed(Speed),
    /// Start again from time 0 with this seed.
    Seed(u64),
    /// Apply a command now (between instants), recorded with its simulated time.
    Command(Command),
    /// Multiply the traffic by `factor` now and put it back after `lasting_s` simulated
    /// seconds (two `Traffic` commands, both recorded).
    Spike {
        /// The multiplier on the current traffic scale.
        factor: f64,
        /// How long, simulated seconds.
        lasting_s: f64,
    },
    /// Stop the worker thread.
    Shutdown,
}

/// One instance as the canvas draws it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InstanceState {
    /// Killed and not revived.
    pub down: bool,
    /// Busy share of its CPUs (of its threads when CPUs are unlimited), 0–1.
    pub busy: f64,
    /// Calls waiting for a thread or a CPU.
    pub queued: usize,
}

/// A node's liveness as it stands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeState {
    /// The whole node is down (every instance killed, or the node killed).
    pub down: bool,
    /// Its instances (empty for kinds without threads and CPUs of their own).
    pub instances: Vec<InstanceState>,
}

/// What the live run sends the GUI: plain data, owned.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Which run this is (it changes on reset, seed and load).
    pub run: u64,
    /// The figures so far.
    pub snapshot: Snapshot,
    /// Series windows that closed since the last frame, oldest first, by node name.
    pub points: Vec<(String, SeriesPoint)>,
    /// Each node's liveness, by name.
    pub nodes: BTreeMap<String, NodeState>,
    /// The clock runs.
    pub playing: bool,
    /// At this speed.
    pub speed: Speed,
    /// The run's seed.
    pub seed: u64,
    /// The traffic scale now (1 = the model's rates).
    pub traffic_scale: f64,
    /// Commands refused since the last frame, with why.
    pub refusals: Vec<String>,
    /// Events handled per wall second while the clock ran flat out (0 until measured).
    pub events_per_wall_s: f64,
}

/// The run itself: a simulation and the clock's state. Deterministic for a given sequence
/// of controls and slices; the worker thread feeds it wall time.
pub struct Driver {
    topo: Topology,
    sim: Simulation,
    seed: u64,
    run: u64,
    playing: bool,
    speed: Speed,
    traffic_scale: f64,
    /// A spike's end: when, and the scale to put back.
    restore: Option<(SimTime, f64)>,
    window_ns: u64,
    /// The last window start sent per node, to send each window once.
    sent_t: BTreeMap<String, f64>,
    points: Vec<(String, SeriesPoint)>,
    refusals: Vec<String>,
    /// Flat-out measurement: wall time spent stepping and events handled meanwhile.
    busy_wall: Duration,
    busy_events: u64,
}

impl Driver {
    /// A run of `topo` (with `seed` instead of the model's, when given), paused at time 0.
    pub fn new(topo: Topology, seed: Option<u64>) -> Self {
        let seed = seed.unwrap_or(topo.seed);
        let sim = Self::simulation(&topo, seed);
        let window_ns = topo.window_ns.max(1);
        Self {
            topo,
            sim,
            seed,
            run: 0,
            playing: false,
            speed: Speed::X1,
            traffic_scale: 1.0,
            restore: None,
            window_ns,
            sent_t: BTreeMap::new(),
            points: Vec::new(),
            refusals: Vec::new(),
            busy_wall: Duration::ZERO,
            busy_events: 0,
        }
    }

    fn simulation(topo: &Topology, seed: u64) -> Simulation {
        Simulation::new(
            topo,
            RunOptions {
                seed: Some(seed),
                ..Default::default()
            },
        )
    }

    /// The clock runs.
    pub fn playing(&self) -> bool {
        self.playing && !self.sim.is_finished()
    }

    /// The current speed.
    pub fn speed(&self) -> Speed {
        self.speed
    }

    /// Simulated time now.
    pub fn now(&self) -> SimTime {
        self.sim.now()
    }

    /// Take a control message.
    pub fn apply(&mut self, control: Control) {
        match control {
            Control::Play => self.playing = true,
            Control::Pause => self.playing = false,
            Control::Step => {
                self.playing = false;
                let until = self.next_window_edge();
                self.advance(until, u64::MAX);
            }
            Control::Reset => self.restart(self.seed),
            Control::Seed(seed) => self.restart(seed),
            Control::Speed(s) => self.speed = s,
            Control::Command(cmd) => {
                self.command(&cmd);
                self.apply_pending();
            }
            Control::Spike { factor, lasting_s } => {
                let back = self.traffic_scale;
                self.command(&Command::Traffic {
                    scale: back * factor,
                    workload: None,
                });
                let lasting_ns = (lasting_s.max(0.0) * 1e9) as u64;
                self.restore = Some((self.sim.now().plus_nanos(lasting_ns), back));
                // `command` took the spiked scale as the one to keep.
                self.traffic_scale = back;
                self.apply_pending();
            }
            Control::Shutdown => self.playing = false,
        }
    }

    /// Let a command just sent take effect even while the clock stands (a kill shows at
    /// once): step to the next nanosecond, where it applies at the latest. Stepping in any
    /// slices gives the same run, so this changes nothing a replay would see.
    fn apply_pending(&mut self) {
        let next = self.sim.now().plus_nanos(1);
        self.advance(next, u64::MAX);
    }

    fn restart(&mut self, seed: u64) {
        self.seed = seed;
        self.sim = Self::simulation(&self.topo, seed);
        self.run += 1;
        self.traffic_scale = 1.0;
        self.restore = None;
        self.sent_t.clear();
        self.points.clear();
        self.refusals.clear();
        self.busy_wall = Duration::ZERO;
        self.busy_events = 0;
    }

    fn command(&mut self, cmd: &Command) {
        match self.sim.command(cmd) {
            Ok(()) => {
                if let Command::Traffic {
                    scale,
                    workload: None,
                } = cmd
                {
                    self.traffic_scale = *scale;
                    // A new scale replaces a spike's pending return.
                    self.restore = None;
                }
            }
            Err(e) => self.refusals.push(format!("{}: {e}", command_label(cmd))),
        }
    }

    /// The end of the series window the clock is in (where `Step` stops).
    fn next_window_edge(&self) -> SimTime {
        let now = self.sim.now().as_nanos();
        SimTime::from_nanos((now / self.window_ns + 1) * self.window_ns)
    }

    /// Step towards simulated time `until` for at most `max_events` events, stopping at each
    /// series window edge to collect the windows that closed and at a spike's end to apply
    /// it. Returns true when it reached `until` (or the run ended).
    pub fn advance(&mut self, until: SimTime, max_events: u64) -> bool {
        let mut left = max_events;
        loop {
            if self.sim.is_finished() {
                self.collect_points();
                return true;
            }
            let now = self.sim.now();
            if now >= until {
                return true;
            }
            if left == 0 {
                return false;
            }
            let mut stop = until.min(self.next_window_edge());
            if let Some((at, _)) = self.restore {
                stop = stop.min(at.max(now));
            }
            let before = self.sim.events();
            self.sim.step(stop, left);
            left = left.saturating_sub(self.sim.events() - before);
            if let Some((at, scale)) = self.restore
                && self.sim.now() >= at
            {
                self.command(&Command::Traffic {
                    scale,
                    workload: None,
                });
            }
            self.collect_points();
        }
    }

    fn collect_points(&mut self) {
        for (name, p) in self.sim.latest_points() {
            let new = self.sent_t.get(&name).is_none_or(|t| p.t_s > *t);
            if new {
                self.sent_t.insert(name.clone(), p.t_s);
                self.points.push((name, p));
            }
        }
    }

    /// One slice of a stepping run (tests, and GUI frames without a worker): while the
    /// clock runs, one series window.
    pub fn tick(&mut self) {
        if self.playing() {
            let until = self.next_window_edge();
            self.advance(until, u64::MAX);
        }
    }

    /// Step towards `until` for about `wall` of wall time.
    fn run_for(&mut self, until: SimTime, wall: Duration) {
        let start = Instant::now();
        while start.elapsed() < wall {
            if self.advance(until, EVENT_CHUNK) {
                break;
            }
        }
    }

    /// Events handled so far.
    pub fn events(&self) -> u64 {
        self.sim.events()
    }

    /// Count `wall` of the worker's time, in which `events` were handled, as flat out (the
    /// speed the frames report: everything the thread did, frames included).
    fn account_flat_out(&mut self, wall: Duration, events: u64) {
        self.busy_wall += wall;
        self.busy_events += events;
    }

    /// The frame to send now: the snapshot and what changed since the last one.
    pub fn frame(&mut self) -> Frame {
        let snapshot = self.sim.snapshot();
        let mut nodes = BTreeMap::new();
        for node in &self.topo.nodes {
            nodes.insert(node.name.clone(), self.node_state(&node.name, &snapshot));
        }
        let secs = self.busy_wall.as_secs_f64();
        Frame {
            run: self.run,
            snapshot,
            points: std::mem::take(&mut self.points),
            nodes,
            playing: self.playing(),
            speed: self.speed,
            seed: self.seed,
            traffic_scale: self.traffic_scale,
            refusals: std::mem::take(&mut self.refusals),
            events_per_wall_s: if secs > 0.0 {
                self.busy_events as f64 / secs
            } else {
                0.0
            },
        }
    }

    fn node_state(&self, name: &str, snapshot: &Snapshot) -> NodeState {
        let views = self.sim.instances(name).unwrap_or_default();
        let (threads, cpus) = self.sim.capacity(name).unwrap_or((None, None));
        let n = views.len().max(1) as f64;
        let per = |total: Option<u64>| total.map(|t| t as f64 / n).filter(|t| *t > 0.0);
        let instances: Vec<InstanceState> = views
            .iter()
            .map(|v| {
                let busy = match (per(cpus), per(threads)) {
                    (Some(c), _) => f64::from(v.cpus_busy) / c,
                    (None, Some(t)) => f64::from(v.threads_busy) / t,
                    (None, None) => 0.0,
                };
                InstanceState {
                    down: v.down,
                    busy: busy.clamp(0.0, 1.0),
                    queued: v.cpu_queue.len() + v.thread_queue.len(),
                }
            })
            .collect();
        // Kinds without instance views (balancers, routers): the last kill or revive of
        // the whole node that applied says.
        let killed = snapshot
            .report
            .events_applied
            .iter()
            .filter(|e| e.refused.is_none())
            .filter_map(|e| match &e.command {
                Command::Kill {
                    component,
                    instance: None,
                } if component == name => Some(true),
                Command::Revive {
                    component,
                    instance: None,
                } if component == name => Some(false),
                _ => None,
            })
            .next_back()
            .unwrap_or(false);
        let down = if instances.is_empty() {
            killed
        } else {
            instances.iter().all(|i| i.down)
        };
        NodeState { down, instances }
    }
}

/// A command in a few words, for refusals and chart markers.
pub fn command_label(cmd: &Command) -> String {
    let inst = |i: &Option<u32>| i.map(|i| format!("[{i}]")).unwrap_or_default();
    match cmd {
        Command::Kill {
            component,
            instance,
        } => format!("kill {component}{}", inst(instance)),
        Command::Revive {
            component,
            instance,
        } => format!("revive {component}{}", inst(instance)),
        Command::Traffic { scale, workload } => match workload {
            Some(w) => format!("traffic {w} ×{scale:.2}"),
            None => format!("traffic ×{scale:.2}"),
        },
        Command::Replicas { component, count } => format!("{component} ×{count}"),
        Command::AddLatency {
            component, latency, ..
        } => format!("{component} +{latency}"),
        Command::FailFraction {
            component,
            fraction,
            ..
        } => format!("{component} fail {:.0} %", fraction * 100.0),
        Command::ZoneOutage { zone } => format!("zone {zone} down"),
        Command::ZoneRestore { zone } => format!("zone {zone} up"),
        Command::RegionOutage { region } => format!("region {region} down"),
        Command::RegionRestore { region } => format!("region {region} up"),
        Command::Do {
            component, command, ..
        } => format!("{component}: {command}"),
        Command::Set { path, value } => format!("{path} = {value}"),
    }
}

/// How the GUI reaches the live run.
pub enum Link {
    /// A worker thread runs it against the wall clock.
    Thread {
        /// Controls to the worker.
        tx: Sender<Control>,
        /// Frames from the worker (bounded).
        rx: Receiver<Frame>,
        /// The worker, joined on drop.
        handle: Option<JoinHandle<()>>,
    },
    /// It runs in the caller's thread, one slice per [`Link::frames`] call: deterministic.
    Stepping(Box<Driver>),
}

impl Link {
    /// A deterministic in-process run (tests).
    pub fn stepping(driver: Driver) -> Self {
        Link::Stepping(Box::new(driver))
    }

    /// Start a worker thread running `driver`; `wake` is told to repaint when a frame
    /// is ready.
    pub fn spawn(driver: Driver, wake: Option<egui::Context>) -> std::io::Result<Self> {
        let (tx, control_rx) = mpsc::channel();
        let (frame_tx, rx) = mpsc::sync_channel(2);
        let handle = std::thread::Builder::new()
            .name("flashcrowd-sim".into())
            .spawn(move || worker(driver, &control_rx, &frame_tx, wake.as_ref()))?;
        Ok(Link::Thread {
            tx,
            rx,
            handle: Some(handle),
        })
    }

    /// Send a control message (a worker that is gone is ignored: the window shows the
    /// last frame).
    pub fn send(&mut self, control: Control) {
        match self {
            Link::Thread { tx, .. } => {
                let _ = tx.send(control);
            }
            Link::Stepping(d) => d.apply(control),
        }
    }

    /// The frames ready now, oldest first (a stepping run advances one slice first).
    pub fn frames(&mut self) -> Vec<Frame> {
        match self {
            Link::Thread { rx, .. } => rx.try_iter().collect(),
            Link::Stepping(d) => {
                d.tick();
                vec![d.frame()]
            }
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        if let Link::Thread { tx, handle, .. } = self {
            let _ = tx.send(Control::Shutdown);
            if let Some(h) = handle.take() {
                let _ = h.join();
            }
        }
    }
}

/// The worker thread's loop: take controls, run the clock, send a frame every
/// [`FRAME_INTERVAL`] (coalescing when the GUI has not taken the last ones).
fn worker(
    mut driver: Driver,
    controls: &Receiver<Control>,
    frames: &SyncSender<Frame>,
    wake: Option<&egui::Context>,
) {
    // The wall instant and simulated time the clock's speed counts from.
    let mut anchor = (Instant::now(), driver.now());
    let mut next_send = Instant::now();
    let mut pending: Option<Frame> = None;
    let mut dirty = true;
    // The last frame sent showed a running clock (so the window polls).
    let mut polled = false;
    loop {
        let flat_out = driver.playing() && driver.speed() == Speed::Max;
        let (iteration, events) = (Instant::now(), driver.events());
        // Controls first: a pause or a kill applies between two slices.
        let wait = if driver.playing() {
            Duration::ZERO
        } else {
            next_send
                .saturating_duration_since(Instant::now())
                .max(FRAME_INTERVAL)
        };
        let first = if wait.is_zero() {
            controls.try_recv().map_err(|_| RecvTimeoutError::Timeout)
        } else {
            controls.recv_timeout(wait)
        };
        let mut got = match first {
            Ok(c) => vec![c],
            Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => Vec::new(),
        };
        got.extend(controls.try_iter());
        for c in got {
            if c == Control::Shutdown {
                return;
            }
            let retime = matches!(
                c,
                Control::Play | Control::Speed(_) | Control::Reset | Control::Seed(_)
            );
            driver.apply(c);
            if retime {
                anchor = (Instant::now(), driver.now());
            }
            dirty = true;
        }
        if driver.playing() {
            let slice_end = next_send.max(Instant::now() + Duration::from_millis(5));
            match driver.speed().factor() {
                None => driver.run_for(SimTime::MAX, slice_end - Instant::now()),
                Some(f) => {
                    let target_ns =
                        anchor.1.as_nanos() as f64 + anchor.0.elapsed().as_secs_f64() * f * 1e9;
                    let target = SimTime::from_nanos(target_ns as u64);
                    driver.run_for(target, slice_end - Instant::now());
                    // Too slow for this speed: drop the lag rather than race to catch up.
                    if driver.now().plus_nanos((f * 0.5e9) as u64) < target {
                        anchor = (Instant::now(), driver.now());
                    }
                    let rest = next_send.saturating_duration_since(Instant::now());
                    if !rest.is_zero() && driver.now() >= target {
                        std::thread::sleep(rest.min(Duration::from_millis(10)));
                    }
                }
            }
            dirty = true;
        }
        if Instant::now() >= next_send && dirty {
            let mut frame = driver.frame();
            if let Some(old) = pending.take()
                && old.run == frame.run
            {
                // The GUI has not taken the last one: keep its windows and refusals.
                let mut points = old.points;
                points.append(&mut frame.points);
                frame.points = points;
                let mut refusals = old.refusals;
                refusals.append(&mut frame.refusals);
                frame.refusals = refusals;
            }
            let playing = frame.playing;
            match frames.try_send(frame) {
                Ok(()) => {
                    // A window that shows a running clock polls by itself (~30 fps); wake it
                    // when it may not be polling: the clock just started, or stands.
                    if let Some(ctx) = wake
                        && !(playing && polled)
                    {
                        ctx.request_repaint();
                    }
                    polled = playing;
                }
                Err(TrySendError::Full(f)) => pending = Some(f),
                Err(TrySendError::Disconnected(_)) => return,
            }
            dirty = pending.is_some();
            next_send = Instant::now() + FRAME_INTERVAL;
        }
        if flat_out && driver.playing() {
            let done = driver.events().saturating_sub(events);
            driver.account_flat_out(iteration.elapsed(), done);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn quickstart() -> Topology {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/quickstart.ron");
        crate::topology::load_file(&path, &[]).unwrap()
    }

    #[test]
    fn speeds_parse_as_the_flag_writes_them() {
        assert_eq!(Speed::parse("1"), Some(Speed::X1));
        assert_eq!(Speed::parse("10x"), Some(Speed::X10));
        assert_eq!(Speed::parse("100×"), Some(Speed::X100));
        assert_eq!(Speed::parse("max"), Some(Speed::Max));
        assert_eq!(Speed::parse("fast"), None);
    }

    #[test]
    fn a_spike_multiplies_the_traffic_and_puts_it_back_after_its_time() {
        let mut d = Driver::new(quickstart(), None);
        d.apply(Control::Command(Command::Traffic {
            scale: 2.0,
            workload: None,
        }));
        d.apply(Control::Spike {
            factor: 3.0,
            lasting_s: 4.5,
        });
        d.apply(Control::Play);
        for _ in 0..10 {
            d.tick();
        }
        let f = d.frame();
        let traffic: Vec<(u64, f64)> = f
            .snapshot
            .report
            .events_applied
            .iter()
            .filter_map(|e| match e.command {
                Command::Traffic { scale, .. } => Some((e.at_ns, scale)),
                _ => None,
            })
            .collect();
        // The first command applies at 0 and the clock steps to 1 ns so it shows; the spike
        // then applies at 1 ns and its end 4.5 s later.
        assert_eq!(traffic, [(0, 2.0), (1, 6.0), (4_500_000_001, 2.0)]);
        assert_eq!(f.traffic_scale, 2.0);
    }

    #[test]
    fn stepping_closes_one_window_and_every_window_reaches_a_frame_once() {
        let mut d = Driver::new(quickstart(), None);
        d.apply(Control::Step);
        d.apply(Control::Step);
        assert_eq!(d.now(), SimTime::from_secs_f64(2.0));
        let f = d.frame();
        assert!(!f.playing);
        let users: Vec<f64> = f
            .points
            .iter()
            .filter(|(n, _)| n == "users")
            .map(|(_, p)| p.t_s)
            .collect();
        assert_eq!(users, [0.0, 1.0]);
        assert!(d.frame().points.is_empty(), "sent once");
    }

    #[test]
    fn reset_starts_a_new_run_from_zero_with_the_same_seed() {
        let mut d = Driver::new(quickstart(), Some(7));
        d.apply(Control::Step);
        d.apply(Control::Command(Command::Kill {
            component: "web".into(),
            instance: None,
        }));
        let before = d.frame();
        assert!(before.nodes["web"].down);
        d.apply(Control::Reset);
        let after = d.frame();
        assert_eq!(after.run, before.run + 1);
        assert_eq!(after.seed, 7);
        assert_eq!(after.snapshot.now_s, 0.0);
        assert!(!after.nodes["web"].down);
    }

    #[test]
    fn a_command_that_does_not_fit_the_model_is_refused_with_why() {
        let mut d = Driver::new(quickstart(), None);
        d.apply(Control::Command(Command::Kill {
            component: "nginx".into(),
            instance: None,
        }));
        let f = d.frame();
        assert_eq!(f.refusals.len(), 1);
        assert!(
            f.refusals[0].starts_with("kill nginx: "),
            "{:?}",
            f.refusals
        );
    }
}
