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
    let mut status = ExitStatus::Success;
    for image in images {
        let Source::DiskimageBuilder(recipe) = &image.source else {
            continue;
        };
        let result: anyhow::Result<Vec<publish::Published>> = async {
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
            let mut done = Vec::new();
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
            Ok(done)
        }
        .await;
        match result {
            Ok(done) => {
                for p in &done {
                    let what = if p.already_published {
                        "already published".to_owned()
                    } else {
                        format!("{} objects", p.uploaded.len())
                    };
                    printer.status("Published", &format!("{} {} ({what})", p.image, p.version));
                }
                report.published.extend(done);
            }
            Err(e) => {
                let text = error::render(&e);
                printer.error_text(&text);
                report.errors.push(text);
                status = ExitStatus::Partial;
            }
        }
    }
    if printer.is_json() {
        printer.json(&report);
    }
    Ok(status)
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
