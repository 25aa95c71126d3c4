//! SVG plot (being built).

use super::report::BenchReport;

pub fn svg(_r: &BenchReport) -> String {
    String::new()
}
