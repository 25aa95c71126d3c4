//! Console output.
