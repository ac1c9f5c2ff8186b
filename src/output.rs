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

    /// A JSON document on stdout.
    pub fn json<T: serde::Serialize>(&self, value: &T) {
        let text = serde_json::to_string_pretty(value).expect("report types serialize");
        self.data(&text);
    }

    /// One JSON line on stdout (event streams).
    pub fn json_line<T: serde::Serialize>(&self, value: &T) {
        let text = serde_json::to_string(value).expect("event types serialize");
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
