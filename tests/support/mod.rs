//! Shared test support: the fixture HTTP server and helpers to run the binary.
#![allow(dead_code)]

pub mod cirros;
pub mod clouds;
pub mod moto;
pub mod schema;
pub mod server;

#[allow(unused_imports)] // not every test target uses the server
pub use server::{Fault, FixtureServer};

use std::path::{Path, PathBuf};

/// The project's own fixtures (`tests/fixtures/...`).
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Copies a directory tree (fixtures are copied into a temp dir when a test changes them).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
