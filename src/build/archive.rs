//! The state of a recipe's package archive: the `Date:` of the `Release` file of each suite a
//! build installs from (for an apt archive, the release and `<release>-security`). When one
//! of them is newer than the build's, the archive moved (a point release, a security fix) and
//! a rebuild is due.
//!
//! The files are fetched through the [`Fetcher`], so the catalog's `mirrors` and the HTTP
//! cache apply like for any upstream file. They are not signature-checked here: a date only
//! decides *whether* to build; the build itself (debootstrap, apt) verifies the archive.

use std::collections::BTreeMap;

use crate::catalog::raw::{ArchiveWatch, DiskimageBuilderSource};
use crate::upstream::{DiscoverError, Fetcher};

/// The suites a recipe watches, as `(suite, upstream Release URL)`, sorted by suite (pure).
pub fn watched(recipe: &DiskimageBuilderSource) -> Vec<(String, String)> {
    if recipe.archive == ArchiveWatch::None {
        return Vec::new();
    }
    let release_url = |mirror: &str, suite: &str| {
        format!("{}/dists/{suite}/Release", mirror.trim_end_matches('/'))
    };
    let mut out = vec![(
        recipe.release.clone(),
        release_url(&recipe.mirror, &recipe.release),
    )];
    if let Some(security) = &recipe.security_mirror {
        let suite = format!("{}-security", recipe.release);
        out.push((suite.clone(), release_url(security, &suite)));
    }
    out.sort();
    out
}

/// The `Date:` field of a `Release` file (deb822: the first paragraph, field names in any
/// case), as RFC 3339 in UTC (pure). `url` names the file in errors.
pub fn release_date(text: &str, url: &str) -> Result<String, DiscoverError> {
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            break; // end of the first paragraph
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if line.starts_with([' ', '\t']) || !name.eq_ignore_ascii_case("Date") {
            continue;
        }
        return parse_date(value.trim())
            .map_err(|message| DiscoverError::parse(url, n + 1, message));
    }
    Err(DiscoverError::parse(
        url,
        0,
        "no `Date:` field in the Release file",
    ))
}

/// `Sat, 09 Nov 2024 10:25:41 UTC` (RFC 2822 with Debian's `UTC` zone) to
/// `2024-11-09T10:25:41Z`.
fn parse_date(value: &str) -> Result<String, String> {
    // RFC 2822 knows `UT` and `GMT`; the archive tools write `UTC`.
    let normalized = match value.strip_suffix(" UTC") {
        Some(rest) => format!("{rest} +0000"),
        None => value.to_owned(),
    };
    let zoned = jiff::fmt::rfc2822::parse(&normalized)
        .map_err(|e| format!("`Date: {value}` is not an RFC 2822 date: {e}"))?;
    Ok(zoned.timestamp().strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// The archive state now: suite to `Release` date, fetched through `fetcher`.
pub async fn state(
    recipe: &DiskimageBuilderSource,
    fetcher: &Fetcher,
) -> Result<BTreeMap<String, String>, DiscoverError> {
    let mut out = BTreeMap::new();
    for (suite, url) in watched(recipe) {
        let file = fetcher.get(&url).await?;
        out.insert(suite, release_date(&file.text(), &url)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::raw::{ObjectListing, PublishTarget};

    fn recipe() -> DiskimageBuilderSource {
        DiskimageBuilderSource {
            elements: vec!["vm".into(), "debian-minimal".into()],
            release: "bookworm".into(),
            mirror: "http://deb.debian.org/debian/".into(),
            security_mirror: Some("http://deb.debian.org/debian-security".into()),
            environment: Default::default(),
            archive: ArchiveWatch::Apt,
            publish: PublishTarget {
                url: "http://127.0.0.1:1/builds".into(),
                listing: ObjectListing::S3,
                signed: false,
            },
        }
    }

    #[test]
    fn an_apt_recipe_watches_its_release_and_security_suites() {
        assert_eq!(
            watched(&recipe()),
            [
                (
                    "bookworm".to_owned(),
                    "http://deb.debian.org/debian/dists/bookworm/Release".to_owned()
                ),
                (
                    "bookworm-security".to_owned(),
                    "http://deb.debian.org/debian-security/dists/bookworm-security/Release"
                        .to_owned()
                ),
            ]
        );
        let mut r = recipe();
        r.security_mirror = None;
        assert_eq!(watched(&r).len(), 1);
        r.archive = ArchiveWatch::None;
        assert!(watched(&r).is_empty());
    }

    #[test]
    fn the_date_of_the_first_paragraph_is_read() {
        let text = "Origin: Debian\nLabel: Debian\nSuite: stable\nCodename: bookworm\n\
                    date: Sat, 09 Nov 2024 10:25:41 UTC\nValid-Until: Sat, 16 Nov 2024 10:25:41 UTC\n\
                    MD5Sum:\n 0ed6d4c8891eb86358b94bb35d9e4da4  1484322 contrib/Contents-all\n";
        assert_eq!(release_date(text, "u").unwrap(), "2024-11-09T10:25:41Z");
        let offset = "Date: Sat, 09 Nov 2024 12:25:41 +0200\n";
        assert_eq!(release_date(offset, "u").unwrap(), "2024-11-09T10:25:41Z");
    }

    #[test]
    fn a_release_file_without_a_good_date_names_the_line() {
        let e = release_date("Origin: Debian\nDate: yesterday\n", "http://m/Release").unwrap_err();
        assert!(e.to_string().starts_with("http://m/Release:2: "), "{e}");
        assert!(e.to_string().contains("yesterday"), "{e}");
        let e = release_date(
            "Origin: Debian\n\nDate: Sat, 09 Nov 2024 10:25:41 UTC\n",
            "u",
        )
        .unwrap_err();
        assert!(e.to_string().contains("no `Date:` field"), "{e}");
        // A continuation line is not a field.
        assert!(
            release_date(
                "Description: x\n Date: Sat, 09 Nov 2024 10:25:41 UTC\n",
                "u"
            )
            .is_err()
        );
    }
}
