//! # flashcrowd
//!
//! A discrete-event simulator of scalable web architectures: clients, load balancers and
//! services (and, as the project grows, caches, databases, queues and autoscalers) described in
//! a RON topology file, run headless or live, reported as the four golden signals.
//!
//! ```text
//!   cli/  gui/            faces: parse arguments, print reports; the desktop window
//!        |
//!   simulation            Topology -> World -> run -> Report (drivers, command API)
//!        |
//!   components/           client, service, load_balancer ... one file each
//!        |
//!   topology/  metrics/   RON schema -> validated Topology; histograms, series, report
//!        \      /
//!         engine/         SimTime (u64 ns), event queue, slab, RNG streams, drivers
//! ```
//!
//! A minimal run:
//!
//! ```no_run
//! let topo = flashcrowd::topology::load_file(std::path::Path::new("models/quickstart.ron"), &[])?;
//! let report = flashcrowd::simulation::Simulation::new(&topo, Default::default()).run();
//! println!("p99 = {} s", report.end_to_end.latency_s.p99);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod bench;
pub mod cli;
pub mod components;
pub mod dist;
pub mod engine;
pub mod experiments;
#[cfg(feature = "gui")]
pub mod gui;
pub mod kinds;
pub mod metrics;
pub mod simulation;
pub mod topology;
pub mod units;
