//! When to rebuild: a built image needs a new build when its recipe changed or its package
//! archive moved since the build `check` locks (the newest published one). The comparison is
//! pure ([`due`]); reading the published build's inputs and the archive of now are the two
//! fetches below, both through the [`Fetcher`].

use serde::Deserialize;

use super::{archive, manifest_url, recipe_digest};
use crate::catalog::Image;
use crate::catalog::raw::DiskimageBuilderSource;
use crate::lock::BuildInputs;
use crate::upstream::{DiscoverError, Fetcher};

/// Why a new build is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// No build is published yet.
    NeverBuilt,
    /// The published build says nothing about its inputs (no `manifest.json`, or one
    /// without a `recipe_digest`): it cannot be shown to be current.
    NoInputs,
    /// The recipe is not the one the build was made from.
    RecipeChanged { built: String, now: String },
    /// A suite's `Release` file is newer than the build's.
    ArchiveMoved {
        suite: String,
        built: String,
        now: String,
    },
    /// A suite is watched that the build did not record.
    NewSuite { suite: String },
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = |d: &str| d.chars().take(12).collect::<String>();
        match self {
            Reason::NeverBuilt => f.write_str("no build is published yet"),
            Reason::NoInputs => f.write_str("the published build records no inputs"),
            Reason::RecipeChanged { built, now } => write!(
                f,
                "the recipe changed (digest {} -> {})",
                short(built),
                short(now)
            ),
            Reason::ArchiveMoved { suite, built, now } => {
                write!(f, "the archive moved ({suite} Release {built} -> {now})")
            }
            Reason::NewSuite { suite } => write!(f, "{suite} was not recorded by the build"),
        }
    }
}

/// What makes the build that recorded `built` older than what a build would get `now`
/// (empty: the build is current). An archive date that went back (a mirror lagging behind
/// the one the build used) is no reason.
pub fn due(built: Option<&BuildInputs>, now: &BuildInputs) -> Vec<Reason> {
    let Some(built) = built else {
        return vec![Reason::NoInputs];
    };
    let mut reasons = Vec::new();
    if built.recipe_digest != now.recipe_digest {
        reasons.push(Reason::RecipeChanged {
            built: built.recipe_digest.clone(),
            now: now.recipe_digest.clone(),
        });
    }
    for (suite, date) in &now.archive {
        match built.archive.get(suite) {
            None => reasons.push(Reason::NewSuite {
                suite: suite.clone(),
            }),
            // RFC 3339 in UTC with a fixed width: text order is time order.
            Some(then) if date > then => reasons.push(Reason::ArchiveMoved {
                suite: suite.clone(),
                built: then.clone(),
                now: date.clone(),
            }),
            Some(_) => {}
        }
    }
    reasons
}

/// What a build of `image` would be made from now: the recipe's digest and the archive's
/// `Release` dates.
pub async fn current(
    image: &Image,
    recipe: &DiskimageBuilderSource,
    fetcher: &Fetcher,
) -> Result<BuildInputs, DiscoverError> {
    Ok(BuildInputs {
        recipe_digest: recipe_digest(recipe, image.architecture),
        archive: archive::state(recipe, fetcher).await?,
    })
}

/// The inputs the build published at `image_url` recorded in its `manifest.json`; `None`
/// when it has none (a build published by hand) or records no `recipe_digest`.
pub async fn published(
    image_url: &str,
    fetcher: &Fetcher,
) -> Result<Option<BuildInputs>, DiscoverError> {
    let url = manifest_url(image_url);
    let Some(file) = fetcher.get_optional(&url).await? else {
        return Ok(None);
    };
    parse_manifest(&file.body, &url)
}

/// The inputs in a `manifest.json` (pure; other fields are not read, so manifests of older
/// and newer tools both parse).
pub fn parse_manifest(body: &[u8], url: &str) -> Result<Option<BuildInputs>, DiscoverError> {
    #[derive(Deserialize)]
    struct Inputs {
        recipe_digest: Option<String>,
        #[serde(default)]
        archive: std::collections::BTreeMap<String, String>,
    }
    let m: Inputs = serde_json::from_slice(body)
        .map_err(|e| DiscoverError::parse(url, e.line(), format!("not a build manifest: {e}")))?;
    Ok(m.recipe_digest.map(|recipe_digest| BuildInputs {
        recipe_digest,
        archive: m.archive,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(digest: &str, dates: &[(&str, &str)]) -> BuildInputs {
        BuildInputs {
            recipe_digest: digest.into(),
            archive: dates
                .iter()
                .map(|(s, d)| (s.to_string(), d.to_string()))
                .collect(),
        }
    }

    const D1: &str = "2024-11-09T10:25:41Z";
    const D2: &str = "2024-12-01T08:00:00Z";

    #[test]
    fn nothing_changed_nothing_is_due() {
        let a = inputs("aa", &[("bookworm", D1), ("bookworm-security", D1)]);
        assert_eq!(due(Some(&a), &a), []);
        // A mirror behind the one the build used is no reason either.
        let older = inputs("aa", &[("bookworm", "2024-01-01T00:00:00Z")]);
        assert_eq!(due(Some(&a), &older), []);
    }

    #[test]
    fn a_recipe_change_and_an_archive_move_are_each_due() {
        let built = inputs("aa", &[("bookworm", D1), ("bookworm-security", D1)]);
        let recipe = inputs("bb", &[("bookworm", D1), ("bookworm-security", D1)]);
        assert_eq!(
            due(Some(&built), &recipe),
            [Reason::RecipeChanged {
                built: "aa".into(),
                now: "bb".into()
            }]
        );
        let moved = inputs("aa", &[("bookworm", D1), ("bookworm-security", D2)]);
        let reasons = due(Some(&built), &moved);
        assert_eq!(
            reasons,
            [Reason::ArchiveMoved {
                suite: "bookworm-security".into(),
                built: D1.into(),
                now: D2.into()
            }]
        );
        assert_eq!(
            reasons[0].to_string(),
            format!("the archive moved (bookworm-security Release {D1} -> {D2})")
        );
        let added = inputs(
            "aa",
            &[("bookworm", D1), ("bookworm-security", D1), ("x", D1)],
        );
        assert_eq!(
            due(Some(&built), &added),
            [Reason::NewSuite { suite: "x".into() }]
        );
        assert_eq!(due(None, &built), [Reason::NoInputs]);
    }

    #[test]
    fn manifests_give_their_inputs() {
        let m = br#"{"image":"d","recipe_digest":"aa","archive":{"bookworm":"2024-11-09T10:25:41Z"},"packages":[]}"#;
        assert_eq!(
            parse_manifest(m, "u").unwrap(),
            Some(inputs("aa", &[("bookworm", D1)]))
        );
        assert_eq!(parse_manifest(br#"{"image":"d"}"#, "u").unwrap(), None);
        let e = parse_manifest(b"<html>", "http://s/m.json").unwrap_err();
        assert!(e.to_string().starts_with("http://s/m.json:1: "), "{e}");
    }
}
