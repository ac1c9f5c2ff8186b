//! TLS certificate errors are not transient: a cloud (or an upstream) whose certificate does
//! not verify is asked ONCE, and the failure is one `error:` with a hint about `cacert` /
//! `REQUESTS_CA_BUNDLE`, with and without `-q`. The server is a real TLS server on 127.0.0.1
//! (Python's `ssl`), its certificates made at test time by the `openssl` CLI: one test CA, and
//! per case a server certificate that fails verification in one way.

#![allow(clippy::print_stderr)] // the tool's output is shown when a test fails

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the openssl CLI runs");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A test CA (`ca.pem`) and the means to sign server certificates with chosen names and dates.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=image-crawler test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        std::fs::write(d.join("index.txt"), "").unwrap();
        std::fs::write(d.join("serial"), "1000\n").unwrap();
        std::fs::write(
            d.join("ca.cnf"),
            "[ca]\ndefault_ca = test\n[test]\ndir = .\ndatabase = index.txt\nnew_certs_dir = .\n\
             serial = serial\ndefault_md = sha256\npolicy = any\nunique_subject = no\n\
             [any]\ncommonName = supplied\n",
        )
        .unwrap();
        Pki { dir }
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A server certificate `<name>.pem` (key `<name>.key`) for `san`, valid between the two
    /// dates (`YYYYMMDDHHMMSSZ`), signed by the test CA.
    fn server_cert(&self, name: &str, san: &str, from: &str, until: &str) -> (PathBuf, PathBuf) {
        let d = self.dir.path();
        let (key, csr, pem, ext) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.ext"),
        );
        openssl(
            d,
            &[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                &format!("/CN={name}"),
            ],
        );
        std::fs::write(
            d.join(&ext),
            format!(
                "[server]\nsubjectAltName = {san}\nbasicConstraints = CA:FALSE\n\
                 keyUsage = digitalSignature\nextendedKeyUsage = serverAuth\n"
            ),
        )
        .unwrap();
        openssl(
            d,
            &[
                "ca",
                "-batch",
                "-config",
                "ca.cnf",
                "-cert",
                "ca.pem",
                "-keyfile",
                "ca.key",
                "-in",
                &csr,
                "-out",
                &pem,
                "-startdate",
                from,
                "-enddate",
                until,
                "-extfile",
                &ext,
                "-extensions",
                "server",
                "-notext",
            ],
        );
        (d.join(pem), d.join(key))
    }
}

/// A TLS server on 127.0.0.1 that counts the connections it accepts. Were a client to trust
/// it, it would answer every request with 503 (which a client retries): so one connection
/// proves the client gave up after the handshake, not after retries.
struct TlsServer {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

const SERVER: &str = r#"
import socket, ssl, sys
cert, key, log = sys.argv[1:4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(16)
print(srv.getsockname()[1], flush=True)
while True:
    conn, _ = srv.accept()
    with open(log, "a") as f:
        f.write("connection\n")
    conn.settimeout(5)
    try:
        tls = ctx.wrap_socket(conn, server_side=True)
        tls.recv(65536)
        tls.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        tls.close()
    except Exception:
        conn.close()
"#;

impl TlsServer {
    fn start(cert: &Path, key: &Path) -> TlsServer {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("connections");
        std::fs::write(&log, "").unwrap();
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(SERVER)
            .arg(cert)
            .arg(key)
            .arg(&log)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the server prints its port");
        TlsServer {
            child,
            port,
            log,
            _dir: dir,
        }
    }

    fn connections(&self) -> usize {
        std::fs::read_to_string(&self.log).unwrap().lines().count()
    }

    fn reset(&self) {
        std::fs::write(&self.log, "").unwrap();
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `status` against a cloud whose Keystone is `server`; `cacert` trusted when given.
fn status(server: &TlsServer, cacert: Option<&Path>, quiet: bool) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let clouds = dir.path().join("clouds.yaml");
    let cacert = cacert.map_or(String::new(), |c| format!("    cacert: {}\n", c.display()));
    std::fs::write(
        &clouds,
        format!(
            "clouds:\n  tls:\n    auth:\n      auth_url: https://127.0.0.1:{}/v3\n      \
             username: admin\n      password: tls-test-secret\n      project_name: admin\n      \
             user_domain_name: Default\n      project_domain_name: Default\n{cacert}",
            server.port
        ),
    )
    .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_image-crawler"));
    cmd.current_dir(dir.path())
        .env("OS_CLIENT_CONFIG_FILE", &clouds)
        .env("NO_COLOR", "1")
        .env_remove("OS_CLOUD")
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE");
    if quiet {
        cmd.arg("-q");
    }
    let out = cmd.args(["status", "--cloud", "tls"]).output().unwrap();
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    out
}

/// One attempt, one `error:` line that says what is wrong with the certificate, a hint, exit 1
/// (not 75: retrying later does not help), and nothing else on stderr.
fn assert_one_error(server: &TlsServer, out: &Output, what: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(server.connections(), 1, "one attempt only:\n{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains("certificate"), "{err}");
    assert!(err.contains(what), "{what}: {err}");
    assert!(
        err.lines()
            .map(str::trim_start)
            .any(|l| l.starts_with("hint:")
                && l.contains("cacert")
                && l.contains("REQUESTS_CA_BUNDLE")),
        "{err}"
    );
    assert!(!err.contains("tls-test-secret"), "{err}");
    assert!(
        err.lines()
            .map(str::trim_start)
            .all(|l| l.starts_with("error:")
                || l.starts_with("caused by:")
                || l.starts_with("hint:")
                || l.is_empty()),
        "nothing but the error: {err}"
    );
    assert_eq!(out.status.code(), Some(1), "{err}");
}

const LONG_AGO: (&str, &str) = ("20200101000000Z", "20200201000000Z");
const VALID: (&str, &str) = ("20250101000000Z", "20991231000000Z");

#[test]
fn an_untrusted_certificate_is_one_attempt_and_one_error() {
    let pki = Pki::new();
    let (cert, key) = pki.server_cert("unknown-issuer", "IP:127.0.0.1", VALID.0, VALID.1);
    let server = TlsServer::start(&cert, &key);
    for quiet in [false, true] {
        server.reset();
        let out = status(&server, None, quiet);
        assert_one_error(&server, &out, "not trusted");
    }
}

#[test]
fn a_certificate_for_another_name_is_one_attempt_and_one_error() {
    let pki = Pki::new();
    let (cert, key) = pki.server_cert("other-name", "DNS:elsewhere.example", VALID.0, VALID.1);
    let server = TlsServer::start(&cert, &key);
    for quiet in [false, true] {
        server.reset();
        let out = status(&server, Some(&pki.ca()), quiet);
        assert_one_error(&server, &out, "not valid for");
    }
}

#[test]
fn an_expired_certificate_is_one_attempt_and_one_error() {
    let pki = Pki::new();
    let (cert, key) = pki.server_cert("expired", "IP:127.0.0.1", LONG_AGO.0, LONG_AGO.1);
    let server = TlsServer::start(&cert, &key);
    for quiet in [false, true] {
        server.reset();
        let out = status(&server, Some(&pki.ca()), quiet);
        assert_one_error(&server, &out, "expired");
    }
}

/// The same CA trusted and the right name and dates: the handshake succeeds, so the tests above
/// fail for the reason they name (and the 503 is retried, as a transient failure should be).
#[test]
fn a_valid_certificate_is_trusted_and_its_503_retried() {
    let pki = Pki::new();
    let (cert, key) = pki.server_cert("valid", "IP:127.0.0.1", VALID.0, VALID.1);
    let server = TlsServer::start(&cert, &key);
    let out = status(&server, Some(&pki.ca()), true);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("503"), "{err}");
    assert!(server.connections() > 1, "a 503 is retried: {err}");
    assert_eq!(out.status.code(), Some(75), "{err}");
}

/// An upstream (here a `--mirror`) whose certificate does not verify: `check` asks it once
/// per URL, not four times, and fails the image with the certificate error, not as "offline".
#[test]
fn check_asks_an_untrusted_upstream_once() {
    let pki = Pki::new();
    let (cert, key) = pki.server_cert("upstream", "IP:127.0.0.1", VALID.0, VALID.1);
    let server = TlsServer::start(&cert, &key);
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upstream");
    for quiet in [false, true] {
        server.reset();
        let state = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_image-crawler"));
        if quiet {
            cmd.arg("-q");
        }
        let out = cmd
            .env("NO_COLOR", "1")
            .env("IMAGE_CRAWLER_CACHE_DIR", cache.path())
            .arg("check")
            .arg("--catalog")
            .arg(fixtures.join("catalog"))
            .arg("--state")
            .arg(state.path())
            .arg("--mirror")
            .arg(format!(
                "https://images.example.org/=https://127.0.0.1:{}/",
                server.port
            ))
            .arg("other-1")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        eprintln!("{err}");
        assert_eq!(server.connections(), 1, "one attempt only:\n{err}");
        let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{err}");
        assert!(errors[0].contains("not trusted"), "{err}");
        assert!(!err.contains("no upstream host was reachable"), "{err}");
        assert!(err.contains("REQUESTS_CA_BUNDLE"), "{err}");
        assert!(
            !err.contains("failed to verify"),
            "no rustls log line: {err}"
        );
        // Failed, not temporarily: 3 (docs/exit-codes.md), not 75.
        assert_eq!(out.status.code(), Some(3), "{err}");
    }
}
