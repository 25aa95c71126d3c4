//! Mock AWS: STS and IAM (Query API), EC2 `DescribeInstances`, instance metadata, on one listener
//! (reference aws.md sections 4-6).

pub mod error;

use std::sync::Arc;

use axum::Router;

use crate::sim::Sim;

/// What the AWS handlers share.
#[derive(Clone, Debug)]
pub struct AwsState {
    pub sim: Sim,
    /// This listener's base URL (`http://127.0.0.1:4566`).
    pub base_url: Arc<str>,
}

impl AwsState {
    pub fn new(sim: Sim, base_url: String) -> Self {
        Self {
            sim,
            base_url: Arc::from(base_url),
        }
    }
}

pub fn router(state: AwsState) -> Router {
    Router::new().with_state(state)
}
