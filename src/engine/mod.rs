//! The generic discrete-event engine: integer time, an ordered event queue, a generational
//! slab, named random-number streams and the drivers that run a [`Model`].
//!
//! It exists so that everything above it shares one notion of time and ordering. It must never
//! know a web word: no request, service or load balancer appears here, only events, time,
//! slots and streams.

pub mod queue;
pub mod rng;
pub mod slab;
pub mod time;

pub use queue::{EventQueue, LaneId, Packed};
pub use rng::{Rng, StreamKey};
pub use slab::{Key, Slab};
pub use time::SimTime;

/// A simulated system: it owns its pending events, consumes one at a time and schedules new
/// ones. (Owning the queue lets a model hand its components one pointer to everything they
/// share, queue included.)
pub trait Model {
    /// The event type; small and `Copy`, stored packed (so the queue never allocates per
    /// event and keeps events in registers).
    type Event: Packed;
    /// The model's pending events.
    fn queue(&self) -> &EventQueue<Self::Event>;
    /// The model's pending events, to pop from.
    fn queue_mut(&mut self) -> &mut EventQueue<Self::Event>;
    /// Handle one event at the queue's current time; returns how many events that was (at
    /// least 1: a model may handle follow-up events of the same instant without queueing
    /// them, and they count like queued ones).
    fn handle(&mut self, event: Self::Event) -> u64;

    /// The latest time the model wants simulated, or `None` once it has nothing left to do
    /// (drivers then stop as if the queue were empty, even if stale events remain). Asked
    /// before every event, so the model can move it (a request budget that ends arrivals
    /// early also brings the end of the drain forward).
    fn horizon(&self) -> Option<SimTime> {
        Some(SimTime::MAX)
    }
}

/// Why a driver call returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// The event budget was used up; more events are pending.
    Budget,
    /// The next event lies beyond the time limit; the clock stands at the limit.
    TimeLimit,
    /// No events are left.
    Idle,
}

/// Owns a model (and through it, its event queue), and runs it.
pub struct Engine<M: Model> {
    /// The simulated system.
    pub model: M,
    events_handled: u64,
    /// The time of the last event handled, if any.
    last_event_at: Option<SimTime>,
}

impl<M: Model> Engine<M> {
    /// An engine around `model`.
    pub fn new(model: M) -> Self {
        Self {
            model,
            events_handled: 0,
            last_event_at: None,
        }
    }

    /// Whether an event of the current instant has been handled: a change made from outside
    /// now would fall in the middle of that instant, so it belongs to the next one.
    pub fn instant_begun(&self) -> bool {
        self.last_event_at == Some(self.now())
    }

    /// Pending events.
    pub fn queue(&self) -> &EventQueue<M::Event> {
        self.model.queue()
    }

    /// Pending events, mutably (to schedule from outside the model).
    pub fn queue_mut(&mut self) -> &mut EventQueue<M::Event> {
        self.model.queue_mut()
    }

    /// Events handled so far.
    pub fn events_handled(&self) -> u64 {
        self.events_handled
    }

    /// Current simulated time.
    pub fn now(&self) -> SimTime {
        self.model.queue().now()
    }

    /// Handle events whose time is at most `until`, at most `max_events` of them (or a few
    /// more: the follow-ups a model handles with its last event, see [`Model::handle`], are
    /// never split off, so stepping in small budgets gives the same run as one big step).
    ///
    /// This is the one driver primitive: run-to-completion calls it with no budget, the GUI's
    /// wall-clock driver with a time limit, tests and a browser build with an event budget.
    pub fn step(&mut self, until: SimTime, max_events: u64) -> StepOutcome {
        let mut handled = 0u64;
        let outcome = loop {
            if handled >= max_events {
                break StepOutcome::Budget;
            }
            let Some(horizon) = self.model.horizon() else {
                break StepOutcome::Idle;
            };
            match self.model.queue_mut().pop_until(until.min(horizon)) {
                Ok(event) => handled += self.model.handle(event),
                Err(true) => break StepOutcome::Idle,
                Err(false) if horizon <= until => {
                    // The model's own end: it is over, whatever is still queued.
                    self.note_last_event(handled);
                    self.model.queue_mut().advance_to(horizon);
                    return self.stepped(handled, StepOutcome::Idle);
                }
                Err(false) => {
                    self.note_last_event(handled);
                    self.model.queue_mut().advance_to(until);
                    return self.stepped(handled, StepOutcome::TimeLimit);
                }
            }
        };
        self.note_last_event(handled);
        self.stepped(handled, outcome)
    }

    /// Before the clock moves on: the last event handled (if this step handled any) was at
    /// the current time.
    #[inline]
    fn note_last_event(&mut self, handled: u64) {
        if handled > 0 {
            self.last_event_at = Some(self.now());
        }
    }

    #[inline]
    fn stepped(&mut self, handled: u64, outcome: StepOutcome) -> StepOutcome {
        self.events_handled += handled;
        outcome
    }

    /// Run until no event is left or the next one lies beyond `until`.
    pub fn run_until(&mut self, until: SimTime) -> StepOutcome {
        self.step(until, u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Counter {
        queue: EventQueue<u32>,
        seen: Vec<(u64, u32)>,
    }

    impl Model for Counter {
        type Event = u32;
        fn queue(&self) -> &EventQueue<u32> {
            &self.queue
        }
        fn queue_mut(&mut self) -> &mut EventQueue<u32> {
            &mut self.queue
        }
        fn handle(&mut self, event: u32) -> u64 {
            let now = self.queue.now();
            self.seen.push((now.as_nanos(), event));
            if event < 5 {
                self.queue.schedule(now.plus_nanos(10), event + 1);
            }
            1
        }
    }

    #[test]
    fn drivers_agree() {
        let mut a = Engine::new(Counter::default());
        a.queue_mut().schedule(SimTime::ZERO, 0);
        assert_eq!(a.run_until(SimTime::MAX), StepOutcome::Idle);

        let mut b = Engine::new(Counter::default());
        b.queue_mut().schedule(SimTime::ZERO, 0);
        assert_eq!(b.step(SimTime::MAX, 2), StepOutcome::Budget);
        assert_eq!(
            b.step(SimTime::from_nanos(25), u64::MAX),
            StepOutcome::TimeLimit
        );
        assert_eq!(b.now(), SimTime::from_nanos(25));
        assert_eq!(b.run_until(SimTime::MAX), StepOutcome::Idle);
        assert_eq!(a.model.seen, b.model.seen);
        assert_eq!(a.model.seen.len(), 6);
        assert_eq!(a.events_handled(), 6);
    }
}
