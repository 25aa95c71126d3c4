//! threshold (being built).
