//! The real Keystone + Glance the OpenStack tests run against, found through
//! `IMAGE_CRAWLER_TEST_CLOUDS` (a clouds.yaml written by `tests/openstack/glance-keystone.sh`).
//! Without it the tests FAIL with these instructions: they are never skipped silently.

use std::path::PathBuf;

use image_crawler::openstack::config::{self, CloudConfig, ConfigFiles, Environment};

pub const HOW: &str = "IMAGE_CRAWLER_TEST_CLOUDS is not set. Start Keystone + Glance and point the tests at them:\n  \
    tests/openstack/glance-keystone.sh start tests/.cache/openstack\n  \
    IMAGE_CRAWLER_TEST_CLOUDS=$PWD/tests/.cache/openstack/clouds.yaml cargo test --test openstack --test apply --test audit\n\
    (tests/run.sh does all of this)";

/// The clouds.yaml of the test services.
pub fn clouds_file() -> PathBuf {
    PathBuf::from(std::env::var_os("IMAGE_CRAWLER_TEST_CLOUDS").unwrap_or_else(|| panic!("{HOW}")))
}

/// One cloud of the test services (`gk-admin`, `gk-demo`, `gk-appcred`, ...).
pub fn cloud(name: &str) -> CloudConfig {
    let path = clouds_file();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}\n{HOW}", path.display()));
    let files =
        ConfigFiles::from_texts(Some((&path, &text)), None).unwrap_or_else(|e| panic!("{e}"));
    config::resolve(
        &files,
        Some(name),
        None,
        &Environment::isolated(PathBuf::from(".")),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}
