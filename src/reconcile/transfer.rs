//! Moving image bytes with verification, and the pure checks of the result against the lockfile
//! and against Glance's own multihash.
//!
//! The bytes pass through untouched; every chunk (a cheap `Bytes` clone, no copy of the data)
//! is collected into batches of about [`BATCH_BYTES`], and each batch goes through a bounded
//! channel to ONE blocking thread that runs the byte [`Consumer`]s in order. So hashing never
//! sits on the I/O path (the upload is not stalled unless the hasher falls `LANE_BATCHES`
//! batches behind, which is the back-pressure that keeps memory constant), and the thread
//! wakes once per batch, not once per chunk.
//!
//! Only the digests that are needed are computed: the lockfile's strongest algorithm (what
//! upstream vouches for) and Glance's `os_hash_algo` (sha512 unless the operator configured
//! `hashing_algorithm`) when the two differ. On a `stream` upload whose lockfile has a checksum
//! of Glance's algorithm, none: Glance hashes what it stores, and that hash is compared with the
//! lockfile's ([`left_to_glance`]). Never md5, unless it is all the lockfile has: Glance 33
//! still computes the legacy md5 `checksum`, but nothing here compares it.
//!
//! Consumers compose: a signature verifier (the Alpine `.asc` over the image bytes) is one more
//! consumer of the same pass, and a streaming decompressor is a consumer that owns consumers of
//! its own (its [`Digests`] go to [`Digests::inner`]), so the compressed and the decompressed
//! digests come out of one read.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use md5::Digest as _;
use tokio::sync::mpsc;

use crate::lock::{Build, HashAlgorithm};
use crate::openstack::GlanceImage;
use crate::upstream::signature::{SignatureError, StreamCheck};

/// The `os_hash_algo` of a Glance with the default `hashing_algorithm`.
pub const GLANCE_DEFAULT_HASH: HashAlgorithm = HashAlgorithm::Sha512;

/// Batches in flight between the I/O path and the consumer thread (constant memory: at most
/// `LANE_BATCHES` x [`BATCH_BYTES`] of chunks are held).
const LANE_BATCHES: usize = 8;

/// A stage that sees every byte of a transfer, in order, on the consumer thread.
pub trait Consumer: Send + 'static {
    fn update(&mut self, chunk: &[u8]);
    /// The same as [`Consumer::update`], for consumers that keep the chunk (a cheap clone).
    fn update_bytes(&mut self, chunk: &Bytes) {
        self.update(chunk);
    }
    /// Adds what this consumer found to `out` (a digest, a verdict in `checks`).
    fn finish(self: Box<Self>, out: &mut Digests);
}

/// A running digest of one algorithm. sha256 and sha512 come from AWS-LC (through aws-lc-rs,
/// which rustls already links, so it costs no extra build): its sha512 measured 9 % faster than
/// the `sha2` crate's AVX2 code on this project's CI CPU, sha256 (SHA-NI) the same
/// (`docs/benchmarks.md`).
pub enum Digester {
    Sha(HashAlgorithm, aws_lc_rs::digest::Context),
    Md5(md5::Md5),
}

impl Digester {
    pub fn new(algo: HashAlgorithm) -> Self {
        use aws_lc_rs::digest::{Context, SHA256, SHA512};
        match algo {
            HashAlgorithm::Sha256 => Self::Sha(algo, Context::new(&SHA256)),
            HashAlgorithm::Sha512 => Self::Sha(algo, Context::new(&SHA512)),
            HashAlgorithm::Md5 => Self::Md5(md5::Md5::new()),
        }
    }
}

impl Consumer for Digester {
    fn update(&mut self, chunk: &[u8]) {
        match self {
            Self::Sha(_, h) => h.update(chunk),
            Self::Md5(h) => h.update(chunk),
        }
    }

    fn finish(self: Box<Self>, out: &mut Digests) {
        let (algo, hex) = match *self {
            Self::Sha(algo, h) => (algo, hex::encode(h.finish())),
            Self::Md5(h) => (HashAlgorithm::Md5, hex::encode(h.finalize())),
        };
        out.digests.insert(algo, hex);
    }
}

/// The algorithm the cloud's Glance hashes new images with, as far as its images tell: the
/// `os_hash_algo` of the newest image that has one (`hashing_algorithm` is one setting of the
/// whole Glance, so the newest image shows the current one). Glance's default when no image
/// tells, or when the newest one's algorithm is not one this tool computes. A wrong guess costs
/// time, never safety: the image is then read back from Glance ([`verify_read_back`]).
pub fn glance_hash(images: &[GlanceImage]) -> HashAlgorithm {
    images
        .iter()
        .filter(|g| g.os_hash_algo.is_some())
        .max_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)))
        .and_then(|g| HashAlgorithm::parse(g.os_hash_algo.as_deref()?))
        .unwrap_or(GLANCE_DEFAULT_HASH)
}

/// The algorithms a transfer of `build` must hash: the lockfile's strongest, plus Glance's when
/// it differs (`None`: Glance is not involved, e.g. a re-read that only checks the lockfile).
pub fn needed(build: &Build, glance: Option<HashAlgorithm>) -> Vec<HashAlgorithm> {
    let mut algos: Vec<HashAlgorithm> = build
        .strongest_checksum()
        .map(|(a, _)| a)
        .into_iter()
        .collect();
    if let Some(g) = glance
        && !algos.contains(&g)
    {
        algos.push(g);
    }
    algos
}

/// The lockfile digest an upload leaves to Glance. Glance hashes every byte it stores with its
/// `hashing_algorithm` (`os_hash_value`); when the lockfile has a checksum of that algorithm,
/// hashing the stream here computes the same value a second time, so the lockfile's value is
/// compared with Glance's instead. That proves more, not less: the bytes Glance STORED are the
/// locked build. Only sha256 and sha512 are left to Glance (never md5). Used by `stream`
/// uploads and by `web-download` (Glance's hash against the lockfile); not by glance-direct,
/// which checks the staged bytes here before the import, nor by the re-read beside a
/// `web-download`, as Glance read other bytes than this tool. A wrong guess of `glance` is
/// caught by the algorithm Glance reports, and then the stored bytes are read back
/// ([`read_back_algorithm`]).
pub fn left_to_glance(build: &Build, glance: HashAlgorithm) -> Option<(HashAlgorithm, String)> {
    if glance == HashAlgorithm::Md5 {
        return None;
    }
    build
        .checksums
        .get(&glance)
        .map(|v| (glance, v.to_ascii_lowercase()))
}

/// Runs consumers in order on one blocking thread.
pub struct Consumers(Vec<Box<dyn Consumer>>);

impl Consumers {
    pub fn new(consumers: Vec<Box<dyn Consumer>>) -> Self {
        Self(consumers)
    }

    /// Digesters for `algos`.
    pub fn digests(algos: &[HashAlgorithm]) -> Self {
        Self(
            algos
                .iter()
                .map(|a| Box::new(Digester::new(*a)) as Box<dyn Consumer>)
                .collect(),
        )
    }

    pub fn push(&mut self, c: Box<dyn Consumer>) {
        self.0.push(c);
    }
}

impl Consumer for Consumers {
    fn update(&mut self, chunk: &[u8]) {
        for c in &mut self.0 {
            c.update(chunk);
        }
    }

    fn update_bytes(&mut self, chunk: &Bytes) {
        for c in &mut self.0 {
            c.update_bytes(chunk);
        }
    }

    fn finish(self: Box<Self>, out: &mut Digests) {
        for c in self.0 {
            c.finish(out);
        }
    }
}

/// The detached OpenPGP signature over the transferred bytes (Alpine's `<image>.asc`,
/// lockfile status `checked-on-transfer`), verified in the same pass as the hashes; its
/// verdict goes to [`Digests::checks`], so [`verify_against_lock`] fails the image on it
/// before anything is promoted.
pub struct SignatureConsumer(StreamCheck);

impl SignatureConsumer {
    pub fn new(check: StreamCheck) -> Self {
        Self(check)
    }
}

impl Consumer for SignatureConsumer {
    fn update(&mut self, chunk: &[u8]) {
        self.0.update(&Bytes::copy_from_slice(chunk));
    }

    fn update_bytes(&mut self, chunk: &Bytes) {
        self.0.update(chunk);
    }

    fn finish(self: Box<Self>, out: &mut Digests) {
        let verdict = self
            .0
            .finish()
            .map(|v| format!("signature verified with {}", v.fingerprint))
            .map_err(|e| {
                let hint = match e {
                    SignatureError::Bad { .. } => {
                        "do NOT use this build: the image bytes are not what the distributor signed"
                    }
                    _ => e.hint(),
                };
                format!("{e} (hint: {hint})")
            });
        out.checks.push(("OpenPGP signature".into(), verdict));
    }
}

/// Chunks are handed to the consumer thread in batches of about this many bytes: one wake-up
/// of the thread per batch instead of one per chunk (hyper yields chunks of 8-400 KiB).
const BATCH_BYTES: usize = 1 << 20;

enum Msg {
    Batch(Vec<Bytes>),
    End,
}

/// Chunks seen by [`Pipeline::feed`] but not yet handed to the consumer thread.
#[derive(Default)]
struct Pending {
    chunks: Vec<Bytes>,
    bytes: usize,
}

impl Pending {
    /// Adds `chunk`; returns a full batch to send.
    fn push(&mut self, chunk: &Bytes) -> Option<Vec<Bytes>> {
        self.bytes += chunk.len();
        self.chunks.push(chunk.clone());
        (self.bytes >= BATCH_BYTES).then(|| self.take()).flatten()
    }

    fn take(&mut self) -> Option<Vec<Bytes>> {
        self.bytes = 0;
        (!self.chunks.is_empty()).then(|| std::mem::take(&mut self.chunks))
    }
}

/// The sender to the consumer thread and the batch being filled (shared by the fed stream and
/// [`Pipeline::finish`], which hands over what a stream kept alive has not).
#[derive(Clone)]
struct Feeder {
    tx: mpsc::Sender<Msg>,
    pending: std::sync::Arc<std::sync::Mutex<Pending>>,
}

impl Feeder {
    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands `batch` over (waits while the thread is `LANE_BATCHES` batches behind: the
    /// back-pressure that keeps memory constant). A closed channel means the consumer thread
    /// died: [`Pipeline::finish`] says so.
    async fn send(&self, batch: Vec<Bytes>) {
        let _ = self.tx.send(Msg::Batch(batch)).await;
    }

    async fn flush(&self) {
        let batch = self.pending().take();
        if let Some(batch) = batch {
            self.send(batch).await;
        }
    }
}

/// A running pass: feed it a stream with [`Pipeline::feed`], then [`Pipeline::finish`].
///
/// All consumers share ONE thread: on a 2-core machine shared with Glance, a thread per digest
/// measured 1.24x the wall time of one thread (`docs/benchmarks.md`).
pub struct Pipeline {
    feeder: Feeder,
    worker: tokio::task::JoinHandle<Digests>,
    by_glance: Option<(HashAlgorithm, String)>,
}

impl Pipeline {
    /// Starts the consumer thread (needs a Tokio runtime).
    pub fn start(consumers: Consumers) -> Self {
        let (tx, mut rx) = mpsc::channel::<Msg>(LANE_BATCHES);
        let worker = tokio::task::spawn_blocking(move || {
            let mut consumers = Box::new(consumers);
            let mut bytes = 0u64;
            while let Some(Msg::Batch(batch)) = rx.blocking_recv() {
                for chunk in &batch {
                    bytes += chunk.len() as u64;
                    consumers.update_bytes(chunk);
                }
            }
            let mut out = Digests {
                bytes,
                ..Digests::default()
            };
            consumers.finish(&mut out);
            out
        });
        Self {
            feeder: Feeder {
                tx,
                pending: Default::default(),
            },
            worker,
            by_glance: None,
        }
    }

    /// The pass `build` needs against a Glance hashing with `glance`.
    pub fn for_build(build: &Build, glance: Option<HashAlgorithm>) -> Self {
        Self::for_build_with(build, glance, None)
    }

    /// [`Pipeline::for_build`] plus a signature check of the same bytes.
    pub fn for_build_with(
        build: &Build,
        glance: Option<HashAlgorithm>,
        signature: Option<SignatureConsumer>,
    ) -> Self {
        Self::hashing(needed(build, glance), None, signature)
    }

    /// The pass of a `stream` upload into a Glance hashing with `glance`: the lockfile's digest
    /// of that algorithm is left to Glance ([`left_to_glance`]), so nothing is hashed here;
    /// otherwise as [`Pipeline::for_build_with`]. The bytes are counted either way.
    pub fn for_upload(
        build: &Build,
        glance: HashAlgorithm,
        signature: Option<SignatureConsumer>,
    ) -> Self {
        match left_to_glance(build, glance) {
            Some(by_glance) => Self::hashing(Vec::new(), Some(by_glance), signature),
            None => Self::for_build_with(build, Some(glance), signature),
        }
    }

    fn hashing(
        algos: Vec<HashAlgorithm>,
        by_glance: Option<(HashAlgorithm, String)>,
        signature: Option<SignatureConsumer>,
    ) -> Self {
        tracing::debug!(
            backend = digest_backend(),
            signature = signature.is_some(),
            "hashing {algos:?}{}",
            by_glance
                .as_ref()
                .map(|(a, _)| format!(", {a} left to Glance"))
                .unwrap_or_default()
        );
        let mut consumers = Consumers::digests(&algos);
        if let Some(s) = signature {
            consumers.push(Box::new(s));
        }
        Self {
            by_glance,
            ..Self::start(consumers)
        }
    }

    /// Wraps a byte stream so every chunk also goes to the consumers; `on_chunk` gets the
    /// chunk size (progress). Chunks pass through unchanged, nothing is buffered beyond the
    /// bounded channels and the batch being filled.
    pub fn feed<S, E>(
        &self,
        inner: S,
        on_chunk: impl Fn(u64) + Send + 'static,
    ) -> impl Stream<Item = Result<Bytes, E>> + Send + 'static
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Send + 'static,
    {
        let feeder = self.feeder.clone();
        futures_util::stream::unfold(
            (Box::pin(inner), feeder, on_chunk),
            |(mut inner, feeder, on_chunk)| async move {
                let Some(item) = inner.next().await else {
                    feeder.flush().await;
                    return None;
                };
                if let Ok(chunk) = &item {
                    let full = feeder.pending().push(chunk);
                    if let Some(batch) = full {
                        feeder.send(batch).await;
                    }
                    on_chunk(chunk.len() as u64);
                }
                Some((item, (inner, feeder, on_chunk)))
            },
        )
    }

    /// Ends the pass and returns what the consumers found (`None`: the consumer thread died).
    /// Call it after the stream was consumed; chunks sent later are not counted.
    pub async fn finish(self) -> Option<Digests> {
        self.feeder.flush().await;
        let _ = self.feeder.tx.send(Msg::End).await;
        drop(self.feeder);
        let mut out = self.worker.await.ok()?;
        out.by_glance = self.by_glance;
        Some(out)
    }
}

/// Which digest code this CPU gets at run time (AWS-LC picks it the same way: SHA-NI for
/// sha256; for sha512 its AVX code only on Intel CPUs, scalar assembly elsewhere).
pub fn digest_backend() -> &'static str {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        let ni = std::arch::is_x86_feature_detected!("sha")
            && std::arch::is_x86_feature_detected!("ssse3");
        if ni {
            "sha256: AWS-LC SHA-NI, sha512: AWS-LC asm (AVX on Intel, scalar otherwise)"
        } else {
            "sha256: AWS-LC asm (no SHA-NI), sha512: AWS-LC asm (AVX on Intel, scalar otherwise)"
        }
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
    {
        "non-x86: see AWS-LC's backends"
    }
}

/// What a pass found: the byte count, the digests by algorithm, the nested pass of a
/// transforming consumer (the decompressed stream), and other consumers' verdicts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Digests {
    pub bytes: u64,
    pub digests: BTreeMap<HashAlgorithm, String>,
    pub inner: Option<Box<Digests>>,
    /// `(consumer, Ok(what it proved) | Err(why it failed))`.
    pub checks: Vec<(String, Result<String, String>)>,
    /// The lockfile digest not computed here, to be compared with Glance's hash of the stored
    /// bytes ([`left_to_glance`]).
    pub by_glance: Option<(HashAlgorithm, String)>,
}

impl Digests {
    pub fn get(&self, algo: HashAlgorithm) -> Option<&str> {
        self.digests.get(&algo).map(String::as_str)
    }
}

/// Why the transferred bytes are not the locked build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    #[error("{algo} of the downloaded bytes is {actual}, the lockfile says {expected}")]
    Checksum {
        algo: HashAlgorithm,
        expected: String,
        actual: String,
    },
    /// The decompressed image (not the downloaded artifact) against `[build.image]`.
    #[error(
        "{algo} of the decompressed image is {actual}, the lockfile's [build.image] says {expected}"
    )]
    ImageChecksum {
        algo: HashAlgorithm,
        expected: String,
        actual: String,
    },
    #[error("downloaded {actual} bytes, the lockfile says {expected}")]
    Size { expected: u64, actual: u64 },
    #[error("the lockfile has no checksum this tool can compute")]
    NoChecksum,
    #[error("Glance stored {glance_algo} {glance_value}, but the bytes sent hash to {ours}")]
    Glance {
        glance_algo: String,
        glance_value: String,
        ours: String,
    },
    #[error(
        "Glance hashed the stored bytes to {algo} {glance_value}, the lockfile says {expected}"
    )]
    GlanceLock {
        algo: HashAlgorithm,
        glance_value: String,
        expected: String,
    },
    #[error("Glance stored {glance} bytes, but {sent} were sent")]
    GlanceSize { glance: u64, sent: u64 },
    #[error("the image read back from Glance has {what}, the bytes sent had {sent}")]
    ReadBack { what: String, sent: String },
    #[error("{consumer}: {reason}")]
    Check { consumer: String, reason: String },
}

/// Checks the streamed bytes against the lockfile: size (when known), every checksum that was
/// computed (at least one, unless the lockfile's digest is left to Glance), and every
/// consumer's verdict.
pub fn verify_against_lock(build: &Build, d: &Digests) -> Result<(), Mismatch> {
    if let Some(expected) = build.size
        && expected != d.bytes
    {
        return Err(Mismatch::Size {
            expected,
            actual: d.bytes,
        });
    }
    let mut checked = 0;
    for (algo, expected) in &build.checksums {
        if let Some(actual) = d.get(*algo) {
            checked += 1;
            if !actual.eq_ignore_ascii_case(expected) {
                return Err(Mismatch::Checksum {
                    algo: *algo,
                    expected: expected.clone(),
                    actual: actual.to_owned(),
                });
            }
        }
    }
    if checked == 0 && d.by_glance.is_none() {
        return Err(Mismatch::NoChecksum);
    }
    if let Some((consumer, Err(reason))) = d.checks.iter().find(|(_, r)| r.is_err()) {
        return Err(Mismatch::Check {
            consumer: consumer.clone(),
            reason: reason.clone(),
        });
    }
    Ok(())
}

/// What the cross-check with Glance's own hash proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlanceCheck {
    /// Glance's `os_hash_value` equals our digest of the same algorithm.
    Matches(String),
    /// Glance's `os_hash_value` equals the lockfile's checksum of the same algorithm, which
    /// was left to Glance ([`left_to_glance`]): the stored bytes are the locked build.
    Lock(HashAlgorithm),
    /// Glance uses an algorithm we did not compute (only size was compared): the caller reads
    /// the stored bytes back ([`verify_read_back`]) before it trusts them.
    AlgorithmUnknown(String),
    /// Glance's hash (`.0`, or `none`) was not comparable; the bytes it stored were read back
    /// and hash (`.1`) to what was sent.
    ReadBack(String, HashAlgorithm),
}

/// The digest a read-back of the stored bytes computes: the cheapest of those computed over
/// the bytes sent (sha256 has SHA-NI; md5 only when it is all there is), else the lockfile's
/// that was left to Glance.
pub fn read_back_algorithm(sent: &Digests) -> Option<HashAlgorithm> {
    [
        HashAlgorithm::Sha256,
        HashAlgorithm::Sha512,
        HashAlgorithm::Md5,
    ]
    .into_iter()
    .find(|a| sent.get(*a).is_some())
    .or(sent.by_glance.as_ref().map(|(a, _)| *a))
}

/// Compares the bytes read back from Glance (`back`, hashed with [`read_back_algorithm`])
/// with the bytes sent; `glance_algo` is what Glance reported (for the verdict).
pub fn verify_read_back(
    sent: &Digests,
    back: &Digests,
    glance_algo: &str,
) -> Result<GlanceCheck, Mismatch> {
    if back.bytes != sent.bytes {
        return Err(Mismatch::ReadBack {
            what: format!("{} bytes", back.bytes),
            sent: format!("{} bytes", sent.bytes),
        });
    }
    let algo = read_back_algorithm(sent).ok_or(Mismatch::NoChecksum)?;
    let locked = sent
        .by_glance
        .as_ref()
        .filter(|(a, _)| *a == algo)
        .map(|(_, v)| v.as_str());
    match (sent.get(algo), back.get(algo)) {
        (Some(ours), Some(theirs)) if ours.eq_ignore_ascii_case(theirs) => {
            Ok(GlanceCheck::ReadBack(glance_algo.into(), algo))
        }
        (Some(ours), theirs) => Err(Mismatch::ReadBack {
            what: format!("{algo} {}", theirs.unwrap_or("(none)")),
            sent: format!("{algo} {ours}"),
        }),
        // Nothing was hashed here: the stored bytes are compared with the lockfile itself.
        (None, theirs) => match (locked, theirs) {
            (Some(want), Some(theirs)) if want.eq_ignore_ascii_case(theirs) => {
                Ok(GlanceCheck::ReadBack(glance_algo.into(), algo))
            }
            (Some(want), theirs) => Err(Mismatch::GlanceLock {
                algo,
                glance_value: theirs.unwrap_or("(none)").into(),
                expected: want.into(),
            }),
            (None, _) => Err(Mismatch::NoChecksum),
        },
    }
}

/// Compares Glance's stored size and multihash with what was sent.
pub fn verify_against_glance(
    d: &Digests,
    size: Option<u64>,
    algo: Option<&str>,
    value: Option<&str>,
) -> Result<GlanceCheck, Mismatch> {
    if let Some(glance) = size
        && glance != d.bytes
    {
        return Err(Mismatch::GlanceSize {
            glance,
            sent: d.bytes,
        });
    }
    let (Some(algo), Some(value)) = (algo, value) else {
        return Ok(GlanceCheck::AlgorithmUnknown("none".into()));
    };
    let parsed = HashAlgorithm::parse(algo);
    let ours = parsed.and_then(|a| d.get(a));
    let locked = d.by_glance.as_ref().filter(|(a, _)| Some(*a) == parsed);
    match (ours, locked) {
        (Some(ours), _) if ours.eq_ignore_ascii_case(value) => {
            Ok(GlanceCheck::Matches(algo.into()))
        }
        (Some(ours), _) => Err(Mismatch::Glance {
            glance_algo: algo.into(),
            glance_value: value.into(),
            ours: ours.into(),
        }),
        (None, Some((a, want))) if want.eq_ignore_ascii_case(value) => Ok(GlanceCheck::Lock(*a)),
        (None, Some((a, want))) => Err(Mismatch::GlanceLock {
            algo: *a,
            glance_value: value.into(),
            expected: want.clone(),
        }),
        (None, None) => Ok(GlanceCheck::AlgorithmUnknown(algo.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // The expected digests come from another implementation than the one under test.
    use crate::reconcile::fixtures::lock;
    use sha2::{Sha256, Sha512};

    async fn digests_of(
        data: &'static [u8],
        build: &Build,
        glance: Option<HashAlgorithm>,
    ) -> Digests {
        run(Pipeline::for_build(build, glance), data).await
    }

    async fn run(p: Pipeline, data: &'static [u8]) -> Digests {
        let chunks: Vec<Result<Bytes, ()>> =
            data.chunks(7).map(|c| Ok(Bytes::from_static(c))).collect();
        let out: Vec<_> = p
            .feed(futures_util::stream::iter(chunks), |_| {})
            .collect()
            .await;
        assert_eq!(out.len(), data.len().div_ceil(7));
        p.finish().await.unwrap()
    }

    #[tokio::test]
    async fn verifies_size_and_checksum() {
        let data = b"hello image bytes";
        let mut build = lock("x", "1", "2026-11-01").build;
        build.size = Some(data.len() as u64);
        build
            .checksums
            .insert(HashAlgorithm::Sha256, hex::encode(Sha256::digest(data)));
        let d = digests_of(data, &build, Some(GLANCE_DEFAULT_HASH)).await;
        assert_eq!(
            d.get(HashAlgorithm::Sha512),
            Some(hex::encode(Sha512::digest(data)).as_str())
        );
        assert_eq!(verify_against_lock(&build, &d), Ok(()));

        let wrong = digests_of(b"hello image bytez", &build, None).await;
        assert!(matches!(
            verify_against_lock(&build, &wrong),
            Err(Mismatch::Checksum {
                algo: HashAlgorithm::Sha256,
                ..
            })
        ));
        let short = digests_of(b"hello", &build, None).await;
        assert!(matches!(
            verify_against_lock(&build, &short),
            Err(Mismatch::Size {
                expected: 17,
                actual: 5
            })
        ));
    }

    /// Issue 15: Glance hashes every byte it stores; a lockfile digest of Glance's algorithm
    /// is compared with Glance's hash instead of being computed a second time here.
    #[tokio::test]
    async fn a_digest_glance_computes_is_left_to_glance() {
        use HashAlgorithm::{Md5, Sha256 as S256, Sha512 as S512};
        let data: &'static [u8] = b"the bytes Glance stores and hashes";
        let len = data.len() as u64;
        let sha512 = hex::encode(sha2::Sha512::digest(data));
        let mut build = lock("x", "1", "2026-11-01").build;
        build.size = Some(len);
        build.checksums = BTreeMap::from([
            (S256, hex::encode(sha2::Sha256::digest(data))),
            (S512, sha512.to_uppercase()),
        ]);
        assert_eq!(left_to_glance(&build, S512), Some((S512, sha512.clone())));
        let d = run(Pipeline::for_upload(&build, S512, None), data).await;
        assert!(d.digests.is_empty(), "{d:?}");
        assert_eq!(d.bytes, len);
        assert_eq!(verify_against_lock(&build, &d), Ok(()));
        assert_eq!(
            verify_against_glance(&d, Some(len), Some("sha512"), Some(&sha512)),
            Ok(GlanceCheck::Lock(S512))
        );
        assert!(matches!(
            verify_against_glance(&d, Some(len), Some("sha512"), Some(&"0".repeat(128))),
            Err(Mismatch::GlanceLock { algo: S512, .. })
        ));
        assert!(matches!(
            verify_against_glance(&d, Some(len + 1), Some("sha512"), Some(&sha512)),
            Err(Mismatch::GlanceSize { .. })
        ));
        // The size is still the lockfile's.
        let short = run(Pipeline::for_upload(&build, S512, None), b"the bytes").await;
        assert!(matches!(
            verify_against_lock(&build, &short),
            Err(Mismatch::Size { .. })
        ));

        // Glance turns out to hash sha256: not comparable, so the stored bytes are read back
        // and compared with the lockfile.
        assert_eq!(
            verify_against_glance(&d, Some(len), Some("sha256"), Some("00")),
            Ok(GlanceCheck::AlgorithmUnknown("sha256".into()))
        );
        assert_eq!(read_back_algorithm(&d), Some(S512));
        let back = |hex: &str| Digests {
            bytes: len,
            digests: BTreeMap::from([(S512, hex.to_owned())]),
            ..Digests::default()
        };
        assert_eq!(
            verify_read_back(&d, &back(&sha512), "sha256"),
            Ok(GlanceCheck::ReadBack("sha256".into(), S512))
        );
        assert!(matches!(
            verify_read_back(&d, &back(&"0".repeat(128)), "sha256"),
            Err(Mismatch::GlanceLock { .. })
        ));

        // Not left to Glance: a lockfile without Glance's algorithm, and never md5.
        build.checksums.remove(&S512);
        assert_eq!(left_to_glance(&build, S512), None);
        let both = run(Pipeline::for_upload(&build, S512, None), data).await;
        assert_eq!(
            both.digests.keys().copied().collect::<Vec<_>>(),
            [S256, S512]
        );
        assert_eq!(both.by_glance, None);
        build.checksums = BTreeMap::from([(Md5, "00".repeat(16))]);
        assert_eq!(left_to_glance(&build, Md5), None);
    }

    #[test]
    fn only_the_needed_digests_are_computed() {
        let mut build = lock("x", "1", "2026-11-01").build;
        build.checksums = BTreeMap::from([
            (HashAlgorithm::Md5, "00".repeat(16)),
            (HashAlgorithm::Sha256, "00".repeat(32)),
        ]);
        // The lockfile's strongest and Glance's; never md5 next to a sha256.
        assert_eq!(
            needed(&build, Some(HashAlgorithm::Sha512)),
            [HashAlgorithm::Sha256, HashAlgorithm::Sha512]
        );
        assert_eq!(
            needed(&build, Some(HashAlgorithm::Sha256)),
            [HashAlgorithm::Sha256]
        );
        assert_eq!(needed(&build, None), [HashAlgorithm::Sha256]);
        build.checksums = BTreeMap::from([(HashAlgorithm::Sha512, "00".repeat(64))]);
        assert_eq!(
            needed(&build, Some(HashAlgorithm::Sha512)),
            [HashAlgorithm::Sha512]
        );
        build.checksums = BTreeMap::from([(HashAlgorithm::Md5, "00".repeat(16))]);
        assert_eq!(
            needed(&build, Some(HashAlgorithm::Sha512)),
            [HashAlgorithm::Md5, HashAlgorithm::Sha512]
        );
    }

    #[tokio::test]
    async fn glance_hash_is_cross_checked() {
        let build = lock("x", "1", "2026-11-01").build;
        let d = digests_of(b"abc", &build, Some(GLANCE_DEFAULT_HASH)).await;
        let ours = d.get(HashAlgorithm::Sha512).unwrap().to_owned();
        assert_eq!(
            verify_against_glance(&d, Some(3), Some("sha512"), Some(&ours)),
            Ok(GlanceCheck::Matches("sha512".into()))
        );
        assert!(verify_against_glance(&d, Some(3), Some("sha512"), Some("00")).is_err());
        assert!(verify_against_glance(&d, Some(4), Some("sha512"), Some(&ours)).is_err());
        assert_eq!(
            verify_against_glance(&d, Some(3), Some("sha3_512"), Some("00")),
            Ok(GlanceCheck::AlgorithmUnknown("sha3_512".into()))
        );
    }

    fn hashed(id: &str, created: &str, algo: Option<&str>) -> GlanceImage {
        GlanceImage {
            id: id.into(),
            created_at: created.into(),
            os_hash_algo: algo.map(Into::into),
            ..GlanceImage::default()
        }
    }

    #[test]
    fn glance_hash_is_the_newest_images_algorithm() {
        assert_eq!(glance_hash(&[]), HashAlgorithm::Sha512, "Glance's default");
        let cloud = [
            hashed("a", "2026-10-01T00:00:00Z", Some("sha512")),
            hashed("b", "2026-11-01T00:00:00Z", Some("sha256")),
            // Queued, never hashed: says nothing about the setting.
            hashed("c", "2026-12-01T00:00:00Z", None),
        ];
        assert_eq!(glance_hash(&cloud), HashAlgorithm::Sha256);
        // Order of the listing does not matter.
        let mut rev = cloud.clone();
        rev.reverse();
        assert_eq!(glance_hash(&rev), HashAlgorithm::Sha256);
        // An algorithm this tool cannot compute: the default (the read-back catches the rest).
        let odd = [hashed("d", "2026-12-02T00:00:00Z", Some("sha3_512"))];
        assert_eq!(glance_hash(&odd), HashAlgorithm::Sha512);
    }

    #[tokio::test]
    async fn read_back_compares_the_cheapest_digest_sent() {
        let build = lock("x", "1", "2026-11-01").build;
        let sent = digests_of(b"stored bytes", &build, Some(HashAlgorithm::Sha512)).await;
        assert_eq!(read_back_algorithm(&sent), Some(HashAlgorithm::Sha256));
        let back = |data: &'static [u8]| {
            let p = Pipeline::start(Consumers::digests(&[HashAlgorithm::Sha256]));
            async move {
                let s = p.feed(
                    futures_util::stream::iter([Ok::<_, ()>(Bytes::from_static(data))]),
                    |_| {},
                );
                let _: Vec<_> = s.collect().await;
                p.finish().await.unwrap()
            }
        };
        assert_eq!(
            verify_read_back(&sent, &back(b"stored bytes").await, "sha3_512"),
            Ok(GlanceCheck::ReadBack(
                "sha3_512".into(),
                HashAlgorithm::Sha256
            ))
        );
        let err = verify_read_back(&sent, &back(b"stored bytez").await, "none").unwrap_err();
        assert!(
            matches!(&err, Mismatch::ReadBack { what, .. } if what.starts_with("sha256 ")),
            "{err}"
        );
        let err = verify_read_back(&sent, &back(b"stored").await, "none").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the image read back from Glance has 6 bytes, the bytes sent had 12 bytes"
        );
    }

    /// A consumer that fails: its verdict fails the lockfile check.
    struct Refuses;
    impl Consumer for Refuses {
        fn update(&mut self, _: &[u8]) {}
        fn finish(self: Box<Self>, out: &mut Digests) {
            out.checks
                .push(("refuses".into(), Err("bad signature".into())));
        }
    }

    #[tokio::test]
    async fn the_pipeline_hashes_what_passes_and_runs_every_consumer() {
        let mut build = lock("x", "1", "2026-11-01").build;
        build
            .checksums
            .insert(HashAlgorithm::Sha256, hex::encode(Sha256::digest(b"abc")));
        build.size = Some(3);
        let mut consumers = Consumers::digests(&needed(&build, None));
        consumers.push(Box::new(Refuses));
        let p = Pipeline::start(consumers);
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let seen2 = seen.clone();
        let chunks: Vec<Result<Bytes, ()>> =
            vec![Ok(Bytes::from_static(b"ab")), Ok(Bytes::from_static(b"c"))];
        let s = p.feed(futures_util::stream::iter(chunks), move |n| {
            seen2.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        });
        let out: Vec<_> = s.collect().await;
        assert_eq!(out.len(), 2);
        let d = p.finish().await.unwrap();
        assert_eq!(d.bytes, 3);
        assert_eq!(seen.load(std::sync::atomic::Ordering::Relaxed), 3);
        assert_eq!(
            d.get(HashAlgorithm::Sha256),
            Some(hex::encode(Sha256::digest(b"abc")).as_str())
        );
        assert_eq!(d.get(HashAlgorithm::Md5), None);
        assert_eq!(
            verify_against_lock(&build, &d),
            Err(Mismatch::Check {
                consumer: "refuses".into(),
                reason: "bad signature".into()
            })
        );
    }

    #[tokio::test]
    async fn a_stream_kept_alive_does_not_block_finish() {
        let build = lock("x", "1", "2026-11-01").build;
        let p = Pipeline::for_build(&build, None);
        let s = p.feed(
            futures_util::stream::iter(vec![Ok::<_, ()>(Bytes::from_static(b"ab"))])
                .chain(futures_util::stream::pending()),
            |_| {},
        );
        let mut s = Box::pin(s);
        s.next().await.unwrap().unwrap();
        // The stream (and its sender) is still alive, as when a body outlives the upload.
        let d = p.finish().await.unwrap();
        assert_eq!(d.bytes, 2);
        drop(s);
    }
}
