//! Reading and writing `state/`: the only file I/O on lockfiles.
//!
//! Writes are atomic (a temp file in the same directory, fsync, rename) and happen only when
//! the bytes differ, so an unchanged upstream never touches the file's mtime or git status.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::LockedImage;
use super::format::{self, FormatError};

/// A lockfile that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {source}", path.display(), place(*line, *column))]
pub struct ReadError {
    pub path: Box<Path>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The file's text, when it could be read (for the snippet under a diagnostic).
    pub text: Option<Box<str>>,
    #[source]
    pub source: ReadErrorKind,
}

/// A lockfile as read: the parsed lock and the text it came from, so checks made after
/// parsing (see `lock::gate`) can name the line of a field.
#[derive(Debug, Clone)]
pub struct LockFile {
    pub lock: LockedImage,
    pub text: String,
}

fn place(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReadErrorKind {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error("the file is named for `{file_id}` but says `id = \"{inner_id}\"`")]
    IdMismatch { file_id: String, inner_id: String },
}

/// The path of an image's lockfile.
pub fn path_for(state_dir: &Path, id: &str) -> PathBuf {
    state_dir.join(format!("{id}.toml"))
}

/// Reads one lockfile; `Ok(None)` when it does not exist.
pub fn read(state_dir: &Path, id: &str) -> Result<Option<LockedImage>, ReadError> {
    let path = path_for(state_dir, id);
    match crate::localfile::read_text(&path, crate::localfile::LOCKFILE_LIMIT) {
        Ok(text) => parse(&path, id, &text).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => {
            let place = crate::localfile::NotUtf8::place(&e);
            Err(ReadError {
                path: path.into(),
                line: place.map(|(l, _)| l as usize),
                column: place.map(|(_, c)| c as usize),
                text: None,
                source: e.into(),
            })
        }
    }
}

fn parse(path: &Path, id: &str, text: &str) -> Result<LockedImage, ReadError> {
    let lock = format::from_toml(text).map_err(|e| {
        let (line, column) = match &e {
            FormatError::Syntax { line, column, .. } => (*line, *column),
            FormatError::UnknownFormat { .. } => format::place(text, &["format_version"])
                .map_or((None, None), |(l, c)| (Some(l), Some(c))),
        };
        ReadError {
            path: path.into(),
            line,
            column,
            text: Some(text.into()),
            source: e.into(),
        }
    })?;
    if lock.id != id {
        let (line, column) =
            format::place(text, &["id"]).map_or((None, None), |(l, c)| (Some(l), Some(c)));
        return Err(ReadError {
            path: path.into(),
            line,
            column,
            text: Some(text.into()),
            source: ReadErrorKind::IdMismatch {
                file_id: id.to_owned(),
                inner_id: lock.id,
            },
        });
    }
    Ok(lock)
}

/// Every `*.toml` in `state/`, by id, each read or failed. A missing directory is empty.
pub fn read_all(
    state_dir: &Path,
) -> Result<BTreeMap<String, Result<LockFile, ReadError>>, std::io::Error> {
    let mut out = BTreeMap::new();
    let entries = match std::fs::read_dir(state_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let Some(id) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
            continue;
        };
        let result = crate::localfile::read_text(&path, crate::localfile::LOCKFILE_LIMIT)
            .map_err(|e| {
                let place = crate::localfile::NotUtf8::place(&e);
                ReadError {
                    path: path.as_path().into(),
                    line: place.map(|(l, _)| l as usize),
                    column: place.map(|(_, c)| c as usize),
                    text: None,
                    source: e.into(),
                }
            })
            .and_then(|text| {
                let lock = parse(&path, &id, &text)?;
                Ok(LockFile { lock, text })
            });
        out.insert(id, result);
    }
    Ok(out)
}

/// Writes `lock` to `state/<id>.toml` unless the file already has these bytes.
/// Returns whether the file changed.
pub fn write_if_changed(state_dir: &Path, lock: &LockedImage) -> std::io::Result<bool> {
    let path = path_for(state_dir, &lock.id);
    let text = format::to_toml(lock);
    write_atomic_if_changed(&path, text.as_bytes())
}

/// Atomically replaces `path` with `bytes` unless it already holds them.
pub fn write_atomic_if_changed(path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    // tempfile creates 0600; a committed file should keep its mode, or get the usual 0644.
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions())
        .unwrap_or_else(|_| default_permissions());
    tmp.as_file().set_permissions(mode)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(true)
}

#[cfg(unix)]
fn default_permissions() -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::Permissions::from_mode(0o644)
}

#[cfg(not(unix))]
fn default_permissions() -> std::fs::Permissions {
    std::fs::File::open(".")
        .and_then(|f| f.metadata())
        .map(|m| m.permissions())
        .expect("the working directory is readable")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::format::tests::sample;

    #[test]
    fn writes_only_when_changed_and_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let lock = sample();
        assert!(write_if_changed(dir.path(), &lock).unwrap());
        let path = path_for(dir.path(), &lock.id);
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(
            !write_if_changed(dir.path(), &lock).unwrap(),
            "same content is not rewritten"
        );
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);
        let mut newer = lock.clone();
        newer.build.version = "20240822".into();
        assert!(write_if_changed(dir.path(), &newer).unwrap());
        assert_eq!(read(dir.path(), &lock.id).unwrap().unwrap(), newer);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "no temp files left: {leftovers:?}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o644
            );
        }
    }

    #[test]
    fn read_all_reports_broken_files_and_id_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        write_if_changed(dir.path(), &sample()).unwrap();
        std::fs::write(
            dir.path().join("broken.toml"),
            "format_version = 1\nid = \n",
        )
        .unwrap();
        std::fs::copy(
            path_for(dir.path(), "ubuntu-24.04"),
            dir.path().join("other.toml"),
        )
        .unwrap();
        std::fs::write(dir.path().join("README.md"), "not a lock").unwrap();
        let all = read_all(dir.path()).unwrap();
        assert_eq!(
            all.keys().collect::<Vec<_>>(),
            ["broken", "other", "ubuntu-24.04"]
        );
        assert!(all["ubuntu-24.04"].is_ok());
        let broken = all["broken"].as_ref().unwrap_err();
        assert_eq!(broken.line, Some(2), "{broken}");
        let other = all["other"].as_ref().unwrap_err().to_string();
        assert!(
            other.contains("named for `other` but says `id = \"ubuntu-24.04\"`"),
            "{other}"
        );
        assert!(read(dir.path(), "missing").unwrap().is_none());
    }
}
