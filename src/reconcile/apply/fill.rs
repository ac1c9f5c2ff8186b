//! Filling a temporary image with the locked bytes and proving what Glance stored: the
//! transfer paths (`stream`, `glance-direct`, `web-download`, decompressed), the checks
//! against the lockfile and Glance's hash, the read-back and the upstream re-read.

use anyhow::Context as _;
use futures_util::{StreamExt as _, TryStreamExt as _};

use crate::catalog::{Image, Transfer};
use crate::lock::{HashAlgorithm, LockedImage, SignatureState};
use crate::openstack::{Error as OsError, ExpectedHash, GlanceImage, ImportMethod, NewImage};
use crate::reconcile::download;
use crate::reconcile::header;
use crate::reconcile::transfer::{self, GlanceCheck, Pipeline, SignatureConsumer};
use crate::upstream::signature::StreamCheck;

use super::Executor;

impl<'a> Executor<'a> {
    /// Opens the transfer, creates the image record from the head of its bytes
    /// ([`Self::create_for`], recorded in `created`), fills and verifies it.
    pub(super) async fn fill_and_verify(
        &self,
        image: &Image,
        lock: &LockedImage,
        new: &NewImage,
        created: &mut Option<Created>,
        auth: Option<&download::Auth>,
        signature: Option<SignatureConsumer>,
    ) -> anyhow::Result<Verified> {
        let url = self.fetcher.effective_url(&lock.build.url);
        if lock.build.compression().is_some() {
            return self
                .fill_decompressed(image, lock, new, created, auth, signature)
                .await;
        }
        match image.transfer {
            Transfer::Stream | Transfer::GlanceDirect => {
                let pass = if image.transfer == Transfer::Stream {
                    // `PUT /file` makes the image active as it ends, checked or not: Glance's
                    // hash of the stored bytes is compared with the lockfile's instead of
                    // hashing the same bytes here too (the image is promoted only after).
                    Pipeline::for_upload(&lock.build, self.glance_hash, signature)
                } else {
                    // glance-direct checks the staged bytes BEFORE the import makes them active.
                    Pipeline::for_build_with(&lock.build, Some(self.glance_hash), signature)
                };
                let failure = download::Failure::default();
                let body = self
                    .upstream_stream(&url, lock, &pass, auth, &failure)
                    .await?;
                let (head, body) = match header::peek(body, header::PEEK).await {
                    Ok(peeked) => peeked,
                    Err(e) => return Err(upstream_failed(failure.take().unwrap_or(e))),
                };
                let gid = &self.create_for(new, image, &head, created).await?;
                let sent = if image.transfer == Transfer::Stream {
                    self.glance.upload(gid, body, None).await
                } else {
                    self.glance.stage(gid, body, None).await
                };
                if let Err(e) = sent {
                    // The upload fails when its body (the upstream stream) breaks: say so.
                    if let Some(up) = failure.take() {
                        return Err(upstream_failed(up));
                    }
                    return Err(e.into_anyhow()).context(if image.transfer == Transfer::Stream {
                        "upload to Glance failed"
                    } else {
                        "staging in Glance failed"
                    });
                }
                let digests = pass.finish().await.context("the upload ended early")?;
                transfer::verify_against_lock(&lock.build, &digests)
                    .with_context(|| format!("the bytes of {url} are not the locked build"))?;
                let img = self.settle_upload(gid, image.transfer, &digests).await?;
                let glance = self
                    .verify_stored(&img, &digests)
                    .await
                    .with_context(|| format!("what Glance stored from {url} is not verified"))?;
                Ok(Verified {
                    summary: with_checks(summary(lock, &digests, &glance), &digests),
                    bytes: digests.bytes,
                    image: img,
                })
            }
            Transfer::WebDownload => {
                // Glance fetches the bytes itself: the head comes from a short read of ours.
                let head = self.probe_head(&url, lock, auth).await?;
                let gid = &self.create_for(new, image, &head, created).await?;
                // The lockfile's digest of the algorithm Glance hashes with (as far as its
                // images tell) is what Glance's own hash is compared with.
                let locked = transfer::left_to_glance(&lock.build, self.glance_hash);
                self.glance
                    .import(gid, &ImportMethod::WebDownload { uri: url.clone() })
                    .await
                    .map_err(OsError::into_anyhow)?;
                let expected = locked.as_ref().map(|(a, v)| ExpectedHash {
                    algo: a.as_str().into(),
                    value: v.clone(),
                });
                let wait = async {
                    self.glance
                        .wait_imported(gid, "web-download", &self.wait, expected.as_ref())
                        .await
                        .map_err(OsError::into_anyhow)
                };
                // A signature over the image can only be checked on bytes this tool reads.
                let Some((algo, lock_sum)) = locked.filter(|_| signature.is_none()) else {
                    // Nothing Glance computes is vouched for by the lockfile: re-read upstream
                    // (hashing only) WHILE Glance imports, so the two downloads overlap.
                    let (img, digests) = tokio::join!(wait, self.reread(&url, lock, signature));
                    return self.verified_by_reread(lock, img?, digests?).await;
                };
                let img = wait.await?;
                if img.os_hash_algo.as_deref() != Some(algo.as_str()) {
                    // A cloud configured with another hash than its images suggested: fall
                    // back to the re-read.
                    let digests = self.reread(&url, lock, None).await?;
                    return self.verified_by_reread(lock, img, digests).await;
                }
                // Glance hashed what it stored; the lockfile vouches for that hash.
                if !img
                    .os_hash_value
                    .as_deref()
                    .is_some_and(|v| v.eq_ignore_ascii_case(&lock_sum))
                {
                    anyhow::bail!(
                        "Glance stored {algo} {}, the lockfile says {lock_sum}",
                        img.os_hash_value.as_deref().unwrap_or("(none)")
                    );
                }
                if let (Some(want), Some(got)) = (lock.build.size, img.size)
                    && want != got
                {
                    anyhow::bail!("Glance stored {got} bytes, the lockfile says {want}");
                }
                Ok(Verified {
                    summary: format!("Glance {algo} matches lockfile"),
                    bytes: img.size.unwrap_or_default(),
                    image: img,
                })
            }
        }
    }

    /// `stream` / `glance-direct` of a compressed artifact: the artifact is checked against
    /// the lockfile, the decompressed image is uploaded and checked against Glance (and the
    /// lockfile's image digest when it has one). `web-download` cannot decompress.
    async fn fill_decompressed(
        &self,
        image: &Image,
        lock: &LockedImage,
        new: &NewImage,
        created: &mut Option<Created>,
        auth: Option<&download::Auth>,
        signature: Option<SignatureConsumer>,
    ) -> anyhow::Result<Verified> {
        let url = &self.fetcher.effective_url(&lock.build.url);
        let compression = lock
            .build
            .compression()
            .context("the lockfile has no `[build.image]`")?;
        if image.transfer == Transfer::WebDownload {
            // `validate` refuses this; Glance would store the compressed bytes.
            anyhow::bail!(
                "`transfer: web-download` cannot decompress the {compression} artifact {url}; use `transfer: stream` or `glance-direct` (run `image-crawler validate`)"
            );
        }
        let (resp, at) = download::open(&self.upstream, url, auth).await?;
        let total = resp.content_length().or(lock.build.size);
        let tick = self.progress.start(&lock.id, total);
        // Bounded like the plain path: minimum rate over a window, per-image deadline.
        let failure = download::Failure::default();
        let (body, pass) = crate::reconcile::decompress::start(
            &lock.build,
            compression,
            Some(self.glance_hash),
            signature
                .into_iter()
                .map(|s| Box::new(s) as Box<dyn transfer::Consumer>)
                .collect(),
            download::watch(resp, at, self.limits, failure.clone()),
            tick,
        );
        // The header is the decompressed image's.
        let (head, body) = match header::peek(body, header::PEEK).await {
            Ok(peeked) => peeked,
            Err(e) => {
                // The upstream's or the pass's verdict first: it says why the stream broke.
                decompressed_verdict(pass, &failure, &lock.build, url).await?;
                return Err(anyhow::Error::new(e))
                    .with_context(|| format!("cannot read the decompressed image of {url}"));
            }
        };
        let gid = &match self.create_for(new, image, &head, created).await {
            Ok(gid) => gid,
            Err(e) => {
                // Nothing will read the rest: stop the download.
                pass.abort();
                return Err(e);
            }
        };
        let sent = if image.transfer == Transfer::Stream {
            self.glance.upload(gid, body, None).await
        } else {
            self.glance.stage(gid, body, None).await
        };
        // A broken upstream or a decode error is the cause of a failed upload.
        let digests = decompressed_verdict(pass, &failure, &lock.build, url).await?;
        sent.map_err(OsError::into_anyhow)
            .context("upload to Glance failed")?;
        let inner = digests
            .inner
            .as_deref()
            .context("the decompressor reported nothing")?;
        let image_sums = verify_image_digests(&lock.build, inner)
            .with_context(|| format!("the decompressed image of {url} is not the locked build"))?;
        let img = self.settle_upload(gid, image.transfer, inner).await?;
        let glance = self.verify_stored(&img, inner).await?;
        self.record_image_digest(lock, &img)?;
        Ok(Verified {
            summary: with_checks(
                format!("{}; image {image_sums}", summary(lock, &digests, &glance)),
                &digests,
            ),
            bytes: inner.bytes,
            image: img,
        })
    }

    /// Creates the temporary image record once the head of its bytes is known: `disk_format`
    /// from the header (a catalog value must agree, or the image is refused before Glance sees
    /// it), `min_disk` raised to the header's virtual size. Records it in `created`.
    async fn create_for(
        &self,
        new: &NewImage,
        image: &Image,
        head: &[u8],
        created: &mut Option<Created>,
    ) -> anyhow::Result<String> {
        let refused = |r: header::Refusal| crate::error::hinted(r.message, r.hint);
        let found = header::inspect(head).map_err(refused)?;
        let format = header::decide(image.glance.disk_format, &found).map_err(refused)?;
        let mut new = new.clone();
        new.disk_format = format.as_str().into();
        if let Some(v) = found.virtual_size {
            new.min_disk = header::min_disk(new.min_disk, v);
        }
        let record = self
            .glance
            .create(&new)
            .await
            .map_err(OsError::into_anyhow)
            .context("cannot create the image record")?;
        *created = Some(Created {
            gid: record.id.clone(),
            header: found,
        });
        Ok(record.id)
    }

    /// The first [`header::PEEK`] bytes of the upstream file (for `web-download`, where Glance
    /// fetches the rest itself); the connection is dropped after them.
    async fn probe_head(
        &self,
        url: &str,
        lock: &LockedImage,
        auth: Option<&download::Auth>,
    ) -> anyhow::Result<Vec<u8>> {
        let failure = download::Failure::default();
        let (resp, at) = download::open(&self.upstream, url, auth).await?;
        let body = download::watch(resp, at, self.limits, failure.clone());
        match header::peek(body, header::PEEK).await {
            Ok((head, _)) => Ok(head),
            Err(e) => Err(upstream_failed(failure.take().unwrap_or(e)))
                .with_context(|| format!("cannot read the head of {} ({url})", lock.id)),
        }
    }

    /// Records Glance's verified digest of a decompressed image in the lockfile, once (the
    /// file changes only when the digest is new; `check` keeps it while the build is the same).
    /// After the bytes went up: starts Glance's import for glance-direct, then waits until the
    /// image is active (for an import, until its task finished) holding `digests`' hash of
    /// Glance's algorithm.
    async fn settle_upload(
        &self,
        gid: &str,
        transfer: Transfer,
        digests: &transfer::Digests,
    ) -> anyhow::Result<GlanceImage> {
        if transfer == Transfer::GlanceDirect {
            self.glance
                .import(gid, &ImportMethod::GlanceDirect)
                .await
                .map_err(OsError::into_anyhow)?;
        }
        let expected = digests.get(self.glance_hash).map(|v| ExpectedHash {
            algo: self.glance_hash.as_str().into(),
            value: v.to_owned(),
        });
        if transfer == Transfer::GlanceDirect {
            self.glance
                .wait_imported(gid, "glance-direct", &self.wait, expected.as_ref())
                .await
        } else {
            self.glance
                .wait_active(gid, "stream", &self.wait, expected.as_ref())
                .await
        }
        .map_err(OsError::into_anyhow)
    }

    fn record_image_digest(&self, lock: &LockedImage, img: &GlanceImage) -> anyhow::Result<()> {
        let (Some(dir), Some(algo), Some(value)) = (
            self.state_dir,
            img.os_hash_algo.as_deref().and_then(HashAlgorithm::parse),
            img.os_hash_value.as_deref(),
        ) else {
            return Ok(());
        };
        let mut new = lock.clone();
        let Some(info) = new.build.image.as_mut() else {
            return Ok(());
        };
        if info.checksums.contains_key(&algo) {
            return Ok(());
        }
        info.checksums.insert(algo, value.to_ascii_lowercase());
        crate::lock::store::write_if_changed(dir, &new).with_context(|| {
            format!(
                "image {} is verified, but its digest could not be recorded in {}",
                img.id,
                crate::lock::store::path_for(dir, &lock.id).display()
            )
        })?;
        Ok(())
    }

    async fn verified_by_reread(
        &self,
        lock: &LockedImage,
        img: GlanceImage,
        digests: transfer::Digests,
    ) -> anyhow::Result<Verified> {
        let glance = self.verify_stored(&img, &digests).await?;
        Ok(Verified {
            summary: with_checks(
                format!("{} (upstream re-read)", summary(lock, &digests, &glance)),
                &digests,
            ),
            bytes: digests.bytes,
            image: img,
        })
    }

    /// Checks what Glance stored (`img`, settled) against the bytes sent (`sent`): its size and
    /// its own hash; when that hash is of an algorithm this run did not compute (the cloud's
    /// `hashing_algorithm` differs from what its images suggested, or Glance gave none), the
    /// stored bytes are read back and hashed, so nothing is promoted unverified.
    async fn verify_stored(
        &self,
        img: &GlanceImage,
        sent: &transfer::Digests,
    ) -> anyhow::Result<GlanceCheck> {
        let glance = transfer::verify_against_glance(
            sent,
            img.size,
            img.os_hash_algo.as_deref(),
            img.os_hash_value.as_deref(),
        )?;
        let GlanceCheck::AlgorithmUnknown(theirs) = glance else {
            return Ok(glance);
        };
        let algo = transfer::read_back_algorithm(sent).context("no digest of the bytes sent")?;
        tracing::debug!(image = %img.id, glance = %theirs, "reading the stored image back ({algo})");
        let pass = Pipeline::start(transfer::Consumers::digests(&[algo]));
        let body = self
            .glance
            .download(&img.id)
            .await
            .map_err(OsError::into_anyhow)
            .with_context(|| {
                format!(
                    "Glance hashes with `{theirs}`, not comparable: cannot read image {} back to verify it",
                    img.id
                )
            })?;
        // Never more than was sent (+1 to see it): a longer answer is a mismatch, not a hang.
        let limit = sent.bytes + 1;
        let mut seen = 0u64;
        let bounded = body.take_while(move |chunk| {
            let go = seen < limit;
            if let Ok(c) = chunk {
                seen += c.len() as u64;
            }
            std::future::ready(go)
        });
        pass.feed(bounded, |_| {})
            .try_for_each(|_| async { Ok(()) })
            .await
            .with_context(|| format!("reading image {} back from Glance broke off", img.id))?;
        let back = pass.finish().await.context("the read-back ended early")?;
        Ok(transfer::verify_read_back(sent, &back, &theirs)?)
    }

    /// Re-reads the upstream file (hashing only, nothing stored) and checks it against the lock.
    async fn reread(
        &self,
        url: &str,
        lock: &LockedImage,
        signature: Option<SignatureConsumer>,
    ) -> anyhow::Result<transfer::Digests> {
        // Glance's algorithm is not known before its import ends: hash the expected one beside
        // the lockfile's (a cloud with another one is read back from Glance).
        let pass = Pipeline::for_build_with(&lock.build, Some(self.glance_hash), signature);
        let body = self
            .upstream_stream(url, lock, &pass, None, &download::Failure::default())
            .await?;
        body.try_for_each(|_| async { Ok(()) })
            .await
            .with_context(|| format!("cannot re-read {url} to verify the web-download"))?;
        let digests = pass.finish().await.context("the re-read ended early")?;
        transfer::verify_against_lock(&lock.build, &digests)
            .with_context(|| format!("the bytes of {url} are not the locked build"))?;
        Ok(digests)
    }

    /// The signature to verify on the stream when the lockfile says `checked-on-transfer`,
    /// fetched (through the mirror rewrite) and parsed before anything is created in Glance.
    pub(super) async fn signature_check(
        &self,
        image: &Image,
        lock: &LockedImage,
    ) -> anyhow::Result<Option<SignatureConsumer>> {
        if lock.build.signature.status != SignatureState::CheckedOnTransfer {
            return Ok(None);
        }
        let url = lock.build.signature.url.as_deref().with_context(|| {
            format!(
                "the lockfile of {} says `checked-on-transfer` but names no signature; run `check`",
                lock.id
            )
        })?;
        let sig = self
            .fetcher
            .get(url)
            .await
            .with_context(|| format!("cannot fetch the signature {url}"))?;
        let check = StreamCheck::start(
            &image.signature.keys,
            &sig.body,
            url,
            jiff::Timestamp::now(),
        )
        .map_err(|e| crate::error::hinted(e.to_string(), e.hint()))?;
        Ok(Some(SignatureConsumer::new(check)))
    }

    /// The upstream file as a hashing byte stream (`auth`: the source's download header).
    async fn upstream_stream(
        &self,
        url: &str,
        lock: &LockedImage,
        pass: &Pipeline,
        auth: Option<&download::Auth>,
        failure: &download::Failure,
    ) -> anyhow::Result<
        impl futures_util::Stream<Item = Result<bytes::Bytes, crate::http::HttpError>> + Send + 'static,
    > {
        let (resp, at) = download::open(&self.upstream, url, auth).await?;
        let total = resp.content_length().or(lock.build.size);
        let tick = self.progress.start(&lock.id, total);
        Ok(pass.feed(
            download::watch(resp, at, self.limits, failure.clone()),
            tick,
        ))
    }
}

/// Checks the decompressed image's digests against the lockfile's `[build.image.checksums]`;
/// returns what was proved.
fn verify_image_digests(
    build: &crate::lock::Build,
    inner: &transfer::Digests,
) -> Result<String, transfer::Mismatch> {
    let locked = build.image.as_ref().map(|i| &i.checksums);
    let mut proved = Vec::new();
    for (algo, expected) in locked.into_iter().flatten() {
        if let Some(actual) = inner.get(*algo) {
            if !actual.eq_ignore_ascii_case(expected) {
                return Err(transfer::Mismatch::ImageChecksum {
                    algo: *algo,
                    expected: expected.clone(),
                    actual: actual.to_owned(),
                });
            }
            proved.push(algo.as_str());
        }
    }
    Ok(if proved.is_empty() {
        "digest not locked yet".to_owned()
    } else {
        format!("{} match lockfile", proved.join("+"))
    })
}

/// The temporary image record of an import, and the header it was created from.
pub(super) struct Created {
    pub(super) gid: String,
    pub(super) header: header::Header,
}

/// The decompressing pass's verdict once its input ended: a broken upstream is the cause (the
/// decoder then only saw its input end); otherwise the pass's digests, checked against the lock.
async fn decompressed_verdict(
    pass: tokio::task::JoinHandle<Option<transfer::Digests>>,
    failure: &download::Failure,
    build: &crate::lock::Build,
    url: &str,
) -> anyhow::Result<transfer::Digests> {
    if let Some(up) = failure.take() {
        pass.abort();
        return Err(upstream_failed(up));
    }
    let digests = pass
        .await
        .ok()
        .flatten()
        .context("the decompressing pass ended early")?;
    transfer::verify_against_lock(build, &digests)
        .with_context(|| format!("the bytes of {url} are not the locked build"))?;
    Ok(digests)
}

fn upstream_failed(up: crate::http::HttpError) -> anyhow::Error {
    anyhow::Error::new(crate::error::Hinted {
        message: "the upstream download failed (the upstream side, not Glance)".into(),
        hint: "retry later or fetch from a closer mirror (`--mirror`); a slow but working upstream needs a lower `settings.download.min_rate` / `--min-rate` or a longer `--deadline`".into(),
        cause: Some(anyhow::Error::new(up)),
    })
}

pub(super) struct Verified {
    pub(super) summary: String,
    pub(super) bytes: u64,
    pub(super) image: GlanceImage,
}

/// What the consumers proved besides the hashes (a verified signature), appended.
fn with_checks(summary: String, d: &transfer::Digests) -> String {
    d.checks
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .fold(summary, |acc, proved| format!("{acc}; {proved}"))
}

/// What proved the bytes: the lockfile digests computed over the bytes sent (`sent`), then
/// Glance's side.
fn summary(lock: &LockedImage, sent: &transfer::Digests, glance: &GlanceCheck) -> String {
    let algos: Vec<&str> = sent
        .digests
        .keys()
        .filter(|a| lock.build.checksums.contains_key(a))
        .map(|a| a.as_str())
        .collect();
    let theirs = match glance {
        GlanceCheck::Matches(a) => format!("Glance {a} matches"),
        GlanceCheck::Lock(a) => format!("Glance {a} matches lockfile"),
        GlanceCheck::AlgorithmUnknown(a) => {
            format!("Glance hash `{a}` not comparable (size matches)")
        }
        GlanceCheck::ReadBack(a, ours_algo) => {
            let what = match &sent.by_glance {
                Some((a, _)) if a == ours_algo && sent.get(*a).is_none() => "matches lockfile",
                _ => "matches",
            };
            format!("Glance hash `{a}` not comparable, stored bytes read back: {ours_algo} {what}")
        }
    };
    if algos.is_empty() {
        theirs
    } else {
        format!("{} match lockfile; {theirs}", algos.join("+"))
    }
}
