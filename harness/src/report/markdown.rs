//! Markdown summary.
