//! Choosing the build to lock, from everything discovery found (pure).
//!
//! Order of the rules: aliases are never candidates; `match` filters versions; `pin` takes
//! exactly one version; the newest remaining one (natural version order, then build date)
//! is taken unless it is younger than `min_age`, in which case the newest build old enough
//! is taken if it is newer than the locked one, and otherwise the lock stays ("held").
//! A selected build older than the locked one is reported as a downgrade; the caller refuses
//! it unless told otherwise. A pin is exempt: pinning an older version is a reviewed catalog
//! change, not an upstream accident.

use std::cmp::Ordering;

use crate::catalog::VersionPolicy;
use crate::lock::Build;
use crate::upstream::{Candidate, version};

/// What to do with an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Lock this build (it may equal the locked one: then nothing changes).
    Take(Candidate),
    /// The newest build is younger than `min_age`; keep what is locked (maybe nothing).
    Held {
        newest: Candidate,
        /// The first day it may be taken (`YYYY-MM-DD`).
        ready_on: String,
    },
    /// The selected build is older than the locked one.
    Downgrade {
        candidate: Candidate,
        locked: String,
    },
}

/// No build can be selected at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error("the distributor lists no builds")]
    NoCandidates,
    #[error("no build version matches `{pattern}` (versions found: {found})")]
    NoMatch { pattern: String, found: String },
    #[error("the pinned version {pin} is not published (versions found: {found})")]
    PinNotFound { pin: String, found: String },
    #[error("the version pattern `{pattern}` is not a valid regular expression: {message}")]
    BadPattern { pattern: String, message: String },
}

impl SelectError {
    pub fn hint(&self) -> &'static str {
        match self {
            SelectError::NoCandidates => {
                "check the release and architecture in the catalog; the distributor may have moved the files"
            }
            SelectError::NoMatch { .. } => "widen `version.match` in the catalog",
            SelectError::PinNotFound { .. } => {
                "the pinned build was withdrawn upstream; pin a published version or drop the pin"
            }
            SelectError::BadPattern { .. } => "fix `version.match` in the catalog",
        }
    }
}

/// Applies the policy. `now` is passed in so the result is reproducible.
pub fn select(
    candidates: Vec<Candidate>,
    policy: &VersionPolicy,
    locked: Option<&Build>,
    now: jiff::Timestamp,
) -> Result<Decision, SelectError> {
    let mut candidates: Vec<Candidate> = candidates
        .into_iter()
        .filter(|c| !version::is_alias(&c.version))
        .collect();
    if candidates.is_empty() {
        return Err(SelectError::NoCandidates);
    }
    candidates.sort_by(newest_last);
    let found = |candidates: &[Candidate]| {
        let mut v: Vec<&str> = candidates.iter().map(|c| c.version.as_str()).collect();
        v.dedup();
        let n = v.len();
        let tail: Vec<&str> = v.into_iter().rev().take(5).collect();
        if n > 5 {
            format!("{}, … ({n} in all)", tail.join(", "))
        } else {
            tail.join(", ")
        }
    };
    if let Some(pattern) = &policy.matches {
        let re = regex::Regex::new(pattern).map_err(|e| SelectError::BadPattern {
            pattern: pattern.clone(),
            message: e.to_string(),
        })?;
        let kept: Vec<Candidate> = candidates
            .iter()
            .filter(|c| re.is_match(&c.version))
            .cloned()
            .collect();
        if kept.is_empty() {
            return Err(SelectError::NoMatch {
                pattern: pattern.clone(),
                found: found(&candidates),
            });
        }
        candidates = kept;
    }
    if let Some(pin) = &policy.pin {
        return candidates
            .iter()
            .rev()
            .find(|c| &c.version == pin)
            .cloned()
            .map(Decision::Take)
            .ok_or_else(|| SelectError::PinNotFound {
                pin: pin.clone(),
                found: found(&candidates),
            });
    }
    let newest = candidates.last().cloned().expect("not empty");
    let chosen = match policy.min_age {
        None => newest,
        Some(min_age) => {
            let old_enough = |c: &Candidate| old_enough(&c.build_date, min_age, now);
            let ripe = candidates.iter().rev().find(|c| old_enough(c)).cloned();
            let newer_than_locked = |c: &Candidate| {
                locked.is_none_or(|l| version::compare(&c.version, &l.version) == Ordering::Greater)
            };
            match ripe {
                Some(c) if c == newest => c,
                Some(c) if newer_than_locked(&c) => c,
                _ => {
                    let ready = ready_on(&newest.build_date, min_age)
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| "unknown".into());
                    // Locked build is the newest there is, or still the one to keep.
                    if locked.is_some_and(|l| l.version == newest.version) {
                        return Ok(Decision::Take(newest));
                    }
                    return Ok(Decision::Held {
                        newest,
                        ready_on: ready,
                    });
                }
            }
        }
    };
    if let Some(l) = locked
        && version::compare(&chosen.version, &l.version) == Ordering::Less
    {
        return Ok(Decision::Downgrade {
            candidate: chosen,
            locked: l.version.clone(),
        });
    }
    Ok(Decision::Take(chosen))
}

fn newest_last(a: &Candidate, b: &Candidate) -> Ordering {
    version::compare(&a.version, &b.version).then_with(|| a.build_date.cmp(&b.build_date))
}

/// THE `min_age` rule, for discovery and selection alike: a build dated `YYYY-MM-DD` is old
/// enough from the first UTC day it is `min_age` old ([`ready_on`]), all of that day. A
/// build without a valid date is never old enough.
pub fn old_enough(build_date: &str, min_age: jiff::SignedDuration, now: jiff::Timestamp) -> bool {
    let today = jiff::tz::TimeZone::UTC.to_datetime(now).date();
    ready_on(build_date, min_age).is_some_and(|d| d <= today)
}

/// The first UTC day a build is `min_age` old (build dates are days: counted from 00:00 UTC).
pub fn ready_on(build_date: &str, min_age: jiff::SignedDuration) -> Option<jiff::civil::Date> {
    let date: jiff::civil::Date = build_date.parse().ok()?;
    let utc = jiff::tz::TimeZone::UTC;
    let start = utc
        .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
        .ok()?;
    let ready = utc.to_datetime(start.checked_add(min_age).ok()?);
    // A build ready at 00:00 is ready that day; any later time means the next day.
    Some(if ready.time() == jiff::civil::Time::midnight() {
        ready.date()
    } else {
        ready.date().tomorrow().ok()?
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::{HashAlgorithm, SignatureState, SignatureStatus};
    use std::collections::BTreeMap;

    fn cand(version: &str, date: &str) -> Candidate {
        Candidate {
            image_checksums: Default::default(),
            version: version.into(),
            build_date: date.into(),
            url: format!("https://example.org/{version}.img"),
            size: None,
            metadata_url: "https://example.org/SUMS".into(),
            checksums: BTreeMap::from([(HashAlgorithm::Sha256, "a".repeat(64))]),
            signature: SignatureStatus::state(SignatureState::NotPublished),
        }
    }

    fn build(version: &str) -> Build {
        let c = cand(version, "2024-01-01");
        Build {
            version: c.version,
            build_date: c.build_date,
            url: c.url,
            size: None,
            metadata_url: c.metadata_url,
            checksums: c.checksums,
            signature: c.signature,
            image: None,
            inputs: None,
        }
    }

    fn policy() -> VersionPolicy {
        VersionPolicy {
            pin: None,
            matches: None,
            min_age: None,
        }
    }

    fn now(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    fn ubuntu() -> Vec<Candidate> {
        // Document order is not version order (docs/upstream-formats.md §1).
        vec![
            cand("20240821", "2024-08-21"),
            cand("20240523.1", "2024-05-23"),
            cand("latest", "2024-09-01"),
            cand("20240808", "2024-08-08"),
        ]
    }

    #[test]
    fn newest_by_version_not_document_order_and_never_an_alias() {
        let d = select(ubuntu(), &policy(), None, now("2025-01-01T00:00:00Z")).unwrap();
        assert_eq!(d, Decision::Take(cand("20240821", "2024-08-21")));
    }

    #[test]
    fn match_and_pin() {
        let mut p = policy();
        p.matches = Some(r"^202405".into());
        let d = select(ubuntu(), &p, None, now("2025-01-01T00:00:00Z")).unwrap();
        assert_eq!(d, Decision::Take(cand("20240523.1", "2024-05-23")));
        p.matches = Some("^1999".into());
        let e = select(ubuntu(), &p, None, now("2025-01-01T00:00:00Z")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no build version matches `^1999` (versions found: 20240821, 20240808, 20240523.1)"
        );
        let mut p = policy();
        p.pin = Some("20240808".into());
        // Pinning below the lock is a reviewed choice, not a downgrade.
        let d = select(
            ubuntu(),
            &p,
            Some(&build("20240821")),
            now("2025-01-01T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(d, Decision::Take(cand("20240808", "2024-08-08")));
        p.pin = Some("20230101".into());
        assert!(matches!(
            select(ubuntu(), &p, None, now("2025-01-01T00:00:00Z")).unwrap_err(),
            SelectError::PinNotFound { .. }
        ));
        assert_eq!(
            select(vec![], &policy(), None, now("2025-01-01T00:00:00Z")).unwrap_err(),
            SelectError::NoCandidates
        );
    }

    #[test]
    fn downgrade_is_reported() {
        let d = select(
            ubuntu(),
            &policy(),
            Some(&build("20240901")),
            now("2025-01-01T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(
            d,
            Decision::Downgrade {
                candidate: cand("20240821", "2024-08-21"),
                locked: "20240901".into()
            }
        );
        // Same version: no downgrade (a respin is taken and shown as such by the caller).
        let d = select(
            ubuntu(),
            &policy(),
            Some(&build("20240821")),
            now("2025-01-01T00:00:00Z"),
        )
        .unwrap();
        assert!(matches!(d, Decision::Take(_)));
    }

    #[test]
    fn min_age_holds_young_builds() {
        let mut p = policy();
        p.min_age = Some(jiff::SignedDuration::from_hours(48));
        // 2024-08-21 + 2d = ready on 2024-08-23.
        let young = now("2024-08-22T23:59:00Z");
        let ripe = now("2024-08-23T00:00:00Z");
        // Locked 20240808: the young 20240821 is held, the lock stays.
        let d = select(ubuntu(), &p, Some(&build("20240808")), young).unwrap();
        assert_eq!(
            d,
            Decision::Held {
                newest: cand("20240821", "2024-08-21"),
                ready_on: "2024-08-23".into()
            }
        );
        let d = select(ubuntu(), &p, Some(&build("20240808")), ripe).unwrap();
        assert_eq!(d, Decision::Take(cand("20240821", "2024-08-21")));
        // Locked older than a ripe intermediate build: take the ripe one.
        let d = select(ubuntu(), &p, Some(&build("20240523.1")), young).unwrap();
        assert_eq!(d, Decision::Take(cand("20240808", "2024-08-08")));
        // Nothing locked yet: take the newest ripe build rather than nothing.
        let d = select(ubuntu(), &p, None, young).unwrap();
        assert_eq!(d, Decision::Take(cand("20240808", "2024-08-08")));
        // Already locked to the newest: stays taken.
        let d = select(ubuntu(), &p, Some(&build("20240821")), young).unwrap();
        assert_eq!(d, Decision::Take(cand("20240821", "2024-08-21")));
        // Only young builds and nothing locked: held.
        let d = select(vec![cand("20240821", "2024-08-21")], &p, None, young).unwrap();
        assert!(matches!(d, Decision::Held { .. }));
    }
}
