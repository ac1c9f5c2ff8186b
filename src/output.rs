//! The only place that prints. stdout carries data (reports, plans, JSON); stderr carries
//! messages for people (status, warnings, errors) and progress. Other modules render to
//! `String`s and hand them to the [`Printer`].

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{IsTerminal as _, Write as _};

use anstyle::{AnsiColor, Style};

use crate::cli::{ColorChoice, Format, GlobalArgs};

/// Decides what is printed where, and in which colours.
#[derive(Debug, Clone)]
pub struct Printer {
    pub format: Format,
    pub verbose: u8,
    pub quiet: bool,
    color: bool,
}

impl Printer {
    pub fn new(global: &GlobalArgs) -> Self {
        let color = match global.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
            }
        };
        Self {
            format: global.format,
            verbose: global.verbose,
            quiet: global.quiet,
            color,
        }
    }

    /// A printer for tests: human format, no colour.
    pub fn plain() -> Self {
        Self {
            format: Format::Human,
            verbose: 0,
            quiet: false,
            color: false,
        }
    }

    pub fn is_json(&self) -> bool {
        self.format == Format::Json
    }

    /// Whether colours are on (for renderers that style their own output).
    pub fn color(&self) -> bool {
        self.color
    }

    /// Data for stdout (always printed, even with `-q`).
    pub fn data(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        // A closed pipe (`| head`) is not an error worth reporting.
        let _ = out.write_all(text.as_bytes());
        if !text.is_empty() && !text.ends_with('\n') {
            let _ = out.write_all(b"\n");
        }
        let _ = out.flush();
    }

    /// A JSON document on stdout, carrying `format_version` (see [`versioned`]).
    pub fn json<T: serde::Serialize>(&self, value: &T) {
        let text = serde_json::to_string_pretty(&versioned(value)).expect("report types serialize");
        self.data(&text);
    }

    /// A JSON document on stdout as it is (JSON Schemas, which are not our documents).
    pub fn json_raw<T: serde::Serialize>(&self, value: &T) {
        let text = serde_json::to_string_pretty(value).expect("report types serialize");
        self.data(&text);
    }

    /// One JSON line on stdout (event streams), carrying `format_version`.
    pub fn json_line<T: serde::Serialize>(&self, value: &T) {
        let text = serde_json::to_string(&versioned(value)).expect("event types serialize");
        self.data(&text);
    }

    /// A status line for people on stderr (`   Checking ubuntu-24.04`), hidden by `-q`.
    pub fn status(&self, verb: &str, message: &str) {
        if self.quiet {
            return;
        }
        let styled = self.paint(
            Style::new().bold().fg_color(Some(AnsiColor::Green.into())),
            &format!("{verb:>12}"),
        );
        eprintln!("{styled} {message}");
    }

    /// Detail shown with `-v`.
    pub fn verbose(&self, message: &str) {
        if self.verbose > 0 && !self.quiet {
            eprintln!("{}", message.trim_end());
        }
    }

    /// A warning on stderr (shown with `-q` too: warnings matter).
    pub fn warn(&self, message: &str) {
        let label = self.paint(
            Style::new().bold().fg_color(Some(AnsiColor::Yellow.into())),
            "warning",
        );
        eprintln!("{label}: {}", message.trim_end());
    }

    /// Pre-rendered error text (`error: ...` lines) on stderr.
    /// An error document (`--format json`), one line on stderr.
    pub fn error_json(&self, doc: &str) {
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), "{}", doc.trim_end());
    }

    pub fn error_text(&self, text: &str) {
        let mut t = text.trim_end().to_owned();
        if self.color {
            let red = Style::new().bold().fg_color(Some(AnsiColor::Red.into()));
            let yellow = Style::new().bold().fg_color(Some(AnsiColor::Yellow.into()));
            t = t
                .lines()
                .map(|l| {
                    if let Some(rest) = l.strip_prefix("error:") {
                        format!("{}{rest}", self.paint(red, "error:"))
                    } else if let Some(rest) = l.strip_prefix("warning:") {
                        format!("{}{rest}", self.paint(yellow, "warning:"))
                    } else {
                        l.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
        }
        eprintln!("{t}");
    }

    /// Plain text for people on stderr, hidden by `-q`.
    pub fn note(&self, message: &str) {
        if !self.quiet {
            eprintln!("{}", message.trim_end());
        }
    }

    /// Applies a style when colours are on.
    pub fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    }
}

/// The version of every `--format json` document and event that does not carry its own.
/// Scripts check it before reading a document; it changes only with an incompatible shape.
pub const JSON_FORMAT_VERSION: u32 = 1;

/// `value` as JSON with `format_version` first in every top-level object (and in every object
/// of a top-level array, e.g. one plan per target). A document that has its own version (the
/// plan, the check report) keeps it.
pub fn versioned<T: serde::Serialize>(value: &T) -> serde_json::Value {
    fn stamp(v: serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(map) if !map.contains_key("format_version") => {
                let mut out = serde_json::Map::with_capacity(map.len() + 1);
                out.insert("format_version".into(), JSON_FORMAT_VERSION.into());
                out.extend(map);
                serde_json::Value::Object(out)
            }
            other => other,
        }
    }
    match serde_json::to_value(value).expect("report types serialize") {
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(stamp).collect())
        }
        other => stamp(other),
    }
}

#[cfg(test)]
mod versioned_tests {
    use super::*;

    #[test]
    fn every_document_gets_a_format_version_first() {
        let v = versioned(&serde_json::json!({"type": "image_imported", "id": "x"}));
        assert_eq!(
            v.to_string(),
            r#"{"format_version":1,"type":"image_imported","id":"x"}"#
        );
    }

    #[test]
    fn an_own_version_is_kept_and_arrays_are_stamped_per_document() {
        let own = versioned(&serde_json::json!({"format_version": 3, "a": 1}));
        assert_eq!(own["format_version"], 3);
        let many = versioned(&serde_json::json!([{"a": 1}, {"format_version": 2}]));
        assert_eq!(many[0]["format_version"], 1);
        assert_eq!(many[1]["format_version"], 2);
    }
}
