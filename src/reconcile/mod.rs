//! RECONCILE: lockfiles + catalog + observed Glance state → [`Plan`] → Glance.
//!
//! # The contract
//!
//! 1. **Idempotent.** [`plan::plan`] is a pure function of its inputs; `apply` executes a plan
//!    and a second plan over the result is empty. Every step is safe to re-run after a partial
//!    failure or a crash: the next run re-observes Glance and converges.
//! 2. **Import before retire.** A new build is uploaded, verified and promoted *before* the image
//!    it replaces is rotated. When an import fails, nothing else of that image's group runs.
//! 3. **The stable name always points to a complete, verified image.** The new image is created
//!    private under a temporary name ([`TMP_PREFIX`]), verified active, then renamed to the
//!    stable name (one PATCH) while the old image still holds it; only then is the old one
//!    renamed to `<Name> YYYYMMDD` (its build date). At every moment at least one verified image
//!    carries the stable name; there is never a moment with none.
//! 4. **Nothing unverified is ever visible.** Temporary images are private and unprotected and
//!    never adopted: an image named `image-crawler-tmp-…` that carries our
//!    [`ID_PROPERTY`](crate::catalog::ID_PROPERTY) and whose [`claim`] is dead is leftover
//!    from an interrupted run and is deleted ([`Action::Cleanup`]), as is a managed image stuck
//!    in a non-active state or an active copy of the current build. Under a live claim it is a
//!    concurrent run's work in progress and is left alone.
//! 5. **Only what the tool owns is touched.** Managed images are found by the
//!    `image_crawler_id` property. The property keys the tool set from the catalog are recorded
//!    in [`MANAGED_KEYS_PROPERTY`] (and tags in [`MANAGED_TAGS_PROPERTY`]), so a key the catalog
//!    no longer declares is removed while keys operators add by hand are left alone.
//!    Server-owned keys ([`is_server_owned`](crate::openstack::image::is_server_owned)) are never
//!    touched.
//! 6. **Deletion is opt-in and guarded.** Only `rotation.delete: true` plans deletions, only
//!    beyond `rotation.keep` and what `uuid_validity` promises; `apply --max-deletes` caps them;
//!    a protected or in-use image (Glance 409) is kept and reported ([`Action::Keep`]).
//!
//! The plan is a value ([`Plan`]): the human rendering ([`render`]) and the JSON document are
//! two views of the same struct, and `apply --plan FILE` executes exactly the reviewed value
//! after checking its [`Plan::fingerprint`] still matches the inputs.

pub mod apply;
pub mod claim;
pub mod conformance;
pub mod decompress;
pub mod download;
pub mod header;
pub mod plan;
pub mod render;
pub mod rights;
pub mod shell;
pub mod transfer;

use serde::{Deserialize, Serialize};

/// The version of the JSON plan document; readers refuse other versions.
pub const PLAN_FORMAT_VERSION: u32 = 1;
/// Name prefix of images being imported (`image-crawler-tmp-<id>-<version>`).
pub const TMP_PREFIX: &str = "image-crawler-tmp-";
/// Property listing (comma-separated, sorted) the catalog property keys the tool set.
pub const MANAGED_KEYS_PROPERTY: &str = "image_crawler_managed_keys";
/// Property listing (comma-separated, sorted) the catalog tags the tool set.
pub const MANAGED_TAGS_PROPERTY: &str = "image_crawler_managed_tags";

/// The temporary name of a new image while it is imported and verified.
pub fn tmp_name(id: &str, version: &str) -> String {
    format!("{TMP_PREFIX}{id}-{version}")
}

/// What a change does. Each action is its own legend ([`Action::symbol`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Delete a leftover temporary or failed image.
    Cleanup,
    /// Import the locked build as a new image.
    Import,
    /// Patch the metadata of an image (catalog change or drift).
    UpdateMetadata,
    /// Retire a replaced image: rename to `<Name> YYYYMMDD`, hide, `oldgeneric`.
    Rotate,
    /// Retention wants it gone, but it cannot go (protected, in use): reported, kept.
    Keep,
    /// Delete an image beyond retention.
    Delete,
}

impl Action {
    /// The one-character legend, after Terraform.
    pub fn symbol(self) -> char {
        match self {
            Action::Import => '+',
            Action::UpdateMetadata => '~',
            Action::Rotate => '>',
            Action::Delete => '-',
            Action::Cleanup => 'x',
            Action::Keep => '!',
        }
    }

    /// The verb shown next to the symbol.
    pub fn verb(self) -> &'static str {
        match self {
            Action::Import => "import",
            Action::UpdateMetadata => "update",
            Action::Rotate => "rotate",
            Action::Delete => "delete",
            Action::Cleanup => "cleanup",
            Action::Keep => "keep",
        }
    }
}

/// One field that changes: `before -> after` (`None` = absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDiff {
    /// `name`, `visibility`, `os_hidden`, `protected`, `min_disk`, `min_ram`,
    /// `property:<key>` or `tag:<tag>`.
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl FieldDiff {
    pub fn new(field: impl Into<String>, before: Option<String>, after: Option<String>) -> Self {
        Self {
            field: field.into(),
            before,
            after,
        }
    }
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The catalog id.
    pub image_id: String,
    pub action: Action,
    /// The Glance image acted on (`None` for an import: it does not exist yet).
    pub glance_id: Option<String>,
    /// The image's Glance name now (for an import: the stable name it will get).
    pub name: String,
    /// The upstream version of the image acted on, when known.
    pub version: Option<String>,
    /// Why, in words.
    pub reason: String,
    /// What changes, field by field (for an import: the source and transfer).
    pub details: Vec<FieldDiff>,
    /// What an operator should look at before applying (e.g. a downgrade).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl Change {
    fn sort_key(&self) -> (bool, &str, Action, Option<&str>, &str) {
        (
            self.action == Action::Delete,
            &self.image_id,
            self.action,
            self.glance_id.as_deref(),
            &self.name,
        )
    }
}

/// What `apply` would do to one cloud.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    /// The `clouds.yaml` name.
    pub cloud: String,
    /// The region planned for (absent when the cloud names none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// `sha256:<hex>` over the inputs (desired metadata, lockfiles, observed managed images);
    /// `apply --plan` refuses a plan whose fingerprint no longer matches.
    pub fingerprint: String,
    /// Sorted by image id then action; deletions last.
    pub changes: Vec<Change>,
}

/// Counts per action, for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub import: usize,
    pub update: usize,
    pub rotate: usize,
    pub delete: usize,
    pub cleanup: usize,
    pub keep: usize,
}

impl Plan {
    /// Whether applying the plan changes nothing (a `Keep` is a report, not a change).
    pub fn is_empty(&self) -> bool {
        self.changes.iter().all(|c| c.action == Action::Keep)
    }

    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Import => s.import += 1,
                Action::UpdateMetadata => s.update += 1,
                Action::Rotate => s.rotate += 1,
                Action::Delete => s.delete += 1,
                Action::Cleanup => s.cleanup += 1,
                Action::Keep => s.keep += 1,
            }
        }
        s
    }

    /// Sorts the changes into their canonical order.
    pub fn sort(&mut self) {
        self.changes.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    }

    /// Reads a saved plan (`plan --out`), refusing other format versions.
    pub fn from_json(text: &str) -> anyhow::Result<Plan> {
        #[derive(Deserialize)]
        struct Version {
            format_version: u32,
        }
        let v: Version = serde_json::from_str(text)?;
        if v.format_version != PLAN_FORMAT_VERSION {
            anyhow::bail!(
                "plan format_version {} is not supported (this tool reads {PLAN_FORMAT_VERSION})",
                v.format_version
            );
        }
        Ok(serde_json::from_str(text)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(id: &str, action: Action, gid: &str) -> Change {
        Change {
            image_id: id.into(),
            action,
            glance_id: Some(gid.into()),
            name: "n".into(),
            version: None,
            reason: "r".into(),
            details: vec![],
            warnings: vec![],
        }
    }

    #[test]
    fn sort_puts_deletions_last_and_groups_by_image() {
        let mut p = Plan {
            format_version: PLAN_FORMAT_VERSION,
            cloud: "c".into(),
            region: None,
            fingerprint: "f".into(),
            changes: vec![
                change("b", Action::Rotate, "1"),
                change("a", Action::Delete, "2"),
                change("b", Action::Import, "3"),
                change("a", Action::UpdateMetadata, "4"),
            ],
        };
        p.sort();
        let order: Vec<(&str, Action)> = p
            .changes
            .iter()
            .map(|c| (c.image_id.as_str(), c.action))
            .collect();
        assert_eq!(
            order,
            [
                ("a", Action::UpdateMetadata),
                ("b", Action::Import),
                ("b", Action::Rotate),
                ("a", Action::Delete)
            ]
        );
    }

    #[test]
    fn json_round_trip_and_version_check() {
        let p = Plan {
            format_version: PLAN_FORMAT_VERSION,
            cloud: "c".into(),
            region: None,
            fingerprint: "f".into(),
            changes: vec![change("a", Action::Keep, "1")],
        };
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(Plan::from_json(&text).unwrap(), p);
        assert!(p.is_empty(), "a Keep alone changes nothing");
        let bad = text.replace("\"format_version\":1", "\"format_version\":9");
        assert!(Plan::from_json(&bad).is_err());
    }
}

#[cfg(test)]
pub(crate) mod fixtures;
