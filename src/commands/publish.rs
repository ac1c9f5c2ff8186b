//! `image-crawler publish`: upload the artifact directories `build` wrote (see
//! [`crate::build::publish`]).

use crate::build::publish::{self, Store};
use crate::build::sigv4::Credentials;
use crate::catalog::Source;
use crate::catalog::raw::ObjectListing;
use crate::cli::{GlobalArgs, PublishArgs};
use crate::error::{self, ResultExt as _};
use crate::exit::ExitStatus;
use crate::http::{self, ClientOptions};
use crate::output::Printer;

#[derive(Debug, serde::Serialize)]
struct Report {
    published: Vec<publish::Published>,
    errors: Vec<String>,
}

pub async fn run(
    global: &GlobalArgs,
    args: &PublishArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let catalog = super::load_catalog(global, printer)?;
    let images = super::select_images(&catalog, &args.ids)?;
    let credentials = credentials_from_env();
    let client = http::client(&ClientOptions::default())?;
    let mut report = Report {
        published: Vec::new(),
        errors: Vec::new(),
    };
    // Images with something to publish, failed, and failed temporarily with nothing stored.
    let (mut total, mut failed, mut transient) = (0, 0, 0);
    for image in images {
        let Source::DiskimageBuilder(recipe) = &image.source else {
            continue;
        };
        let mut done = Vec::new();
        let result: anyhow::Result<()> = async {
            if recipe.publish.listing == ObjectListing::Swift {
                return Err(error::hinted(
                    format!("`{}` publishes to Swift, which `publish` cannot upload to yet", image.id),
                    "publish to an S3-compatible store (`listing: s3`), or upload the artifact directory with `swift upload`",
                ));
            }
            let url = url::Url::parse(&recipe.publish.url)
                .hint_context(format!("`publish.url` of `{}` is not a URL", image.id), "write http(s)://host/bucket")?;
            let store = Store {
                client: client.clone(),
                url,
                credentials: credentials.clone(),
                public: args.public,
            };
            for version in publish::local_versions(&args.output, &image.id)? {
                done.push(
                    store
                        .publish(&args.output, &image.id, &version)
                        .await
                        .hint_context(
                            format!("cannot publish `{}` {version}", image.id),
                            "check the store URL, the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) and the bucket policy; a re-run uploads only what is missing",
                        )?,
                );
            }
            Ok(())
        }
        .await;
        for p in &done {
            let what = if p.already_published {
                "already published".to_owned()
            } else {
                format!("{} objects", p.uploaded.len())
            };
            printer.status("Published", &format!("{} {} ({what})", p.image, p.version));
        }
        // An image with nothing built to publish did nothing: it is not counted.
        if result.is_err() || !done.is_empty() {
            total += 1;
        }
        if let Err(e) = result {
            failed += 1;
            if done.iter().all(|p| p.already_published) && temporary(&e) {
                transient += 1;
            }
            let text = error::render(&e);
            printer.error_text(&text);
            report.errors.push(text);
        }
        report.published.extend(done);
    }
    if printer.is_json() {
        printer.json(&report);
    }
    // 75 only when every image failed temporarily with nothing stored (the store is down).
    Ok(ExitStatus::for_items(
        ExitStatus::Success,
        failed,
        transient,
        total,
    ))
}

/// Whether the failure is the store's temporary one with nothing stored (typed: the
/// [`publish::PublishError`] in the chain says so).
fn temporary(e: &anyhow::Error) -> bool {
    e.chain()
        .find_map(|c| c.downcast_ref::<publish::PublishError>())
        .is_some_and(publish::PublishError::is_transient)
}

fn credentials_from_env() -> Option<Credentials> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let access_key = var("AWS_ACCESS_KEY_ID")?;
    let secret_key = var("AWS_SECRET_ACCESS_KEY")?;
    crate::secrets::register(&secret_key);
    Some(Credentials {
        access_key,
        secret_key,
        region: var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".to_owned()),
    })
}
