//! All integration tests in one binary, one file per behaviour.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli;
mod commands;
mod common;
mod determinism;
mod little;
mod models;
mod reference;
mod theory;
