pub mod auth_aws;
pub mod backend;
