//! Thresholds (being built).

use super::report::BenchReport;

#[derive(Debug, Clone)]
pub struct Threshold(String);

#[derive(Debug, Clone)]
pub struct Verdict {
    pub pass: bool,
    pub actual: String,
    pub text: String,
}

impl std::str::FromStr for Threshold {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Err(format!("thresholds are not built yet: '{s}'"))
    }
}

impl Threshold {
    pub fn check(&self, _r: &BenchReport) -> Verdict {
        Verdict {
            pass: false,
            actual: String::new(),
            text: self.0.clone(),
        }
    }
}
