//! `image-crawler audit`: lists the images of a cloud the official SCS suite lists (or more, with
//! the scope flags), runs the SCS rule
//! engine (`scs::check_images`) and renders the findings. Exit 2 with `--detailed-exitcode`
//! when there are findings (errors or warnings).

use std::collections::BTreeSet;

use crate::cli::{AuditArgs, GlobalArgs};
use crate::error::ResultExt as _;
use crate::exit::ExitStatus;
use crate::openstack::{self, GlanceImage, Hidden, ListFilter};
use crate::output::Printer;
use crate::scs::{self, AuditOptions, AuditScope, report};

pub async fn run(
    global: &GlobalArgs,
    args: &AuditArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let lifecycle = scs::lifecycle::load(&global.catalog).map_err(|diags| {
        for d in &diags {
            printer.error_text(&d.render());
        }
        crate::error::refuse(
            ExitStatus::Invalid,
            "the lifecycle data is invalid",
            format!("fix {} (see the problems above)", scs::lifecycle::FILE_NAME),
        )
    })?;
    let cloud = args.cloud.cloud.as_deref();
    let glance = openstack::connect(cloud, args.cloud.region.as_deref())
        .await
        .map_err(openstack::Error::into_anyhow)?;
    let scope = AuditScope {
        include_hidden: args.include_hidden,
        include_community: args.include_community,
        each_duplicate: args.each_duplicate,
    };
    let images = list_in_scope(&glance, &scope).await.hint_context(
        format!(
            "cannot list the images of {}",
            cloud.map_or("the cloud".into(), |c| format!("cloud `{c}`"))
        ),
        "check that the credentials may list images (any project member can)",
    )?;
    let now = jiff::Timestamp::now();
    let opts = AuditOptions {
        scs0102: args.scs0102,
        standard_images: args.scs0104,
        lifecycle: Some(lifecycle),
        eol_warning_weeks: args.eol_warning_weeks,
        scope,
    };
    let findings = scs::check_images(&images, now, &opts);
    let in_scope = images
        .iter()
        .filter(|i| scs::in_scope(i, &opts.scope))
        .count();
    let report = report::AuditReport::new(cloud.map(str::to_owned), now, &opts, in_scope, findings);
    if let Some(path) = &args.markdown {
        crate::lock::store::write_atomic_if_changed(
            path,
            report::render_markdown(&report).as_bytes(),
        )
        .hint_context(
            format!("cannot write the Markdown report {}", path.display()),
            "check that its directory exists and is writable",
        )?;
    }
    if printer.is_json() {
        printer.json(&report);
    } else {
        printer.data(&report::render_human(&report));
    }
    Ok(if args.detailed_exitcode && !report.findings.is_empty() {
        ExitStatus::Changes
    } else {
        ExitStatus::Success
    })
}

/// The images audit judges. By default the official suite's listing: `member_status=all`
/// without a visibility filter, so Glance returns the public images, the project's own images
/// (its community ones among them) and shared ones, never hidden ones and never other
/// projects' community images (`scs::in_scope` then keeps public and community). The scope
/// flags add hidden images and every project's community images with further listings.
async fn list_in_scope(
    glance: &openstack::Glance,
    scope: &AuditScope,
) -> Result<Vec<GlanceImage>, anyhow::Error> {
    let hidden = if scope.include_hidden {
        Hidden::Include
    } else {
        Hidden::Exclude
    };
    let mut listings = vec![ListFilter {
        member_status: Some("all".into()),
        hidden,
        ..ListFilter::default()
    }];
    if scope.include_community {
        listings.push(ListFilter {
            visibility: Some("community".into()),
            hidden,
            ..ListFilter::default()
        });
    }
    let mut out: Vec<GlanceImage> = Vec::new();
    let mut seen = BTreeSet::new();
    for filter in &listings {
        for img in glance
            .list(filter)
            .await
            .map_err(openstack::Error::into_anyhow)?
        {
            if seen.insert(img.id.clone()) {
                out.push(img);
            }
        }
    }
    Ok(out)
}
