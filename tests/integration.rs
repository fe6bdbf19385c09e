//! The integration tests: one test binary, one module per file of `tests/` (one link of the
//! library instead of one per file, and the files' tests run side by side). Run one file's tests
//! with a filter: `cargo test --test integration node::`.
//!
//! The process is shared: a test that changes process-wide state (the test clock, the logger,
//! a resource limit) runs in a process of its own (`support::in_own_process`). `flock_refused.rs`
//! is a binary of its own: it replaces the C library's `flock` for its whole process.

mod support;
mod tools;

mod binding_options;
mod c_abi;
mod cli;
mod cluster;
mod docs;
mod fortran;
mod gpu_share;
mod header;
mod job;
mod job_report;
mod log_callback;
mod machine_facts;
mod many_writers;
mod node;
mod online;
mod prediction;
mod regions;
mod robustness;
mod setup_script;
mod slurm_report;
mod tasks;
mod tracker;
