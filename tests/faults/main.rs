//! The fault and abuse suite: the real `certbroker` binary killed with SIGKILL under mixed
//! load, races of 64 clients on one name, a data directory that fills up or turns read-only.
//! Every scenario ends with `certbroker rebuild --check` and `certbroker verify` clean, and
//! records its figures (kills survived, acknowledged writes checked, races run) in
//! `<target>/faults/`, which `scripts/fault-figures.sh` sums up after the run.
//!
//! Sizes come from the environment so that CI and `make soak` run the same code:
//! `CERTBROKER_FAULTS_KILLS` (default 3), `CERTBROKER_FAULTS_SEED` (default fixed),
//! `CERTBROKER_FAULTS_RACE_ROUNDS` (default 2).
#![allow(clippy::unwrap_used)]

#[path = "../api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

mod disk;
mod figures;
mod kill9;
mod model;
mod races;
mod server;
