//! Rendering of audit findings: one struct, two renderings (human text grouped by image, and
//! JSON). Pure: returns `String`s / values for the [`Printer`](crate::output::Printer).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::{Finding, Scs0102Version, Severity, StandardImageList};

/// The audit result, as `--format json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    /// The cloud audited (`clouds.yaml` name), if named.
    pub cloud: Option<String>,
    /// The time the checks were made for (RFC 3339).
    pub checked_at: String,
    pub scs0102: Scs0102Version,
    pub scs0104: StandardImageList,
    /// Where the scope is stricter than the official suite's.
    pub scope: super::AuditScope,
    /// How many images were in scope (public or community).
    pub images_in_scope: usize,
    pub errors: usize,
    pub warnings: usize,
    pub findings: Vec<Finding>,
}

impl AuditReport {
    pub fn new(
        cloud: Option<String>,
        now: jiff::Timestamp,
        opts: &super::AuditOptions,
        images_in_scope: usize,
        findings: Vec<Finding>,
    ) -> Self {
        let errors = findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        Self {
            cloud,
            checked_at: now.to_string(),
            scs0102: opts.scs0102,
            scs0104: opts.standard_images,
            scope: opts.scope,
            images_in_scope,
            errors,
            warnings: findings.len() - errors,
            findings,
        }
    }
}

/// Human rendering: findings grouped by image (sorted by name, then id), each with its rule,
/// message and fix; a summary line at the end.
pub fn render_human(report: &AuditReport) -> String {
    let mut out = String::new();
    let mut groups: BTreeMap<(&str, Option<&str>), Vec<&Finding>> = BTreeMap::new();
    for f in &report.findings {
        groups
            .entry((f.image_name.as_str(), f.image_id.as_deref()))
            .or_default()
            .push(f);
    }
    for ((name, id), findings) in groups {
        match id {
            Some(id) => {
                let _ = writeln!(out, "{name} ({id})");
            }
            None => {
                let _ = writeln!(out, "{name} (missing)");
            }
        }
        for f in findings {
            let label = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let _ = writeln!(out, "  {label}[{}]: {}", f.rule, f.message);
            let _ = writeln!(out, "    fix: {}", f.fix);
        }
        out.push('\n');
    }
    let cloud = report
        .cloud
        .as_deref()
        .map(|c| format!(" in cloud `{c}`"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{} image(s) in scope{cloud}: {} error(s), {} warning(s) (scs-0102 {}, scs-0104 list {}, scope {})",
        report.images_in_scope,
        report.errors,
        report.warnings,
        version_label(report.scs0102),
        list_label(report.scs0104),
        scope_label(&report.scope),
    );
    out
}

/// Markdown rendering (the periodic Zuul audit job publishes it as a build artifact): a verdict
/// line and one table row per finding, sorted like the human rendering.
pub fn render_markdown(report: &AuditReport) -> String {
    let mut out = String::new();
    let cloud = report
        .cloud
        .as_deref()
        .map(|c| format!(": cloud `{c}`"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "# SCS image audit{cloud}
"
    );
    let verdict = if report.errors > 0 { "FAIL" } else { "PASS" };
    let _ = writeln!(
        out,
        "**{verdict}**: {} image(s) in scope, {} error(s), {} warning(s) (scs-0102 {}, scs-0104 list {}, scope {}; checked at {}).\n",
        report.images_in_scope,
        report.errors,
        report.warnings,
        version_label(report.scs0102),
        list_label(report.scs0104),
        scope_label(&report.scope),
        report.checked_at,
    );
    if report.findings.is_empty() {
        out.push_str("No findings.\n");
        return out;
    }
    out.push_str("| image | id | severity | rule | finding | fix |\n|---|---|---|---|---|---|\n");
    let mut rows: Vec<&Finding> = report.findings.iter().collect();
    rows.sort_by(|a, b| (&a.image_name, &a.image_id).cmp(&(&b.image_name, &b.image_id)));
    for f in rows {
        let severity = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {severity} | `{}` | {} | {} |",
            cell(&f.image_name),
            f.image_id.as_deref().map_or("(missing)".into(), cell),
            f.rule,
            cell(&f.message),
            cell(&f.fix),
        );
    }
    out
}

/// A Markdown table cell: pipes escaped, line breaks folded.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', "<br>")
}

fn version_label(v: Scs0102Version) -> &'static str {
    match v {
        Scs0102Version::V1 => "v1",
        Scs0102Version::V2 => "v2",
    }
}

/// `official`, or `official` plus what the stricter flags add.
fn scope_label(s: &super::AuditScope) -> String {
    let mut label = String::from("official");
    for (on, what) in [
        (s.include_hidden, " + hidden"),
        (s.include_community, " + other projects' community"),
        (s.each_duplicate, " + each duplicate"),
    ] {
        if on {
            label.push_str(what);
        }
    }
    label
}

fn list_label(l: StandardImageList) -> &'static str {
    match l {
        StandardImageList::V5 => "v5",
        StandardImageList::V4 => "v4",
        StandardImageList::None => "none",
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{image, now, unset};
    use super::super::{AuditOptions, check_images, in_scope};
    use super::*;

    fn report() -> AuditReport {
        let mut b = image("id-b", "Debian 12");
        b.min_ram = 0;
        let imgs = vec![
            image("id-a", "Ubuntu 24.04 minimal"),
            unset(b, "os_purpose"),
        ];
        let opts = AuditOptions::default();
        let findings = check_images(&imgs, now(), &opts);
        let n = imgs.iter().filter(|i| in_scope(i, &opts.scope)).count();
        AuditReport::new(Some("prod".into()), now(), &opts, n, findings)
    }

    #[test]
    fn human_groups_by_image_with_fixes() {
        let text = render_human(&report());
        let expected = "\
Debian 12 (id-b)
  error[scs-0102/min-ram]: `min_ram` is 0
    fix: openstack image set --min-ram <MiB the image needs to boot> id-b
  warning[scs-0102/recommended-property]: recommended property `os_purpose` is missing (mandatory in scs-0102 v2)
    fix: openstack image set --property os_purpose=generic id-b
  error[scs-0104/image-source-prefix]: `image_source` `https://cloud-images.ubuntu.com/releases/noble/release-20261101/ubuntu-24.04-server-cloudimg-amd64.img` does not start with an allowed prefix: https://cloud.debian.org/images/cloud/bookworm/, https://cdimage.debian.org/cdimage/cloud/bookworm/
    fix: the upstream URL must start with one of those prefixes (a mirror URL does not count): openstack image set --property image_source=https://cloud.debian.org/images/cloud/bookworm/... id-b

Ubuntu 24.04 (missing)
  error[scs-0104/missing-image]: the mandatory standard image `Ubuntu 24.04` is not among the public or community images
    fix: provide it with visibility public and image_source from https://cloud-images.ubuntu.com/releases/noble/ or https://cloud-images.ubuntu.com/noble/

ubuntu-capi-image (missing)
  warning[scs-0104/missing-image]: the recommended standard image matching `ubuntu-capi-image-v[0-9]\\.[0-9]+(\\.[0-9]+)?` is not among the public or community images
    fix: provide it with visibility public and image_source from https://nbg1.your-objectstorage.com/osism/openstack-k8s-capi-images/ or https://swift.services.a.regiocloud.tech/swift/v1/AUTH_b182637428444b9aa302bb8d5a5a418c/openstack-k8s-capi-images/ubuntu-2404-kube or https://swift.services.a.regiocloud.tech/swift/v1/AUTH_b182637428444b9aa302bb8d5a5a418c/openstack-k8s-capi-images/ubuntu-2204-kube

2 image(s) in scope in cloud `prod`: 3 error(s), 2 warning(s) (scs-0102 v1, scs-0104 list v5, scope official)
";
        pretty_assertions::assert_eq!(text, expected);
    }

    #[test]
    fn json_has_stable_rule_ids() {
        let v = serde_json::to_value(report()).unwrap();
        assert_eq!(v["errors"], 3);
        assert_eq!(v["scs0102"], "v1");
        assert_eq!(v["findings"][0]["rule"], "scs-0102/min-ram");
        assert_eq!(v["findings"][0]["severity"], "error");
        assert_eq!(v["findings"][0]["image_id"], "id-b");
        assert!(v["findings"][3]["image_id"].is_null());
    }

    #[test]
    fn markdown_has_a_verdict_and_a_row_per_finding() {
        let md = render_markdown(&report());
        assert!(md.starts_with("# SCS image audit: cloud `prod`\n\n**FAIL**: 2 image(s) in scope, 3 error(s), 2 warning(s)"), "{md}");
        let rows: Vec<&str> = md
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| image"))
            .collect();
        assert_eq!(rows.len(), 5, "{md}");
        assert!(
            rows[0].starts_with("| Debian 12 | id-b | error | `scs-0102/min-ram` |"),
            "{md}"
        );
        assert!(md.contains("| Ubuntu 24.04 | (missing) | error |"), "{md}");
        // A pipe in a value cannot break the table.
        let mut r = report();
        r.findings[0].message = "a | b".into();
        assert!(render_markdown(&r).contains("a \\| b"));
        let clean = AuditReport::new(None, now(), &AuditOptions::default(), 0, vec![]);
        assert!(render_markdown(&clean).contains("**PASS**"));
        assert!(render_markdown(&clean).ends_with("No findings.\n"));
    }
}
