//! The I/O shared by `plan` and `apply`: load catalog and lockfiles, pick the targets,
//! connect, observe Glance once, plan, and check the planned state.

use std::collections::BTreeMap;

use anyhow::Context as _;

use super::plan::{PlanContext, plan, planned_state};
use super::{Plan, apply, claim, conformance};
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

/// One cloud (in one region) and the catalog images it gets (with the target's overrides).
pub struct TargetImages<'a> {
    /// The `clouds.yaml` name; `None` = plain `OS_*` variables.
    pub cloud: Option<String>,
    /// The region; `None` = the cloud's first (or only) one.
    pub region: Option<String>,
    pub images: Vec<&'a Image>,
}

impl TargetImages<'_> {
    /// The cloud, for plans: its `clouds.yaml` name.
    pub fn cloud_label(&self) -> String {
        self.cloud
            .clone()
            .unwrap_or_else(|| "(OS_* environment)".into())
    }

    /// The cloud and the region, for messages.
    pub fn label(&self) -> String {
        match &self.region {
            Some(r) => format!("{} (region {r})", self.cloud_label()),
            None => self.cloud_label(),
        }
    }
}

/// The targets selected by `--cloud` / `--all-targets`, one per region: a target whose
/// `region` is `*` fans out to every region clouds.yaml lists for the cloud. `--region` keeps
/// the targets of that region (and gives it to those that name none).
pub fn targets<'a>(
    catalog: &'a Catalog,
    args: &TargetArgs,
) -> anyhow::Result<Vec<TargetImages<'a>>> {
    targets_with(catalog, args, |cloud| {
        crate::openstack::config::load_regions(cloud)
            .map_err(|e| crate::openstack::Error::from(e).into_anyhow())
    })
}

/// [`targets`] with the clouds.yaml look-up of a cloud's regions passed in.
pub fn targets_with<'a>(
    catalog: &'a Catalog,
    args: &TargetArgs,
    regions_of: impl Fn(&str) -> anyhow::Result<Vec<String>>,
) -> anyhow::Result<Vec<TargetImages<'a>>> {
    let asked = args.cloud.region.clone().filter(|r| !r.is_empty());
    let expand = |t: &'a catalog::Target| -> anyhow::Result<Vec<TargetImages<'a>>> {
        let images: Vec<&Image> = t
            .images
            .iter()
            .filter_map(|id| t.image(catalog, id))
            .filter(|i| i.enabled)
            .collect();
        let regions: Vec<Option<String>> = match t.region.as_deref() {
            Some("*") => {
                let all = regions_of(&t.cloud)?;
                if all.is_empty() {
                    return Err(crate::error::refuse(
                        ExitStatus::Invalid,
                        format!(
                            "target `{}` has `region: \"*\"`, but clouds.yaml lists no `regions:` for it",
                            t.cloud
                        ),
                        "list the regions under the cloud's `regions:` in clouds.yaml, or name one in the target",
                    ));
                }
                all.into_iter().map(Some).collect()
            }
            Some(r) => vec![Some(r.to_owned())],
            None => vec![asked.clone()],
        };
        Ok(regions
            .into_iter()
            .filter(|r| asked.is_none() || r == &asked)
            .map(|region| TargetImages {
                cloud: Some(t.cloud.clone()),
                region,
                images: images.clone(),
            })
            .collect())
    };
    let mut out = Vec::new();
    if args.all_targets {
        if catalog.targets.is_empty() {
            return Err(crate::error::refuse(
                ExitStatus::Invalid,
                "--all-targets: the catalog has no `settings.targets`",
                "list the clouds under `settings.targets`, or pick one with --cloud",
            ));
        }
        for t in &catalog.targets {
            out.extend(expand(t)?);
        }
    } else if let Some(name) = &args.cloud.cloud
        && catalog.targets.iter().any(|t| &t.cloud == name)
    {
        for t in catalog.targets.iter().filter(|t| &t.cloud == name) {
            out.extend(expand(t)?);
        }
    } else {
        return Ok(vec![TargetImages {
            cloud: args.cloud.cloud.clone(),
            region: asked,
            images: catalog.enabled().collect(),
        }]);
    }
    if out.is_empty() {
        return Err(crate::error::refuse(
            ExitStatus::Invalid,
            format!(
                "no target of the catalog is in region `{}`",
                asked.unwrap_or_default()
            ),
            "check --region / OS_REGION_NAME against the `region` of `settings.targets`",
        ));
    }
    Ok(out)
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
    crate::openstack::connect(target.cloud.as_deref(), target.region.as_deref())
        .await
        .map_err(crate::openstack::Error::into_anyhow)
        .with_context(|| format!("cannot connect to cloud {}", target.label()))
}

/// A plan with what it was computed from.
pub struct Planned {
    pub ctx: PlanContext,
    pub observed: Vec<GlanceImage>,
    /// The algorithm Glance is expected to hash new images with (see [`apply::Executor`]).
    pub glance_hash: crate::lock::HashAlgorithm,
    pub plan: Plan,
}

/// Observes Glance and plans.
pub async fn observe_and_plan(
    glance: &Glance,
    target: &TargetImages<'_>,
    inputs: &Inputs,
) -> anyhow::Result<Planned> {
    let (observed, glance_hash) = apply::observe_with_hash(glance).await?;
    let now = jiff::Timestamp::now();
    let ctx = PlanContext {
        cloud: target.cloud_label(),
        region: glance.session().config().region.clone(),
        managed_tag: inputs.catalog.managed_tag(),
        now,
        live_claims: claim::live_claims(&observed, now, &claim::ThisHost::default()),
    };
    let plan = plan(&target.images, &inputs.locks, &observed, &ctx);
    Ok(Planned {
        ctx,
        observed,
        glance_hash,
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
                region: None,
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

    #[test]
    fn targets_fan_out_per_region() {
        let text = CATALOG.replace(
            "    - cloud: production\n      exclude: [\"b\"]\n",
            "    - cloud: production\n      region: East\n      exclude: [\"b\"]\n    - cloud: production\n      region: West\n    - cloud: lab\n      region: \"*\"\n",
        );
        let catalog =
            catalog::load_from_strings(std::path::Path::new("catalog"), &[("t.yaml", &text)])
                .unwrap_or_else(|d| panic!("{}", d[0].render()));
        let regions = |cloud: &str| -> anyhow::Result<Vec<String>> {
            assert_eq!(cloud, "lab");
            Ok(vec!["L1".into(), "L2".into()])
        };
        let with = |cloud: Option<&str>, region: Option<&str>, all: bool| {
            let mut a = args(cloud, all);
            a.cloud.region = region.map(Into::into);
            targets_with(&catalog, &a, regions).map(|ts| {
                ts.iter()
                    .map(|t| (t.label(), t.images.len()))
                    .collect::<Vec<_>>()
            })
        };
        let l = |v: &[(&str, usize)]| -> Vec<(String, usize)> {
            v.iter().map(|(a, n)| ((*a).to_owned(), *n)).collect()
        };
        assert_eq!(
            with(None, None, true).unwrap(),
            l(&[
                ("staging", 2),
                ("production (region East)", 1),
                ("production (region West)", 2),
                ("lab (region L1)", 2),
                ("lab (region L2)", 2)
            ])
        );
        // --region keeps the targets of that region and gives it to those naming none.
        assert_eq!(
            with(None, Some("L2"), true).unwrap(),
            l(&[("staging (region L2)", 2), ("lab (region L2)", 2)])
        );
        assert_eq!(
            with(Some("production"), None, false).unwrap(),
            l(&[
                ("production (region East)", 1),
                ("production (region West)", 2)
            ])
        );
        assert_eq!(
            with(Some("production"), Some("West"), false).unwrap(),
            l(&[("production (region West)", 2)])
        );
        let e = with(Some("production"), Some("North"), false).unwrap_err();
        assert!(e.to_string().contains("region `North`"), "{e}");
    }

    #[test]
    fn a_cloud_twice_in_one_region_is_refused() {
        let text = CATALOG.replace(
            "    - cloud: production\n      exclude: [\"b\"]\n",
            "    - cloud: production\n      region: East\n    - cloud: production\n      region: East\n",
        );
        let d = catalog::load_from_strings(std::path::Path::new("catalog"), &[("t.yaml", &text)])
            .unwrap_err();
        assert!(
            d.iter().any(|d| d
                .render()
                .contains("target `production` in region `East` is listed twice")),
            "{}",
            d[0].render()
        );
    }
}
