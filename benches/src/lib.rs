//! `tvilling-benches` holds the benchmark binaries under `benches/` (run with `cargo bench -p
//! tvilling-benches`); results and the commands that produced them are recorded in `benches/RESULTS.md`.
//! It has no library code of its own.
