pub mod auth_gcp;
pub mod backend;
