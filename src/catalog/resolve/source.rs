//! The checks of a `source` block that serde cannot express.

use super::Ctx;
use super::image::version_pattern_problem;
use super::values::{REGEX_HINT, regex_error, valid_checksum, valid_date};
use crate::catalog::raw::{self, Source};
use crate::catalog::{presets, suggest};
use crate::diagnostic::Diagnostic;

pub(super) fn check_source(
    ctx: &Ctx<'_>,
    line: u64,
    source: &Source,
    arch: raw::Architecture,
    enabled: bool,
    err: &mut impl FnMut(Diagnostic),
) {
    match source {
        Source::Ubuntu(s) if presets::ubuntu_codename(&s.release).is_none() => {
            let known: Vec<&str> = presets::UBUNTU_CODENAMES.iter().map(|(r, _)| *r).collect();
            let hint = suggest::closest(&s.release, known.iter().copied()).map_or_else(
                || format!("known releases: {}", known.join(", ")),
                |c| format!("did you mean `\"{c}\"`?"),
            );
            err(ctx
                .at_key(
                    line,
                    "release",
                    format!("unknown Ubuntu release `{}`", s.release),
                )
                .with_hint(hint));
        }
        Source::Debian(s)
            if s.codename.is_none() && presets::debian_codename(&s.release).is_none() =>
        {
            err(ctx
                .at_key(
                    line,
                    "release",
                    format!("unknown Debian release `{}`", s.release),
                )
                .with_hint("use a known release (10 to 14) or give `codename:` too"));
        }
        Source::Archlinux(_) if arch != raw::Architecture::X86_64 => {
            err(ctx
                .at_key(line, "architecture", "Arch Linux publishes official cloud images for x86_64 only")
                .with_hint("use `architecture: x86_64`, or a `checksum-dir` source for a community aarch64 build"));
        }
        Source::ChecksumDir(s) => {
            if let Some(d) = version_pattern_problem(ctx, line, &s.pattern) {
                err(d);
            }
        }
        Source::ObjectStorage(s) => {
            if let Some(d) = version_pattern_problem(ctx, line, &s.pattern) {
                err(d);
            }
            if s.signature_file.is_some() && s.checksum_file.is_none() {
                err(ctx
                    .at_key(
                        line,
                        "signature_file",
                        "`signature_file` signs a `checksum_file`, and none is set",
                    )
                    .with_hint("set `checksum_file` (e.g. SHA256SUMS), or drop `signature_file`"));
            }
            if s.checksum_file.is_none() && s.checksum_suffixes.is_empty() {
                err(ctx
                    .at_key(
                        line,
                        "checksum_suffixes",
                        "no checksum: neither `checksum_file` nor a sidecar suffix",
                    )
                    .with_hint(
                        "use `checksum_suffixes: [\".CHECKSUM\"]` or `checksum_file: SHA256SUMS`",
                    ));
            }
        }
        Source::DiskimageBuilder(r) => {
            if r.elements.is_empty() {
                err(ctx
                    .at_key(
                        line,
                        "elements",
                        "a diskimage-builder recipe needs elements",
                    )
                    .with_hint("e.g. `elements: [vm, debian-minimal, cloud-init, growroot]`"));
            }
            if let Some(k) = r.environment.keys().find(|k| !k.starts_with("DIB_")) {
                err(ctx
                    .at_key(
                        line,
                        "environment",
                        format!("`{k}` is not a diskimage-builder variable"),
                    )
                    .with_hint("only `DIB_*` variables are passed to disk-image-create"));
            }
        }
        Source::GithubRelease(s) => {
            if s.repo.split('/').count() != 2 {
                err(ctx
                    .at_key(
                        line,
                        "repo",
                        format!("`repo: {}` is not `owner/name`", s.repo),
                    )
                    .with_hint(
                        "write the repository as GitHub shows it, e.g. `repo: cirros-dev/cirros`",
                    ));
            }
            for (key, pat) in [
                ("asset", Some(&s.asset)),
                ("checksum_asset", s.checksum_asset.as_ref()),
            ] {
                if let Some(p) = pat
                    && let Err(e) = regex::Regex::new(p)
                {
                    err(ctx
                        .at_key(
                            line,
                            key,
                            format!("invalid regular expression in `{key}`: {}", regex_error(&e)),
                        )
                        .with_hint(REGEX_HINT));
                }
            }
        }
        Source::Static(s) => {
            if enabled
                && (s.url.is_none()
                    || s.checksum.is_none()
                    || s.version.is_none()
                    || s.build_date.is_none())
            {
                err(ctx
                    .at_key(line, "static", "an enabled `static` image needs `url`, `checksum`, `version` and `build_date`")
                    .with_hint("fill them in from the vendor's download page, or set `enabled: false` until you can"));
            }
            if let Some(c) = &s.checksum
                && !valid_checksum(c)
            {
                err(ctx
                    .at_key(line, "checksum", format!("invalid checksum `{c}`"))
                    .with_hint("write `sha256:<64 hex>` or `sha512:<128 hex>`"));
            }
            if let Some(d) = &s.build_date
                && !valid_date(d)
            {
                err(ctx
                    .at_key(line, "build_date", format!("invalid build date `{d}`"))
                    .with_hint("write `YYYY-MM-DD`"));
            }
            // `check` locks this URL verbatim: hold it to the lockfile gate's rules (the URL
            // rule itself is `urls::problem`), so `check` never writes a lockfile that
            // `validate`, `plan` and `apply` reject.
            if let Some(u) = &s.url {
                // Malformed URLs are reported by `urls::check`, with every other URL.
                if crate::catalog::urls::problem(u).is_none()
                    && crate::catalog::presets::is_alias_url(u)
                {
                    err(ctx
                        .at_key(
                            line,
                            "url",
                            format!("`url: {u}` is an alias (`latest`, `current`): its bytes change under the lock"),
                        )
                        .with_hint("name the versioned file (the one the alias points at today), and bump it with `version` and `checksum`"));
                }
            }
            if let Some(a) = &s.auth {
                if a.env.trim().is_empty() {
                    err(ctx
                        .at_key(line, "env", "`auth.env` must name an environment variable")
                        .with_hint("e.g. `env: VENDOR_TOKEN`: the header's value is read from it at transfer time, so it never stands in the catalog"));
                }
                if reqwest::header::HeaderName::from_bytes(a.header.as_bytes()).is_err() {
                    err(ctx
                        .at_key(
                            line,
                            "header",
                            format!("`auth.header: {}` is not an HTTP header name", a.header),
                        )
                        .with_hint(
                            "write a header name such as `Authorization` or `X-Auth-Token`",
                        ));
                }
            }
        }
        _ => {}
    }
}
