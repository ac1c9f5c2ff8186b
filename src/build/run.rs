//! Running one build: the engine into a temporary directory beside the artifact tree, then
//! checksum, signature and manifest, then one `rename` into `<output>/<id>/<version>/`. A
//! build that fails at any step leaves no artifact directory (only its log).

use std::fs;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use sha2::{Digest as _, Sha256};

use super::engine::{self, Invocation};
use super::manifest::{self, Engine, Manifest};
use super::{CHECKSUM_FILE, MANIFEST_FILE, SIGNATURE_FILE};
use crate::catalog::Image;
use crate::catalog::raw::DiskimageBuilderSource;
use crate::lock::BuildInputs;

/// What every build of one run shares.
#[derive(Debug, Clone)]
pub struct Options {
    /// `disk-image-create` (or a stand-in with its interface).
    pub engine: PathBuf,
    /// The artifact tree: `<output>/<id>/<version>/`, logs in `<output>/logs/`.
    pub output: PathBuf,
    /// The catalog's `mirrors` plus `--mirror` flags.
    pub mirrors: Vec<(String, String)>,
    /// An armoured OpenPGP secret key (no passphrase) that signs `SHA256SUMS`.
    pub signing_key: Option<PathBuf>,
}

/// A finished build.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Built {
    pub image: String,
    pub version: String,
    pub dir: PathBuf,
    pub log: PathBuf,
    pub sha256: String,
    pub size: u64,
    pub signed: bool,
    pub seconds: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot {what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot run {}: {source}", program.display())]
    Spawn {
        program: PathBuf,
        source: std::io::Error,
    },
    #[error("{} failed ({status}); last lines of {}:\n{tail}", program.display(), log.display())]
    Engine {
        program: PathBuf,
        status: String,
        log: PathBuf,
        tail: String,
    },
    #[error("{} succeeded but wrote no {}", program.display(), expected.display())]
    NoImage { program: PathBuf, expected: PathBuf },
    #[error("DIB's package manifest {} is not readable: {message}", path.display())]
    PackageManifest { path: PathBuf, message: String },
    #[error("signing {CHECKSUM_FILE} failed: {0}")]
    Sign(String),
    #[error("{} already exists", .0.display())]
    Exists(PathBuf),
}

impl BuildError {
    pub fn hint(&self) -> &'static str {
        match self {
            BuildError::Spawn { .. } => {
                "install diskimage-builder (`pip install diskimage-builder`) or pass --engine PATH"
            }
            BuildError::Engine { .. } => {
                "the log shows the failing element; fix it and build again"
            }
            BuildError::Sign(_) => {
                "--signing-key must be an armoured OpenPGP secret key without a passphrase"
            }
            BuildError::Exists(_) => "a build of this second exists; wait a second or remove it",
            _ => "check the output directory's permissions and free space (a build needs ~2.3 GB)",
        }
    }
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BuildError {
    let path = path.to_owned();
    move |source| BuildError::Io { what, path, source }
}

/// How many log lines a failed build's error quotes.
const TAIL: usize = 15;

/// Builds `image` from `recipe`; `inputs` is what it is built from (recorded in the
/// manifest, see [`super::trigger`]); `on_line` sees every line the engine prints (for
/// progress).
pub fn build(
    image: &Image,
    recipe: &DiskimageBuilderSource,
    inputs: &BuildInputs,
    opts: &Options,
    now: jiff::Timestamp,
    on_line: &(dyn Fn(&str) + Sync),
) -> Result<Built, BuildError> {
    let started = std::time::Instant::now();
    let version = manifest::version(now);
    let final_dir = opts.output.join(&image.id).join(&version);
    if final_dir.exists() {
        return Err(BuildError::Exists(final_dir));
    }
    let logs = opts.output.join("logs");
    fs::create_dir_all(&logs).map_err(io("create", &logs))?;
    let log = logs.join(format!("{}-{version}.log", image.id));
    // Same file system as the final directory, so the last step is one rename.
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".build-{}-", image.id))
        .tempdir_in(&opts.output)
        .map_err(io("create a temporary directory in", &opts.output))?;
    let mirrors = engine::mirrors(recipe, &opts.mirrors);
    let out_base = tmp.path().join(&image.id);
    let inv = engine::invocation(
        &opts.engine,
        recipe,
        image.architecture,
        &mirrors,
        &out_base,
    );
    let engine_version = engine_version(&opts.engine)?;
    run_logged(&inv, &log, on_line)?;

    let file = format!("{}.qcow2", image.id);
    let qcow2 = tmp.path().join(&file);
    if !qcow2.is_file() {
        return Err(BuildError::NoImage {
            program: opts.engine.clone(),
            expected: qcow2,
        });
    }
    let (sha256, size) = sha256_file(&qcow2)?;
    let dpkg = tmp.path().join(format!(
        "{}.d/dib-manifests/dib-manifest-dpkg-{}",
        image.id, image.id
    ));
    let packages = match fs::read_to_string(&dpkg) {
        Ok(text) => {
            manifest::parse_dpkg_manifest(&text).map_err(|message| BuildError::PackageManifest {
                path: dpkg.clone(),
                message,
            })?
        }
        // Non-dpkg distributions write no dpkg manifest.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io("read", &dpkg)(e)),
    };
    // Only the published files stay in the artifact directory.
    let dib_dir = tmp.path().join(format!("{}.d", image.id));
    if dib_dir.exists() {
        fs::remove_dir_all(&dib_dir).map_err(io("remove", &dib_dir))?;
    }
    let sums = tmp.path().join(CHECKSUM_FILE);
    write(&sums, manifest::checksums_file(&file, &sha256).as_bytes())?;
    let signed = match &opts.signing_key {
        Some(key) => {
            sign(key, &sums, &tmp.path().join(SIGNATURE_FILE))?;
            true
        }
        None => false,
    };
    let m = Manifest {
        image: image.id.clone(),
        version: version.clone(),
        build_time: now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        architecture: image.architecture.as_str().to_owned(),
        engine: Engine {
            name: "diskimage-builder".into(),
            version: engine_version,
        },
        elements: recipe.elements.clone(),
        release: recipe.release.clone(),
        mirror: manifest::without_credentials(&mirrors.distribution),
        security_mirror: mirrors
            .security
            .as_deref()
            .map(manifest::without_credentials),
        environment: recipe.environment.clone(),
        recipe_digest: inputs.recipe_digest.clone(),
        archive: inputs.archive.clone(),
        file,
        sha256: sha256.clone(),
        size,
        packages,
    };
    let json = serde_json::to_vec_pretty(&m).expect("a manifest serializes");
    write(&tmp.path().join(MANIFEST_FILE), &json)?;

    let parent = opts.output.join(&image.id);
    fs::create_dir_all(&parent).map_err(io("create", &parent))?;
    let kept = tmp.keep();
    if let Err(e) = fs::rename(&kept, &final_dir) {
        let _ = fs::remove_dir_all(&kept);
        return Err(io("move the build to", &final_dir)(e));
    }
    Ok(Built {
        image: image.id.clone(),
        version,
        dir: final_dir,
        log,
        sha256,
        size,
        signed,
        seconds: started.elapsed().as_secs(),
    })
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    fs::write(path, bytes).map_err(io("write", path))
}

/// `disk-image-create --version`; an engine that cannot even say its version is not run.
fn engine_version(program: &Path) -> Result<String, BuildError> {
    let out = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|source| BuildError::Spawn {
            program: program.to_owned(),
            source,
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let text = if text.trim().is_empty() {
        String::from_utf8_lossy(&out.stderr).into_owned()
    } else {
        text.into_owned()
    };
    Ok(manifest::engine_version(&text))
}

/// Runs the engine with stdout and stderr into `log` (and each line to `on_line`).
fn run_logged(
    inv: &Invocation,
    log: &Path,
    on_line: &(dyn Fn(&str) + Sync),
) -> Result<(), BuildError> {
    let file = fs::File::create(log).map_err(io("create", log))?;
    let file = Mutex::new(file);
    let mut child = Command::new(&inv.program)
        .args(&inv.args)
        .envs(&inv.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| BuildError::Spawn {
            program: inv.program.clone(),
            source,
        })?;
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let pump = |r: &mut dyn std::io::Read| {
        for line in BufReader::new(r).split(b'\n') {
            let Ok(line) = line else { break };
            let text = crate::secrets::scrub(&String::from_utf8_lossy(&line));
            if let Ok(mut f) = file.lock() {
                let _ = writeln!(f, "{text}");
            }
            on_line(&text);
        }
    };
    std::thread::scope(|s| {
        let mut e = stderr;
        s.spawn(move || pump(&mut e));
        let mut o = stdout;
        pump(&mut o);
    });
    let status = child.wait().map_err(|source| BuildError::Spawn {
        program: inv.program.clone(),
        source,
    })?;
    if status.success() {
        return Ok(());
    }
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(TAIL)..].join("\n");
    Err(BuildError::Engine {
        program: inv.program.clone(),
        status: status.to_string(),
        log: log.to_owned(),
        tail,
    })
}

fn sha256_file(path: &Path) -> Result<(String, u64), BuildError> {
    let mut f = fs::File::open(path).map_err(io("read", path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io("read", path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex::encode(h.finalize()), size))
}

/// A detached armoured signature of `data` by `key`, made by `gpg` in a throw-away home (the
/// key never enters a user's keyring).
fn sign(key: &Path, data: &Path, out: &Path) -> Result<(), BuildError> {
    let home = tempfile::tempdir().map_err(|e| BuildError::Sign(e.to_string()))?;
    let gpg = |args: &[&std::ffi::OsStr]| -> Result<(), BuildError> {
        let o = Command::new("gpg")
            .arg("--batch")
            .arg("--homedir")
            .arg(home.path())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| BuildError::Sign(format!("cannot run gpg: {e}")))?;
        if o.status.success() {
            Ok(())
        } else {
            Err(BuildError::Sign(
                String::from_utf8_lossy(&o.stderr).trim().to_owned(),
            ))
        }
    };
    gpg(&["--import".as_ref(), key.as_os_str()])?;
    gpg(&[
        "--armor".as_ref(),
        "--detach-sign".as_ref(),
        "--output".as_ref(),
        out.as_os_str(),
        data.as_os_str(),
    ])
}
