//! The tool's OpenPGP verdicts against `gpgv`'s, on fixtures made here with the real `gpg`
//! (a temporary GNUPGHOME; `--faked-system-time` for keys and signatures of other times).
//! Needs `gpg` and `gpgv` on PATH: tests/run.sh installs them; a missing tool FAILS here.
//!
//! Each case: what `gpgv --status-fd 1 --keyring <k>` answers for every signature, what the
//! tool answers for the same signatures (`Verdict::gpgv_status`), and whether the tool
//! accepts the file. The one intended difference is a signature dated in the future: gpgv
//! accepts it, the tool refuses it (its date would become a build date).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use image_crawler::catalog::SignatureMode;
use image_crawler::upstream::distro::sigdate;
use image_crawler::upstream::signature::{self, Keyring, SignatureError, Verdict};

const DATA: &[u8] = b"0123456789abcdef  disk.qcow2\n";

struct Gpg {
    _dir: tempfile::TempDir,
    home: PathBuf,
}

impl Gpg {
    fn new() -> Gpg {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("gnupg");
        std::fs::create_dir(&home).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        std::fs::write(dir.path().join("data"), DATA).unwrap();
        Gpg { _dir: dir, home }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.home.parent().unwrap().join(name)
    }

    /// Runs gpg; `time` is a `--faked-system-time` (e.g. `20200101T000000`).
    fn run(&self, time: Option<&str>, args: &[&str]) -> Vec<u8> {
        let mut cmd = Command::new("gpg");
        cmd.env("GNUPGHOME", &self.home).args([
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
        ]);
        if let Some(t) = time {
            cmd.args(["--faked-system-time", t, "--ignore-time-conflict"]);
        }
        let out = cmd
            .args(args)
            .current_dir(self.home.parent().unwrap())
            .output()
            .expect("gpg must be installed (tests/run.sh installs gnupg)");
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// A key `uid` with the given usage, created at `time`; returns its fingerprint.
    fn key(&self, time: Option<&str>, uid: &str, usage: &str, expire: &str) -> String {
        self.run(time, &["--quick-gen-key", uid, "ed25519", usage, expire]);
        self.fingerprints(uid)[0].clone()
    }

    fn fingerprints(&self, uid: &str) -> Vec<String> {
        let out = self.run(None, &["--with-colons", "--list-keys", uid]);
        String::from_utf8(out)
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("fpr:"))
            .map(|l| l.split(':').nth(9).unwrap().to_owned())
            .collect()
    }

    /// Signs `data` detached with `signer` (a key id, `FPR!` for a given subkey) at `time`.
    fn sign(&self, time: Option<&str>, signer: &str, extra: &[&str], out: &str) -> Vec<u8> {
        let mut args = vec!["-u", signer, "--detach-sign", "-o", out];
        args.extend_from_slice(extra);
        args.push("data");
        self.run(time, &args);
        std::fs::read(self.path(out)).unwrap()
    }

    fn export(&self, uid: &str) -> Vec<u8> {
        self.run(None, &["--export", uid])
    }

    fn revoke(&self, fpr: &str) {
        // gpg writes a revocation certificate for every new key; importing it revokes.
        let cert = self
            .home
            .join("openpgp-revocs.d")
            .join(format!("{fpr}.rev"));
        let text = std::fs::read_to_string(cert)
            .unwrap()
            .replace(":-----", "-----");
        std::fs::write(self.path("revoke.asc"), text).unwrap();
        self.run(None, &["--import", "revoke.asc"]);
    }
}

/// gpgv's answer per signature (`GOODSIG`, `ERRSIG 9`, ...), in order.
fn gpgv(gpg: &Gpg, keyring: &[u8], sig: &[u8], data: &[u8]) -> Vec<String> {
    let ring = gpg.path("gpgv-ring.gpg");
    let sig_path = gpg.path("gpgv.sig");
    let data_path = gpg.path("gpgv.data");
    std::fs::write(&ring, keyring).unwrap();
    std::fs::write(&sig_path, sig).unwrap();
    std::fs::write(&data_path, data).unwrap();
    let out = Command::new("gpgv")
        .args(["--status-fd", "1", "--keyring"])
        .arg(&ring)
        .arg(&sig_path)
        .arg(&data_path)
        .output()
        .expect("gpgv must be installed (tests/run.sh installs gpgv)");
    let mut verdicts: Vec<String> = Vec::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.get(1).copied() {
            Some("NEWSIG") => verdicts.push(String::new()),
            Some(w @ ("GOODSIG" | "BADSIG" | "EXPSIG" | "EXPKEYSIG" | "REVKEYSIG")) => {
                *verdicts.last_mut().unwrap() = w.to_owned();
            }
            Some("ERRSIG") => *verdicts.last_mut().unwrap() = format!("ERRSIG {}", words[7]),
            _ => {}
        }
    }
    verdicts
}

struct Case {
    name: &'static str,
    keyring: Vec<u8>,
    sig: Vec<u8>,
    data: Vec<u8>,
}

struct Fixtures {
    gpg: Gpg,
    cases: Vec<Case>,
    good_fpr: String,
}

fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(build)
}

fn build() -> Fixtures {
    let gpg = Gpg::new();
    let mut cases = Vec::new();
    let mut case = |name, keyring: &[u8], sig: Vec<u8>, data: &[u8]| {
        cases.push(Case {
            name,
            keyring: keyring.to_vec(),
            sig,
            data: data.to_vec(),
        })
    };

    let good_fpr = gpg.key(None, "Good <good@test>", "sign", "never");
    let good = gpg.export("good@test");
    let good_sig = gpg.sign(None, &good_fpr, &[], "good.sig");
    case("good key (control)", &good, good_sig.clone(), DATA);
    let tampered = b"1123456789abcdef  disk.qcow2\n";
    case("tampered data", &good, good_sig, tampered);

    let other_fpr = gpg.key(None, "Other <other@test>", "sign", "never");
    let untrusted = gpg.sign(None, &other_fpr, &[], "other.sig");
    case("untrusted key", &good, untrusted, DATA);

    let rev_fpr = gpg.key(None, "Revoked <rev@test>", "sign", "never");
    let rev_sig = gpg.sign(None, &rev_fpr, &[], "rev.sig");
    // Fedora's CHECKSUM shape too: clear-signed by the key about to be revoked, and by a good one.
    gpg.run(
        None,
        &["-u", &rev_fpr, "--clearsign", "-o", "rev-clear.asc", "data"],
    );
    gpg.run(
        None,
        &[
            "-u",
            &good_fpr,
            "--clearsign",
            "-o",
            "good-clear.asc",
            "data",
        ],
    );
    gpg.revoke(&rev_fpr);
    case("revoked key", &gpg.export("rev@test"), rev_sig, DATA);

    let exp_fpr = gpg.key(
        Some("20200101T000000"),
        "Expired <exp@test>",
        "sign",
        "2021-01-01",
    );
    let exp_sig = gpg.sign(Some("20200601T000000"), &exp_fpr, &[], "exp.sig");
    case("expired key", &gpg.export("exp@test"), exp_sig, DATA);

    let sub_fpr = gpg.key(
        Some("20190101T000000"),
        "Expired sub <sub@test>",
        "cert",
        "never",
    );
    gpg.run(
        Some("20200101T000000"),
        &["--quick-add-key", &sub_fpr, "ed25519", "sign", "2021-01-01"],
    );
    let sub_sig = gpg.sign(Some("20200601T000000"), &sub_fpr, &[], "sub.sig");
    case("expired subkey", &gpg.export("sub@test"), sub_sig, DATA);

    // A signing subkey whose usage is then changed to authentication only.
    let ns_fpr = gpg.key(None, "No sign <nosign@test>", "cert", "never");
    gpg.run(
        None,
        &["--quick-add-key", &ns_fpr, "ed25519", "sign", "never"],
    );
    let ns_sig = gpg.sign(None, &ns_fpr, &[], "nosign.sig");
    let edit = Command::new("gpg")
        .env("GNUPGHOME", &gpg.home)
        .args([
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--command-fd",
            "0",
            "--edit-key",
            &ns_fpr,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut edit = edit;
        edit.stdin
            .take()
            .unwrap()
            .write_all(b"key 1\nchange-usage\nS\nA\nQ\nsave\n")
            .unwrap();
        assert!(
            edit.wait().unwrap().success(),
            "gpg --edit-key change-usage"
        );
    }
    case(
        "subkey without signing flag",
        &gpg.export("nosign@test"),
        ns_sig,
        DATA,
    );

    let future = gpg.sign(Some("20990101T000000"), &good_fpr, &[], "future.sig");
    case("signature in the future", &good, future.clone(), DATA);

    let before = gpg.sign(Some("20200101T000000"), &good_fpr, &[], "before.sig");
    case("signature older than its key", &good, before, DATA);

    let sigexp_fpr = gpg.key(
        Some("20190101T000000"),
        "Sig expiry <sigexp@test>",
        "sign",
        "never",
    );
    let sigexp = gpg.sign(
        Some("20200101T000000"),
        &sigexp_fpr,
        &["--default-sig-expire", "1d"],
        "sigexp.sig",
    );
    case(
        "expired signature",
        &gpg.export("sigexp@test"),
        sigexp,
        DATA,
    );

    // An untrusted signature dated 2099 ahead of the trusted one, in one file.
    let mut two = gpg.sign(Some("20990101T000000"), &other_fpr, &[], "other2099.sig");
    two.extend(gpg.sign(None, &good_fpr, &[], "good2.sig"));
    case("two signatures: untrusted 2099 + trusted", &good, two, DATA);

    Fixtures {
        gpg,
        cases,
        good_fpr,
    }
}

fn ring(bytes: &[u8]) -> Keyring {
    let mut r = Keyring::default();
    r.add(bytes, Path::new("fixture.gpg")).unwrap();
    r
}

/// gpgv's answer per signature, the tool's, and whether the tool accepts the file.
fn answers(f: &Fixtures, case: &Case) -> (Vec<String>, Vec<String>, Result<(), SignatureError>) {
    let now = jiff::Timestamp::now();
    let r = ring(&case.keyring);
    let expected = gpgv(&f.gpg, &case.keyring, &case.sig, &case.data);
    let tool = r
        .check_detached(&case.data, &case.sig, case.name, now)
        .unwrap()
        .iter()
        .map(|rep| rep.verdict.gpgv_status().to_owned())
        .collect();
    let accepted = r
        .verify_detached(&case.data, &case.sig, case.name, now)
        .map(|_| ());
    (expected, tool, accepted)
}

#[test]
fn every_fixture_gets_gpgvs_verdict() {
    let f = fixtures();
    let mut table = String::from(
        "| fixture | gpgv | tool (per signature) | tool verdict |\n|---|---|---|---|\n",
    );
    let mut wrong = Vec::new();
    for case in &f.cases {
        let (gpgv, tool, accepted) = answers(f, case);
        let verdict = match &accepted {
            Ok(()) => "accepted".to_owned(),
            Err(e) => format!("refused: {e}"),
        };
        table.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            case.name,
            gpgv.join(" + "),
            tool.join(" + "),
            verdict
        ));
        if gpgv != tool {
            wrong.push(format!("{}: gpgv {gpgv:?}, tool {tool:?}", case.name));
        }
        // Accepted exactly when gpgv finds a good signature and no bad one (apt's rule);
        // except the future-dated signature, which the tool refuses on purpose.
        let gpgv_accepts =
            gpgv.iter().any(|s| s == "GOODSIG") && !gpgv.iter().any(|s| s == "BADSIG");
        let expected_accept = gpgv_accepts && case.name != "signature in the future";
        if accepted.is_ok() != expected_accept {
            wrong.push(format!("{}: tool {verdict}, gpgv {gpgv:?}", case.name));
        }
    }
    std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("gpg_parity_table.md"),
        &table,
    )
    .unwrap();
    assert!(wrong.is_empty(), "{}\n{table}", wrong.join("\n"));
    assert_eq!(f.cases.len(), 11, "{table}");
}

fn case(name: &str) -> &'static Case {
    fixtures().cases.iter().find(|c| c.name == name).unwrap()
}

fn refusal(name: &str) -> SignatureError {
    let c = case(name);
    ring(&c.keyring)
        .verify_detached(
            &c.data,
            &c.sig,
            "https://mirror.test/CHECKSUM.asc",
            jiff::Timestamp::now(),
        )
        .unwrap_err()
}

#[test]
fn refusals_name_the_key_the_reason_and_a_hint() {
    let e = refusal("revoked key");
    assert!(matches!(e, SignatureError::Revoked { .. }), "{e:?}");
    assert!(e.to_string().contains("REVOKED key"), "{e}");
    let e = refusal("expired key");
    assert!(
        e.to_string().contains("EXPIRED at 2021-01-01"),
        "names the expiry: {e}"
    );
    assert!(e.hint().contains("EXPKEYSIG"), "{}", e.hint());
    let e = refusal("expired subkey");
    assert!(e.to_string().contains("signing subkey"), "{e}");
    assert!(e.to_string().contains("EXPIRED at 2021-01-01"), "{e}");
    let e = refusal("subkey without signing flag");
    assert!(e.to_string().contains("no signing flag"), "{e}");
    let e = refusal("untrusted key");
    assert!(matches!(e, SignatureError::Untrusted { .. }), "{e:?}");
    assert!(
        e.to_string().contains(&fixtures().good_fpr),
        "names the trusted key: {e}"
    );
    let e = refusal("signature in the future");
    assert!(e.to_string().contains("in the future"), "{e}");
    assert!(e.to_string().contains("2099-01-01"), "{e}");
    let e = refusal("tampered data");
    assert!(matches!(e, SignatureError::Bad { .. }), "{e:?}");
}

#[test]
fn the_injected_now_decides_expiry() {
    // Before the key expired (2021-01-01) its signature was good; after, it is not.
    let c = case("expired key");
    let r = ring(&c.keyring);
    let then: jiff::Timestamp = "2020-07-01T00:00:00Z".parse().unwrap();
    assert!(r.verify_detached(&c.data, &c.sig, "u", then).is_ok());
    let e = r
        .verify_detached(&c.data, &c.sig, "u", jiff::Timestamp::now())
        .unwrap_err();
    assert!(matches!(e, SignatureError::ExpiredKey { .. }), "{e:?}");
    // The future-dated signature is good once "now" has caught up with it.
    let c = case("signature in the future");
    let later: jiff::Timestamp = "2099-01-02T00:00:00Z".parse().unwrap();
    assert!(
        ring(&c.keyring)
            .verify_detached(&c.data, &c.sig, "u", later)
            .is_ok()
    );
}

#[test]
fn the_build_date_comes_from_the_verified_signature_not_the_first_packet() {
    let c = case("two signatures: untrusted 2099 + trusted");
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("good.gpg");
    std::fs::write(&key, &c.keyring).unwrap();
    let now = jiff::Timestamp::now();
    let checked = signature::verify_policy(
        SignatureMode::Required,
        &[key],
        &c.data,
        Some(&c.sig),
        "https://mirror.test/x.sha256.asc",
        now,
    )
    .unwrap();
    let today = jiff::tz::TimeZone::UTC.to_datetime(now).date().to_string();
    assert_eq!(
        sigdate::detached(&checked, &c.sig).as_deref(),
        Some(today.as_str())
    );
    // The first packet is the 2099 one: unverified, the dates disagree and give no date.
    let off =
        signature::verify_policy(SignatureMode::Off, &[], &c.data, Some(&c.sig), "u", now).unwrap();
    assert_eq!(sigdate::detached(&off, &c.sig), None);
}

#[test]
fn the_verdicts_hold_for_clear_signed_files_too() {
    // Fedora's CHECKSUM shape: one clear-signed message, signed by the revoked key.
    let f = fixtures();
    let text = std::fs::read_to_string(f.gpg.path("rev-clear.asc")).unwrap();
    let c = case("revoked key");
    let e = ring(&c.keyring)
        .verify_cleartext(&text, "CHECKSUM", jiff::Timestamp::now())
        .unwrap_err();
    assert!(matches!(e, SignatureError::Revoked { .. }), "{e:?}");
    let good = ring(&case("good key (control)").keyring);
    let text = std::fs::read_to_string(f.gpg.path("good-clear.asc")).unwrap();
    let (v, signed) = good
        .verify_cleartext(&text, "CHECKSUM", jiff::Timestamp::now())
        .unwrap();
    assert_eq!(v.fingerprint, f.good_fpr);
    assert_eq!(signed.as_bytes(), DATA);
    assert!(matches!(Verdict::Future.gpgv_status(), "GOODSIG"));
}
