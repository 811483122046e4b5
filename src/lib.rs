//! hardinit's library: the parsers and decisions (server configuration, accounts, command line,
//! entrypoint contract, sh), the hardening steps and the supervisor. `main.rs` is the life of the
//! process on top of it; `fuzz/` fuzzes the parsers and pure decisions through it.

pub mod check;
pub mod cli;
pub mod entrypoint;
pub mod error;
pub mod harden;
pub mod log;
pub mod procfs;
pub mod reload;
pub mod sh;
pub mod signals;
pub mod spawn;
pub mod supervise;
pub mod sys;
