//! Unit tests of the pure part of `propose`.

use super::*;
use crate::lock::LockChange;
use crate::lock::format::{tests::sample, to_toml};

fn locks(entries: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    entries
        .iter()
        .map(|(id, version)| {
            let mut l = sample();
            l.id = (*id).into();
            l.build.version = (*version).into();
            (format!("{id}.toml"), to_toml(&l).into_bytes())
        })
        .collect()
}

#[test]
fn finds_changed_and_new_locks_only() {
    let base = locks(&[("a", "1"), ("b", "1"), ("gone", "1")]);
    let work = locks(&[("a", "1"), ("b", "2"), ("c", "1")]);
    let (changed, problems) = changed_locks("state", &base, &work);
    assert!(problems.is_empty());
    let ids: Vec<&str> = changed.iter().map(|c| c.change.id()).collect();
    assert_eq!(ids, ["b", "c"]);
    assert!(matches!(changed[0].change, LockChange::Updated { .. }));
    assert!(matches!(changed[1].change, LockChange::Added { .. }));
    assert_eq!(changed[0].file.path, "state/b.toml");
}

#[test]
fn broken_and_misnamed_work_locks_are_problems() {
    let mut work = locks(&[("a", "1")]);
    work.insert("x.toml".into(), work["a.toml"].clone());
    work.insert("y.toml".into(), b"format_version = 1\nid = \n".to_vec());
    let (changed, problems) = changed_locks("state", &BTreeMap::new(), &work);
    assert_eq!(changed.len(), 1);
    assert_eq!(problems.len(), 2);
    assert!(
        problems[0].message.contains("named for `x`"),
        "{problems:?}"
    );
    assert_eq!(problems[1].path, "state/y.toml");
    assert!(problems[1].message.starts_with("2:"), "{problems:?}");
}

#[test]
fn groups_per_image_or_all() {
    let (changed, _) = changed_locks("s", &BTreeMap::new(), &locks(&[("a", "1"), ("b", "1")]));
    let per = group(changed.clone(), GroupBy::Image);
    assert_eq!(
        per.iter().map(|g| g.key.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    let all = group(changed, GroupBy::All);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].key, "all");
    assert_eq!(all[0].locks.len(), 2);
    assert!(group(Vec::new(), GroupBy::All).is_empty());
}

#[test]
fn decisions_follow_the_lock_digest() {
    assert_eq!(decide(None, "d1"), Decision::Propose { replaces: None });
    let ours = |d: &str| Existing {
        commit: "c0".into(),
        ours: Some(Ours {
            lock_digest: Some(d.into()),
            change_id: None,
        }),
    };
    assert_eq!(
        decide(Some(&ours("d1")), "d1"),
        Decision::AlreadyProposed {
            commit: "c0".into()
        }
    );
    assert_eq!(
        decide(Some(&ours("d0")), "d1"),
        Decision::Propose {
            replaces: Some("c0".into())
        }
    );
    let foreign =
        Existing::from_message("c9".into(), "a", "Fix by hand\n\nSigned-off-by: X <x@y>\n");
    assert_eq!(foreign.ours, None);
    assert_eq!(
        decide(Some(&foreign), "d1"),
        Decision::Foreign {
            commit: "c9".into()
        }
    );
}

#[test]
fn existing_reads_our_trailers_for_the_same_key_only() {
    let (changed, _) = changed_locks("state", &BTreeMap::new(), &locks(&[("a", "1")]));
    let g = &group(changed, GroupBy::Image)[0];
    let id = message::mint_change_id("a", &g.lock_digest(), None);
    let msg = g.message(Some(&id));
    let e = Existing::from_message("c1".into(), "a", &msg);
    assert_eq!(
        e.ours,
        Some(Ours {
            lock_digest: Some(g.lock_digest()),
            change_id: Some(id)
        })
    );
    assert_eq!(Existing::from_message("c1".into(), "b", &msg).ours, None);
}

#[test]
fn dirty_paths_outside_locks_unless_allowed() {
    let (changed, _) = changed_locks("state", &BTreeMap::new(), &locks(&[("a", "1")]));
    let dirty = vec![
        "README.md".to_owned(),
        "notes/x.txt".to_owned(),
        "state/a.toml".to_owned(),
        "state/junk".to_owned(),
    ];
    assert_eq!(
        dirty_outside(&dirty, &changed, &[]),
        ["README.md", "notes/x.txt", "state/junk"]
    );
    assert_eq!(
        dirty_outside(&dirty, &changed, &["notes".into(), "README.md".into()]),
        ["state/junk"]
    );
}

#[test]
fn exit_status_of_reports() {
    let p = |o: Outcome| ProposalReport {
        key: "k".into(),
        images: vec![],
        branch: String::new(),
        push_ref: String::new(),
        topic: None,
        outcome: o,
        commit: None,
        subject: String::new(),
        lock_digest: String::new(),
        change_id: None,
        changes: vec![],
        reason: None,
        warning: None,
        transient: false,
    };
    let r = |ps: Vec<ProposalReport>| Report {
        base: "main".into(),
        base_commit: "0".into(),
        mode: "branch",
        remote: "origin".into(),
        pushed: true,
        proposals: ps,
    };
    assert_eq!(r(vec![]).exit_status(), ExitStatus::Success);
    assert_eq!(
        r(vec![p(Outcome::Created), p(Outcome::AlreadyProposed)]).exit_status(),
        ExitStatus::Success
    );
    assert_eq!(
        r(vec![p(Outcome::Created), p(Outcome::Failed)]).exit_status(),
        ExitStatus::Partial
    );
    // Every proposal failed: 3, not 1 (a failed push is an outcome, not a bug); 75 when each
    // failure is temporary (nothing was proposed, retry later).
    assert_eq!(
        r(vec![p(Outcome::Failed), p(Outcome::Failed)]).exit_status(),
        ExitStatus::Partial
    );
    let temporary = || ProposalReport {
        transient: true,
        ..p(Outcome::Failed)
    };
    assert_eq!(
        r(vec![temporary(), temporary()]).exit_status(),
        ExitStatus::TempFail
    );
    assert_eq!(
        r(vec![temporary(), p(Outcome::Failed)]).exit_status(),
        ExitStatus::Partial
    );
    assert_eq!(
        r(vec![temporary(), p(Outcome::Created)]).exit_status(),
        ExitStatus::Partial
    );
    assert_eq!(
        r(vec![p(Outcome::Refused), p(Outcome::Created)]).exit_status(),
        ExitStatus::Refused
    );
}
