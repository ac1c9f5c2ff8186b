//! A YAML parse error as a [`Diagnostic`]: the place shown apart from the message, with a hint
//! where one is known. Shared by the catalog loader and the lifecycle file.

use std::path::Path;

use super::suggest;
use crate::diagnostic::Diagnostic;

/// Turns a serde-saphyr error into a diagnostic with a hint.
pub(crate) fn yaml_diagnostic(path: &Path, text: &str, err: &serde_saphyr::Error) -> Diagnostic {
    let (line, column) = err.location().map_or((0, 0), |l| (l.line(), l.column()));
    let message = strip_location(&err.to_string());
    let (message, hint, width) = suggest::explain(&message, text, line, column);
    let mut d = Diagnostic::error(path, line, column, message)
        .with_width(width)
        .with_source(text);
    if let Some(h) = hint {
        d = d.with_hint(h);
    }
    d
}

/// serde-saphyr prefixes messages with `line L column C: `; we show the place separately.
fn strip_location(message: &str) -> String {
    let first = message.lines().next().unwrap_or("").trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let mut msg = first;
    if let Some(rest) = msg.strip_prefix("line ")
        && let Some(idx) = rest.find(": ")
        && rest[..idx].contains("column")
    {
        msg = &rest[idx + 2..];
    }
    // ... and sometimes suffixes ` at line L, column C`.
    if let Some(idx) = msg.rfind(" at line ")
        && msg[idx..].contains("column")
    {
        msg = &msg[..idx];
    }
    msg.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_the_location_prefix() {
        assert_eq!(
            strip_location("line 3 column 5: unknown field `x`"),
            "unknown field `x`"
        );
        assert_eq!(strip_location("error: line 3 column 5: bad"), "bad");
        assert_eq!(strip_location("no place here"), "no place here");
        assert_eq!(
            strip_location("unknown field `x`, expected one of a, b at line 3, column 5"),
            "unknown field `x`, expected one of a, b"
        );
    }
}
