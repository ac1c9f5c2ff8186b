//! [`Secret`]: a string that never prints itself.
//!
//! Passwords, application-credential secrets and tokens live in this wrapper from the moment
//! they are read until they are put into a request. `Debug` and `Display` print `***`, and it
//! does not implement `Serialize`, so a secret cannot leak through `{:?}`, a log field or a
//! JSON report by accident; the only way out is [`Secret::expose`].

use std::fmt;

/// A secret string (password, application-credential secret, token).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        // Server text quoted in errors is scrubbed of every secret we hold.
        crate::secrets::register(&value);
        Self(value)
    }

    /// The secret value, for putting it into a request. Never format it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{:?}", Some(&s)), "Some(***)");
        assert_eq!(s.expose(), "hunter2");
    }
}
