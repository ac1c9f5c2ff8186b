//! Problems in files people wrote (catalog, lockfiles), with their place and a hint.
//!
//! Rendered like rustc and just:
//!
//! ```text
//! error: unknown field `os_distor`
//!   --> catalog/ubuntu.yaml:14:9
//!    |
//! 14 |         os_distor: ubuntu
//!    |         ^^^^^^^^^
//!    = hint: did you mean `os_distro`?
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem, with its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// The file it is in.
    pub file: PathBuf,
    /// 1-based line and column; 0 when the problem concerns the whole file.
    pub line: u64,
    pub column: u64,
    /// How many characters to underline (at least one).
    #[serde(skip)]
    pub width: usize,
    /// The text of the offending line, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_line: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    /// An error at `file:line:column`.
    pub fn error(
        file: impl Into<PathBuf>,
        line: u64,
        column: u64,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity: Severity::Error,
            message: message.into(),
            file: file.into(),
            line,
            column,
            width: 1,
            source_line: None,
            hint: None,
        }
    }

    /// A warning at `file:line:column`.
    pub fn warning(
        file: impl Into<PathBuf>,
        line: u64,
        column: u64,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(file, line, column, message)
        }
    }

    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    #[must_use]
    pub fn with_width(mut self, width: usize) -> Self {
        self.width = width.max(1);
        self
    }

    /// Attaches the offending line from the file's text.
    #[must_use]
    pub fn with_source(mut self, text: &str) -> Self {
        if self.line > 0 {
            self.source_line = text
                .lines()
                .nth(usize::try_from(self.line - 1).unwrap_or(usize::MAX))
                .map(|l| l.trim_end_matches('\r').to_owned());
        }
        self
    }

    /// `file:line:col` (or just the file).
    pub fn place(&self) -> String {
        if self.line == 0 {
            self.file.display().to_string()
        } else {
            format!("{}:{}:{}", self.file.display(), self.line, self.column)
        }
    }

    /// Renders the diagnostic for a terminal (no colour; the printer adds it).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(out, "{label}: {}", self.message);
        let gutter = if self.line > 0 {
            self.line.to_string().len()
        } else {
            1
        };
        let pad = " ".repeat(gutter);
        let _ = writeln!(out, "{pad}--> {}", self.place());
        if let Some(src) = &self.source_line {
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{} | {src}", self.line);
            let col = usize::try_from(self.column.max(1) - 1).unwrap_or(0);
            // Keep tabs so the caret lines up under them.
            let lead: String = src
                .chars()
                .take(col)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let _ = writeln!(out, "{pad} | {lead}{}", "^".repeat(self.width));
        }
        if let Some(hint) = &self.hint {
            let _ = writeln!(out, "{pad} = hint: {hint}");
        }
        out
    }
}

/// Sorts diagnostics by file, line and column, so output does not depend on discovery order.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        // At one place, the error before the warnings about it.
        (&a.file, a.line, a.column, a.severity, &a.message)
            .cmp(&(&b.file, b.line, b.column, b.severity, &b.message))
    });
}

/// A path shown relative to the working directory when it is below it.
pub fn display_path(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_snippet_with_caret_and_hint() {
        let text = "images:\n  - id: x\n    enabeld: true\n";
        let d = Diagnostic::error("catalog/x.yaml", 3, 5, "unknown field `enabeld`")
            .with_width(7)
            .with_source(text)
            .with_hint("did you mean `enabled`?");
        assert_eq!(
            d.render(),
            "error: unknown field `enabeld`\n --> catalog/x.yaml:3:5\n  |\n3 |     enabeld: true\n  |     ^^^^^^^\n  = hint: did you mean `enabled`?\n"
        );
    }

    #[test]
    fn whole_file_diagnostic_has_no_snippet() {
        let d = Diagnostic::error("state/x.toml", 0, 0, "orphan");
        assert_eq!(d.render(), "error: orphan\n --> state/x.toml\n");
    }
}
