//! Streaming decompression on the transfer path: one read of the compressed artifact gives the
//! artifact's digests (checked against the lockfile, i.e. against what upstream vouches for), the
//! decompressed image's digests (compared with Glance's `os_hash_value`) and the decompressed
//! bytes (uploaded), in constant memory.
//!
//! ```text
//! upstream ──► Pipeline consumer thread: artifact digests ─┐
//!                 └─ Decompressor.update ──(bounded)──► decoder thread: xz/gzip/bzip2/zstd
//!                                                          ├─ image digests (Digests::inner)
//!                                                          └─(bounded)──► upload body ──► Glance
//! ```
//! The decoders are `Read`-based, so the decoder thread reads from a channel ([`ChannelReader`]).
//! Every channel is bounded: a slow Glance stalls the decoder, which stalls the consumer thread,
//! which stalls the download (TCP back-pressure). A decode error, a truncated artifact or bytes
//! after the end of the compressed data end the upload body with an error, so Glance never
//! marks such an image active; [`super::transfer::verify_against_lock`] reports it too.

use std::io::Read;
use std::sync::mpsc as std_mpsc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use tokio::sync::mpsc;

use super::transfer::{Consumer, Consumers, Digests, Pipeline, needed};
use crate::lock::{Build, Compression, HashAlgorithm};

/// Compressed chunks queued for the decoder thread.
const INPUT_CHUNKS: usize = 32;
/// Decompressed chunks queued for the upload.
const OUTPUT_CHUNKS: usize = 16;
/// Size of one decompressed chunk.
const OUTPUT_CHUNK: usize = 256 << 10;

/// The upload body of a decompressing pass.
pub type Body = std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// The name under which a decompressor reports in [`Digests::checks`].
pub fn check_name(c: Compression) -> String {
    format!("{c} decompression")
}

/// A [`Consumer`] that decompresses what it is fed on a thread of its own, hashes the output
/// with its own consumers and forwards it to `out`.
pub struct Decompressor {
    compression: Compression,
    tx: Option<std_mpsc::SyncSender<Bytes>>,
    worker: std::thread::JoinHandle<Result<Digests, (Digests, String)>>,
}

impl Decompressor {
    pub fn start(
        compression: Compression,
        inner: Consumers,
        out: mpsc::Sender<Result<Bytes, std::io::Error>>,
    ) -> Self {
        let (tx, rx) = std_mpsc::sync_channel::<Bytes>(INPUT_CHUNKS);
        let worker = std::thread::Builder::new()
            .name(format!("decompress-{compression}"))
            .spawn(move || decode(compression, rx, inner, &out))
            .expect("spawn the decoder thread");
        Self {
            compression,
            tx: Some(tx),
            worker,
        }
    }
}

impl Consumer for Decompressor {
    fn update(&mut self, chunk: &[u8]) {
        // A closed channel: the decoder stopped (an error it reports in finish).
        if let Some(tx) = &self.tx
            && tx.send(Bytes::copy_from_slice(chunk)).is_err()
        {
            self.tx = None;
        }
    }

    fn finish(mut self: Box<Self>, out: &mut Digests) {
        drop(self.tx.take());
        let name = check_name(self.compression);
        match self.worker.join() {
            Ok(Ok(inner)) => {
                out.checks
                    .push((name, Ok(format!("{} bytes decompressed", inner.bytes))));
                out.inner = Some(Box::new(inner));
            }
            Ok(Err((inner, why))) => {
                out.checks.push((name, Err(why)));
                out.inner = Some(Box::new(inner));
            }
            Err(_) => out
                .checks
                .push((name, Err("the decoder thread panicked".into()))),
        }
    }
}

/// Reads the chunks of a channel as one byte stream (EOF when the sender is dropped).
struct ChannelReader {
    rx: std_mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.recv() {
                Ok(b) => self.current = b,
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

impl ChannelReader {
    /// Whether anything follows (drains to the end: called after the decoder's end).
    fn has_trailing_bytes(&mut self) -> bool {
        let mut probe = [0u8; 1];
        matches!(self.read(&mut probe), Ok(n) if n > 0)
    }
}

/// The decoder of `c` over `r` (public for the decode-only side of `bench/decompress.sh`).
pub fn decoder<'a>(c: Compression, r: impl Read + 'a) -> Result<Box<dyn Read + 'a>, String> {
    Ok(match c {
        // Multi-stream/-member forms, as `xz -dc`, `gzip -dc` and `bzip2 -dc` accept them.
        Compression::Xz => Box::new(lzma_rust2::XzReader::new(r, true)),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(r)),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(r)),
        // libzstd: ruzstd measured 3.14x the time of `zstd -dc` (docs/benchmarks.md). Every
        // frame, as `zstd -dc` reads them; anything else after the end is a decode error.
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::new(r)
                .map_err(|e| format!("cannot start the zstd decoder: {e}"))?,
        ),
    })
}

/// The decoder thread: decompress, hash, forward. `Err` carries what was hashed so far.
fn decode(
    compression: Compression,
    rx: std_mpsc::Receiver<Bytes>,
    inner: Consumers,
    out: &mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> Result<Digests, (Digests, String)> {
    let mut input = ChannelReader {
        rx,
        current: Bytes::new(),
    };
    let mut inner = Box::new(inner);
    let mut bytes = 0u64;
    let fail = |inner: Box<Consumers>, bytes: u64, why: String| {
        // The upload ends with an error: Glance never activates a truncated image.
        let _ = out.blocking_send(Err(std::io::Error::other(format!(
            "{compression} decompression failed: {why}"
        ))));
        let mut d = Digests {
            bytes,
            ..Digests::default()
        };
        inner.finish(&mut d);
        Err((d, why))
    };
    let result: Result<(), String> = (|| {
        let mut dec = decoder(compression, &mut input)?;
        let mut buf = vec![0u8; OUTPUT_CHUNK];
        loop {
            let n = match dec.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("at decompressed byte {bytes}: {e}")),
            };
            inner.update(&buf[..n]);
            bytes += n as u64;
            if out
                .blocking_send(Ok(Bytes::copy_from_slice(&buf[..n])))
                .is_err()
            {
                return Err("the upload stopped reading".into());
            }
        }
    })();
    if let Err(why) = result {
        return fail(inner, bytes, why);
    }
    if input.has_trailing_bytes() {
        return fail(
            inner,
            bytes,
            "bytes follow the end of the compressed data".into(),
        );
    }
    let mut d = Digests {
        bytes,
        ..Digests::default()
    };
    inner.finish(&mut d);
    Ok(d)
}

/// The digests of the decompressed image a transfer of `build` needs: the lockfile's strongest
/// image digest (if any), plus Glance's algorithm when it differs.
pub fn needed_image(build: &Build, glance: Option<HashAlgorithm>) -> Vec<HashAlgorithm> {
    let mut algos: Vec<HashAlgorithm> = build
        .image
        .as_ref()
        .and_then(|i| {
            [HashAlgorithm::Sha512, HashAlgorithm::Sha256]
                .into_iter()
                .find(|a| i.checksums.contains_key(a))
        })
        .into_iter()
        .collect();
    if let Some(g) = glance
        && !algos.contains(&g)
    {
        algos.push(g);
    }
    algos
}

/// A decompressing pass over `upstream` (the compressed body): returns the decompressed upload
/// body and a task that ends with the pass's [`Digests`] (artifact digests at the top, the
/// image's in [`Digests::inner`]). `artifact` are more consumers of the compressed bytes (a
/// signature over the artifact). The task drives the download; the body must be consumed.
pub fn start<S, E>(
    build: &Build,
    compression: Compression,
    glance: Option<HashAlgorithm>,
    artifact: Vec<Box<dyn Consumer>>,
    upstream: S,
    on_chunk: impl Fn(u64) + Send + 'static,
) -> (Body, tokio::task::JoinHandle<Option<Digests>>)
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let (out_tx, out_rx) = mpsc::channel(OUTPUT_CHUNKS);
    let mut consumers = Consumers::digests(&needed(build, None));
    for c in artifact {
        consumers.push(c);
    }
    consumers.push(Box::new(Decompressor::start(
        compression,
        Consumers::digests(&needed_image(build, glance)),
        out_tx.clone(),
    )));
    let pass = Pipeline::start(consumers);
    let fed = pass.feed(upstream, on_chunk);
    let driver = tokio::spawn(async move {
        let mut fed = std::pin::pin!(fed);
        while let Some(item) = fed.next().await {
            if let Err(e) = item {
                let _ = out_tx
                    .send(Err(std::io::Error::other(format!(
                        "the download failed: {e}"
                    ))))
                    .await;
                break;
            }
        }
        drop(out_tx);
        pass.finish().await
    });
    let body = futures_util::stream::unfold(out_rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (Box::pin(body), driver)
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use sha2::{Digest as _, Sha256, Sha512};

    use super::*;
    use crate::lock::ImageInfo;
    use crate::reconcile::fixtures::lock;
    use crate::reconcile::transfer::{Mismatch, verify_against_lock};

    fn image_bytes(len: usize) -> Vec<u8> {
        // Compressible but not trivial: a counter pattern with some noise.
        (0..len)
            .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3] & 0x3f)
            .collect()
    }

    pub(crate) fn compress(c: Compression, data: &[u8]) -> Vec<u8> {
        match c {
            Compression::Xz => {
                let mut w =
                    lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(1))
                        .unwrap();
                w.write_all(data).unwrap();
                w.finish().unwrap()
            }
            Compression::Gzip => {
                let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                w.write_all(data).unwrap();
                w.finish().unwrap()
            }
            Compression::Bzip2 => {
                let mut w = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
                w.write_all(data).unwrap();
                w.finish().unwrap()
            }
            Compression::Zstd => zstd::encode_all(data, 1).unwrap(),
        }
    }

    fn build_for(c: Compression, artifact: &[u8]) -> Build {
        let mut b = lock("x", "1", "2026-11-01").build;
        b.size = Some(artifact.len() as u64);
        b.checksums = [(HashAlgorithm::Sha256, hex::encode(Sha256::digest(artifact)))].into();
        b.image = Some(ImageInfo {
            compression: c,
            checksums: Default::default(),
        });
        b
    }

    /// Runs a pass, collecting the upload body as Glance would receive it.
    async fn run(
        build: &Build,
        c: Compression,
        artifact: Vec<u8>,
        chunk: usize,
    ) -> (Result<Vec<u8>, String>, Digests) {
        let chunks: Vec<Result<Bytes, String>> = artifact
            .chunks(chunk)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let (mut body, driver) = start(
            build,
            c,
            Some(HashAlgorithm::Sha512),
            Vec::new(),
            futures_util::stream::iter(chunks),
            |_| {},
        );
        let mut uploaded = Vec::new();
        let mut error = None;
        while let Some(item) = body.next().await {
            match item {
                Ok(b) => uploaded.extend_from_slice(&b),
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            }
        }
        let digests = driver.await.unwrap().unwrap();
        (error.map_or(Ok(uploaded), Err), digests)
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn every_format_gives_both_digests_in_one_pass() {
        let image = image_bytes(512 << 10);
        for c in [
            Compression::Xz,
            Compression::Gzip,
            Compression::Bzip2,
            Compression::Zstd,
        ] {
            let artifact = compress(c, &image);
            let build = build_for(c, &artifact);
            let (uploaded, d) = run(&build, c, artifact.clone(), 7919).await;
            assert_eq!(uploaded.as_deref(), Ok(&image[..]), "{c}");
            // The artifact's digest (checked against the lockfile) ...
            assert_eq!(d.bytes, artifact.len() as u64, "{c}");
            assert_eq!(verify_against_lock(&build, &d), Ok(()), "{c}");
            // ... and the image's (what Glance must store).
            let inner = d.inner.as_deref().expect("inner digests");
            assert_eq!(inner.bytes, image.len() as u64, "{c}");
            assert_eq!(
                inner.get(HashAlgorithm::Sha512),
                Some(hex::encode(Sha512::digest(&image)).as_str()),
                "{c}"
            );
        }
    }

    /// zstd as `zstd -dc` reads it: every frame of a concatenation; junk after a frame fails.
    #[tokio::test(flavor = "multi_thread")]
    async fn zstd_frames_are_read_as_zstd_dc_reads_them() {
        let (a, b) = (image_bytes(300 << 10), image_bytes(200 << 10));
        let mut artifact = compress(Compression::Zstd, &a);
        artifact.extend_from_slice(&compress(Compression::Zstd, &b));
        let build = build_for(Compression::Zstd, &artifact);
        let (uploaded, d) = run(&build, Compression::Zstd, artifact, 4096).await;
        assert_eq!(uploaded, Ok([a.clone(), b].concat()));
        assert_eq!(verify_against_lock(&build, &d), Ok(()));
        let mut junk = compress(Compression::Zstd, &a);
        junk.extend_from_slice(b"trailing junk");
        let build = build_for(Compression::Zstd, &junk);
        let (uploaded, d) = run(&build, Compression::Zstd, junk, 4096).await;
        assert!(uploaded.is_err());
        assert!(verify_against_lock(&build, &d).is_err(), "{d:?}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn truncated_or_corrupt_artifacts_fail_the_upload() {
        let image = image_bytes(1 << 20);
        for c in [Compression::Xz, Compression::Gzip, Compression::Zstd] {
            let artifact = compress(c, &image);
            let cut = artifact[..artifact.len() - 40].to_vec();
            let build = build_for(c, &cut);
            let (uploaded, d) = run(&build, c, cut, 4096).await;
            assert!(uploaded.is_err(), "{c}: a truncated artifact uploaded fine");
            assert!(
                matches!(verify_against_lock(&build, &d), Err(Mismatch::Check { .. })),
                "{c}: {d:?}"
            );
        }
        // Not compressed at all.
        let build = build_for(Compression::Xz, b"plain bytes");
        let (uploaded, d) = run(&build, Compression::Xz, b"plain bytes".to_vec(), 5).await;
        assert!(uploaded.is_err());
        assert!(verify_against_lock(&build, &d).is_err());
        // Garbage after a complete stream.
        let mut artifact = compress(Compression::Gzip, &image);
        artifact.extend_from_slice(b"trailing junk");
        let build = build_for(Compression::Gzip, &artifact);
        let (uploaded, d) = run(&build, Compression::Gzip, artifact, 4096).await;
        assert!(uploaded.is_err());
        assert!(verify_against_lock(&build, &d).is_err(), "{d:?}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_download_error_fails_the_upload() {
        let image = image_bytes(1 << 20);
        let artifact = compress(Compression::Gzip, &image);
        let build = build_for(Compression::Gzip, &artifact);
        let mut chunks: Vec<Result<Bytes, String>> = artifact[..artifact.len() / 2]
            .chunks(4096)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        chunks.push(Err("connection reset".into()));
        let (mut body, driver) = start(
            &build,
            Compression::Gzip,
            None,
            Vec::new(),
            futures_util::stream::iter(chunks),
            |_| {},
        );
        let mut failed = None;
        while let Some(item) = body.next().await {
            if let Err(e) = item {
                failed = Some(e.to_string());
                break;
            }
        }
        assert!(failed.is_some_and(|e| e.contains("connection reset")));
        let d = driver.await.unwrap().unwrap();
        assert!(verify_against_lock(&build, &d).is_err());
    }

    #[test]
    fn the_image_digest_follows_the_lockfile_and_glance() {
        let mut b = build_for(Compression::Xz, b"x");
        assert_eq!(
            needed_image(&b, Some(HashAlgorithm::Sha512)),
            [HashAlgorithm::Sha512]
        );
        b.image.as_mut().unwrap().checksums = [(HashAlgorithm::Sha256, "00".repeat(32))].into();
        assert_eq!(
            needed_image(&b, Some(HashAlgorithm::Sha512)),
            [HashAlgorithm::Sha256, HashAlgorithm::Sha512]
        );
    }
}
