//! Per-distribution discovery: one file per distributor, each reading only that
//! distributor's own metadata (docs/upstream-formats.md §1–§10).
//!
//! Contract of every `discover` here:
//! - candidates are returned oldest first, sorted by the distributor's own key (never by
//!   document or listing order), aliases (`latest`, `current`) excluded;
//! - the catalog's version policy (`pin`, `match`) is applied here too, so per-build
//!   evidence (a release directory's signed `SHA256SUMS`, a versioned `.SHA256.sig`) is
//!   fetched only for builds `select` can take: where evidence is per build, the newest
//!   admitted build is returned, plus the newest one old enough when `min_age` holds the
//!   newest back ([`for_selection`]); where one signed file covers every build (RHEL-like
//!   `CHECKSUM`, Fedora), all admitted builds are returned with the same signature status.
//!   `upstream::select` makes the final choice;
//! - every candidate has an immutable upstream URL, a build date from the build id (or, when
//!   the id has none, from signed or build metadata; see each module), and at least one
//!   well-formed digest.
//!
//! Pure parsing and selection are separate functions over strings, tested on small fixtures;
//! the `discover` functions only fetch and glue.

pub mod alpine;
pub mod arch;
pub mod cirros;
pub mod debian;
pub mod fedora;
pub mod fedora_coreos;
pub mod flatcar;
pub mod opensuse;
pub mod rhel;
pub mod sigdate;
pub mod simplestreams;
pub mod ubuntu;

use std::collections::BTreeMap;

use crate::catalog::{Image, SignatureMode, Source};
use crate::lock::{HashAlgorithm, SignatureStatus};
use crate::upstream::error::DiscoverError;
use crate::upstream::signature::Checked;
use crate::upstream::{Candidate, Fetcher, listing, names, signature, version};

/// Discovers the builds of one catalog image from its distributor's metadata.
///
/// `now` is the one clock of a run (the `min_age` rule needs it); discovery never reads
/// the system clock itself.
pub async fn discover(
    image: &Image,
    fetcher: &Fetcher,
    now: jiff::Timestamp,
) -> Result<Vec<Candidate>, DiscoverError> {
    let found = match &image.source {
        Source::Ubuntu(s) => ubuntu::discover(image, s, fetcher, now).await?,
        Source::Debian(s) => debian::discover(image, s, fetcher, now).await?,
        Source::Almalinux(s) => rhel::discover(image, rhel::Family::Alma, s, fetcher, now).await?,
        Source::Rocky(s) => rhel::discover(image, rhel::Family::Rocky, s, fetcher, now).await?,
        Source::CentosStream(s) => {
            rhel::discover(image, rhel::Family::CentosStream, s, fetcher, now).await?
        }
        Source::Fedora(s) => fedora::discover(image, s, fetcher, now).await?,
        Source::OpensuseLeap(s) => opensuse::discover(image, s, fetcher, now).await?,
        Source::Cirros(s) => cirros::discover(image, s, fetcher, now).await?,
        Source::Alpine(s) => alpine::discover(image, s, fetcher).await?,
        Source::Archlinux(s) => arch::discover(image, s, fetcher, now).await?,
        Source::FedoraCoreos(s) => fedora_coreos::discover(image, s, fetcher, now).await?,
        Source::Flatcar(s) => flatcar::discover(image, s, fetcher, now).await?,
        Source::ChecksumDir(_)
        | Source::GithubRelease(_)
        | Source::ObjectStorage(_)
        | Source::DiskimageBuilder(_)
        | Source::Static(_) => {
            return Err(DiscoverError::Unsupported {
                kind: image.source.kind().to_owned(),
            });
        }
    };
    Ok(found)
}

/// Whether the catalog's version policy (`pin`, `match`) admits a version.
///
/// `match` was compiled once by the catalog loader, so a failure here cannot happen for a
/// loaded catalog; an uncompilable expression admits nothing (never everything).
/// The `match` expression is compiled once per image, not per version (listings of
/// thousands of builds).
pub fn admitter(image: &Image) -> impl Fn(&str) -> bool + '_ {
    let compiled = image
        .version
        .matches
        .as_ref()
        .map(|expr| regex::Regex::new(expr).ok());
    move |version| {
        if let Some(pin) = &image.version.pin {
            return pin == version;
        }
        match &compiled {
            Some(re) => re.as_ref().is_some_and(|re| re.is_match(version)),
            None => true,
        }
    }
}

/// Keeps the admitted items of an ascending list and returns the newest, or a
/// `NotFound` naming the policy.
pub fn newest_admitted<T>(
    image: &Image,
    sorted: Vec<T>,
    version_of: impl Fn(&T) -> &str,
    url: &str,
    what: &str,
) -> Result<T, DiscoverError> {
    let total = sorted.len();
    let admit = admitter(image);
    sorted
        .into_iter()
        .rfind(|t| admit(version_of(t)))
        .ok_or_else(|| DiscoverError::not_found(url, not_found_what(image, what, total)))
}

/// The builds worth gathering per-build evidence for, oldest first: the newest admitted one
/// and, when it is younger than the catalog's `min_age`, also the newest one old enough (so
/// `select` can take it instead of holding). `date_of` gives a build's `YYYY-MM-DD`.
pub fn for_selection<T>(
    image: &Image,
    sorted: Vec<T>,
    version_of: impl Fn(&T) -> &str,
    date_of: impl Fn(&T) -> Option<String>,
    url: &str,
    what: &str,
    now: jiff::Timestamp,
) -> Result<Vec<T>, DiscoverError> {
    let mut admitted = all_admitted(image, sorted, &version_of, url, what)?;
    let newest = admitted.pop().expect("all_admitted is never empty");
    let Some(min_age) = image
        .version
        .min_age
        .filter(|_| image.version.pin.is_none())
    else {
        return Ok(vec![newest]);
    };
    let old_enough =
        |t: &T| date_of(t).is_some_and(|d| crate::upstream::select::old_enough(&d, min_age, now));
    if old_enough(&newest) {
        return Ok(vec![newest]);
    }
    let mut out: Vec<T> = admitted
        .into_iter()
        .rev()
        .find(|t| old_enough(t))
        .into_iter()
        .collect();
    out.push(newest);
    Ok(out)
}

/// Keeps the admitted items of an ascending list; `NotFound` when none is left.
pub fn all_admitted<T>(
    image: &Image,
    sorted: Vec<T>,
    version_of: impl Fn(&T) -> &str,
    url: &str,
    what: &str,
) -> Result<Vec<T>, DiscoverError> {
    let total = sorted.len();
    let admit = admitter(image);
    let kept: Vec<T> = sorted
        .into_iter()
        .filter(|t| admit(version_of(t)))
        .collect();
    if kept.is_empty() {
        return Err(DiscoverError::not_found(
            url,
            not_found_what(image, what, total),
        ));
    }
    Ok(kept)
}

fn not_found_what(image: &Image, what: &str, total: usize) -> String {
    match (&image.version.pin, &image.version.matches, total) {
        (_, _, 0) => what.to_owned(),
        (Some(pin), _, n) => format!("{what} with version {pin:?} ({n} other builds listed)"),
        (None, Some(m), n) => format!("{what} with a version matching {m:?} ({n} builds listed)"),
        (None, None, _) => what.to_owned(),
    }
}

/// Validates one digest from upstream metadata: lower-cases it and checks its length and
/// alphabet. An empty or malformed digest is an error naming the URL; an all-zero digest is
/// a placeholder, not a digest, and gives `Ok(None)` (callers decide whether another digest
/// remains).
pub fn digest(
    url: &str,
    algorithm: HashAlgorithm,
    hex: &str,
) -> Result<Option<String>, DiscoverError> {
    let hex = hex.trim().to_ascii_lowercase();
    if hex.is_empty() {
        return Err(invalid(url, format!("empty {algorithm} digest")));
    }
    if hex.len() != algorithm.hex_len() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(
            url,
            format!(
                "malformed {algorithm} digest {hex:?} (want {} hex digits)",
                algorithm.hex_len()
            ),
        ));
    }
    if hex.bytes().all(|b| b == b'0') {
        return Ok(None);
    }
    Ok(Some(hex))
}

/// Builds a checksum map from `(algorithm, hex)` pairs, validating each; never empty.
pub fn checksums(
    url: &str,
    pairs: impl IntoIterator<Item = (HashAlgorithm, String)>,
) -> Result<BTreeMap<HashAlgorithm, String>, DiscoverError> {
    let mut out = BTreeMap::new();
    for (alg, hex) in pairs {
        if let Some(hex) = digest(url, alg, &hex)? {
            out.insert(alg, hex);
        }
    }
    if out.is_empty() {
        return Err(invalid(url, "no usable digest (empty or placeholder)"));
    }
    Ok(out)
}

/// Shorthand for [`DiscoverError::Invalid`].
pub fn invalid(url: &str, message: impl Into<String>) -> DiscoverError {
    DiscoverError::Invalid {
        url: url.to_owned(),
        message: message.into(),
    }
}

/// The build date (`YYYY-MM-DD`) of a build id that embeds `YYYYMMDD`, or an error naming
/// the URL the id came from.
pub fn build_date(url: &str, id: &str) -> Result<String, DiscoverError> {
    version::build_date(id)
        .ok_or_else(|| invalid(url, format!("no YYYYMMDD date in build id {id:?}")))
}

/// The directory part of a URL (up to and including the last `/`).
pub fn dir_of(url: &str) -> &str {
    match url.rfind('/') {
        Some(i) => &url[..=i],
        None => url,
    }
}

/// The last path segment of a URL.
pub fn file_of(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

/// Fetches an optional detached signature (armoured or binary) and applies the catalog's
/// policy to it; `data` is the signed file as fetched. With the policy `off` nothing is
/// fetched. `now` (here and below) is the run's one clock: key expiry, revocation and
/// signatures dated in the future are judged at it, never at the system clock.
pub async fn detached_signature(
    image: &Image,
    fetcher: &Fetcher,
    data: &[u8],
    sig_url: &str,
    now: jiff::Timestamp,
) -> Result<SignatureStatus, DiscoverError> {
    let sig = if image.signature.mode == SignatureMode::Off {
        None
    } else {
        fetcher.get_optional(sig_url).await?
    };
    signature_policy(
        image,
        data,
        sig.as_ref().map(|s| s.body.as_ref()),
        sig_url,
        now,
    )
    .map(|c| c.status)
}

/// The catalog's policy over an already fetched detached signature (`None`: not published);
/// the verdict carries the verified signature's date.
pub fn signature_policy(
    image: &Image,
    data: &[u8],
    sig: Option<&[u8]>,
    sig_url: &str,
    now: jiff::Timestamp,
) -> Result<Checked, DiscoverError> {
    signature::verify_policy(
        image.signature.mode,
        &image.signature.keys,
        data,
        sig,
        sig_url,
        now,
    )
    .map_err(|e| DiscoverError::signature(sig_url, e))
}

/// Applies the catalog's policy to a file that may be clear-signed (Fedora `CHECKSUM`);
/// returns the verdict and the text to parse (only the signed text when verified).
pub fn clearsigned(
    image: &Image,
    url: &str,
    text: &str,
    now: jiff::Timestamp,
) -> Result<(Checked, String), DiscoverError> {
    signature::verify_clearsigned_policy(
        image.signature.mode,
        &image.signature.keys,
        text,
        url,
        now,
    )
    .map_err(|e| DiscoverError::signature(url, e))
}

/// The policy's verdict for metadata its distributor does not sign (`url` names it).
pub fn unsigned(
    image: &Image,
    url: &str,
    now: jiff::Timestamp,
) -> Result<SignatureStatus, DiscoverError> {
    signature::verify_policy(
        image.signature.mode,
        &image.signature.keys,
        &[],
        None,
        url,
        now,
    )
    .map(|c| c.status)
    .map_err(|e| DiscoverError::signature(url, e))
}

/// The policy for a detached signature over the image itself (Alpine's `<image>.asc`):
/// `check` records `checked-on-transfer` and `apply` verifies it on the stream
/// ([`signature::on_transfer_policy`]). With `policy: off` nothing is fetched.
pub async fn signed_on_transfer(
    image: &Image,
    sig_url: &str,
    fetcher: &Fetcher,
) -> Result<SignatureStatus, DiscoverError> {
    if image.signature.mode == SignatureMode::Off {
        return Ok(SignatureStatus::state(crate::lock::SignatureState::Off));
    }
    let sig = fetcher.get_optional(sig_url).await?;
    signature::on_transfer_policy(
        image.signature.mode,
        &image.signature.keys,
        sig.as_ref().map(|f| &f.body[..]),
        sig_url,
    )
    .map_err(|e| DiscoverError::signature(sig_url, e))
}

/// The names of a directory listing (directories with a trailing `/`), in listing order.
pub fn listing_names(url: &str, body: &str) -> Result<Vec<String>, DiscoverError> {
    let entries = listing::parse(body).map_err(|m| DiscoverError::parse(url, 0, m))?;
    Ok(entries
        .iter()
        .filter(|e| names::admit(url, &e.name, names::Shape::FileName))
        .map(|e| e.path())
        .collect())
}

#[cfg(test)]
pub(crate) mod testing {
    //! Catalog images for unit tests (the loader is not needed to test discovery).

    use crate::catalog::*;

    pub fn image(source: Source, arch: Architecture) -> Image {
        Image {
            name: "Test".into(),
            ..Image::new("test", source, arch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::image;
    use super::*;
    use crate::catalog::{Architecture, raw::ArchSource};

    fn img(pin: Option<&str>, matches: Option<&str>) -> Image {
        let mut i = image(
            Source::Archlinux(ArchSource {
                variant: "cloudimg".into(),
            }),
            Architecture::X86_64,
        );
        i.version.pin = pin.map(str::to_owned);
        i.version.matches = matches.map(str::to_owned);
        i
    }

    #[test]
    fn version_policy_pin_and_match() {
        let v = vec!["9.7-1", "9.8-2", "10.0-3"];
        assert_eq!(
            newest_admitted(&img(None, None), v.clone(), |s| s, "u", "x").unwrap(),
            "10.0-3"
        );
        assert_eq!(
            newest_admitted(&img(Some("9.7-1"), None), v.clone(), |s| s, "u", "x").unwrap(),
            "9.7-1"
        );
        assert_eq!(
            newest_admitted(&img(None, Some(r"^9\.")), v.clone(), |s| s, "u", "x").unwrap(),
            "9.8-2"
        );
        let err = newest_admitted(&img(Some("1"), None), v.clone(), |s| s, "u", "x").unwrap_err();
        assert!(err.to_string().contains("\"1\""), "{err}");
        // An expression that does not compile admits nothing.
        assert!(all_admitted(&img(None, Some("(")), v, |s| s, "u", "x").is_err());
    }

    #[test]
    fn min_age_adds_the_newest_build_old_enough() {
        let v = vec!["20240101", "20240110", "20240120"];
        let now: jiff::Timestamp = "2024-01-21T12:00:00Z".parse().unwrap();
        let date = |s: &&str| crate::upstream::version::build_date(s);
        let pick = |i: &Image| for_selection(i, v.clone(), |s| s, date, "u", "x", now).unwrap();
        assert_eq!(pick(&img(None, None)), ["20240120"]);
        let mut aged = img(None, None);
        aged.version.min_age = Some(jiff::SignedDuration::from_hours(24 * 5));
        assert_eq!(pick(&aged), ["20240110", "20240120"]);
        aged.version.min_age = Some(jiff::SignedDuration::from_hours(24));
        assert_eq!(pick(&aged), ["20240120"]);
    }

    #[test]
    fn digests_are_validated() {
        let a = HashAlgorithm::Sha256;
        assert_eq!(
            digest("u", a, &"AB".repeat(32)).unwrap(),
            Some("ab".repeat(32))
        );
        assert_eq!(digest("u", a, &"0".repeat(64)).unwrap(), None);
        assert!(
            digest("u", a, "")
                .unwrap_err()
                .to_string()
                .starts_with("u: empty sha256")
        );
        assert!(digest("u", a, &"g".repeat(64)).is_err());
        assert!(digest("u", a, &"a".repeat(63)).is_err());
        assert!(checksums("u", [(a, "0".repeat(64))]).is_err());
        assert_eq!(dir_of("https://h/a/b.img"), "https://h/a/");
        assert_eq!(file_of("https://h/a/b.img"), "b.img");
    }
}
