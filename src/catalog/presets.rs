//! What each distribution preset knows, so a catalog entry needs only `release`.
//!
//! These values are the lowest layer of the merge (preset < `settings.defaults` < file
//! `defaults` < image): every one of them can be overridden in the catalog.

use super::raw::{DiskFormat, Source};

/// Defaults a preset contributes to an image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PresetDefaults {
    /// scs-0102 `os_distro` (osinfo ids: `almalinux`, not `centos`).
    pub os_distro: Option<&'static str>,
    pub os_version: Option<String>,
    pub image_original_user: Option<&'static str>,
    /// Release notes or the distributor's cloud image page.
    pub image_description: Option<String>,
    pub disk_format: Option<DiskFormat>,
}

/// Debian release numbers and codenames.
pub const DEBIAN_CODENAMES: &[(&str, &str)] = &[
    ("10", "buster"),
    ("11", "bullseye"),
    ("12", "bookworm"),
    ("13", "trixie"),
    ("14", "forky"),
];

/// Ubuntu release numbers and codenames (LTS and interim releases in the SCS list).
pub const UBUNTU_CODENAMES: &[(&str, &str)] = &[
    ("20.04", "focal"),
    ("22.04", "jammy"),
    ("24.04", "noble"),
    ("24.10", "oracular"),
    ("25.04", "plucky"),
    ("25.10", "questing"),
    ("26.04", "resolute"),
];

/// The codename of a Debian release.
pub fn debian_codename(release: &str) -> Option<&'static str> {
    DEBIAN_CODENAMES
        .iter()
        .find(|(r, _)| *r == release)
        .map(|(_, c)| *c)
}

/// The codename of an Ubuntu release.
pub fn ubuntu_codename(release: &str) -> Option<&'static str> {
    UBUNTU_CODENAMES
        .iter()
        .find(|(r, _)| *r == release)
        .map(|(_, c)| *c)
}

/// The preset's defaults for a source.
pub fn defaults(source: &Source) -> PresetDefaults {
    let qcow2 = Some(DiskFormat::Qcow2);
    match source {
        Source::Ubuntu(s) => PresetDefaults {
            os_distro: Some("ubuntu"),
            os_version: Some(s.release.clone()),
            image_original_user: Some("ubuntu"),
            image_description: Some(format!(
                "https://cloud-images.ubuntu.com/releases/{}/",
                ubuntu_codename(&s.release).unwrap_or(&s.release)
            )),
            disk_format: qcow2,
        },
        Source::Debian(s) => PresetDefaults {
            os_distro: Some("debian"),
            os_version: Some(s.release.clone()),
            image_original_user: Some("debian"),
            image_description: Some("https://www.debian.org/releases/".to_owned()),
            disk_format: if s.format == "raw" {
                Some(DiskFormat::Raw)
            } else {
                qcow2
            },
        },
        Source::Almalinux(s) => PresetDefaults {
            os_distro: Some("almalinux"),
            os_version: Some(s.release.clone()),
            image_original_user: Some("almalinux"),
            image_description: Some(format!(
                "https://wiki.almalinux.org/release-notes/{}.html",
                s.release
            )),
            disk_format: qcow2,
        },
        Source::Rocky(s) => PresetDefaults {
            os_distro: Some("rocky"),
            os_version: Some(s.release.clone()),
            image_original_user: Some("rocky"),
            image_description: Some(format!(
                "https://docs.rockylinux.org/release_notes/{}/",
                s.release
            )),
            disk_format: qcow2,
        },
        Source::CentosStream(s) => PresetDefaults {
            os_distro: Some("centos"),
            os_version: Some(s.release.clone()),
            image_original_user: Some("cloud-user"),
            image_description: Some("https://www.centos.org/centos-stream/".to_owned()),
            disk_format: qcow2,
        },
        Source::Fedora(s) => PresetDefaults {
            os_distro: Some("fedora"),
            os_version: s.release.clone(),
            image_original_user: Some("fedora"),
            image_description: Some("https://docs.fedoraproject.org/en-US/releases/".to_owned()),
            disk_format: qcow2,
        },
        Source::OpensuseLeap(s) => PresetDefaults {
            os_distro: Some("opensuse"),
            os_version: Some(s.release.clone()),
            image_original_user: Some("opensuse"),
            image_description: Some(format!(
                "https://doc.opensuse.org/release-notes/x86_64/openSUSE/Leap/{}/",
                s.release
            )),
            disk_format: qcow2,
        },
        Source::Cirros(s) => PresetDefaults {
            os_distro: Some("cirros"),
            os_version: s.series.clone(),
            image_original_user: Some("cirros"),
            image_description: Some("https://github.com/cirros-dev/cirros/releases".to_owned()),
            disk_format: qcow2,
        },
        Source::Alpine(s) => PresetDefaults {
            os_distro: Some("alpine"),
            os_version: s.release.clone(),
            image_original_user: Some("alpine"),
            image_description: Some("https://alpinelinux.org/releases/".to_owned()),
            disk_format: qcow2,
        },
        Source::Archlinux(_) => PresetDefaults {
            os_distro: Some("arch"),
            os_version: Some("rolling".to_owned()),
            image_original_user: Some("arch"),
            image_description: Some("https://gitlab.archlinux.org/archlinux/arch-boxes".to_owned()),
            disk_format: qcow2,
        },
        // Neither is in Glance's os_distro list; these are the distributors' own lower-case
        // ids (os-release `ID`/`VARIANT_ID`), as other image tools publish them.
        Source::FedoraCoreos(_) => PresetDefaults {
            os_distro: Some("fedora-coreos"),
            os_version: None,
            image_original_user: Some("core"),
            image_description: Some(
                "https://docs.fedoraproject.org/en-US/fedora-coreos/".to_owned(),
            ),
            disk_format: qcow2,
        },
        Source::Flatcar(_) => PresetDefaults {
            os_distro: Some("flatcar"),
            os_version: None,
            image_original_user: Some("core"),
            image_description: Some("https://www.flatcar.org/releases".to_owned()),
            disk_format: qcow2,
        },
        Source::ChecksumDir(_)
        | Source::GithubRelease(_)
        | Source::ObjectStorage(_)
        | Source::DiskimageBuilder(_)
        | Source::Static(_) => PresetDefaults::default(),
    }
}

/// The `os_distro` a preset requires (scs-0102 follows osinfo ids), for the consistency check.
pub fn required_os_distro(source: &Source) -> Option<&'static str> {
    match source {
        Source::ChecksumDir(_)
        | Source::GithubRelease(_)
        | Source::ObjectStorage(_)
        | Source::DiskimageBuilder(_)
        | Source::Static(_) => None,
        other => defaults(other).os_distro,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::raw::RhelLikeSource;

    #[test]
    fn almalinux_is_not_centos() {
        let s = Source::Almalinux(RhelLikeSource {
            release: "9".into(),
            variant: None,
        });
        assert_eq!(required_os_distro(&s), Some("almalinux"));
        assert_eq!(defaults(&s).os_version.as_deref(), Some("9"));
    }

    #[test]
    fn codenames() {
        assert_eq!(debian_codename("13"), Some("trixie"));
        assert_eq!(ubuntu_codename("24.04"), Some("noble"));
        assert_eq!(debian_codename("99"), None);
    }
}

/// Whether a URL names a moving alias (`latest`, `current`) rather than an immutable file.
pub fn is_alias_url(url: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.split('/').any(|seg| {
        let s = seg.to_ascii_lowercase();
        s == "latest"
            || s == "current"
            || s.contains("-latest.")
            || s.contains(".latest.")
            || s.contains("-latest-")
    })
}

#[cfg(test)]
mod alias_tests {
    #[test]
    fn aliases() {
        assert!(super::is_alias_url(
            "https://x/images/latest/debian-12-genericcloud-amd64.qcow2"
        ));
        assert!(super::is_alias_url(
            "https://x/AlmaLinux-9-GenericCloud-latest.x86_64.qcow2"
        ));
        assert!(super::is_alias_url(
            "https://x/Rocky-9-GenericCloud-Base.latest.x86_64.qcow2"
        ));
        assert!(super::is_alias_url(
            "https://cloud-images.ubuntu.com/noble/current/x.img"
        ));
        assert!(!super::is_alias_url(
            "https://x/AlmaLinux-9-GenericCloud-9.8-20260526.x86_64.qcow2"
        ));
    }
}

/// Whether the preset follows the newest release, so `os_version` comes from the locked build
/// (Fedora without `release`, Alpine without `release`, CirrOS without `series`).
pub fn os_version_from_lock(source: &Source) -> bool {
    match source {
        Source::Fedora(s) => s.release.is_none(),
        Source::Alpine(s) => s.release.is_none(),
        Source::Cirros(s) => s.series.is_none(),
        // Streams and channels move from major to major.
        Source::FedoraCoreos(_) | Source::Flatcar(_) => true,
        _ => false,
    }
}

/// The distribution version of a locked build for presets that follow the newest release:
/// Fedora `43-1.6` → `43`, Alpine `3.22.1-r0` → `3.22`, CirrOS `0.6.3` → `0.6`, Fedora
/// CoreOS `43.20251110.3.1` → `43` (its Fedora release), Flatcar `4230.2.3` → `4230` (its
/// major release, which a channel keeps for months).
pub fn os_version_of(source: &Source, locked_version: &str) -> Option<String> {
    let numeric: Vec<&str> = locked_version
        .split(|c: char| !c.is_ascii_digit() && c != '.')
        .next()
        .unwrap_or("")
        .split('.')
        .filter(|p| !p.is_empty())
        .collect();
    let parts = match source {
        Source::Fedora(_) | Source::FedoraCoreos(_) | Source::Flatcar(_) => 1,
        Source::Alpine(_) | Source::Cirros(_) => 2,
        _ => return None,
    };
    (numeric.len() >= parts).then(|| numeric[..parts].join("."))
}

#[cfg(test)]
mod os_version_tests {
    use super::*;
    use crate::catalog::raw::{AlpineSource, CirrosSource, FedoraSource};

    #[test]
    fn derives_os_version_from_locked_versions() {
        let fedora = Source::Fedora(FedoraSource {
            release: None,
            subvariant: "Cloud_Base".into(),
        });
        assert_eq!(os_version_of(&fedora, "43-1.6").as_deref(), Some("43"));
        assert_eq!(os_version_of(&fedora, "44").as_deref(), Some("44"));
        let alpine = Source::Alpine(AlpineSource {
            release: None,
            firmware: "uefi".into(),
            bootstrap: "cloudinit".into(),
            cloud: "nocloud".into(),
        });
        assert_eq!(os_version_of(&alpine, "3.22.1-r0").as_deref(), Some("3.22"));
        assert_eq!(os_version_of(&alpine, "edge"), None);
        let cirros = Source::Cirros(CirrosSource { series: None });
        assert_eq!(os_version_of(&cirros, "0.6.3").as_deref(), Some("0.6"));
        assert!(os_version_from_lock(&cirros));
        let fcos = Source::FedoraCoreos(crate::catalog::raw::FedoraCoreosSource {
            stream: Default::default(),
        });
        assert_eq!(
            os_version_of(&fcos, "43.20251110.3.1").as_deref(),
            Some("43")
        );
        let flatcar = Source::Flatcar(crate::catalog::raw::FlatcarSource {
            channel: Default::default(),
        });
        assert_eq!(os_version_of(&flatcar, "4230.2.3").as_deref(), Some("4230"));
        assert!(os_version_from_lock(&fcos) && os_version_from_lock(&flatcar));
    }
}
