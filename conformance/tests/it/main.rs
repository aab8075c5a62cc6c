//! The integration tests of `conformance`, one module per check, built as one test binary (one
//! link instead of one per file).

mod differential;
mod embedded_std;
mod runner_against_node_reference;
mod runner_against_our_server;
mod vectors;
