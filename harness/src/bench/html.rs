//! HTML report (being built).

use super::report::BenchReport;

pub fn render(_r: &BenchReport) -> String {
    String::new()
}
