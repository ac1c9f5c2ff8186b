//! The mirror table that points the distributors' hosts at the shared fixture server
//! (`tests/support/server.rs`, read-only here), and catalog images for discovery tests.
#![allow(dead_code)]

use std::path::PathBuf;

use image_crawler::catalog::*;
use image_crawler::http::RetryPolicy;
use image_crawler::upstream::Fetcher;

use crate::support::FixtureServer;

pub struct Server {
    pub inner: FixtureServer,
    pub base: String,
}

impl Server {
    pub fn start(root: PathBuf) -> Server {
        let inner = FixtureServer::start(root);
        let base = format!("{}/", inner.url());
        Server { inner, base }
    }

    /// A fetcher whose mirrors map every distributor host to this server's tree.
    pub fn fetcher(&self) -> Fetcher {
        let m = |from: &str, dir: &str| (from.to_owned(), format!("{}{dir}", self.base));
        let mirrors = vec![
            m("https://cloud-images.ubuntu.com/", "ubuntu/"),
            m("https://cloud.debian.org/images/cloud/", "debian/"),
            m("https://repo.almalinux.org/", "almalinux/"),
            m("https://download.rockylinux.org/", "rocky/"),
            m("https://cloud.centos.org/", "centos-stream/"),
            m("https://fedoraproject.org/", "fedora/"),
            m("https://dl.fedoraproject.org/", "fedora/"),
            m("https://download.opensuse.org/", "opensuse/"),
            m("https://download.cirros-cloud.net/", "cirros/"),
            m("https://alpinelinux.org/", "alpine/"),
            m("https://dl-cdn.alpinelinux.org/", "alpine/"),
            m("https://geo.mirror.pkgbuild.com/", "archlinux/"),
            m("https://builds.coreos.fedoraproject.org/", "fedora-coreos/"),
            m(
                "https://stable.release.flatcar-linux.net/",
                "flatcar/stable/",
            ),
            m("https://beta.release.flatcar-linux.net/", "flatcar/beta/"),
            m("https://alpha.release.flatcar-linux.net/", "flatcar/alpha/"),
            m("https://lts.release.flatcar-linux.net/", "flatcar/lts/"),
        ];
        Fetcher::new(reqwest::Client::new(), mirrors, RetryPolicy::NONE)
    }
}

/// A catalog image with every non-source setting at a neutral value.
pub fn image(source: Source, arch: Architecture, mode: SignatureMode, keys: Vec<PathBuf>) -> Image {
    let mut image = Image {
        name: "Test".into(),
        ..Image::new("test", source, arch)
    };
    image.signature = Signature { mode, keys };
    image
}

/// The one clock of a discovery run in these tests (after every fixture build).
#[allow(dead_code)]
pub fn now() -> jiff::Timestamp {
    "2026-12-01T00:00:00Z".parse().unwrap()
}
