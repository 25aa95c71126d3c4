//! Criterion benchmarks of authsim's hot paths live in `benches/`; this library is empty.
