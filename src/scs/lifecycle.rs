//! LIFECYCLE: end-of-life dates of distribution releases (`catalog/lifecycle.yaml`, data
//! reviewed like code) and the pure checks built on them.
//!
//! Keys are `<source kind>/<release>` (`ubuntu/24.04`) or a bare `<source kind>` for every
//! release (`cirros`). Lookups try the full release, then drop trailing `.N` components
//! (`alpine/3.23.4` → `alpine/3.23`, `almalinux/9.6` → `almalinux/9`), then the bare kind.
//!
//! The loader reports every problem as a [`Diagnostic`] at file:line:col; YAML is parsed with
//! strict booleans. When a catalog has no `lifecycle.yaml`, [`builtin`] (the file shipped in
//! this repository, compiled in) is used.

use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::{Finding, Rule, Severity};
use crate::catalog::{Image, Source};
use crate::diagnostic::Diagnostic;
use crate::openstack::image::GlanceImage;

/// Warn this many weeks before the end of life, unless told otherwise.
pub const DEFAULT_WARNING_WEEKS: u32 = 8;

/// The file name inside the catalog directory.
pub const FILE_NAME: &str = crate::catalog::LIFECYCLE_FILE;

/// The shipped data, compiled in.
const BUILTIN: &str = include_str!("../../catalog/lifecycle.yaml");

/// `lifecycle.yaml` as people write it (the source of its JSON Schema).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "image-crawler lifecycle data")]
pub struct LifecycleFile {
    /// End-of-life data by `<source kind>/<release>` (`ubuntu/24.04`) or `<source kind>`.
    #[schemars(with = "BTreeMap<String, ReleaseEntry>")]
    pub releases: BTreeMap<String, Spanned<ReleaseEntry>>,
}

/// One release.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseEntry {
    /// The last day of security support (`YYYY-MM-DD`), or `none` when there is no end of life
    /// (rolling releases, test images).
    #[schemars(
        with = "String",
        regex(pattern = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}|none)$")
    )]
    pub eol: Spanned<String>,
    /// The date is an estimate (the distributor has not published it yet).
    #[serde(default)]
    pub approximate: bool,
}

/// The JSON Schema of `lifecycle.yaml`.
pub fn schema() -> schemars::Schema {
    schemars::schema_for!(LifecycleFile)
}

/// The end of life of one release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Release {
    /// `None`: no end of life.
    pub eol: Option<jiff::civil::Date>,
    pub approximate: bool,
}

impl Release {
    fn describe(&self) -> String {
        match self.eol {
            Some(d) if self.approximate => format!("{d} (approximate)"),
            Some(d) => d.to_string(),
            None => "none".into(),
        }
    }
}

/// The validated lifecycle data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Lifecycle {
    pub releases: BTreeMap<String, Release>,
}

/// Parses `lifecycle.yaml` text; `path` is used in diagnostics only.
pub fn parse(text: &str, path: &Path) -> Result<Lifecycle, Vec<Diagnostic>> {
    let options = serde_saphyr::options! { strict_booleans: true };
    let file: LifecycleFile = serde_saphyr::from_str_with_options(text, options)
        .map_err(|e| vec![crate::catalog::yaml_diagnostic(path, text, &e)])?;
    let key_ok = |k: &str| {
        let (kind, release) = k.split_once('/').map_or((k, None), |(a, b)| (a, Some(b)));
        let kind_ok = kind.starts_with(|c: char| c.is_ascii_lowercase())
            && kind
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        let release_ok = release.is_none_or(|r| {
            !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
        });
        kind_ok && release_ok
    };
    let mut diags = Vec::new();
    let mut releases = BTreeMap::new();
    for (key, entry) in file.releases {
        let loc = &entry.referenced;
        if !key_ok(&key) {
            diags.push(
                Diagnostic::error(path, loc.line(), loc.column(), format!("invalid release key `{key}`"))
                    .with_source(text)
                    .with_hint("write `<source kind>/<release>` (`ubuntu/24.04`) or a bare `<source kind>` (`cirros`)"),
            );
            continue;
        }
        let eol = &entry.value.eol;
        let parsed = match eol.value.as_str() {
            "none" => Some(None),
            s if s.len() == 10 => s.parse::<jiff::civil::Date>().ok().map(Some),
            _ => None,
        };
        match parsed {
            Some(date) => {
                releases.insert(
                    key,
                    Release {
                        eol: date,
                        approximate: entry.value.approximate,
                    },
                );
            }
            None => diags.push(
                Diagnostic::error(
                    path,
                    eol.referenced.line(),
                    eol.referenced.column(),
                    format!("`eol` of `{key}` is `{}`, not a date", eol.value),
                )
                .with_width(eol.value.chars().count())
                .with_source(text)
                .with_hint("write `YYYY-MM-DD` (the last day of support) or `none`"),
            ),
        }
    }
    if diags.is_empty() {
        Ok(Lifecycle { releases })
    } else {
        Err(diags)
    }
}

/// Loads `<catalog dir>/lifecycle.yaml`, or the built-in data when the file does not exist.
pub fn load(catalog_dir: &Path) -> Result<Lifecycle, Vec<Diagnostic>> {
    let path = catalog_dir.join(FILE_NAME);
    match crate::localfile::read_text(&path, crate::localfile::CATALOG_LIMIT) {
        Ok(text) => parse(&text, &crate::diagnostic::display_path(&path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(builtin()),
        Err(e) => {
            let shown = crate::diagnostic::display_path(&path);
            let (line, column) = crate::localfile::NotUtf8::place(&e).unwrap_or((0, 0));
            Err(vec![
                Diagnostic::error(shown, line, column, format!("cannot read the lifecycle data: {e}"))
                    .with_hint("make `lifecycle.yaml` a regular UTF-8 file, or remove it to use the data built into the tool"),
            ])
        }
    }
}

/// The data shipped with the tool.
pub fn builtin() -> Lifecycle {
    parse(BUILTIN, Path::new("catalog/lifecycle.yaml"))
        .expect("the shipped lifecycle data is valid (tested)")
}

impl Lifecycle {
    /// The release for `kind` and `release`, trying shorter releases and the bare kind.
    pub fn lookup(&self, kind: &str, release: Option<&str>) -> Option<(&str, &Release)> {
        let mut rel = release.map(str::to_owned);
        while let Some(r) = rel {
            let key = format!("{kind}/{r}");
            if let Some((k, v)) = self.releases.get_key_value(&key) {
                return Some((k.as_str(), v));
            }
            rel = r.rsplit_once('.').map(|(a, _)| a.to_owned());
        }
        self.releases
            .get_key_value(kind)
            .map(|(k, v)| (k.as_str(), v))
    }

    /// The release a Glance image is of, by `os_distro`/`os_version`.
    pub fn for_glance(&self, img: &GlanceImage) -> Option<(&str, &Release)> {
        let distro = img.properties.get("os_distro")?.to_lowercase();
        let kind = match distro.as_str() {
            "centos" => "centos-stream",
            "opensuse" | "opensuse-leap" | "leap" => "opensuse-leap",
            "arch" => "archlinux",
            other => other,
        };
        self.lookup(kind, img.properties.get("os_version").map(String::as_str))
    }

    /// The release a catalog image is of, by its source.
    pub fn for_image(&self, image: &Image) -> Option<(&str, &Release)> {
        let (kind, release) = source_release(&image.source)?;
        self.lookup(kind, release)
    }
}

/// The source kind and release of a catalog source; `None` for kinds without a distribution
/// release (`checksum-dir`, `github-release`, `static`).
pub fn source_release(source: &Source) -> Option<(&'static str, Option<&str>)> {
    Some(match source {
        Source::Ubuntu(s) => ("ubuntu", Some(s.release.as_str())),
        Source::Debian(s) => ("debian", Some(s.release.as_str())),
        Source::Almalinux(s) => ("almalinux", Some(s.release.as_str())),
        Source::Rocky(s) => ("rocky", Some(s.release.as_str())),
        Source::CentosStream(s) => ("centos-stream", Some(s.release.as_str())),
        Source::Fedora(s) => ("fedora", s.release.as_deref()),
        Source::OpensuseLeap(s) => ("opensuse-leap", Some(s.release.as_str())),
        Source::Cirros(s) => ("cirros", s.series.as_deref()),
        Source::Alpine(s) => ("alpine", s.release.as_deref()),
        Source::Archlinux(_) => ("archlinux", None),
        Source::FedoraCoreos(_) => ("fedora-coreos", None),
        Source::Flatcar(_) => ("flatcar", None),
        Source::ChecksumDir(_)
        | Source::GithubRelease(_)
        | Source::ObjectStorage(_)
        | Source::DiskimageBuilder(_)
        | Source::Static(_) => return None,
    })
}

/// The `provided_until` value the lifecycle data implies for a catalog image: the EOL date,
/// `none` for releases without one, `None` when the data does not know the release.
pub fn provided_until(lc: &Lifecycle, image: &Image) -> Option<String> {
    let (_, rel) = lc.for_image(image)?;
    Some(rel.eol.map_or_else(|| "none".to_owned(), |d| d.to_string()))
}

/// Fills `provided_until` in the image's Glance properties when the catalog says nothing.
/// Returns whether it did.
pub fn fill_provided_until(image: &mut Image, lc: &Lifecycle) -> bool {
    if image.glance.properties.contains_key("provided_until") {
        return false;
    }
    match provided_until(lc, image) {
        Some(v) => {
            image.glance.properties.insert("provided_until".into(), v);
            true
        }
        None => false,
    }
}

/// Where a release stands on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum EolStatus {
    Supported,
    /// Within the warning window: `days_left` days until the EOL date (0 = last day).
    Soon {
        eol: jiff::civil::Date,
        days_left: i32,
    },
    /// The EOL date has passed.
    Past {
        eol: jiff::civil::Date,
    },
}

/// Where `rel` stands on `today`, warning `weeks` weeks ahead.
pub fn status(rel: &Release, today: jiff::civil::Date, weeks: u32) -> EolStatus {
    let Some(eol) = rel.eol else {
        return EolStatus::Supported;
    };
    if today > eol {
        return EolStatus::Past { eol };
    }
    let days_left = (eol - today).get_days();
    // `eol - today` is in days for civil dates.
    if i64::from(days_left) < i64::from(weeks) * 7 {
        EolStatus::Soon { eol, days_left }
    } else {
        EolStatus::Supported
    }
}

fn today(now: jiff::Timestamp) -> jiff::civil::Date {
    jiff::tz::TimeZone::UTC.to_datetime(now).date()
}

/// Lifecycle findings for one Glance image in scope: an error when its release is past its
/// end of life, a warning in the weeks before. Hidden images (rotated out) are left alone.
pub fn check_image(
    img: &GlanceImage,
    lc: &Lifecycle,
    now: jiff::Timestamp,
    weeks: u32,
) -> Vec<Finding> {
    if img.hidden {
        return vec![];
    }
    let Some((key, rel)) = lc.for_glance(img) else {
        return vec![];
    };
    match status(rel, today(now), weeks) {
        EolStatus::Supported => vec![],
        EolStatus::Soon { days_left, .. } => vec![Finding::new(
            img,
            Rule::EolSoon,
            Severity::Warning,
            format!(
                "{key} reaches its end of life on {} ({days_left} days left)",
                rel.describe()
            ),
            "plan the move to a newer release; hide or retire this image after the end of life",
        )],
        EolStatus::Past { .. } => vec![Finding::new(
            img,
            Rule::Eol,
            Severity::Error,
            format!("{key} reached its end of life on {}", rel.describe()),
            format!(
                "retire the image (openstack image set --hidden {id}) or set provided_until to its end of life; disable it in the catalog if image-crawler manages it",
                id = img.id
            ),
        )],
    }
}

/// What a lifecycle [`Notice`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoticeKind {
    /// Past the end of life (error).
    EolPassed,
    /// Within the warning window before it (warning).
    EolSoon,
    /// The release is not in the data (warning).
    Unknown,
}

/// A lifecycle notice about a catalog image, for `check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    pub image_id: String,
    /// The lifecycle key that matched, if any.
    pub release: Option<String>,
    pub kind: NoticeKind,
    pub severity: Severity,
    pub message: String,
}

/// Lifecycle notices for catalog images on `today`: enabled images past their end of life
/// (error), enabled images within `weeks` of it (warning), and enabled images whose release the
/// data does not know (warning, so the data stays complete). Disabled images are skipped.
pub fn check_catalog<'a>(
    images: impl IntoIterator<Item = &'a Image>,
    lc: &Lifecycle,
    today: jiff::civil::Date,
    weeks: u32,
) -> Vec<Notice> {
    let mut out = Vec::new();
    for image in images.into_iter().filter(|i| i.enabled) {
        let Some((kind, release)) = source_release(&image.source) else {
            continue;
        };
        let Some((key, rel)) = lc.lookup(kind, release) else {
            // A release that follows the newest one (`release` absent) has no fixed EOL.
            if release.is_some() {
                out.push(Notice {
                    image_id: image.id.clone(),
                    release: None,
                    kind: NoticeKind::Unknown,
                    severity: Severity::Warning,
                    message: format!(
                        "{kind}/{} is not in the lifecycle data ({FILE_NAME})",
                        release.unwrap_or_default()
                    ),
                });
            }
            continue;
        };
        let (kind, severity, message) = match status(rel, today, weeks) {
            EolStatus::Supported => continue,
            EolStatus::Soon { days_left, .. } => (
                NoticeKind::EolSoon,
                Severity::Warning,
                format!(
                    "{key} reaches its end of life on {} ({days_left} days left)",
                    rel.describe()
                ),
            ),
            EolStatus::Past { .. } => (
                NoticeKind::EolPassed,
                Severity::Error,
                format!(
                    "{key} reached its end of life on {}; the image is still enabled",
                    rel.describe()
                ),
            ),
        };
        out.push(Notice {
            image_id: image.id.clone(),
            release: Some(key.to_owned()),
            kind,
            severity,
            message,
        });
    }
    out.sort_by(|a, b| (&a.image_id, &a.message).cmp(&(&b.image_id, &b.message)));
    out
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{image, now, set};
    use super::*;

    fn date(s: &str) -> jiff::civil::Date {
        s.parse().unwrap()
    }

    #[test]
    fn the_shipped_data_loads_and_has_the_expected_dates() {
        let lc = builtin();
        let eol =
            |k: &str, r: Option<&str>| lc.lookup(k, r).map(|(_, r)| r.eol.map(|d| d.to_string()));
        assert_eq!(
            eol("ubuntu", Some("24.04")),
            Some(Some("2029-05-31".into()))
        );
        assert_eq!(
            eol("ubuntu", Some("22.04")),
            Some(Some("2027-06-01".into()))
        );
        assert_eq!(eol("debian", Some("12")), Some(Some("2028-06-30".into())));
        assert_eq!(
            eol("alpine", Some("3.22.2")),
            Some(Some("2027-05-01".into()))
        );
        assert_eq!(
            eol("almalinux", Some("9.6")),
            Some(Some("2032-05-31".into()))
        );
        assert_eq!(eol("cirros", Some("0.6")), Some(None));
        assert_eq!(eol("archlinux", None), Some(None));
        assert_eq!(eol("ubuntu", Some("18.04")), None);
        assert!(lc.releases["debian/13"].approximate);
        assert!(!lc.releases["debian/12"].approximate);
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let text = "releases:\n  ubuntu/24.04: {eol: 2029-05-31}\n  debian/12: {eol: 2028-13-30}\n";
        let d = parse(text, Path::new("catalog/lifecycle.yaml")).unwrap_err();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].place(), "catalog/lifecycle.yaml:3:20");
        assert_eq!(
            d[0].message,
            "`eol` of `debian/12` is `2028-13-30`, not a date"
        );
        assert_eq!(
            d[0].source_line.as_deref(),
            Some("  debian/12: {eol: 2028-13-30}")
        );

        let text = "releases:\n  ubuntu/24.04: {eol: 2029-05-31, approximate: yes}\n";
        let d = parse(text, Path::new("l.yaml")).unwrap_err();
        assert_eq!(
            (d[0].line, d[0].file.display().to_string()),
            (2, "l.yaml".into()),
            "{d:?}"
        );

        let text = "releases:\n  ubuntu/24.04: {eol: 2029-05-31, eold: x}\n";
        let d = parse(text, Path::new("l.yaml")).unwrap_err();
        assert!(d[0].message.contains("eold"), "{}", d[0].message);
        assert_eq!(d[0].line, 2);

        let text = "releases:\n  Ubuntu 24.04: {eol: none}\n";
        let d = parse(text, Path::new("l.yaml")).unwrap_err();
        assert_eq!(d[0].message, "invalid release key `Ubuntu 24.04`");
        assert_eq!(d[0].line, 2);
    }

    #[test]
    fn status_windows() {
        let rel = Release {
            eol: Some(date("2027-01-10")),
            approximate: false,
        };
        assert_eq!(status(&rel, date("2026-11-01"), 8), EolStatus::Supported);
        assert_eq!(
            status(&rel, date("2026-11-20"), 8),
            EolStatus::Soon {
                eol: date("2027-01-10"),
                days_left: 51
            }
        );
        assert_eq!(
            status(&rel, date("2027-01-10"), 8),
            EolStatus::Soon {
                eol: date("2027-01-10"),
                days_left: 0
            }
        );
        assert_eq!(
            status(&rel, date("2027-01-11"), 8),
            EolStatus::Past {
                eol: date("2027-01-10")
            }
        );
        assert_eq!(status(&rel, date("2027-01-01"), 0), EolStatus::Supported);
        let none = Release {
            eol: None,
            approximate: false,
        };
        assert_eq!(status(&none, date("2099-01-01"), 8), EolStatus::Supported);
    }

    fn lc() -> Lifecycle {
        parse(
            "releases:\n  ubuntu/24.04: {eol: 2029-05-31}\n  ubuntu/20.04: {eol: 2025-05-31}\n  debian/13: {eol: 2026-12-31, approximate: true}\n  centos-stream/9: {eol: 2027-05-31}\n",
            Path::new("l.yaml"),
        )
        .unwrap()
    }

    #[test]
    fn glance_images_past_or_near_eol() {
        let ok = image("a", "Ubuntu 24.04");
        assert_eq!(check_image(&ok, &lc(), now(), 8), vec![]);
        let focal = set(ok.clone(), "os_version", "20.04");
        let f = check_image(&focal, &lc(), now(), 8);
        assert_eq!((f[0].rule, f[0].severity), (Rule::Eol, Severity::Error));
        assert_eq!(
            f[0].message,
            "ubuntu/20.04 reached its end of life on 2025-05-31"
        );
        let mut hidden = focal.clone();
        hidden.hidden = true;
        assert_eq!(check_image(&hidden, &lc(), now(), 8), vec![]);
        let trixie = set(set(ok.clone(), "os_distro", "debian"), "os_version", "13");
        let f = check_image(&trixie, &lc(), now(), 8);
        assert_eq!(
            (f[0].rule, f[0].severity),
            (Rule::EolSoon, Severity::Warning)
        );
        assert_eq!(
            f[0].message,
            "debian/13 reaches its end of life on 2026-12-31 (approximate) (41 days left)"
        );
        assert_eq!(check_image(&trixie, &lc(), now(), 4), vec![]);
        // os_distro names map to source kinds.
        let centos = set(set(ok, "os_distro", "centos"), "os_version", "9");
        assert_eq!(
            lc().for_glance(&centos).map(|(k, _)| k),
            Some("centos-stream/9")
        );
    }

    fn catalog_image(id: &str, source: Source, enabled: bool) -> Image {
        use crate::catalog::*;
        let mut image = Image::new(id, source, Architecture::X86_64);
        image.enabled = enabled;
        image
    }

    fn ubuntu(release: &str) -> Source {
        Source::Ubuntu(crate::catalog::raw::UbuntuSource {
            release: release.into(),
            channel: Default::default(),
            variant: Default::default(),
            ftype: "disk1.img".into(),
        })
    }

    #[test]
    fn fills_provided_until_only_when_absent() {
        let lc = builtin();
        let mut img = catalog_image("ubuntu-24.04", ubuntu("24.04"), true);
        assert!(fill_provided_until(&mut img, &lc));
        assert_eq!(img.glance.properties["provided_until"], "2029-05-31");
        img.glance
            .properties
            .insert("provided_until".into(), "notice".into());
        assert!(!fill_provided_until(&mut img, &lc));
        assert_eq!(img.glance.properties["provided_until"], "notice");
        let mut cirros = catalog_image(
            "cirros",
            Source::Cirros(crate::catalog::raw::CirrosSource { series: None }),
            true,
        );
        assert!(fill_provided_until(&mut cirros, &lc));
        assert_eq!(cirros.glance.properties["provided_until"], "none");
        let mut unknown = catalog_image("u18", ubuntu("18.04"), true);
        assert!(!fill_provided_until(&mut unknown, &lc));
    }

    #[test]
    fn catalog_notices() {
        let imgs = [
            catalog_image("ubuntu-24.04", ubuntu("24.04"), true),
            catalog_image("ubuntu-20.04", ubuntu("20.04"), true),
            catalog_image("ubuntu-20.04-off", ubuntu("20.04"), false),
            catalog_image("ubuntu-26.04", ubuntu("26.04"), true),
        ];
        let n = check_catalog(&imgs, &lc(), date("2026-11-20"), 8);
        let got: Vec<(&str, NoticeKind, Severity)> = n
            .iter()
            .map(|n| (n.image_id.as_str(), n.kind, n.severity))
            .collect();
        assert_eq!(
            got,
            [
                ("ubuntu-20.04", NoticeKind::EolPassed, Severity::Error),
                ("ubuntu-26.04", NoticeKind::Unknown, Severity::Warning)
            ]
        );
        assert!(
            n[1].message
                .contains("ubuntu/26.04 is not in the lifecycle data"),
            "{}",
            n[1].message
        );
        // Shortly before 24.04's end.
        let n = check_catalog(&imgs[..1], &lc(), date("2029-05-01"), 8);
        assert_eq!(n[0].kind, NoticeKind::EolSoon);
        assert_eq!(
            n[0].message,
            "ubuntu/24.04 reaches its end of life on 2029-05-31 (30 days left)"
        );
    }

    #[test]
    fn schema_describes_the_file() {
        let s = serde_json::to_string(&schema()).unwrap();
        assert!(
            s.contains("releases") && s.contains("approximate") && s.contains("none)$"),
            "{s}"
        );
    }
}
