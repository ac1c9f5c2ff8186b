//! scs-0104 v1: the standard images. Presence is checked by exact name (or, for name schemes,
//! a regex anchored at the start, as the SCS test's `re.match`) among the images in scope; every
//! image matching an entry must carry an `image_source` starting with one of its prefixes.
//!
//! The lists are the SCS test data (`Tests/iaas/scs-0104-v1-images-v5.yaml` for certificate
//! scope v5.1, `scs-0104-v1-images.yaml` for v4; `Debian 13` only from the v1-2 source list).

use regex::Regex;
use serde::Serialize;

use super::{Finding, Rule, Severity};
use crate::openstack::image::GlanceImage;

/// Which scs-0104 image list applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum StandardImageList {
    // Plain comments: doc comments would make clap print long `--help` output.
    // Certificate scope v5.1 (`Ubuntu 24.04` mandatory).
    #[default]
    V5,
    // Certificate scope v4 (`Ubuntu 22.04` mandatory).
    V4,
    // Do not check scs-0104.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Mandatory,
    Recommended,
    Optional,
}

/// One entry of an scs-0104 list.
#[derive(Debug, Clone, Copy)]
pub struct StandardImage {
    /// The name (or, for schemes, the base name shown in messages).
    pub name: &'static str,
    /// A regex the name must match from its start, instead of the exact name.
    pub name_scheme: Option<&'static str>,
    pub status: Status,
    pub sources: &'static [&'static str],
}

const UBUNTU_2404: &[&str] = &[
    "https://cloud-images.ubuntu.com/releases/noble/",
    "https://cloud-images.ubuntu.com/noble/",
];
const UBUNTU_2204: &[&str] = &[
    "https://cloud-images.ubuntu.com/releases/jammy/",
    "https://cloud-images.ubuntu.com/jammy/",
];
const UBUNTU_2004: &[&str] = &[
    "https://cloud-images.ubuntu.com/releases/focal/",
    "https://cloud-images.ubuntu.com/focal/",
];
const DEBIAN_13: &[&str] = &[
    "https://cloud.debian.org/images/cloud/trixie/",
    "https://cdimage.debian.org/cdimage/cloud/trixie/",
];
const DEBIAN_12: &[&str] = &[
    "https://cloud.debian.org/images/cloud/bookworm/",
    "https://cdimage.debian.org/cdimage/cloud/bookworm/",
];
const DEBIAN_11: &[&str] = &[
    "https://cloud.debian.org/images/cloud/bullseye/",
    "https://cdimage.debian.org/cdimage/cloud/bullseye/",
];
const CAPI: &[&str] = &[
    "https://nbg1.your-objectstorage.com/osism/openstack-k8s-capi-images/",
    "https://swift.services.a.regiocloud.tech/swift/v1/AUTH_b182637428444b9aa302bb8d5a5a418c/openstack-k8s-capi-images/ubuntu-2404-kube",
    "https://swift.services.a.regiocloud.tech/swift/v1/AUTH_b182637428444b9aa302bb8d5a5a418c/openstack-k8s-capi-images/ubuntu-2204-kube",
];
/// scs-0104-*-capi-1: the v1 name scheme, base name and version separated by a space.
const CAPI_1: &str = r"ubuntu-capi-image v[0-9]\.[0-9]+(\.[0-9]+)?";
/// scs-0104-*-capi-2: the v2 name scheme, separated by `-`.
const CAPI_2: &str = r"ubuntu-capi-image-v[0-9]\.[0-9]+(\.[0-9]+)?";

const fn entry(
    name: &'static str,
    status: Status,
    sources: &'static [&'static str],
) -> StandardImage {
    StandardImage {
        name,
        name_scheme: None,
        status,
        sources,
    }
}

// The entries follow the official test ids of each scope (Tests/scs-compatible-iaas.yaml):
// scs-0104-v1-2 (scopes v5.1 and next) checks the sources of capi-1, capi-2, Ubuntu 24.04,
// 22.04, 20.04 and Debian 13, 12, 11, requires `Ubuntu 24.04` and recommends capi-2 and
// `Debian 12`; scs-0104-v1-1 (scope v4) checks the sources of capi-1, Ubuntu 22.04, 20.04 and
// Debian 12, 11, requires `Ubuntu 22.04` and recommends capi-1. Debian 10 is in the YAML
// lists, but no scope runs its test.
const V5: &[StandardImage] = &[
    entry("Ubuntu 24.04", Status::Mandatory, UBUNTU_2404),
    entry("Debian 12", Status::Recommended, DEBIAN_12),
    StandardImage {
        name: "ubuntu-capi-image",
        name_scheme: Some(CAPI_2),
        status: Status::Recommended,
        sources: CAPI,
    },
    StandardImage {
        name: "ubuntu-capi-image",
        name_scheme: Some(CAPI_1),
        status: Status::Optional,
        sources: CAPI,
    },
    entry("Ubuntu 22.04", Status::Optional, UBUNTU_2204),
    entry("Ubuntu 20.04", Status::Optional, UBUNTU_2004),
    entry("Debian 13", Status::Optional, DEBIAN_13),
    entry("Debian 11", Status::Optional, DEBIAN_11),
];

const V4: &[StandardImage] = &[
    entry("Ubuntu 22.04", Status::Mandatory, UBUNTU_2204),
    StandardImage {
        name: "ubuntu-capi-image",
        name_scheme: Some(CAPI_1),
        status: Status::Recommended,
        sources: CAPI,
    },
    entry("Ubuntu 20.04", Status::Optional, UBUNTU_2004),
    entry("Debian 12", Status::Optional, DEBIAN_12),
    entry("Debian 11", Status::Optional, DEBIAN_11),
];

impl StandardImageList {
    pub fn entries(self) -> &'static [StandardImage] {
        match self {
            StandardImageList::V5 => V5,
            StandardImageList::V4 => V4,
            StandardImageList::None => &[],
        }
    }
}

impl StandardImage {
    fn matches(&self, name: &str) -> bool {
        match self.name_scheme {
            Some(scheme) => Regex::new(&format!("^(?:{scheme})"))
                .expect("the built-in name schemes are valid")
                .is_match(name),
            None => name == self.name,
        }
    }
}

/// The image sources allowed for an image named `name` by the list, if the list names it.
/// `plan` and `validate` can use this to refuse a catalog entry that would fail scs-0104.
pub fn allowed_sources(list: StandardImageList, name: &str) -> Option<&'static [&'static str]> {
    list.entries()
        .iter()
        .find(|e| e.matches(name))
        .map(|e| e.sources)
}

/// scs-0104 findings for the images in scope. The `image_source` rule judges, per name, the
/// image the official name lookup finds (the oldest of duplicates), or with `each_duplicate`
/// every image of that name.
pub fn check(
    scope: &[&GlanceImage],
    list: StandardImageList,
    each_duplicate: bool,
) -> Vec<Finding> {
    let judged: Vec<&GlanceImage> = if each_duplicate {
        scope.to_vec()
    } else {
        super::official_by_name(scope).into_values().collect()
    };
    let mut out = Vec::new();
    for entry in list.entries() {
        let matching: Vec<&&GlanceImage> =
            judged.iter().filter(|i| entry.matches(&i.name)).collect();
        if matching.is_empty() {
            let severity = match entry.status {
                Status::Mandatory => Severity::Error,
                Status::Recommended => Severity::Warning,
                Status::Optional => continue,
            };
            let what = match entry.status {
                Status::Mandatory => "mandatory",
                _ => "recommended",
            };
            let named = entry.name_scheme.map_or_else(
                || format!("`{}`", entry.name),
                |s| format!("matching `{s}`"),
            );
            out.push(Finding {
                image_id: None,
                image_name: entry.name.to_owned(),
                rule: Rule::MissingImage,
                severity,
                message: format!(
                    "the {what} standard image {named} is not among the public or community images"
                ),
                fix: format!(
                    "provide it with visibility public and image_source from {}",
                    entry.sources.join(" or ")
                ),
            });
        }
        for img in matching {
            let source = img
                .properties
                .get("image_source")
                .map_or("", String::as_str);
            if !entry.sources.iter().any(|p| source.starts_with(p)) {
                out.push(Finding::new(
                    img,
                    Rule::ImageSourcePrefix,
                    Severity::Error,
                    format!(
                        "`image_source` `{source}` does not start with an allowed prefix: {}",
                        entry.sources.join(", ")
                    ),
                    format!(
                        "the upstream URL must start with one of those prefixes (a mirror URL does not count): {}",
                        super::set_property_hint(img, "image_source", &format!("{}...", entry.sources[0]))
                    ),
                ));
            }
        }
    }
    out
}

/// The scs-0104 name rule for an image about to be created: when it comes from the upstream
/// of a standard image (its `image_source` starts with one of the entry's prefixes) and serves
/// that image's purpose (`generic` for the distribution images, `k8snode` for the CAPI ones),
/// its name must be the entry's (exact name, or a match of its name scheme) under at least one
/// of `lists`; otherwise the official `scs-0104-image-*` tests would not count it.
pub fn check_name(img: &GlanceImage, lists: &[StandardImageList]) -> Option<Finding> {
    let source = img.properties.get("image_source")?;
    let purpose = img.properties.get("os_purpose").map_or("", String::as_str);
    let entries: Vec<&StandardImage> = lists
        .iter()
        .flat_map(|l| l.entries())
        .filter(|e| e.sources.iter().any(|p| source.starts_with(p)))
        .filter(|e| {
            let wanted = if e.name_scheme.is_some() {
                "k8snode"
            } else {
                "generic"
            };
            purpose == wanted
        })
        .collect();
    if entries.is_empty() || entries.iter().any(|e| e.matches(&img.name)) {
        return None;
    }
    let mut names: Vec<String> = entries
        .iter()
        .map(|e| {
            e.name_scheme
                .map_or_else(|| format!("`{}`", e.name), |s| format!("matching `{s}`"))
        })
        .collect();
    names.sort();
    names.dedup();
    Some(Finding::new(
        img,
        Rule::StandardName,
        Severity::Error,
        format!(
            "comes from the upstream of the scs-0104 standard image {} (os_purpose {purpose}) but is named `{}`, so the official scs-0104 tests would not find it",
            names.join(" or "),
            img.name
        ),
        format!(
            "name the catalog entry {} (or give it another os_purpose if it is not meant as the standard image)",
            names.join(" or ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{image, rules, set};
    use super::*;

    fn run(imgs: &[GlanceImage], list: StandardImageList) -> Vec<Finding> {
        let scope: Vec<&GlanceImage> = imgs.iter().collect();
        check(&scope, list, true)
    }

    fn debian12() -> GlanceImage {
        set(
            image("d", "Debian 12"),
            "image_source",
            "https://cloud.debian.org/images/cloud/bookworm/20261101-2000/debian-12-genericcloud-amd64-20261101-2000.qcow2",
        )
    }

    fn capi() -> GlanceImage {
        set(
            image("k", "ubuntu-capi-image-v1.33.4"),
            "image_source",
            "https://nbg1.your-objectstorage.com/osism/openstack-k8s-capi-images/ubuntu-2404-kube-v1.33/ubuntu-2404-kube-v1.33.4.qcow2",
        )
    }

    #[test]
    fn v5_complete_cloud_passes() {
        assert_eq!(
            run(
                &[image("u", "Ubuntu 24.04"), debian12(), capi()],
                StandardImageList::V5
            ),
            vec![]
        );
    }

    #[test]
    fn missing_mandatory_is_an_error_and_recommended_a_warning() {
        let f = run(&[debian12(), capi()], StandardImageList::V5);
        assert_eq!(rules(&f), [("Ubuntu 24.04", "scs-0104/missing-image")]);
        assert_eq!(
            (f[0].severity, f[0].image_id.as_deref()),
            (Severity::Error, None)
        );
        let f = run(&[image("u", "Ubuntu 24.04")], StandardImageList::V5);
        assert_eq!(
            rules(&f),
            [
                ("Debian 12", "scs-0104/missing-image"),
                ("ubuntu-capi-image", "scs-0104/missing-image")
            ]
        );
        assert!(f.iter().all(|f| f.severity == Severity::Warning));
        // A near miss of the name does not count.
        let f = run(
            &[image("u", "Ubuntu 24.04 LTS"), debian12(), capi()],
            StandardImageList::V5,
        );
        assert_eq!(rules(&f), [("Ubuntu 24.04", "scs-0104/missing-image")]);
        // v4 wants 22.04 instead; the v4 capi scheme has a space.
        let f = run(&[image("u", "Ubuntu 24.04")], StandardImageList::V4);
        assert_eq!(
            rules(&f),
            [
                ("Ubuntu 22.04", "scs-0104/missing-image"),
                ("ubuntu-capi-image", "scs-0104/missing-image")
            ]
        );
        assert_eq!(run(&[], StandardImageList::None), vec![]);
    }

    #[test]
    fn image_source_prefix() {
        // The minimal tree and mirrors fail the prefix check under the standard name.
        for bad in [
            "https://cloud-images.ubuntu.com/minimal/releases/noble/release-20261101/x.img",
            "https://mirror.example.org/ubuntu-cloud/releases/noble/x.img",
            "https://cloud-images.ubuntu.com/releases/jammy/release-20261101/x.img",
        ] {
            let f = run(
                &[
                    set(image("u", "Ubuntu 24.04"), "image_source", bad),
                    debian12(),
                    capi(),
                ],
                StandardImageList::V5,
            );
            assert_eq!(
                rules(&f),
                [("Ubuntu 24.04", "scs-0104/image-source-prefix")],
                "{bad}"
            );
            assert_eq!(f[0].severity, Severity::Error);
        }
        // Daily tree is allowed; so is the cdimage Debian mirror.
        let daily = set(
            image("u", "Ubuntu 24.04"),
            "image_source",
            "https://cloud-images.ubuntu.com/noble/20261101/noble-server-cloudimg-amd64.img",
        );
        let cd = set(
            debian12(),
            "image_source",
            "https://cdimage.debian.org/cdimage/cloud/bookworm/latest/x.qcow2",
        );
        assert_eq!(run(&[daily, cd, capi()], StandardImageList::V5), vec![]);
        // Optional entries are checked for their source too (Debian 13).
        let trixie = set(
            image("t", "Debian 13"),
            "image_source",
            "https://cloud.debian.org/images/cloud/bookworm/x.qcow2",
        );
        let f = run(
            &[image("u", "Ubuntu 24.04"), debian12(), capi(), trixie],
            StandardImageList::V5,
        );
        assert_eq!(rules(&f), [("Debian 13", "scs-0104/image-source-prefix")]);
        // Name schemes match from the start.
        let capi_bad = set(capi(), "image_source", "https://example.org/capi.qcow2");
        let f = run(
            &[image("u", "Ubuntu 24.04"), debian12(), capi_bad],
            StandardImageList::V5,
        );
        assert_eq!(
            rules(&f),
            [("ubuntu-capi-image-v1.33.4", "scs-0104/image-source-prefix")]
        );
    }

    #[test]
    fn v5_checks_the_sources_of_both_capi_name_schemes() {
        // scs-0104-source-capi-1 is in scope v5.1 although only capi-2 is recommended there.
        let spaced = set(
            image("k", "ubuntu-capi-image v1.35"),
            "image_source",
            "https://example.org/capi.qcow2",
        );
        let f = run(
            &[image("u", "Ubuntu 24.04"), debian12(), capi(), spaced],
            StandardImageList::V5,
        );
        assert_eq!(
            rules(&f),
            [("ubuntu-capi-image v1.35", "scs-0104/image-source-prefix")]
        );
        // The regiocloud ubuntu-2404-kube container is one of the official prefixes.
        let swift = set(
            image("k", "ubuntu-capi-image-v1.35"),
            "image_source",
            "https://swift.services.a.regiocloud.tech/swift/v1/AUTH_b182637428444b9aa302bb8d5a5a418c/openstack-k8s-capi-images/ubuntu-2404-kube-v1.35/ubuntu-2404-kube-v1.35.3.qcow2",
        );
        assert_eq!(
            run(
                &[image("u", "Ubuntu 24.04"), debian12(), swift],
                StandardImageList::V5
            ),
            vec![]
        );
    }

    #[test]
    fn allowed_sources_for_a_name() {
        assert_eq!(
            allowed_sources(StandardImageList::V5, "Debian 12"),
            Some(DEBIAN_12)
        );
        assert_eq!(allowed_sources(StandardImageList::V5, "Fedora 43"), None);
    }
}
