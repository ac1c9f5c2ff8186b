//! The scs-0102 gate on the PLANNED state: what Glance will look like after the plan
//! (the managed images kept, changed and created), checked before anything is applied.
//!
//! Only images this tool manages are judged (the observation lists only those), so an
//! operator's own broken image never blocks an apply. Errors block (exit 5, refused by a
//! guard, like every other safety refusal) unless `--allow-nonconforming`.

use crate::openstack::GlanceImage;

/// The scs-0102 errors of a planned state, each naming the image and the rule.
///
/// CALL POINT for the `scs` module (`crate::scs::check_planned`): until that branch is
/// merged, no rule is checked here and this returns nothing.
pub fn violations(planned: &[GlanceImage], now: jiff::Timestamp) -> Vec<String> {
    let _ = (planned, now);
    Vec::new()
}
