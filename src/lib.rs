//! image-crawler keeps the base images of an OpenStack cloud fresh, the GitOps way.
//!
//! The data flow, and the module that owns each stage:
//!
//! ```text
//! catalog/*.yaml --catalog::load--> Catalog --upstream (check)--> LockedImage --lock::store--> state/*.toml
//! state/ + Glance --openstack--> observed images --reconcile::plan--> Plan --reconcile::apply--> Glance
//! lock changes --git (propose)--> commits / review
//! ```
//!
//! `catalog`, `lock` and `reconcile::plan` are pure; `upstream`, `openstack`, `git` and the
//! lockfile store are the only places that do I/O.

pub mod build;
pub mod catalog;
pub mod cli;
mod commands;
pub mod diagnostic;
pub mod error;
pub mod exit;
pub mod git;
pub mod http;
pub mod localfile;
pub mod lock;
mod logging;
pub mod openstack;
pub mod output;
pub mod propose;
pub mod reconcile;
pub mod scs;
pub mod secrets;
pub mod upstream;

pub use commands::run;
