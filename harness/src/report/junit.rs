//! JUnit XML.
