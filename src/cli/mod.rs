//! The bodies of the `certbroker` command's subcommands, one module per group: modules of
//! the binary (`main.rs` parses the command line), not of the library.

pub mod audit;
pub mod credentials;
pub mod health;
