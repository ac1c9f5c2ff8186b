//! The human view of a [`Plan`], after Terraform: one block per image, a symbol per action,
//! `field: before -> after` lines, deletions last under their own heading, one summary line.
//! Pure: reads only the `Plan` (the JSON view is the same struct serialized).

use std::fmt::Write as _;

use super::{Action, Change, FieldDiff, Plan, Summary};

/// Renders a plan for people.
pub fn human(plan: &Plan) -> String {
    let mut out = String::new();
    let region = plan
        .region
        .as_ref()
        .map(|r| format!(", region {r}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "Cloud {}{region} (fingerprint {})",
        plan.cloud,
        short(&plan.fingerprint)
    );
    if plan.changes.is_empty() {
        out.push_str("\nNo changes. Glance matches the catalog and the lockfiles.\n");
        return out;
    }
    let mut group: Option<(bool, &str)> = None;
    for c in &plan.changes {
        let is_delete = c.action == Action::Delete;
        if group.map(|(d, _)| d) != Some(is_delete) && is_delete {
            out.push_str("\nDeletions:\n");
        }
        if !is_delete && group.map(|(_, id)| id) != Some(c.image_id.as_str()) {
            let _ = writeln!(out, "\n{}", c.image_id);
        }
        group = Some((is_delete, &c.image_id));
        change(&mut out, c);
    }
    let _ = writeln!(out, "\n{}", summary_line(&plan.summary()));
    out
}

/// `Plan: 1 to import, 2 to update, 1 to rotate, 0 to delete.` (+ cleanups and blocked).
pub fn summary_line(s: &Summary) -> String {
    let mut line = format!(
        "Plan: {} to import, {} to update, {} to rotate, {} to delete",
        s.import, s.update, s.rotate, s.delete
    );
    if s.cleanup > 0 {
        let _ = write!(line, ", {} to clean up", s.cleanup);
    }
    if s.keep > 0 {
        let _ = write!(line, ", {} kept (blocked)", s.keep);
    }
    line.push('.');
    line
}

fn change(out: &mut String, c: &Change) {
    let what = match (&c.glance_id, &c.version) {
        (None, Some(v)) => format!("{:?} version {v}", c.name),
        (Some(id), Some(v)) => format!("{:?} ({id}, version {v})", c.name),
        (Some(id), None) => format!("{:?} ({id})", c.name),
        (None, None) => format!("{:?}", c.name),
    };
    let prefix = if c.action == Action::Delete {
        format!("{}: ", c.image_id)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "  {} {:<7} {prefix}{what}",
        c.action.symbol(),
        c.action.verb()
    );
    let _ = writeln!(out, "      # {}", c.reason);
    for w in &c.warnings {
        let _ = writeln!(out, "      ! warning: {w}");
    }
    // A deletion's rotation diffs are only a fallback; they would distract here.
    if c.action == Action::Delete {
        return;
    }
    for d in &c.details {
        let _ = writeln!(out, "      {}", field(d));
    }
}

fn field(d: &FieldDiff) -> String {
    let q = |v: &Option<String>| v.as_deref().map(|v| format!("{v:?}")).unwrap_or_default();
    if let Some(tag) = d.field.strip_prefix("tag:") {
        let sign = if d.after.is_some() { '+' } else { '-' };
        return format!("{sign} tag {tag:?}");
    }
    let key = d.field.strip_prefix("property:").unwrap_or(&d.field);
    match (&d.before, &d.after) {
        (None, Some(_)) => format!("+ {key}: {}", q(&d.after)),
        (Some(_), None) => format!("- {key}: {}", q(&d.before)),
        _ => format!("~ {key}: {} -> {}", q(&d.before), q(&d.after)),
    }
}

fn short(fingerprint: &str) -> &str {
    let end = fingerprint.len().min("sha256:".len() + 12);
    &fingerprint[..end]
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;
    use crate::reconcile::fixtures::{ctx, glance_current, image, lock};
    use crate::reconcile::plan::plan;

    #[test]
    fn renders_like_terraform() {
        let mut img = image("ubuntu-24.04", "Ubuntu 24.04");
        img.rotation.keep = 0;
        img.glance
            .properties
            .insert("uuid_validity".into(), "none".into());
        let l1 = lock("ubuntu-24.04", "1", "2026-11-01");
        let l0 = lock("ubuntu-24.04", "0", "2026-10-01");
        let l2 = lock("ubuntu-24.04", "2", "2026-11-02");
        let mut cur = glance_current("g1", &img, &l1);
        cur.properties.insert("os_distro".into(), "debian".into());
        let mut old = glance_current("g0", &img, &l0);
        old.name = "Ubuntu 24.04 20261001".into();
        let locks = std::collections::BTreeMap::from([(l2.id.clone(), l2.clone())]);
        let mut p = plan(&[&img], &locks, &[cur, old], &ctx());
        p.fingerprint = "sha256:0123456789abcdef".into();
        let text = human(&p);
        let expected = format!(
            r#"Cloud test (fingerprint sha256:0123456789ab)

ubuntu-24.04
  + import  "Ubuntu 24.04" version 2
      # new build 2 (current: 1)
      + source: "{url}"
      + transfer: "stream"
      + checksum: "sha256:{sum}"

Deletions:
  - delete  ubuntu-24.04: "Ubuntu 24.04 20261001" (g0, version 0)
      # beyond retention (keep 0)
  - delete  ubuntu-24.04: "Ubuntu 24.04" (g1, version 1)
      # beyond retention (keep 0)

Plan: 1 to import, 0 to update, 0 to rotate, 2 to delete.
"#,
            url = l2.build.url,
            sum = "ab".repeat(32)
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn field_lines() {
        let f = |field: &str, b: Option<&str>, a: Option<&str>| {
            super::field(&FieldDiff::new(field, b.map(Into::into), a.map(Into::into)))
        };
        assert_eq!(
            f("property:os_distro", Some("debian"), Some("ubuntu")),
            r#"~ os_distro: "debian" -> "ubuntu""#
        );
        assert_eq!(f("property:x", Some("1"), None), r#"- x: "1""#);
        assert_eq!(f("tag:a", None, Some("a")), r#"+ tag "a""#);
        assert_eq!(f("tag:a", Some("a"), None), r#"- tag "a""#);
        assert_eq!(
            f("os_hidden", Some("false"), Some("true")),
            r#"~ os_hidden: "false" -> "true""#
        );
    }

    #[test]
    fn empty_plan_and_summary() {
        let p = Plan {
            format_version: 1,
            cloud: "c".into(),
            region: None,
            fingerprint: "sha256:ff".into(),
            changes: vec![],
        };
        assert!(human(&p).contains("No changes."));
        let s = Summary {
            import: 1,
            update: 2,
            rotate: 1,
            delete: 0,
            cleanup: 1,
            keep: 1,
        };
        assert_eq!(
            summary_line(&s),
            "Plan: 1 to import, 2 to update, 1 to rotate, 0 to delete, 1 to clean up, 1 kept (blocked)."
        );
    }
}
