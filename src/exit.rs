//! Exit codes are API (documented in `docs/exit-codes.md`): scripts and Zuul jobs branch on them.
//!
//! Per-image outcomes are merged with [`ExitStatus::merge`], so one failing image never hides
//! behind a later success, and a failure never hides the changes that did happen.

use std::process::ExitCode;

/// The outcome of one run of a verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitStatus {
    /// 0: success; with `--detailed-exitcode`, also "no changes".
    Success,
    /// 1: an unexpected or internal error.
    Error,
    /// 2: success with changes present (only with `--detailed-exitcode`).
    Changes,
    /// 3: partial failure: some images failed, the others were done; a re-run is safe.
    Partial,
    /// 4: invalid input (catalog, lockfile, arguments).
    Invalid,
    /// 5: refused by a safety guard (downgrade, stale plan, max-deletes, lock would change).
    Refused,
    /// 75: a temporary failure worth retrying later (EX_TEMPFAIL), nothing was changed.
    TempFail,
}

impl ExitStatus {
    /// The numeric code.
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Error => 1,
            ExitStatus::Changes => 2,
            ExitStatus::Partial => 3,
            ExitStatus::Invalid => 4,
            ExitStatus::Refused => 5,
            ExitStatus::TempFail => 75,
        }
    }

    /// How bad an outcome is, for merging: a more severe status wins.
    fn severity(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Changes => 1,
            ExitStatus::TempFail => 2,
            ExitStatus::Partial => 3,
            ExitStatus::Refused => 4,
            ExitStatus::Invalid => 5,
            ExitStatus::Error => 6,
        }
    }

    /// Merges two outcomes: the more severe one wins.
    #[must_use]
    pub fn merge(self, other: ExitStatus) -> ExitStatus {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }

    /// The outcome of a run over many images: all failures transient → 75, some failed → 3,
    /// none failed → `ok`.
    pub fn for_items(
        ok: ExitStatus,
        failed: usize,
        failed_transient: usize,
        total: usize,
    ) -> ExitStatus {
        if failed == 0 {
            ok
        } else if failed == failed_transient && failed == total {
            ExitStatus::TempFail
        } else {
            ExitStatus::Partial
        }
    }
}

/// Prints a command-line parse failure and returns its status: `--help` and `--version` are
/// success; every usage error is invalid input (4), never clap's default 2, which is the
/// "changes" code a gate may accept.
pub fn usage(err: &clap::Error) -> ExitStatus {
    // clap renders "error: …" plus a usage line and a `--help` tip, on the right stream.
    let _ = err.print();
    if err.use_stderr() {
        ExitStatus::Invalid
    } else {
        ExitStatus::Success
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(s: ExitStatus) -> ExitCode {
        ExitCode::from(s.code())
    }
}

#[cfg(test)]
mod tests {
    use super::ExitStatus::*;
    use super::*;

    #[test]
    fn codes_are_the_documented_ones() {
        let all = [Success, Error, Changes, Partial, Invalid, Refused, TempFail];
        let codes: Vec<u8> = all.iter().map(|s| s.code()).collect();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5, 75]);
    }

    #[test]
    fn merge_keeps_the_worst() {
        assert_eq!(Success.merge(Changes), Changes);
        assert_eq!(Changes.merge(Success), Changes);
        assert_eq!(Changes.merge(Partial), Partial);
        assert_eq!(Refused.merge(Partial), Refused);
        assert_eq!(Invalid.merge(Error), Error);
        assert_eq!(TempFail.merge(Changes), TempFail);
    }

    #[test]
    fn items_outcome() {
        assert_eq!(ExitStatus::for_items(Changes, 0, 0, 3), Changes);
        assert_eq!(ExitStatus::for_items(Success, 1, 0, 3), Partial);
        assert_eq!(ExitStatus::for_items(Success, 3, 3, 3), TempFail);
        assert_eq!(ExitStatus::for_items(Success, 1, 1, 3), Partial);
    }
}
