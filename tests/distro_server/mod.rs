//! A read-only static file server on 127.0.0.1 for discovery tests, and the mirror table
//! that points the distributors' hosts at it.
//!
//! A directory URL serves its `index.html`, or its `jsontable.json` for MirrorCache's
//! `?jsontable`; everything else maps to the file at the same path under the root.
//! (Until the shared `tests/support/` server lands; this one only ever reads.)
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use image_crawler::catalog::*;
use image_crawler::http::RetryPolicy;
use image_crawler::upstream::Fetcher;

pub struct Server {
    pub base: String,
    pub requests: Arc<AtomicU64>,
}

impl Server {
    pub async fn start(root: PathBuf) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let base = format!("http://{}/", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicU64::new(0));
        let count = requests.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let root = root.clone();
                count.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf);
                    let target = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let (status, body) = match resolve(&root, &target).map(std::fs::read) {
                        Some(Ok(body)) => ("200 OK", body),
                        _ => ("404 Not Found", b"not found".to_vec()),
                    };
                    let header = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = sock.write_all(header.as_bytes()).await;
                    let _ = sock.write_all(&body).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Server { base, requests }
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
        ];
        Fetcher::new(reqwest::Client::new(), mirrors, RetryPolicy::NONE)
    }
}

fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let path = percent_decode(path)?;
    if path.split('/').any(|seg| seg == "..") {
        return None;
    }
    let mut file = root.join(path.trim_start_matches('/'));
    if path.ends_with('/') {
        file = file.join(if query.contains("jsontable") {
            "jsontable.json"
        } else {
            "index.html"
        });
    }
    file.is_file().then_some(file)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A catalog image with every non-source setting at a neutral value.
pub fn image(source: Source, arch: Architecture, mode: SignatureMode, keys: Vec<PathBuf>) -> Image {
    Image {
        id: "test".into(),
        name: "Test".into(),
        enabled: true,
        origin: Origin {
            file: PathBuf::from("catalog/test.yaml"),
            line: 1,
            column: 1,
        },
        source,
        architecture: arch,
        version: VersionPolicy {
            pin: None,
            matches: None,
            min_age: None,
        },
        signature: Signature { mode, keys },
        glance: Glance {
            disk_format: DiskFormat::Qcow2,
            container_format: ContainerFormat::Bare,
            min_disk: 1,
            min_ram: 1,
            visibility: Visibility::Private,
            protected: false,
            tags: Default::default(),
            properties: Default::default(),
        },
        rotation: Rotation {
            rename: true,
            hide: true,
            mark_oldgeneric: true,
            visibility: None,
            keep: 3,
            delete: false,
        },
        transfer: Transfer::Stream,
    }
}
