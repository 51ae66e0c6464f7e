//! All integration tests in one binary, one file per behaviour.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod broken_models;
mod cli;
mod cli_determinism;
mod commands;
mod common;
mod cpu_handover;
mod determinism;
mod engine_review;
mod flag_errors;
mod handover_review;
mod little;
mod loader_fuzz;
mod model_encoding;
mod models;
mod output_checks;
mod overload;
mod reference;
mod report_inputs;
mod review_findings;
mod set_values;
mod stability;
mod theory;
mod validate_json;
mod verdict;
mod workloads;
