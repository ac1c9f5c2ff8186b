//! Error rendering: `error:` / `caused by:` / `hint:`, as uv and cargo print them.
//!
//! Modules return typed errors that name their place (file:line:col, URL, image id). Commands
//! wrap them in `anyhow` with context; [`render`] prints the chain. A hint travels as a
//! [`Hinted`] layer in the chain, or comes from a known error type ([`HttpError::hint`]).
//! Errors may be marked with an [`ExitStatus`] through [`Exit`], which [`exit_status`] reads.

use std::fmt;

use crate::exit::ExitStatus;
use crate::http::HttpError;

/// A message with a hint, wrapping an optional cause.
#[derive(Debug)]
pub struct Hinted {
    pub message: String,
    pub hint: String,
    pub cause: Option<anyhow::Error>,
}

impl fmt::Display for Hinted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Hinted {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_ref()
            .map(|e| e.as_ref() as &(dyn std::error::Error + 'static))
    }
}

/// Marks an error with the exit status it should produce (4 invalid input, 5 refused, 75
/// temporary). It is invisible in the rendered chain.
#[derive(Debug)]
pub struct Exit {
    pub status: ExitStatus,
    pub cause: anyhow::Error,
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.cause)
    }
    // Display repeats the cause so a plain `{}` still reads well; `render` skips this layer.
}

impl std::error::Error for Exit {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.cause.as_ref())
    }
}

/// Extension for results: add a hint or an exit status while adding context.
pub trait ResultExt<T> {
    /// Adds `message` as context with a hint shown after the chain.
    fn hint_context(self, message: impl Into<String>, hint: impl Into<String>)
    -> anyhow::Result<T>;
    /// Marks the error with an exit status.
    fn exit_status(self, status: ExitStatus) -> anyhow::Result<T>;
}

impl<T, E: Into<anyhow::Error>> ResultExt<T> for Result<T, E> {
    fn hint_context(
        self,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> anyhow::Result<T> {
        self.map_err(|e| {
            anyhow::Error::new(Hinted {
                message: message.into(),
                hint: hint.into(),
                cause: Some(e.into()),
            })
        })
    }

    fn exit_status(self, status: ExitStatus) -> anyhow::Result<T> {
        self.map_err(|e| {
            anyhow::Error::new(Exit {
                status,
                cause: e.into(),
            })
        })
    }
}

/// A new error with a hint.
pub fn hinted(message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Hinted {
        message: message.into(),
        hint: hint.into(),
        cause: None,
    })
}

/// A new error with a hint and an exit status.
pub fn refuse(
    status: ExitStatus,
    message: impl Into<String>,
    hint: impl Into<String>,
) -> anyhow::Error {
    anyhow::Error::new(Exit {
        status,
        cause: hinted(message, hint),
    })
}

/// The exit status an error asks for: an explicit [`Exit`] mark, else 75 for transient HTTP
/// failures, else 1.
pub fn exit_status(err: &anyhow::Error) -> ExitStatus {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<Exit>() {
            return e.status;
        }
    }
    // `openstack::Error::Http` is `#[error(transparent)]`: the HttpError inside is not a
    // link of the chain of its own, so ask the wrapper too.
    if err.chain().any(|c| {
        c.downcast_ref::<HttpError>()
            .is_some_and(HttpError::is_transient)
            || c.downcast_ref::<crate::openstack::Error>()
                .is_some_and(crate::openstack::Error::is_transient)
    }) {
        return ExitStatus::TempFail;
    }
    ExitStatus::Error
}

/// Renders an error chain for stderr:
///
/// ```text
/// error: cannot check `ubuntu-24.04`
///   caused by: GET https://… returned 404 Not Found
///   hint: the file is not (or no longer) published there; …
/// ```
pub fn render(err: &anyhow::Error) -> String {
    let (lines, hints) = parts(err);
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        if i == 0 {
            out.push_str(&format!("error: {line}\n"));
        } else {
            out.push_str(&format!("  caused by: {line}\n"));
        }
    }
    for h in hints {
        out.push_str(&format!("  hint: {h}\n"));
    }
    // Last line of defence: no secret the process holds reaches stderr.
    crate::secrets::scrub(&out)
}

/// The JSON form of an error (`--format json`, on stderr; docs/exit-codes.md):
/// `{"format_version": 1, "type": "error", "error", "caused_by": [..], "hints": [..], "exit_code"}`.
pub fn render_json(err: &anyhow::Error) -> String {
    // Scrubbed string by string, before JSON escaping could hide a secret from the scrub.
    let scrub =
        |v: Vec<String>| -> Vec<String> { v.iter().map(|s| crate::secrets::scrub(s)).collect() };
    let (lines, hints) = parts(err);
    let (lines, hints) = (scrub(lines), scrub(hints));
    let mut lines = lines.into_iter();
    let doc = serde_json::json!({
        "format_version": 1,
        "type": "error",
        "error": lines.next().unwrap_or_default(),
        "caused_by": lines.collect::<Vec<_>>(),
        "hints": hints,
        "exit_code": exit_status(err).code(),
    });
    doc.to_string()
}

/// The message lines (the error, then its causes) and the hints of an error chain.
fn parts(err: &anyhow::Error) -> (Vec<String>, Vec<String>) {
    let mut lines: Vec<String> = Vec::new();
    let mut hints: Vec<String> = Vec::new();
    for cause in err.chain() {
        if cause.downcast_ref::<Exit>().is_some() {
            continue;
        }
        if let Some(h) = cause.downcast_ref::<Hinted>() {
            hints.push(h.hint.clone());
        }
        if let Some(h) = cause.downcast_ref::<HttpError>().and_then(HttpError::hint) {
            hints.push(h.to_owned());
        }
        // `openstack::Error::Http` is transparent: its HttpError is no link of the chain.
        if let Some(crate::openstack::Error::Http(e)) =
            cause.downcast_ref::<crate::openstack::Error>()
            && let Some(h) = e.hint()
        {
            hints.push(h.to_owned());
        }
        let text = cause.to_string();
        // Skip a layer that only repeats its cause (thiserror `#[error(transparent)]`).
        if lines.last().is_some_and(|l| l.ends_with(&text)) || text.is_empty() {
            continue;
        }
        lines.push(text);
    }
    hints.dedup();
    (lines, hints)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_chain_with_hint_and_status() {
        let base: anyhow::Result<()> = Err(std::io::Error::other("disk full").into());
        let err = base
            .hint_context("cannot write `state/x.toml`", "free some space")
            .exit_status(ExitStatus::TempFail)
            .map_err(|e| e.context("check failed"))
            .unwrap_err();
        assert_eq!(
            render(&err),
            "error: check failed\n  caused by: cannot write `state/x.toml`\n  caused by: disk full\n  hint: free some space\n"
        );
        assert_eq!(exit_status(&err), ExitStatus::TempFail);
        assert_eq!(exit_status(&anyhow::anyhow!("plain")), ExitStatus::Error);
    }
}
