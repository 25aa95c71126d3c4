//! The mock Vault. Auth method backends are transport-free: the Vault listener routes a logical
//! request to a backend through [`backend`]'s interface.

pub mod auth_aws;
pub mod auth_gcp;
pub mod backend;
