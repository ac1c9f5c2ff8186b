//! Reading local input files (catalog, lockfiles, plans) that may not be what their name
//! says: a FIFO named `x.toml` would block a read forever, a symlink to `/dev/zero` would
//! fill memory, a directory named `x.yaml`, a dangling link or a link loop would be skipped
//! silently by `Path::is_file`. Every such entry is an error naming what it is.

use std::io::{self, Read as _};
use std::path::Path;

/// The largest lockfile read (real ones are a few KiB).
pub const LOCKFILE_LIMIT: u64 = 1024 * 1024;
/// The largest catalog file (or plan) read.
pub const CATALOG_LIMIT: u64 = 16 * 1024 * 1024;

/// Linux `ELOOP`: too many levels of symbolic links.
const ELOOP: i32 = 40;

/// What an existing path is when it is not a regular file (`None` when it is one), following
/// symlinks. Errors: `NotFound` only when the path itself does not exist; a dangling link or
/// a link loop is an `InvalidInput` error saying so.
pub fn not_regular(path: &Path) -> io::Result<Option<&'static str>> {
    let own = std::fs::symlink_metadata(path)?;
    let meta = if own.file_type().is_symlink() {
        match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.raw_os_error() == Some(ELOOP) => {
                return Err(invalid("a symbolic link loop".to_owned()));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let target = std::fs::read_link(path)
                    .map(|t| format!(" (to `{}`)", t.display()))
                    .unwrap_or_default();
                return Err(invalid(format!(
                    "a dangling symbolic link{target}: its target does not exist"
                )));
            }
            Err(e) => return Err(e),
        }
    } else {
        own
    };
    Ok(kind_name(&meta.file_type()))
}

fn kind_name(t: &std::fs::FileType) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if t.is_fifo() {
            return Some("a named pipe (FIFO)");
        }
        if t.is_char_device() {
            return Some("a character device");
        }
        if t.is_block_device() {
            return Some("a block device");
        }
        if t.is_socket() {
            return Some("a socket");
        }
    }
    if t.is_dir() {
        return Some("a directory");
    }
    if !t.is_file() {
        return Some("a special file");
    }
    None
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// Reads a regular file (or a symlink to one) as UTF-8, at most `limit` bytes. Anything
/// else is refused before it is opened, with an error saying what it is; `NotFound` only
/// when nothing is there.
pub fn read_text(path: &Path, limit: u64) -> io::Result<String> {
    if let Some(kind) = not_regular(path)? {
        return Err(invalid(format!("{kind}, not a regular file")));
    }
    let file = std::fs::File::open(path)?;
    // Swapped between the check and the open: checked again on what was opened.
    if let Some(kind) = kind_name(&file.metadata()?.file_type()) {
        return Err(invalid(format!("{kind}, not a regular file")));
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(invalid(format!(
            "larger than {limit} bytes, too large for this kind of file"
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        // The prefix before the first bad byte is UTF-8 by definition.
        let valid = std::str::from_utf8(valid).unwrap_or_default();
        let line = valid.matches('\n').count() as u64 + 1;
        let column = valid.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u64 + 1;
        io::Error::new(io::ErrorKind::InvalidData, NotUtf8 { line, column })
    })
}

/// Text that is not UTF-8, with the place of its first byte that is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotUtf8 {
    pub line: u64,
    pub column: u64,
}

impl std::fmt::Display for NotUtf8 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not UTF-8 text")
    }
}

impl std::error::Error for NotUtf8 {}

impl NotUtf8 {
    /// The place of a [`read_text`] error about text that is not UTF-8.
    pub fn place(e: &io::Error) -> Option<(u64, u64)> {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<NotUtf8>())
            .map(|n| (n.line, n.column))
    }

    pub const HINT: &str = "save the file as UTF-8 (the line and column are where the first byte that is not UTF-8 stands)";
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn mkfifo(path: &Path) {
        let ok = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .expect("mkfifo runs")
            .success();
        assert!(ok, "mkfifo {}", path.display());
    }

    #[test]
    fn what_is_not_a_regular_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        std::fs::write(p("ok.toml"), "x = 1\n").unwrap();
        mkfifo(&p("fifo.toml"));
        std::os::unix::fs::symlink("/dev/zero", p("zero.toml")).unwrap();
        std::os::unix::fs::symlink(p("nowhere"), p("dangling.toml")).unwrap();
        std::os::unix::fs::symlink(p("loop-b.toml"), p("loop-a.toml")).unwrap();
        std::os::unix::fs::symlink(p("loop-a.toml"), p("loop-b.toml")).unwrap();
        std::fs::create_dir(p("dir.toml")).unwrap();
        std::os::unix::fs::symlink(p("ok.toml"), p("link.toml")).unwrap();
        std::fs::write(p("big.toml"), vec![b'#'; 2049]).unwrap();

        assert_eq!(read_text(&p("ok.toml"), 100).unwrap(), "x = 1\n");
        assert_eq!(read_text(&p("link.toml"), 100).unwrap(), "x = 1\n");
        let err = |n: &str| read_text(&p(n), 2048).unwrap_err().to_string();
        assert_eq!(err("fifo.toml"), "a named pipe (FIFO), not a regular file");
        assert_eq!(err("zero.toml"), "a character device, not a regular file");
        assert_eq!(err("dir.toml"), "a directory, not a regular file");
        assert_eq!(err("loop-a.toml"), "a symbolic link loop");
        assert!(err("dangling.toml").starts_with("a dangling symbolic link"));
        assert!(err("big.toml").contains("too large"));
        std::fs::write(p("latin1.toml"), b"a = 1\nb = \"caf\xe9\"\n").unwrap();
        let e = read_text(&p("latin1.toml"), 100).unwrap_err();
        assert_eq!(e.to_string(), "not UTF-8 text");
        assert_eq!(NotUtf8::place(&e), Some((2, 9)));
        let missing = read_text(&p("missing.toml"), 100).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        // A dangling link is not "no file": callers must not read it as "no lock yet".
        assert_ne!(
            read_text(&p("dangling.toml"), 100).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }
}
