//! The secrets this process holds, so that text quoted from a server (an error body, a
//! proxy page that reflects the request) is scrubbed before it is printed.
//!
//! Every [`crate::openstack::Secret`] registers itself; other holders of secrets (download-auth
//! header values for static sources) call [`register`].

use std::sync::{Mutex, OnceLock};

/// Values shorter than this are not scrubbed: they would mangle ordinary text.
const MIN_LEN: usize = 4;

fn registry() -> &'static Mutex<Vec<String>> {
    static SECRETS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(Mutex::default)
}

/// Remembers a secret value; text passed to [`scrub`] never shows it.
pub fn register(value: &str) {
    if value.len() < MIN_LEN {
        return;
    }
    let mut secrets = registry().lock().unwrap_or_else(|e| e.into_inner());
    if !secrets.iter().any(|s| s == value) {
        secrets.push(value.to_owned());
        // Longest first, so a secret containing another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// `text` with every registered secret replaced by `***`.
pub fn scrub(text: &str) -> String {
    let secrets = registry().lock().unwrap_or_else(|e| e.into_inner());
    let mut out = text.to_owned();
    for s in secrets.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "***");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_are_scrubbed() {
        register("s3cr3t-reflected-pw");
        register("ab");
        assert_eq!(
            scrub(r#"{"password": "s3cr3t-reflected-pw", "x": "ab"}"#),
            r#"{"password": "***", "x": "ab"}"#
        );
    }
}
