//! Login clients: the material a workload presents to Vault, built as real clients build it,
//! with the mutations scenarios apply. The scenario runner and the load generator share them.

pub mod aws;
pub mod gcp;
