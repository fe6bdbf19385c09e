//! Nothing: this package holds the benchmarks (`benches` in Cargo.toml).
