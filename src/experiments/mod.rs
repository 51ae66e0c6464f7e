//! Experiments built on whole runs: independent replications with confidence intervals
//! (sweeps and the capacity planner will join them). Above `simulation.rs`, below the faces.

pub mod compare;
pub mod plot;
pub mod replications;
pub mod stats;
pub mod sweep;
pub mod warmup;
