//! html (being built).
