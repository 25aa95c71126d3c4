//! The integration tests of `authsim-mocks`: one binary, one module per mock.

mod gcp;
mod vault;
