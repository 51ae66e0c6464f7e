//! All integration tests in one binary, one file per behaviour.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod broken_models;
mod cli;
mod commands;
mod common;
mod conditional_calls;
mod cpu_handover;
mod determinism;
mod engine_review;
mod handover_review;
mod kinds;
mod little;
mod loader_fuzz;
mod models;
mod overload;
mod reference;
mod review_findings;
mod router;
mod theory;
mod workloads;
