//! The image `tests/dib_build.rs` built boots: `qemu-system-x86_64` with TCG (no KVM), the
//! image as a virtio disk (`-snapshot`: the image itself is not written), a NoCloud seed ISO
//! (volume `cidata`, made with xorriso in userspace; the guest reads it, the host needs no
//! iso9660) whose user-data sets a `final_message` with a fresh token, and the serial console
//! watched until cloud-init prints it: the kernel, the root file system, cloud-init and the
//! datasource all worked, with what the seed said.
//!
//! tests/run.sh runs this target once, after dib_build (which leaves its image in
//! `tests/.cache/dib-image/`, or `IMAGE_CRAWLER_TEST_DIB_IMAGE_DIR`), with qemu unpacked by
//! tests/dib/install.sh into `tests/.cache/qemu` (or `IMAGE_CRAWLER_TEST_QEMU_DIR`). It FAILS,
//! never skips, when either is missing.

#![allow(clippy::print_stderr)] // the console's end is printed when the boot fails

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// TCG is slow: about 2 minutes when the machine is idle, more when it is shared.
const BOOT_DEADLINE: Duration = Duration::from_secs(15 * 60);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn dir_from(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(default))
}

/// The built image, checked against the checksum dib_build wrote beside it.
fn built_image() -> PathBuf {
    let dir = dir_from("IMAGE_CRAWLER_TEST_DIB_IMAGE_DIR", "tests/.cache/dib-image");
    let image = dir.join("debian-12.qcow2");
    let sums = std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap_or_else(|e| {
        panic!(
            "{}: {e}\nthe boot test boots the image tests/dib_build.rs builds: run that first \
             (tests/run.sh runs both, in that order)",
            dir.join("SHA256SUMS").display()
        )
    });
    let want = sums.split_whitespace().next().unwrap();
    // coreutils: the unoptimized sha2 of a test build takes minutes for a few hundred MiB.
    let out = Command::new("sha256sum").arg(&image).output().unwrap();
    assert!(out.status.success(), "sha256sum {}", image.display());
    let got = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        got.split_whitespace().next(),
        Some(want),
        "{} changed",
        image.display()
    );
    image
}

/// A NoCloud seed: an ISO 9660 volume labelled `cidata` with meta-data and user-data.
fn seed(dir: &Path, token: &str) -> PathBuf {
    let files = dir.join("seed");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(
        files.join("meta-data"),
        format!("instance-id: iid-{token}\nlocal-hostname: dib-boot\n"),
    )
    .unwrap();
    std::fs::write(
        files.join("user-data"),
        format!(
            "#cloud-config\nfinal_message: \"image-crawler boot test {token}: cloud-init $VERSION \
             finished after $UPTIME seconds, datasource $DATASOURCE\"\n"
        ),
    )
    .unwrap();
    let iso = dir.join("seed.iso");
    let out = Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-V", "cidata", "-J", "-R", "-o"])
        .arg(&iso)
        .arg(&files)
        .output()
        .expect("xorriso (tests/dib/install.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    iso
}

/// qemu, killed on drop.
struct Vm(Child);

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn boot(image: &Path, seed: &Path, console: &Path, stderr: &Path) -> Vm {
    let q = dir_from("IMAGE_CRAWLER_TEST_QEMU_DIR", "tests/.cache/qemu");
    let exe = q.join("usr/bin/qemu-system-x86_64");
    assert!(
        exe.is_file(),
        "{} is missing: tests/dib/install.sh (run by tests/run.sh) unpacks qemu-system-x86 there",
        exe.display()
    );
    let libs = format!(
        "{}:{}",
        q.join("usr/lib/x86_64-linux-gnu").display(),
        q.join("lib/x86_64-linux-gnu").display()
    );
    let child = Command::new(exe)
        .env("LD_LIBRARY_PATH", libs)
        .env("QEMU_MODULE_DIR", q.join("usr/lib/x86_64-linux-gnu/qemu"))
        .arg("-L")
        .arg(q.join("usr/share/qemu"))
        .arg("-L")
        .arg(q.join("usr/share/seabios"))
        // One vCPU: TCG runs a vCPU per host thread, and the machine's two cores are shared.
        .args([
            "-machine",
            "pc,accel=tcg",
            "-m",
            "1024",
            "-smp",
            "1",
            "-snapshot",
        ])
        .arg("-drive")
        .arg(format!("file={},if=virtio,format=qcow2", image.display()))
        .arg("-drive")
        .arg(format!(
            "file={},if=virtio,format=raw,readonly=on",
            seed.display()
        ))
        // No default devices: no floppy for cloud-init to probe (slow under TCG), no NIC.
        .args(["-nodefaults", "-display", "none", "-vga", "none"])
        .args(["-monitor", "none", "-serial"])
        .arg(format!("file:{}", console.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(stderr).unwrap())
        .spawn()
        .unwrap();
    Vm(child)
}

#[test]
fn the_built_image_boots_to_cloud_init_final_under_tcg() {
    let image = built_image();
    let tmp = tempfile::tempdir().unwrap();
    let token = format!(
        "t{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let seed = seed(tmp.path(), &token);
    let console = tmp.path().join("console.log");
    let qemu_err = tmp.path().join("qemu.stderr");
    let started = Instant::now();
    let mut vm = boot(&image, &seed, &console, &qemu_err);
    let want = format!("image-crawler boot test {token}: cloud-init ");
    let line = loop {
        let text =
            String::from_utf8_lossy(&std::fs::read(&console).unwrap_or_default()).into_owned();
        if let Some(l) = text.lines().find(|l| l.contains(&want)) {
            break l.trim().to_owned();
        }
        let tail = || -> String {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(60)..].join("\n")
        };
        if let Some(status) = vm.0.try_wait().unwrap() {
            panic!(
                "qemu exited ({status}) before cloud-init's final message\n--- qemu stderr\n{}\n--- console (end)\n{}",
                std::fs::read_to_string(&qemu_err).unwrap_or_default(),
                tail()
            );
        }
        if started.elapsed() > BOOT_DEADLINE {
            panic!(
                "no cloud-init final message with {token} on the serial console after {:?}\n--- console (end)\n{}",
                BOOT_DEADLINE,
                tail()
            );
        }
        std::thread::sleep(Duration::from_secs(2));
    };
    let seconds = started.elapsed().as_secs();
    eprintln!("{line}\nboot to cloud-init final: {seconds} s (TCG)");
    // The seed's datasource delivered the user-data (the token is only there).
    assert!(line.contains("DataSourceNoCloud"), "{line}");
    // The root file system is the image's, grown to the disk by growroot's hook at first boot.
    let text = String::from_utf8_lossy(&std::fs::read(&console).unwrap()).into_owned();
    assert!(
        text.contains("Debian GNU/Linux 12"),
        "the console does not show Debian 12 booting"
    );
}
