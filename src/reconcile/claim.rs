//! Claims: which run an `image-crawler-tmp-…` image belongs to, and whether that run may still
//! be working on it. This is what makes two applies on one cloud safe without a lock.
//!
//! Every temporary image is created with [`CLAIM_PROPERTY`] (the run id) and
//! [`CLAIM_UNTIL_PROPERTY`] (an RFC 3339 expiry, `apply --claim-ttl` from its creation).
//! Another run treats the image as a leftover (and cleans it up) only when the claim is dead:
//! - it has expired, or
//! - its holder ran on this host and that process is gone (a `kill -9` is cleaned up by the
//!   next run at once, without waiting for the expiry);
//! - a temporary image without a claim (made by an older version of this tool) is a leftover.
//!
//! The claim is not renewed: Glance's upload and import tasks save the whole image record when
//! they finish, which silently undoes a property PATCH made meanwhile, so a heartbeat cannot be
//! relied on. The expiry is therefore an upper bound on one image's transfer and verification.
//! The holder refuses to promote its image when less than [`PROMOTE_MARGIN`] of the claim is
//! left, so an image another run may already be deleting as expired never gets the stable name.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::openstack::GlanceImage;

/// The run id of the apply that created a temporary image.
pub const CLAIM_PROPERTY: &str = "image_crawler_claim";
/// Until when the claim holds unless renewed (RFC 3339, UTC).
pub const CLAIM_UNTIL_PROPERTY: &str = "image_crawler_claim_until";
/// The holder promotes only with at least this much of its claim left.
pub const PROMOTE_MARGIN: Duration = Duration::from_secs(30);
/// Default claim lifetime (`apply --claim-ttl`): generous, because a crashed run on another
/// host leaves its (private, harmless) temporary image until then.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3 * 3600);

/// A run id: `<host>/<pid>/<process start>/<nonce>`, so a run on the same host can tell whether
/// the holder still runs (the start time tells a reused pid from the original process).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunId(pub String);

impl RunId {
    /// The id of this process.
    pub fn current() -> Self {
        let pid = std::process::id();
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        RunId(format!(
            "{}/{pid}/{}/{nonce:08x}",
            hostname(),
            process_start(pid).unwrap_or_default()
        ))
    }

    fn parts(&self) -> Option<(&str, u32, &str)> {
        let mut it = self.0.split('/');
        let host = it.next()?;
        let pid = it.next()?.parse().ok()?;
        let start = it.next()?;
        Some((host, pid, start))
    }
}

/// A claim read from an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub run: RunId,
    pub until: Option<jiff::Timestamp>,
}

impl Claim {
    pub fn of(img: &GlanceImage) -> Option<Claim> {
        let run = img.properties.get(CLAIM_PROPERTY)?;
        Some(Claim {
            run: RunId(run.clone()),
            until: img
                .properties
                .get(CLAIM_UNTIL_PROPERTY)
                .and_then(|u| u.parse().ok()),
        })
    }

    /// Time left before the claim expires (zero when expired or unreadable).
    pub fn remaining(&self, now: jiff::Timestamp) -> Duration {
        self.until
            .and_then(|u| Duration::try_from(u.duration_since(now)).ok())
            .unwrap_or_default()
    }
}

/// What a run can tell about processes on its own host.
pub trait Processes {
    fn host(&self) -> &str;
    /// Whether `pid` runs and started at `start` (as in the run id).
    fn alive(&self, pid: u32, start: &str) -> bool;
}

/// Whether the claim still protects its image (pure given `procs`).
pub fn is_live(claim: &Claim, now: jiff::Timestamp, procs: &dyn Processes) -> bool {
    if claim.remaining(now).is_zero() {
        return false;
    }
    match claim.run.parts() {
        Some((host, pid, start)) if host == procs.host() => procs.alive(pid, start),
        // Another host: only the expiry can tell.
        _ => true,
    }
}

/// The run ids of the live claims on `observed` temporary images.
pub fn live_claims(
    observed: &[GlanceImage],
    now: jiff::Timestamp,
    procs: &dyn Processes,
) -> BTreeSet<String> {
    observed
        .iter()
        .filter_map(Claim::of)
        .filter(|c| is_live(c, now, procs))
        .map(|c| c.run.0)
        .collect()
}

/// The real processes of this host (Linux `/proc`; elsewhere every holder counts as alive
/// and only the expiry decides).
pub struct ThisHost {
    host: String,
}

impl Default for ThisHost {
    fn default() -> Self {
        ThisHost { host: hostname() }
    }
}

impl Processes for ThisHost {
    fn host(&self) -> &str {
        &self.host
    }

    fn alive(&self, pid: u32, start: &str) -> bool {
        if !std::path::Path::new("/proc/self/stat").exists() {
            return true;
        }
        process_start(pid).is_some_and(|s| s == start)
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().replace('/', "_"))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

/// The start time of a process (clock ticks since boot, field 22 of `/proc/<pid>/stat`).
fn process_start(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count after its last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    struct Fake {
        alive: Vec<(u32, &'static str)>,
    }

    impl Processes for Fake {
        fn host(&self) -> &str {
            "here"
        }
        fn alive(&self, pid: u32, start: &str) -> bool {
            self.alive.contains(&(pid, start))
        }
    }

    fn img(run: &str, until: &str) -> GlanceImage {
        GlanceImage {
            properties: BTreeMap::from([
                (CLAIM_PROPERTY.to_owned(), run.to_owned()),
                (CLAIM_UNTIL_PROPERTY.to_owned(), until.to_owned()),
            ]),
            ..Default::default()
        }
    }

    #[test]
    fn a_claim_lives_until_it_expires_or_its_local_holder_is_gone() {
        let now: jiff::Timestamp = "2026-12-01T12:00:00Z".parse().unwrap();
        let procs = Fake {
            alive: vec![(10, "500")],
        };
        let live =
            |run: &str, until: &str| is_live(&Claim::of(&img(run, until)).unwrap(), now, &procs);
        assert!(live("here/10/500/ab", "2026-12-01T12:01:00Z"));
        assert!(!live("here/10/500/ab", "2026-12-01T11:59:59Z"), "expired");
        assert!(
            !live("here/11/500/ab", "2026-12-01T12:01:00Z"),
            "holder gone"
        );
        assert!(
            !live("here/10/501/ab", "2026-12-01T12:01:00Z"),
            "pid reused"
        );
        assert!(
            live("there/11/1/ab", "2026-12-01T12:01:00Z"),
            "other host: expiry"
        );
        assert!(!live("there/11/1/ab", "not a time"), "unreadable = expired");
        let set = live_claims(
            &[
                img("here/10/500/ab", "2026-12-01T12:01:00Z"),
                img("here/11/500/ab", "2026-12-01T12:01:00Z"),
                GlanceImage::default(),
            ],
            now,
            &procs,
        );
        assert_eq!(set, BTreeSet::from(["here/10/500/ab".to_owned()]));
    }

    #[test]
    fn this_process_is_alive_on_this_host() {
        let id = RunId::current();
        let (host, pid, start) = id.parts().unwrap();
        let here = ThisHost::default();
        assert_eq!(host, here.host());
        assert!(here.alive(pid, start));
        assert!(
            !here.alive(pid, "0"),
            "another start time is another process"
        );
    }
}
