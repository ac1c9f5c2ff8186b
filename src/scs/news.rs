//! STALENESS AND NEWS for `check`: pure functions over the parsed upstream release lists and
//! the catalog.
//!
//! - [`staleness`]: the newest upstream build of an image is older than its
//!   `replace_frequency` period, so the SCS recency test will fail (or already fails) for the
//!   image in Glance although the operator has done nothing wrong.
//! - [`release_news`]: a distributor lists a newer release than any the catalog carries
//!   (Ubuntu simplestreams products, Fedora `releases.json`, Alpine `releases.json`).
//!
//! The parsers take the documents as text and keep only what these checks need; fetching
//! them is the caller's business (the upstream fetcher, with its mirror rewrite).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::recency::{outdated_after, period_secs};
use crate::catalog::Image;

/// What kind of news.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NewsKind {
    /// The newest upstream build is older than the image's replace frequency.
    Stale,
    /// The distributor has a newer release than the catalog.
    NewRelease,
}

/// One item of news.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct News {
    pub kind: NewsKind,
    /// The source kind (`ubuntu`, `fedora`, `alpine`, ...).
    pub distro: String,
    /// The catalog image concerned (stale), or `None` (a release the catalog lacks).
    pub image_id: Option<String>,
    /// The new release (new-release only).
    pub version: Option<String>,
    pub message: String,
    /// The release list that announced it (new-release only).
    pub url: Option<String>,
}

/// The distributors' release lists that [`release_news`] reads.
pub const UBUNTU_STREAM: &str =
    "https://cloud-images.ubuntu.com/releases/streams/v1/com.ubuntu.cloud:released:download.json";
pub const FEDORA_RELEASES: &str = "https://fedoraproject.org/releases.json";
pub const ALPINE_RELEASES: &str = "https://alpinelinux.org/releases.json";

/// Staleness of one catalog image given the build date of the newest upstream build
/// (`YYYY-MM-DD`, as in the lockfile). `None` when fine, exempt (`never`, `critical_bug`,
/// no `replace_frequency`) or not judgeable.
///
/// Warns once the build is older than one period; the SCS test fails at 1.1 periods, and
/// the message says when. Only where the official test would fail: `provided_until` `none`,
/// `notice`, or a date before the failure, exempts the image there, so here too.
pub fn staleness(image: &Image, newest_build_date: &str, now: jiff::Timestamp) -> Option<News> {
    let freq = image.glance.properties.get("replace_frequency")?;
    let secs = period_secs(freq)?;
    let built = super::parse_scs_date(newest_build_date)?;
    let stale_at = built
        .checked_add(jiff::SignedDuration::from_secs(secs))
        .ok()?;
    if now <= stale_at {
        return None;
    }
    let fails_at = outdated_after(built, freq)?;
    // As the official `is_outdated`: `provided_until` `none`/`notice` exempts the image, and so
    // does a date that has passed (or will have passed before the test starts failing). A
    // missing or garbled value does not (the official test aborts or fails on it).
    match image
        .glance
        .properties
        .get("provided_until")
        .map(String::as_str)
    {
        Some("none" | "notice") => return None,
        Some(until) => {
            if let Some(until) = super::parse_scs_date(until)
                && until < now.max(fails_at)
            {
                return None;
            }
        }
        None => {}
    }
    let when = if now > fails_at {
        format!(
            "has failed since {}",
            fails_at.strftime("%Y-%m-%d %H:%M UTC")
        )
    } else {
        format!("fails from {}", fails_at.strftime("%Y-%m-%d %H:%M UTC"))
    };
    let distro = super::lifecycle::source_release(&image.source).map_or("other", |(k, _)| k);
    Some(News {
        kind: NewsKind::Stale,
        distro: distro.to_owned(),
        image_id: Some(image.id.clone()),
        version: None,
        url: None,
        message: format!(
            "the newest upstream build is from {newest_build_date}, older than its replace_frequency ({freq}); the SCS recency test {when}"
        ),
    })
}

/// One Ubuntu release from a simplestreams product list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UbuntuRelease {
    /// `24.04`.
    pub version: String,
    /// `noble`.
    pub codename: String,
    pub supported: bool,
    pub lts: bool,
}

#[derive(Deserialize)]
struct Streams {
    products: BTreeMap<String, StreamsProduct>,
}

#[derive(Deserialize)]
struct StreamsProduct {
    version: String,
    release: String,
    #[serde(default)]
    supported: bool,
    #[serde(default)]
    release_title: String,
}

/// The releases of a simplestreams `products:1.0` document (one entry per version, however
/// many architectures it lists), sorted by version.
pub fn parse_ubuntu_streams(json: &str) -> Result<Vec<UbuntuRelease>, serde_json::Error> {
    let doc: Streams = serde_json::from_str(json)?;
    let mut by_version: BTreeMap<String, UbuntuRelease> = BTreeMap::new();
    for p in doc.products.into_values() {
        let entry = by_version
            .entry(p.version.clone())
            .or_insert(UbuntuRelease {
                version: p.version,
                codename: p.release,
                supported: false,
                lts: p.release_title.contains("LTS"),
            });
        entry.supported |= p.supported;
    }
    let mut out: Vec<UbuntuRelease> = by_version.into_values().collect();
    out.sort_by(|a, b| version_cmp(&a.version, &b.version));
    Ok(out)
}

#[derive(Deserialize)]
struct FedoraEntry {
    version: String,
    #[serde(default)]
    variant: String,
}

/// The released Fedora versions with Cloud images in `releases.json` (no betas), ascending.
pub fn parse_fedora_releases(json: &str) -> Result<Vec<String>, serde_json::Error> {
    let entries: Vec<FedoraEntry> = serde_json::from_str(json)?;
    let set: BTreeSet<String> = entries
        .into_iter()
        .filter(|e| {
            e.variant == "Cloud"
                && !e.version.is_empty()
                && e.version.bytes().all(|b| b.is_ascii_digit())
        })
        .map(|e| e.version)
        .collect();
    let mut out: Vec<String> = set.into_iter().collect();
    out.sort_by(|a, b| version_cmp(a, b));
    Ok(out)
}

/// Alpine's release branches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlpineReleases {
    /// `3.23` (without the `v`).
    pub latest_stable: String,
    /// Every stable branch (`3.21`, `3.22`, ...; not `edge`), ascending.
    pub branches: Vec<String>,
}

#[derive(Deserialize)]
struct AlpineDoc {
    latest_stable: String,
    release_branches: Vec<AlpineBranch>,
}

#[derive(Deserialize)]
struct AlpineBranch {
    rel_branch: String,
}

/// Parses Alpine's `releases.json`.
pub fn parse_alpine_releases(json: &str) -> Result<AlpineReleases, serde_json::Error> {
    let doc: AlpineDoc = serde_json::from_str(json)?;
    let strip = |s: &str| s.strip_prefix('v').unwrap_or(s).to_owned();
    let mut branches: Vec<String> = doc
        .release_branches
        .iter()
        .filter(|b| b.rel_branch != "edge")
        .map(|b| strip(&b.rel_branch))
        .collect();
    branches.sort_by(|a, b| version_cmp(a, b));
    branches.dedup();
    Ok(AlpineReleases {
        latest_stable: strip(&doc.latest_stable),
        branches,
    })
}

/// The release lists `check` fetched (each optional: only for distros the catalog uses).
#[derive(Debug, Clone, Default)]
pub struct ReleaseLists {
    pub ubuntu: Option<Vec<UbuntuRelease>>,
    pub fedora: Option<Vec<String>>,
    pub alpine: Option<AlpineReleases>,
}

/// Compares dotted numeric versions (`3.9` < `3.23`, `24.04` < `24.10`).
pub fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |s: &str| -> Vec<u64> { s.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    parts(a).cmp(&parts(b)).then_with(|| a.cmp(b))
}

/// The releases of `kind` the enabled catalog images pin; `None` when some image of that
/// kind follows the newest release (absent `release`), which makes news about it moot.
fn catalog_releases<'a>(catalog: &[&'a Image], kind: &str) -> Option<Vec<&'a str>> {
    let mut out = Vec::new();
    for img in catalog.iter().filter(|i| i.enabled) {
        if let Some((k, rel)) = super::lifecycle::source_release(&img.source)
            && k == kind
        {
            out.push(rel?);
        }
    }
    Some(out)
}

fn newer_than<'a>(candidates: impl IntoIterator<Item = &'a str>, have: &[&str]) -> Vec<&'a str> {
    let Some(newest) = have.iter().copied().max_by(|a, b| version_cmp(a, b)) else {
        return vec![]; // the catalog does not carry this distribution
    };
    candidates
        .into_iter()
        .filter(|v| version_cmp(v, newest).is_gt() && !have.contains(v))
        .collect()
}

fn new_release(distro: &str, version: &str, detail: &str) -> News {
    let url = match distro {
        "ubuntu" => UBUNTU_STREAM,
        "fedora" => FEDORA_RELEASES,
        _ => ALPINE_RELEASES,
    };
    News {
        url: Some(url.to_owned()),
        kind: NewsKind::NewRelease,
        distro: distro.to_owned(),
        image_id: None,
        version: Some(version.to_owned()),
        message: format!(
            "{distro} {version} is released{detail} and the catalog has no image for it yet"
        ),
    }
}

/// New releases the catalog lacks: for each distribution the catalog carries (with pinned
/// releases), every release in the distributor's list newer than the newest in the catalog.
/// Ubuntu: supported releases only, and only LTS releases when the catalog has only LTS ones.
pub fn release_news(lists: &ReleaseLists, catalog: &[&Image]) -> Vec<News> {
    let mut out = Vec::new();
    if let (Some(list), Some(have)) = (&lists.ubuntu, catalog_releases(catalog, "ubuntu")) {
        let lts_only = have
            .iter()
            .all(|v| list.iter().find(|r| r.version == *v).is_some_and(|r| r.lts));
        let candidates = list
            .iter()
            .filter(|r| r.supported && (r.lts || !lts_only))
            .map(|r| r.version.as_str());
        for v in newer_than(candidates, &have) {
            let r = list.iter().find(|r| r.version == v).expect("from the list");
            let detail = format!(" ({}{})", r.codename, if r.lts { ", LTS" } else { "" });
            out.push(new_release("ubuntu", v, &detail));
        }
    }
    if let (Some(list), Some(have)) = (&lists.fedora, catalog_releases(catalog, "fedora")) {
        for v in newer_than(list.iter().map(String::as_str), &have) {
            out.push(new_release("fedora", v, ""));
        }
    }
    if let (Some(list), Some(have)) = (&lists.alpine, catalog_releases(catalog, "alpine")) {
        let candidates = list
            .branches
            .iter()
            .map(String::as_str)
            .filter(|b| version_cmp(b, &list.latest_stable).is_le());
        for v in newer_than(candidates, &have) {
            out.push(new_release("alpine", v, ""));
        }
    }
    out
}

/// Convenience for `check`: staleness of every enabled image that has a newest build date.
pub fn stale_images<'a>(
    images: impl IntoIterator<Item = (&'a Image, &'a str)>,
    now: jiff::Timestamp,
) -> Vec<News> {
    images
        .into_iter()
        .filter(|(img, _)| img.enabled)
        .filter_map(|(img, date)| staleness(img, date, now))
        .collect()
}

/// How much a [`Note`] matters. Notes never change `check`'s exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoteSeverity {
    Error,
    Warning,
    Note,
}

impl NoteSeverity {
    pub fn label(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Note => "note",
        }
    }
}

/// What a [`Note`] is about. The codes are API (`docs/json-output.md`): scripts filter on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoteCode {
    /// An enabled image's release is past its end of life.
    EolPassed,
    /// An enabled image's release reaches its end of life soon.
    EolSoon,
    /// The lifecycle data does not know an enabled image's release.
    LifecycleUnknown,
    /// The newest upstream build is older than the image's `replace_frequency`.
    StaleUpstream,
    /// The distributor has a release the catalog has no image for.
    NewRelease,
    /// A distributor's release list could not be fetched or read (no release news for it).
    ReleaseListUnavailable,
}

/// One thing `check` reports besides lockfile changes: a value, rendered as one line (and a
/// hint) for people by [`Note::render`] and as an object in `--format json`. Every field is
/// always present (`null` when it does not apply), so the JSON shape does not vary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub severity: NoteSeverity,
    pub code: NoteCode,
    /// The catalog image concerned; `None` for news about the catalog as a whole.
    pub image_id: Option<String>,
    /// What happened, without a severity label or the image id.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// Where to read more (the release list, ...).
    pub url: Option<String>,
}

impl Note {
    /// `warning: <id>: <message>` and, when there is one, a `hint:` line.
    pub fn render(&self) -> String {
        let mut out = format!("{}: ", self.severity.label());
        if let Some(id) = &self.image_id {
            out.push_str(id);
            out.push_str(": ");
        }
        out.push_str(&self.message);
        if let Some(hint) = &self.hint {
            out.push_str("\nhint: ");
            out.push_str(hint);
        }
        out
    }
}

/// Everything `check` reports besides lockfile changes: lifecycle notices, stale upstreams
/// and new releases. One call for the verb; turn into [`Note`]s with [`CheckNotes::notes`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckNotes {
    pub lifecycle: Vec<super::lifecycle::Notice>,
    pub news: Vec<News>,
}

/// Computes [`CheckNotes`] for the checked (enabled) images: `newest_build_dates` maps a
/// catalog id to the build date (`YYYY-MM-DD`) of the newest upstream build found (or locked);
/// `lists` holds the release lists fetched for the distributions the catalog uses.
pub fn for_check(
    images: &[&Image],
    newest_build_dates: &BTreeMap<String, String>,
    lists: &ReleaseLists,
    lifecycle: &super::lifecycle::Lifecycle,
    now: jiff::Timestamp,
    eol_warning_weeks: u32,
) -> CheckNotes {
    let today = jiff::tz::TimeZone::UTC.to_datetime(now).date();
    let lifecycle = super::lifecycle::check_catalog(
        images.iter().copied(),
        lifecycle,
        today,
        eol_warning_weeks,
    );
    let mut news = stale_images(
        images
            .iter()
            .filter_map(|i| newest_build_dates.get(&i.id).map(|d| (*i, d.as_str()))),
        now,
    );
    news.extend(release_news(lists, images));
    CheckNotes { lifecycle, news }
}

impl CheckNotes {
    /// The notes, lifecycle first (sorted by image), then staleness, then new releases.
    pub fn notes(&self) -> Vec<Note> {
        use super::lifecycle::NoticeKind;
        let mut out: Vec<Note> = self
            .lifecycle
            .iter()
            .map(|n| {
                let (code, hint) = match n.kind {
                    NoticeKind::EolPassed => (
                        NoteCode::EolPassed,
                        "move the image to a supported release, or disable it in the catalog",
                    ),
                    NoticeKind::EolSoon => (
                        NoteCode::EolSoon,
                        "plan the move to a newer release before that date",
                    ),
                    NoticeKind::Unknown => (
                        NoteCode::LifecycleUnknown,
                        "add the release and its end-of-life date to catalog/lifecycle.yaml",
                    ),
                };
                Note {
                    severity: match n.severity {
                        super::Severity::Error => NoteSeverity::Error,
                        super::Severity::Warning => NoteSeverity::Warning,
                    },
                    code,
                    image_id: Some(n.image_id.clone()),
                    message: n.message.clone(),
                    hint: Some(hint.to_owned()),
                    url: None,
                }
            })
            .collect();
        for n in &self.news {
            out.push(match n.kind {
                NewsKind::Stale => Note {
                    severity: NoteSeverity::Warning,
                    code: NoteCode::StaleUpstream,
                    image_id: n.image_id.clone(),
                    message: n.message.clone(),
                    hint: Some(
                        "nothing to do if the distributor publishes a newer build in time; \
                         otherwise relax replace_frequency (or set provided_until) for the image"
                            .to_owned(),
                    ),
                    url: None,
                },
                NewsKind::NewRelease => Note {
                    severity: NoteSeverity::Note,
                    code: NoteCode::NewRelease,
                    image_id: None,
                    message: n.message.clone(),
                    hint: Some(format!(
                        "add an image for {} {} to the catalog",
                        n.distro,
                        n.version.as_deref().unwrap_or_default()
                    )),
                    url: n.url.clone(),
                },
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Source;
    use crate::catalog::raw::{AlpineSource, FedoraSource, UbuntuSource};

    fn img(id: &str, source: Source) -> Image {
        use crate::catalog::*;
        let mut image = Image::new(id, source, Architecture::X86_64);
        image
            .glance
            .properties
            .insert("replace_frequency".to_owned(), "monthly".to_owned());
        image
    }

    fn ubuntu(r: &str) -> Image {
        img(
            &format!("ubuntu-{r}"),
            Source::Ubuntu(UbuntuSource {
                release: r.into(),
                channel: Default::default(),
                variant: Default::default(),
                ftype: "disk1.img".into(),
            }),
        )
    }

    fn fedora(r: Option<&str>) -> Image {
        img(
            "fedora",
            Source::Fedora(FedoraSource {
                release: r.map(Into::into),
                subvariant: "Cloud_Base".into(),
            }),
        )
    }

    fn alpine(r: Option<&str>) -> Image {
        img(
            "alpine",
            Source::Alpine(AlpineSource {
                release: r.map(Into::into),
                firmware: "uefi".into(),
                bootstrap: "cloudinit".into(),
                cloud: "nocloud".into(),
            }),
        )
    }

    fn now() -> jiff::Timestamp {
        "2026-11-20T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn staleness_warns_only_where_the_official_recency_test_would_fail() {
        // `is_outdated` in image_metadata.py: `provided_until` `none`/`notice` or a past date
        // exempts an outdated image; a later date does not.
        let with_until = |v: &str| {
            let mut u = ubuntu("24.04");
            u.glance
                .properties
                .insert("provided_until".into(), v.into());
            u
        };
        for exempt in ["none", "notice", "2026-10-01"] {
            assert_eq!(
                staleness(&with_until(exempt), "2026-09-01", now()),
                None,
                "{exempt}"
            );
            assert_eq!(
                staleness(&with_until(exempt), "2026-10-18", now()),
                None,
                "{exempt}"
            );
        }
        // Maintained beyond now: the test fails (or will).
        let n = staleness(&with_until("2029-05-31"), "2026-09-01", now()).unwrap();
        assert!(n.message.contains("has failed since"), "{}", n.message);
        let n = staleness(&with_until("2029-05-31"), "2026-10-18", now()).unwrap();
        assert!(n.message.contains("fails from"), "{}", n.message);
        // Stale, but `provided_until` passes before the test would start failing: never fails.
        assert_eq!(
            staleness(&with_until("2026-11-21"), "2026-10-18", now()),
            None
        );
    }

    #[test]
    fn staleness_warns_after_one_period_and_says_when_the_test_fails() {
        let u = ubuntu("24.04");
        assert_eq!(staleness(&u, "2026-11-01", now()), None);
        // 33 days: past one month (31 d), before 1.1 months (34.1 d).
        let n = staleness(&u, "2026-10-18", now()).unwrap();
        assert_eq!(n.kind, NewsKind::Stale);
        assert_eq!(n.image_id.as_deref(), Some("ubuntu-24.04"));
        assert!(
            n.message.contains("fails from 2026-11-21 02:24 UTC"),
            "{}",
            n.message
        );
        let n = staleness(&u, "2026-09-01", now()).unwrap();
        assert!(
            n.message.contains("has failed since 2026-10-05"),
            "{}",
            n.message
        );
        // Exempt frequencies and missing ones.
        let mut never = u.clone();
        never
            .glance
            .properties
            .insert("replace_frequency".into(), "never".into());
        assert_eq!(staleness(&never, "2020-01-01", now()), None);
        let mut unset = u.clone();
        unset.glance.properties.clear();
        assert_eq!(staleness(&unset, "2020-01-01", now()), None);
        // Disabled images are skipped by the batch helper.
        let mut off = u.clone();
        off.enabled = false;
        assert_eq!(
            stale_images([(&off, "2020-01-01"), (&u, "2026-11-10")], now()),
            vec![]
        );
        assert_eq!(stale_images([(&u, "2020-01-01")], now()).len(), 1);
    }

    const STREAMS: &str = r#"{"format": "products:1.0", "products": {
      "com.ubuntu.cloud:server:22.04:amd64": {"version": "22.04", "release": "jammy", "release_title": "22.04 LTS", "supported": true, "arch": "amd64", "versions": {}},
      "com.ubuntu.cloud:server:24.04:amd64": {"version": "24.04", "release": "noble", "release_title": "24.04 LTS", "supported": true, "arch": "amd64", "versions": {}},
      "com.ubuntu.cloud:server:24.04:arm64": {"version": "24.04", "release": "noble", "release_title": "24.04 LTS", "supported": true, "arch": "arm64", "versions": {}},
      "com.ubuntu.cloud:server:24.10:amd64": {"version": "24.10", "release": "oracular", "release_title": "24.10", "supported": false, "arch": "amd64", "versions": {}},
      "com.ubuntu.cloud:server:25.10:amd64": {"version": "25.10", "release": "questing", "release_title": "25.10", "supported": true, "arch": "amd64", "versions": {}},
      "com.ubuntu.cloud:server:26.04:amd64": {"version": "26.04", "release": "resolute", "release_title": "26.04 LTS", "supported": true, "arch": "amd64", "versions": {}}
    }}"#;

    #[test]
    fn ubuntu_streams_parse() {
        let r = parse_ubuntu_streams(STREAMS).unwrap();
        let v: Vec<(&str, bool, bool)> = r
            .iter()
            .map(|r| (r.version.as_str(), r.supported, r.lts))
            .collect();
        assert_eq!(
            v,
            [
                ("22.04", true, true),
                ("24.04", true, true),
                ("24.10", false, false),
                ("25.10", true, false),
                ("26.04", true, true)
            ]
        );
        assert!(parse_ubuntu_streams("{}").is_err());
    }

    #[test]
    fn ubuntu_news_lts_only_for_an_lts_catalog() {
        let lists = ReleaseLists {
            ubuntu: Some(parse_ubuntu_streams(STREAMS).unwrap()),
            ..Default::default()
        };
        let (a, b) = (ubuntu("22.04"), ubuntu("24.04"));
        let n = release_news(&lists, &[&a, &b]);
        assert_eq!(n.len(), 1, "{n:?}");
        assert_eq!(n[0].version.as_deref(), Some("26.04"));
        assert_eq!(
            n[0].message,
            "ubuntu 26.04 is released (resolute, LTS) and the catalog has no image for it yet"
        );
        // A catalog with an interim release hears about the newer interim one too.
        let c = ubuntu("24.10");
        let n = release_news(&lists, &[&b, &c]);
        let got: Vec<_> = n.iter().filter_map(|n| n.version.as_deref()).collect();
        assert_eq!(got, ["25.10", "26.04"]);
        // Up to date: nothing.
        let d = ubuntu("26.04");
        assert_eq!(release_news(&lists, &[&b, &d]), vec![]);
        // No Ubuntu in the catalog: nothing.
        assert_eq!(release_news(&lists, &[&fedora(Some("43"))]), vec![]);
    }

    const FEDORA: &str = r#"[
      {"version": "42", "arch": "x86_64", "link": "https://x/42.qcow2", "variant": "Cloud", "subvariant": "Cloud_Base", "size": "1"},
      {"version": "43", "arch": "x86_64", "link": "https://x/43.qcow2", "variant": "Cloud", "subvariant": "Cloud_Base", "size": "1"},
      {"version": "44 Beta", "arch": "x86_64", "link": "https://x/44.qcow2", "variant": "Cloud", "subvariant": "Cloud_Base", "size": "1"},
      {"version": "44", "arch": "x86_64", "link": "https://x/44.iso", "variant": "Server", "subvariant": "Server", "size": "1"}
    ]"#;

    #[test]
    fn fedora_news() {
        let list = parse_fedora_releases(FEDORA).unwrap();
        assert_eq!(list, ["42", "43"]);
        let lists = ReleaseLists {
            fedora: Some(list),
            ..Default::default()
        };
        let n = release_news(&lists, &[&fedora(Some("42"))]);
        assert_eq!(
            n.iter()
                .filter_map(|n| n.version.as_deref())
                .collect::<Vec<_>>(),
            ["43"]
        );
        assert_eq!(release_news(&lists, &[&fedora(Some("43"))]), vec![]);
        // An image that follows the newest release needs no news.
        assert_eq!(
            release_news(&lists, &[&fedora(Some("42")), &fedora(None)]),
            vec![]
        );
    }

    const ALPINE: &str = r#"{"architectures": ["x86_64"], "latest_stable": "v3.23", "release_branches": [
      {"rel_branch": "edge", "git_branch": "master"},
      {"rel_branch": "v3.9", "git_branch": "3.9-stable", "eol_date": "2020-11-01"},
      {"rel_branch": "v3.22", "git_branch": "3.22-stable", "eol_date": "2027-05-01"},
      {"rel_branch": "v3.23", "git_branch": "3.23-stable", "eol_date": "2027-11-01", "releases": [{"version": "3.23.4", "date": "2026-10-01"}]}
    ]}"#;

    #[test]
    fn alpine_news() {
        let list = parse_alpine_releases(ALPINE).unwrap();
        assert_eq!(
            list,
            AlpineReleases {
                latest_stable: "3.23".into(),
                branches: vec!["3.9".into(), "3.22".into(), "3.23".into()]
            }
        );
        let lists = ReleaseLists {
            alpine: Some(list),
            ..Default::default()
        };
        let n = release_news(&lists, &[&alpine(Some("3.22"))]);
        assert_eq!(
            n.iter()
                .filter_map(|n| n.version.as_deref())
                .collect::<Vec<_>>(),
            ["3.23"]
        );
        assert_eq!(n[0].kind, NewsKind::NewRelease);
        assert_eq!(release_news(&lists, &[&alpine(Some("3.23"))]), vec![]);
        assert_eq!(release_news(&lists, &[&alpine(None)]), vec![]);
    }

    #[test]
    fn for_check_collects_lifecycle_staleness_and_news() {
        let lc = crate::scs::lifecycle::parse(
            "releases:\n  ubuntu/22.04: {eol: 2026-12-01}\n  ubuntu/24.04: {eol: 2029-05-31}\n",
            std::path::Path::new("l.yaml"),
        )
        .unwrap();
        let (a, b) = (ubuntu("22.04"), ubuntu("24.04"));
        let dates = BTreeMap::from([
            ("ubuntu-24.04".to_owned(), "2026-09-01".to_owned()),
            ("ubuntu-22.04".to_owned(), "2026-11-15".to_owned()),
        ]);
        let lists = ReleaseLists {
            ubuntu: Some(parse_ubuntu_streams(STREAMS).unwrap()),
            ..Default::default()
        };
        let notes = for_check(&[&a, &b], &dates, &lists, &lc, now(), 8);
        let lines: Vec<String> = notes.notes().iter().map(Note::render).collect();
        assert_eq!(lines.len(), 3, "{lines:#?}");
        assert_eq!(
            lines[0],
            "warning: ubuntu-22.04: ubuntu/22.04 reaches its end of life on 2026-12-01 (11 days left)\n\
             hint: plan the move to a newer release before that date"
        );
        assert!(
            lines[1]
                .starts_with("warning: ubuntu-24.04: the newest upstream build is from 2026-09-01"),
            "{}",
            lines[1]
        );
        assert_eq!(
            lines[2],
            "note: ubuntu 26.04 is released (resolute, LTS) and the catalog has no image for it yet\n\
             hint: add an image for ubuntu 26.04 to the catalog"
        );
        let codes: Vec<(NoteSeverity, NoteCode)> =
            notes.notes().iter().map(|n| (n.severity, n.code)).collect();
        assert_eq!(
            codes,
            [
                (NoteSeverity::Warning, NoteCode::EolSoon),
                (NoteSeverity::Warning, NoteCode::StaleUpstream),
                (NoteSeverity::Note, NoteCode::NewRelease)
            ]
        );
        assert_eq!(notes.notes()[2].url.as_deref(), Some(UBUNTU_STREAM));
        assert_eq!(notes.notes()[2].image_id, None);
        // Nothing to say: empty.
        let fresh = BTreeMap::from([("ubuntu-24.04".to_owned(), "2026-11-19".to_owned())]);
        assert_eq!(
            for_check(&[&b], &fresh, &ReleaseLists::default(), &lc, now(), 8),
            CheckNotes::default()
        );
    }

    #[test]
    fn versions_compare_numerically() {
        use std::cmp::Ordering::*;
        assert_eq!(version_cmp("3.9", "3.23"), Less);
        assert_eq!(version_cmp("24.10", "24.04"), Greater);
        assert_eq!(version_cmp("10", "9"), Greater);
    }
}
