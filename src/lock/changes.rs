//! A lock change as a value: `check` output, `--dry-run`, JSON and commit messages are all
//! renderings of [`LockChange`].

use serde::Serialize;

use super::{Build, LockedImage};

/// What happened to one image's lockfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LockChange {
    /// First resolution of an image.
    Added { id: String, to: Build },
    /// A newer build (or another version).
    Updated { id: String, from: Build, to: Build },
    /// Same version, different bytes or URL: a silent upstream respin, shown as such.
    Rebuilt { id: String, from: Build, to: Build },
    /// Only bookkeeping changed (signature status, metadata URL, size, source digest).
    Refreshed { id: String, from: Build, to: Build },
}

impl LockChange {
    /// Compares the old and the new lock of one image; `None` when nothing changed.
    pub fn between(old: Option<&LockedImage>, new: &LockedImage) -> Option<LockChange> {
        let id = new.id.clone();
        let Some(old) = old else {
            return Some(LockChange::Added {
                id,
                to: new.build.clone(),
            });
        };
        if old == new {
            return None;
        }
        let (from, to) = (old.build.clone(), new.build.clone());
        Some(if from.version != to.version {
            LockChange::Updated { id, from, to }
        } else if from.url != to.url || from.checksums != to.checksums {
            LockChange::Rebuilt { id, from, to }
        } else {
            LockChange::Refreshed { id, from, to }
        })
    }

    pub fn id(&self) -> &str {
        match self {
            LockChange::Added { id, .. }
            | LockChange::Updated { id, .. }
            | LockChange::Rebuilt { id, .. }
            | LockChange::Refreshed { id, .. } => id,
        }
    }

    /// The new build.
    pub fn to(&self) -> &Build {
        match self {
            LockChange::Added { to, .. }
            | LockChange::Updated { to, .. }
            | LockChange::Rebuilt { to, .. }
            | LockChange::Refreshed { to, .. } => to,
        }
    }

    /// The old build, if there was one.
    pub fn from(&self) -> Option<&Build> {
        match self {
            LockChange::Added { .. } => None,
            LockChange::Updated { from, .. }
            | LockChange::Rebuilt { from, .. }
            | LockChange::Refreshed { from, .. } => Some(from),
        }
    }
}

impl std::fmt::Display for LockChange {
    /// One line: `ubuntu-24.04: 20240801 -> 20240821 (built 2024-08-21, signature verified with …)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let to = self.to();
        match self {
            LockChange::Added { id, .. } => write!(f, "{id}: new {}", to.version)?,
            LockChange::Updated { id, from, .. } => {
                write!(f, "{id}: {} -> {}", from.version, to.version)?
            }
            LockChange::Rebuilt { id, .. } => write!(
                f,
                "{id}: {} rebuilt upstream (checksum changed)",
                to.version
            )?,
            LockChange::Refreshed { id, .. } => {
                write!(f, "{id}: {} metadata refreshed", to.version)?
            }
        }
        write!(f, " (built {}, signature {})", to.build_date, to.signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::format::tests::sample;
    use crate::lock::{HashAlgorithm, SignatureState, SignatureStatus};

    #[test]
    fn classifies_changes() {
        let old = sample();
        assert_eq!(LockChange::between(Some(&old), &old), None);
        assert!(matches!(
            LockChange::between(None, &old),
            Some(LockChange::Added { .. })
        ));

        let mut newer = old.clone();
        newer.build.version = "20240901".into();
        newer.build.build_date = "2024-09-01".into();
        let c = LockChange::between(Some(&old), &newer).unwrap();
        assert!(matches!(c, LockChange::Updated { .. }));
        assert_eq!(
            c.to_string(),
            "ubuntu-24.04: 20240821 -> 20240901 (built 2024-09-01, signature verified with D2EB44626FDDC30B513D5BB71A5D6C4C7DB87C81)"
        );

        let mut respin = old.clone();
        respin
            .build
            .checksums
            .insert(HashAlgorithm::Sha256, "ff".repeat(32));
        assert!(matches!(
            LockChange::between(Some(&old), &respin),
            Some(LockChange::Rebuilt { .. })
        ));

        let mut refreshed = old.clone();
        refreshed.build.signature = SignatureStatus::state(SignatureState::NotPublished);
        let c = LockChange::between(Some(&old), &refreshed).unwrap();
        assert!(matches!(c, LockChange::Refreshed { .. }));
        assert!(c.to_string().ends_with("signature not published)"), "{c}");
    }
}
