//! `image-crawler status`: the images this tool manages in a cloud and whether they match
//! the lockfiles. Loads inputs, lists Glance, renders `openstack::status::report`.

use std::collections::BTreeMap;

use crate::catalog;
use crate::cli::{GlobalArgs, StatusArgs};
use crate::exit::ExitStatus;
use crate::lock;
use crate::openstack::{self, Hidden, ListFilter, status};
use crate::output::Printer;

pub async fn run(
    global: &GlobalArgs,
    args: &StatusArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    // The catalog only supplies the vendor tag; without it, the default vendor still finds
    // images by their `image_crawler_id` property.
    let managed_tag = match catalog::load(&global.catalog) {
        Ok(c) => c.managed_tag(),
        Err(diags) => {
            let message = format!(
                "catalog `{}` not loaded ({} problem(s)); using the default tag `managed_by_{}`",
                global.catalog.display(),
                diags.len(),
                catalog::DEFAULT_VENDOR
            );
            // No catalog at all is a normal way to run `status`; a broken one deserves a warning.
            if global.catalog.is_dir() {
                printer.warn(&message);
            } else {
                printer.verbose(&message);
            }
            format!("managed_by_{}", catalog::DEFAULT_VENDOR)
        }
    };
    // A lockfile that fails the gate is shown as invalid, never compared with Glance.
    let locks: BTreeMap<String, Result<lock::LockedImage, String>> =
        lock::store::read_all(&global.state)
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot read the state directory `{}`: {e}",
                    global.state.display()
                )
            })?
            .into_iter()
            .map(|(id, r)| {
                let checked = r.map_err(|e| e.to_string()).and_then(|file| {
                    let path = lock::store::path_for(&global.state, &id);
                    match lock::gate::check_lock(&path, &file).first() {
                        Some(d) => Err(format!("{}: {}", d.place(), d.message)),
                        None => Ok(file.lock),
                    }
                });
                (id, checked)
            })
            .collect();

    let config = openstack::config::load(args.cloud.cloud.as_deref(), args.cloud.region.as_deref())
        .map_err(|e| openstack::Error::from(e).into_anyhow())?;
    if config.insecure {
        printer.warn(&format!(
            "cloud `{}`: TLS certificates are not verified (insecure)",
            config.name
        ));
    }
    let cloud = config.name.clone();
    let glance = openstack::Glance::connect(config)
        .await
        .map_err(openstack::Error::into_anyhow)?;
    let filter = ListFilter {
        visibility: Some("all".into()),
        hidden: Hidden::Include,
        ..ListFilter::default()
    };
    let images = glance
        .list(&filter)
        .await
        .map_err(openstack::Error::into_anyhow)?;
    let report = status::report(&cloud, &managed_tag, &images, &locks);
    if printer.is_json() {
        printer.json(&report);
    } else {
        printer.data(&status::render_table(&report));
    }
    Ok(ExitStatus::Success)
}
