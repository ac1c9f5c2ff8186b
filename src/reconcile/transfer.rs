//! Moving image bytes with verification: a stream adapter that hashes (and counts, and reports
//! progress for) every chunk on its way from upstream to Glance, in constant memory, and the
//! pure checks of the result against the lockfile and against Glance's own multihash.
//!
//! Always computed: the lockfile's strongest algorithm (what upstream vouches for) and sha512
//! (Glance's default `os_hash_algo`), so one pass proves both "these are the published bytes"
//! and "Glance stored exactly these bytes".

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use sha2::{Digest as _, Sha256, Sha512};

use crate::lock::{Build, HashAlgorithm};

/// Running digests of a stream.
#[derive(Default)]
pub struct Hasher {
    bytes: u64,
    sha256: Option<Sha256>,
    sha512: Sha512,
    md5: Option<md5::Md5>,
}

impl Hasher {
    /// A hasher computing sha512 plus whatever else the lock's checksums need.
    pub fn for_build(build: &Build) -> Self {
        let wants = |a| build.checksums.contains_key(&a);
        Self {
            bytes: 0,
            sha256: wants(HashAlgorithm::Sha256).then(Sha256::new),
            sha512: Sha512::new(),
            md5: wants(HashAlgorithm::Md5).then(md5::Md5::new),
        }
    }

    pub fn update(&mut self, chunk: &[u8]) {
        self.bytes += chunk.len() as u64;
        if let Some(h) = &mut self.sha256 {
            h.update(chunk);
        }
        self.sha512.update(chunk);
        if let Some(h) = &mut self.md5 {
            h.update(chunk);
        }
    }

    pub fn finish(self) -> Digests {
        Digests {
            bytes: self.bytes,
            sha256: self.sha256.map(|h| hex::encode(h.finalize())),
            sha512: hex::encode(self.sha512.finalize()),
            md5: self.md5.map(|h| hex::encode(h.finalize())),
        }
    }
}

/// The digests of everything that went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    pub bytes: u64,
    pub sha256: Option<String>,
    pub sha512: String,
    pub md5: Option<String>,
}

impl Digests {
    pub fn get(&self, algo: HashAlgorithm) -> Option<&str> {
        match algo {
            HashAlgorithm::Sha256 => self.sha256.as_deref(),
            HashAlgorithm::Sha512 => Some(&self.sha512),
            HashAlgorithm::Md5 => self.md5.as_deref(),
        }
    }
}

/// A shared hasher: the stream adapter feeds it, the caller finishes it after the upload.
pub type SharedHasher = Arc<Mutex<Option<Hasher>>>;

/// Wraps a byte stream so every chunk is hashed and counted; `on_chunk` gets the chunk size
/// (progress). Memory stays constant: chunks pass through, nothing is buffered.
pub fn hashing<S, E>(
    inner: S,
    hasher: SharedHasher,
    on_chunk: impl Fn(u64) + Send + 'static,
) -> impl Stream<Item = Result<Bytes, E>> + Send + 'static
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Send + 'static,
{
    inner.map(move |item| {
        if let Ok(chunk) = &item {
            if let Some(h) = hasher.lock().expect("hasher lock").as_mut() {
                h.update(chunk);
            }
            on_chunk(chunk.len() as u64);
        }
        item
    })
}

/// Takes the final digests out of a shared hasher.
pub fn finish(hasher: &SharedHasher) -> Option<Digests> {
    hasher
        .lock()
        .expect("hasher lock")
        .take()
        .map(Hasher::finish)
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
    #[error("Glance stored {glance} bytes, but {sent} were sent")]
    GlanceSize { glance: u64, sent: u64 },
}

/// Checks the streamed bytes against the lockfile: size (when known) and every checksum.
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
    if checked == 0 {
        return Err(Mismatch::NoChecksum);
    }
    Ok(())
}

/// What the cross-check with Glance's own hash proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlanceCheck {
    /// Glance's `os_hash_value` equals our digest of the same algorithm.
    Matches(String),
    /// Glance uses an algorithm we did not compute (only size was compared).
    AlgorithmUnknown(String),
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
    let ours = HashAlgorithm::parse(algo).and_then(|a| d.get(a));
    match ours {
        Some(ours) if ours.eq_ignore_ascii_case(value) => Ok(GlanceCheck::Matches(algo.into())),
        Some(ours) => Err(Mismatch::Glance {
            glance_algo: algo.into(),
            glance_value: value.into(),
            ours: ours.into(),
        }),
        None => Ok(GlanceCheck::AlgorithmUnknown(algo.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::fixtures::lock;

    fn digests_of(data: &[u8], build: &Build) -> Digests {
        let mut h = Hasher::for_build(build);
        for chunk in data.chunks(7) {
            h.update(chunk);
        }
        h.finish()
    }

    #[test]
    fn verifies_size_and_checksum() {
        let data = b"hello image bytes";
        let mut build = lock("x", "1", "2026-11-01").build;
        build.size = Some(data.len() as u64);
        build
            .checksums
            .insert(HashAlgorithm::Sha256, hex::encode(Sha256::digest(data)));
        let d = digests_of(data, &build);
        assert_eq!(d.sha512, hex::encode(Sha512::digest(data)));
        assert_eq!(verify_against_lock(&build, &d), Ok(()));

        let wrong = digests_of(b"hello image bytez", &build);
        assert!(matches!(
            verify_against_lock(&build, &wrong),
            Err(Mismatch::Checksum {
                algo: HashAlgorithm::Sha256,
                ..
            })
        ));
        let short = digests_of(b"hello", &build);
        assert!(matches!(
            verify_against_lock(&build, &short),
            Err(Mismatch::Size {
                expected: 17,
                actual: 5
            })
        ));
    }

    #[test]
    fn glance_hash_is_cross_checked() {
        let build = lock("x", "1", "2026-11-01").build;
        let d = digests_of(b"abc", &build);
        assert_eq!(
            verify_against_glance(&d, Some(3), Some("sha512"), Some(&d.sha512)),
            Ok(GlanceCheck::Matches("sha512".into()))
        );
        assert!(verify_against_glance(&d, Some(3), Some("sha512"), Some("00")).is_err());
        assert!(verify_against_glance(&d, Some(4), Some("sha512"), Some(&d.sha512)).is_err());
        assert_eq!(
            verify_against_glance(&d, Some(3), Some("sha3_512"), Some("00")),
            Ok(GlanceCheck::AlgorithmUnknown("sha3_512".into()))
        );
    }

    #[tokio::test]
    async fn the_stream_adapter_hashes_what_passes() {
        let build = lock("x", "1", "2026-11-01").build;
        let shared: SharedHasher = Arc::new(Mutex::new(Some(Hasher::for_build(&build))));
        let seen = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let seen2 = seen.clone();
        let chunks: Vec<Result<Bytes, ()>> =
            vec![Ok(Bytes::from_static(b"ab")), Ok(Bytes::from_static(b"c"))];
        let s = hashing(
            futures_util::stream::iter(chunks),
            shared.clone(),
            move |n| {
                seen2.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            },
        );
        let out: Vec<_> = s.collect().await;
        assert_eq!(out.len(), 2);
        let d = finish(&shared).unwrap();
        assert_eq!(d.bytes, 3);
        assert_eq!(seen.load(std::sync::atomic::Ordering::Relaxed), 3);
        assert_eq!(d.sha256.unwrap(), hex::encode(Sha256::digest(b"abc")));
    }
}
