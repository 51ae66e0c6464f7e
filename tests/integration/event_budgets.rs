//! Stepping a run by an event budget (`Simulation::step(until, n)`) gives the same run as
//! running it through: same-instant hops count as events and a chain of them is never split.

use flashcrowd::engine::{SimTime, StepOutcome};
use flashcrowd::simulation::{RunOptions, Simulation};

use crate::common::load;

/// A step with an event budget counts every event it handles, same-instant hops included,
/// and never splits a chain of hops: stepping one event at a time reports the same events as
/// running through, and each step handles at least its budget (or ends the run).
#[test]
fn event_budgets_count_every_hop_and_never_split_a_chain() {
    let text = r#"Topology(duration: "2s", warmup: "0s",
        workloads: {"w": Open(rate: "1000/s", to: "lb")},
        components: {"lb": LoadBalancer(backends: ["s"], overhead: Const("0s")),
                     "s": Service(cpu: Exp(mean: "100us"))})"#;
    let topo = load(text);
    let through = Simulation::new(&topo, RunOptions::default()).run();
    let mut sim = Simulation::new(&topo, RunOptions::default());
    let (mut steps, mut longest) = (0u64, 0u64);
    loop {
        let before = sim.events();
        let out = sim.step(SimTime::MAX, 1);
        let handled = sim.events() - before;
        longest = longest.max(handled);
        if out == StepOutcome::Idle {
            break;
        }
        assert!(handled >= 1, "a step with budget 1 handled nothing");
        steps += 1;
    }
    let stepped = sim.finish();
    assert_eq!(stepped.events, through.events);
    assert!(
        steps < through.events,
        "hops ran inside steps ({steps} steps)"
    );
    // client → balancer → service is the longest chain here: arrival, two deliveries.
    assert!(longest <= 3, "one step handled {longest} events");
}
