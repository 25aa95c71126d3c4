//! Mock Vault auth backends, driven through their transport-free `handle()` against the cloud
//! mocks on real loopback sockets.

mod auth_gcp;
mod auth_gcp_errors;
