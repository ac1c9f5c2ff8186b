//! The report of a `propose` run: one struct, rendered for people or as JSON.

use serde::Serialize;

use crate::exit::ExitStatus;
use crate::lock::LockChange;

/// The report of one run (rendered for people or as JSON).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The base branch and the commit the proposals are built on.
    pub base: String,
    pub base_commit: String,
    /// `branch` (one branch per proposal) or `gerrit` (`refs/for/<base>`).
    pub mode: &'static str,
    pub remote: String,
    pub pushed: bool,
    pub proposals: Vec<ProposalReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProposalReport {
    pub key: String,
    pub images: Vec<String>,
    /// The local branch holding the proposal commit.
    pub branch: String,
    /// The remote ref pushed to (or that would be pushed to).
    pub push_ref: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    pub subject: String,
    pub lock_digest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_id: Option<String>,
    pub changes: Vec<LockChange>,
    /// Why a proposal was refused or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Something that worked only in part (the proposal itself is done).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// A failure that is temporary (the remote unreachable): retrying later may succeed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub transient: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Committed to the local branch only (no `--push`).
    Committed,
    /// Pushed as a new proposal.
    Created,
    /// Pushed over an existing proposal for the same key.
    Replaced,
    /// The remote (or the local branch, without `--push`) already has this content.
    AlreadyProposed,
    /// Not done: a safety rule forbids it.
    Refused,
    /// Not done: git failed.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Committed => "committed",
            Outcome::Created => "pushed (new)",
            Outcome::Replaced => "pushed (replaced)",
            Outcome::AlreadyProposed => "already proposed",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }
}

impl Report {
    /// The exit status, as `apply` counts images: 5 when a proposal was refused; 75 when every
    /// proposal failed, each temporarily (nothing was proposed, retry later); 3 when any failed
    /// otherwise. A failed proposal is an outcome, not a bug of the tool (never 1).
    pub fn exit_status(&self) -> ExitStatus {
        let total = self.proposals.len();
        let failed = self
            .proposals
            .iter()
            .filter(|p| p.outcome == Outcome::Failed);
        let transient = failed.clone().filter(|p| p.transient).count();
        let failures = ExitStatus::for_items(ExitStatus::Success, failed.count(), transient, total);
        let refused = self.proposals.iter().any(|p| p.outcome == Outcome::Refused);
        failures.merge(if refused {
            ExitStatus::Refused
        } else {
            ExitStatus::Success
        })
    }
}

/// Renders the report for people: one line per proposal (reasons for failures go to stderr
/// as errors).
pub fn render_human(report: &Report) -> String {
    if report.proposals.is_empty() {
        return format!(
            "nothing to propose: the lockfiles match {} ({})\n",
            report.base,
            short(&report.base_commit)
        );
    }
    let width = report
        .proposals
        .iter()
        .map(|p| p.push_ref.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for p in &report.proposals {
        let commit = p.commit.as_deref().map(short).unwrap_or("-");
        out.push_str(&format!(
            "{:<width$}  {:<17}  {:<8}  {}\n",
            p.push_ref,
            p.outcome.as_str(),
            commit,
            p.subject
        ));
    }
    if !report.pushed
        && report
            .proposals
            .iter()
            .any(|p| p.outcome == Outcome::Committed)
    {
        out.push_str("(local branches only; run with --push to publish them)\n");
    }
    out
}

pub(super) fn short(commit: &str) -> &str {
    &commit[..commit.len().min(8)]
}
