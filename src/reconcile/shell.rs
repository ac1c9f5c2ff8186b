//! The I/O shared by `plan` and `apply`: load catalog and lockfiles, pick the targets,
//! connect, observe Glance once, plan, and check the planned state.

use std::collections::BTreeMap;

use anyhow::Context as _;

use super::plan::{PlanContext, plan, planned_state};
use super::{Plan, apply, conformance};
use crate::catalog::{self, Catalog, Image};
use crate::cli::{GlobalArgs, TargetArgs};
use crate::error::ResultExt as _;
use crate::exit::ExitStatus;
use crate::lock::{self, LockedImage};
use crate::openstack::{Glance, GlanceImage};

/// Catalog and lockfiles, loaded and checked.
pub struct Inputs {
    pub catalog: Catalog,
    pub locks: BTreeMap<String, LockedImage>,
}

/// Loads the catalog (every problem reported, exit 4) and the lockfiles.
pub fn load_inputs(global: &GlobalArgs) -> anyhow::Result<Inputs> {
    let catalog = catalog::load(&global.catalog).map_err(|diags| {
        let text: Vec<String> = diags.iter().map(|d| d.render()).collect();
        crate::error::refuse(
            ExitStatus::Invalid,
            format!(
                "the catalog `{}` has problems:\n{}",
                global.catalog.display(),
                text.join("\n")
            ),
            "run `image-crawler validate` and fix them",
        )
    })?;
    let all = lock::store::read_all(&global.state)
        .with_context(|| {
            format!(
                "cannot read the state directory `{}`",
                global.state.display()
            )
        })
        .exit_status(ExitStatus::Invalid)?;
    // The same gate as `validate`, before any cloud is contacted: a lockfile reaches Glance
    // verbatim, so one that `validate` rejects is never planned or applied.
    let mut errors = lock::gate::errors(lock::gate::check(&global.state, Some(&catalog), &all));
    crate::diagnostic::sort(&mut errors);
    if !errors.is_empty() {
        let text: Vec<String> = errors.iter().map(|d| d.render()).collect();
        return Err(crate::error::refuse(
            ExitStatus::Invalid,
            format!(
                "the lockfiles in `{}` have {} problem(s); nothing was sent to any cloud:\n{}",
                global.state.display(),
                errors.len(),
                text.join("\n")
            ),
            "fix them as the hints say (`image-crawler validate` lists the same problems)",
        ));
    }
    let locks = all
        .into_iter()
        .filter_map(|(id, file)| Some((id, file.ok()?.lock)))
        .collect();
    Ok(Inputs { catalog, locks })
}

/// One cloud and the catalog images it gets (with the target's overrides).
pub struct TargetImages<'a> {
    /// The `clouds.yaml` name; `None` = plain `OS_*` variables.
    pub cloud: Option<String>,
    pub images: Vec<&'a Image>,
}

impl TargetImages<'_> {
    pub fn label(&self) -> String {
        self.cloud
            .clone()
            .unwrap_or_else(|| "(OS_* environment)".into())
    }
}

/// The targets selected by `--cloud` / `--all-targets`.
pub fn targets<'a>(
    catalog: &'a Catalog,
    args: &TargetArgs,
) -> anyhow::Result<Vec<TargetImages<'a>>> {
    let of = |t: &'a catalog::Target| TargetImages {
        cloud: Some(t.cloud.clone()),
        images: t
            .images
            .iter()
            .filter_map(|id| t.image(catalog, id))
            .filter(|i| i.enabled)
            .collect(),
    };
    if args.all_targets {
        if catalog.targets.is_empty() {
            return Err(crate::error::refuse(
                ExitStatus::Invalid,
                "--all-targets: the catalog has no `settings.targets`",
                "list the clouds under `settings.targets`, or pick one with --cloud",
            ));
        }
        return Ok(catalog.targets.iter().map(of).collect());
    }
    let cloud = args.cloud.cloud.clone();
    if let Some(name) = &cloud
        && let Some(t) = catalog.targets.iter().find(|t| &t.cloud == name)
    {
        return Ok(vec![of(t)]);
    }
    Ok(vec![TargetImages {
        cloud,
        images: catalog.enabled().collect(),
    }])
}

/// Limits every target to the images whose ids match one of `ids` (globs, as in `check`); all
/// of them when `ids` is empty. A pattern that matches no image of any target is refused (a
/// typo must not become an empty, "successful" run).
pub fn select<'a>(
    mut targets: Vec<TargetImages<'a>>,
    ids: &[String],
) -> anyhow::Result<Vec<TargetImages<'a>>> {
    if ids.is_empty() {
        return Ok(targets);
    }
    let matches = |id: &str| {
        ids.iter()
            .any(|p| crate::upstream::check::glob_match(p, id))
    };
    for pattern in ids {
        let hit = targets.iter().any(|t| {
            t.images
                .iter()
                .any(|i| crate::upstream::check::glob_match(pattern, &i.id))
        });
        if !hit {
            return Err(crate::error::refuse(
                ExitStatus::Invalid,
                format!("no enabled image of the selected cloud(s) matches `{pattern}`"),
                "list the ids with `image-crawler validate -v` or check the spelling",
            ));
        }
    }
    for t in &mut targets {
        t.images.retain(|i| matches(&i.id));
    }
    Ok(targets)
}

/// The images of a target that have no lockfile (reported, not planned).
pub fn missing_locks(
    target: &TargetImages<'_>,
    locks: &BTreeMap<String, LockedImage>,
) -> Vec<String> {
    target
        .images
        .iter()
        .filter(|i| !locks.contains_key(&i.id))
        .map(|i| i.id.clone())
        .collect()
}

/// Connects to the target's Glance.
pub async fn connect(target: &TargetImages<'_>) -> anyhow::Result<Glance> {
    crate::openstack::connect(target.cloud.as_deref())
        .await
        .map_err(crate::openstack::Error::into_anyhow)
        .with_context(|| format!("cannot connect to cloud {}", target.label()))
}

/// A plan with what it was computed from.
pub struct Planned {
    pub ctx: PlanContext,
    pub observed: Vec<GlanceImage>,
    pub plan: Plan,
}

/// Observes Glance and plans.
pub async fn observe_and_plan(
    glance: &Glance,
    target: &TargetImages<'_>,
    inputs: &Inputs,
) -> anyhow::Result<Planned> {
    let observed = apply::observe(glance).await?;
    let ctx = PlanContext {
        cloud: target.label(),
        managed_tag: inputs.catalog.managed_tag(),
        now: jiff::Timestamp::now(),
    };
    let plan = plan(&target.images, &inputs.locks, &observed, &ctx);
    Ok(Planned {
        ctx,
        observed,
        plan,
    })
}

/// The scs-0102 check of the state `plan` leaves: errors name the image and the rule.
/// `Err` (exit 5) unless `allow`; with `allow` the problems come back as warnings.
pub fn check_conformance(
    planned: &Planned,
    plan: &Plan,
    target: &TargetImages<'_>,
    inputs: &Inputs,
    allow: bool,
) -> anyhow::Result<Vec<String>> {
    let mut state = planned_state(
        plan,
        &target.images,
        &inputs.locks,
        &planned.observed,
        &planned.ctx,
    );
    // Judge what this plan is responsible for: the images of this target's catalog entries
    // (managed images of ids outside the catalog are not touched, so not judged).
    state.retain(|g| {
        g.catalog_id()
            .is_some_and(|id| target.images.iter().any(|i| i.id == id))
    });
    let problems = conformance::violations(&state, planned.ctx.now);
    if problems.is_empty() || allow {
        return Ok(problems);
    }
    Err(crate::error::refuse(
        ExitStatus::Refused,
        format!(
            "the planned state of cloud {} breaks scs-0102 or scs-0104:\n{}",
            target.label(),
            problems
                .iter()
                .map(|p| format!("  {p}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
        "fix the catalog (glance.properties, rotation), or pass --allow-nonconforming",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::CloudArgs;

    const CATALOG: &str = r#"
settings:
  vendor: test
  targets:
    - cloud: staging
      overrides:
        glance:
          visibility: private
    - cloud: production
      exclude: ["b"]
images:
  - id: a
    name: "A 1"
    signature: {policy: off}
    source:
      static: {url: "https://example.org/a.img", checksum: "sha256:0000000000000000000000000000000000000000000000000000000000000000", version: "1", build_date: "2026-01-01"}
    glance: &g
      disk_format: raw
      container_format: bare
      min_disk: 1
      min_ram: 128
      visibility: public
      properties: {os_distro: a, os_version: "1", os_purpose: generic, hw_disk_bus: virtio, replace_frequency: monthly, provided_until: none, uuid_validity: none, image_original_user: none, image_description: x}
  - id: b
    name: "B 1"
    signature: {policy: off}
    source:
      static: {url: "https://example.org/b.img", checksum: "sha256:0000000000000000000000000000000000000000000000000000000000000000", version: "1", build_date: "2026-01-01"}
    glance: *g
"#;

    fn args(cloud: Option<&str>, all: bool) -> TargetArgs {
        TargetArgs {
            cloud: CloudArgs {
                cloud: cloud.map(Into::into),
            },
            all_targets: all,
        }
    }

    fn summary(ts: &[TargetImages<'_>]) -> Vec<(String, Vec<(String, String)>)> {
        ts.iter()
            .map(|t| {
                let imgs = t
                    .images
                    .iter()
                    .map(|i| (i.id.clone(), i.glance.visibility.as_str().to_owned()))
                    .collect();
                (t.label(), imgs)
            })
            .collect()
    }

    #[test]
    fn target_selection_applies_overrides_and_exclusions() {
        let catalog = match catalog::load_from_strings(
            std::path::Path::new("catalog"),
            &[("t.yaml", CATALOG)],
        ) {
            Ok(c) => c,
            Err(d) => panic!(
                "{}",
                d.iter().map(|d| d.render()).collect::<Vec<_>>().join("\n")
            ),
        };
        let s = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect()
        };
        let all = targets(&catalog, &args(None, true)).unwrap();
        assert_eq!(
            summary(&all),
            [
                (
                    "staging".to_owned(),
                    s(&[("a", "private"), ("b", "private")])
                ),
                ("production".to_owned(), s(&[("a", "public")])),
            ]
        );
        let one = targets(&catalog, &args(Some("production"), false)).unwrap();
        assert_eq!(
            summary(&one),
            [("production".to_owned(), s(&[("a", "public")]))]
        );
        // A cloud that is not a catalog target gets every enabled image as declared.
        let other = targets(&catalog, &args(Some("lab"), false)).unwrap();
        assert_eq!(
            summary(&other),
            [("lab".to_owned(), s(&[("a", "public"), ("b", "public")]))]
        );
    }
}
