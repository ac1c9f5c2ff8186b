//! Reads a compressed artifact (a file, loaded into memory first so only the decode path is
//! timed) through the tool's transfer path (`reconcile::decompress`:
//! artifact sha256, decoder thread, image sha512) and discards the decompressed bytes; prints
//! the byte counts to stderr. With `--decode-only` as the third argument: the codec alone
//! (no hashing). Used by bench/decompress.sh.
#![allow(clippy::print_stderr)]

use futures_util::StreamExt as _;
use image_crawler::lock::{Compression, HashAlgorithm, ImageInfo};
use image_crawler::reconcile::decompress;

#[tokio::main]
async fn main() {
    let kind = std::env::args().nth(1).unwrap_or_else(|| "xz".into());
    let file = std::env::args()
        .nth(2)
        .expect("usage: decompress KIND FILE [--decode-only]");
    let data = bytes::Bytes::from(std::fs::read(&file).expect("read the artifact"));
    let compression = Compression::from_url(&format!("x.{kind}")).expect("xz|gz|bz2|zst");
    if std::env::args().nth(3).as_deref() == Some("--decode-only") {
        // The codec alone, as `xz -dc` measures it: no hashing, no threads, no channels.
        let mut dec = decompress::decoder(compression, &data[..]).expect("a decoder");
        let n = std::io::copy(&mut dec, &mut std::io::sink()).expect("decompression");
        eprintln!("{} -> {n} bytes (decode only)", data.len());
        return;
    }
    let mut build = image_crawler::lock::Build {
        version: "1".into(),
        build_date: "2026-01-01".into(),
        url: format!("https://example.invalid/x.{kind}"),
        size: None,
        metadata_url: "https://example.invalid/SUMS".into(),
        checksums: [(HashAlgorithm::Sha256, "0".repeat(64))].into(),
        signature: image_crawler::lock::SignatureStatus::state(
            image_crawler::lock::SignatureState::Off,
        ),
        image: None,
        inputs: None,
    };
    build.image = Some(ImageInfo {
        compression,
        checksums: Default::default(),
    });
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = (0..data.len())
        .step_by(64 << 10)
        .map(|i| Ok(data.slice(i..(i + (64 << 10)).min(data.len()))))
        .collect();
    let stdin = futures_util::stream::iter(chunks);
    let (mut body, pass) = decompress::start(
        &build,
        compression,
        Some(HashAlgorithm::Sha512),
        Vec::new(),
        stdin,
        |_| {},
    );
    while let Some(item) = body.next().await {
        item.expect("decompression");
    }
    let d = pass.await.unwrap().unwrap();
    eprintln!("{} -> {} bytes", d.bytes, d.inner.map_or(0, |i| i.bytes));
}
