//! An image's `disk_format` and virtual size from its first bytes (for a compressed artifact,
//! the first decompressed bytes), so Glance gets the format the bytes have, not a guess, and
//! `min_disk` holds the disk the image unpacks to (scs-0102).
//!
//! `apply` peeks the head of the very stream it uploads, before it creates the image record
//! (Glance needs `disk_format` at create time and, since 2024.2, refuses an upload whose bytes
//! are not that format). Recognised: qcow2 (magic and header `size`), vmdk sparse extents
//! (`KDMV`, capacity), dynamic vhd (the footer copy at offset 0, current size) and ISO 9660
//! (volume descriptor at 32 KiB); anything else is raw, whose virtual size is its byte length.
//! Formats that are recognised but not read (vhdx, vdi, qed, LUKS) are refused, as are images
//! that reference other files (a qcow2 backing or data file, a differencing vhd, a vmdk
//! whose extents live elsewhere): Glance would store a disk that is not self-contained.

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};

use crate::catalog::raw::DiskFormat;

/// How much of the image's head is inspected: the ISO volume descriptor starts at 32 KiB.
pub const PEEK: usize = 64 << 10;

const GIB: u64 = 1 << 30;
const ISO_DESCRIPTOR: usize = 0x8000;

/// What an image's head says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub format: DiskFormat,
    /// The virtual size (bytes) the header declares; `None` for raw, whose byte length it is.
    pub virtual_size: Option<u64>,
}

/// Why an image's head is refused: what it is, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub message: String,
    pub hint: String,
}

fn refuse(message: impl Into<String>, hint: impl Into<String>) -> Refusal {
    Refusal {
        message: message.into(),
        hint: hint.into(),
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn be64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}
fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn le64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

const CONVERT: &str = "convert it to a self-contained qcow2 or raw image (`qemu-img convert -O qcow2 …`) and publish that";

/// The format and virtual size of an image whose first bytes are `head` (at least [`PEEK`]
/// bytes, or the whole image when it is shorter).
pub fn inspect(head: &[u8]) -> Result<Header, Refusal> {
    let truncated = |what: &str| {
        refuse(
            format!("the image starts like {what} but its header is cut short"),
            "the upstream file is not a complete image; check the lockfile's URL",
        )
    };
    if head.starts_with(b"QFI\xfb") {
        return qcow2(head).ok_or_else(|| truncated("qcow2"))?;
    }
    if head.starts_with(b"KDMV") {
        return vmdk(head).ok_or_else(|| truncated("a vmdk"))?;
    }
    if head.starts_with(b"conectix") {
        return vhd(head).ok_or_else(|| truncated("a vhd"))?;
    }
    for (magic, at, what) in [
        (&b"vhdxfile"[..], 0, "vhdx"),
        (b"QED\0", 0, "qed"),
        (b"LUKS\xba\xbe", 0, "a LUKS-encrypted volume"),
        (&0xbeda_107f_u32.to_le_bytes()[..], 64, "vdi"),
        (
            b"# Disk DescriptorFile",
            0,
            "a vmdk descriptor (its data is in other files)",
        ),
    ] {
        if head.get(at..at + magic.len()) == Some(magic) {
            return Err(refuse(
                format!("the image is {what}, which this tool does not take"),
                CONVERT,
            ));
        }
    }
    if head.get(ISO_DESCRIPTOR + 1..ISO_DESCRIPTOR + 6) == Some(b"CD001") {
        let d = &head[ISO_DESCRIPTOR..];
        let blocks = le32(d, 80).ok_or_else(|| truncated("an ISO 9660 image"))?;
        let block = le16(d, 128).ok_or_else(|| truncated("an ISO 9660 image"))?;
        return Ok(Header {
            format: DiskFormat::Iso,
            virtual_size: Some(u64::from(blocks) * u64::from(block)),
        });
    }
    Ok(Header {
        format: DiskFormat::Raw,
        virtual_size: None,
    })
}

/// qcow2: `size` at 24; a backing file (offset at 8) or, in version 3, an external data file
/// (incompatible feature bit 2) makes the image depend on another file.
fn qcow2(h: &[u8]) -> Option<Result<Header, Refusal>> {
    let version = be32(h, 4)?;
    if !(2..=3).contains(&version) {
        return Some(Err(refuse(
            format!("the image is qcow2 of version {version}, which this tool does not know"),
            CONVERT,
        )));
    }
    if be64(h, 8)? != 0 {
        return Some(Err(refuse(
            "the image is a qcow2 with a backing file: it is not self-contained",
            CONVERT,
        )));
    }
    if version == 3 && be64(h, 72)? & 0b100 != 0 {
        return Some(Err(refuse(
            "the image is a qcow2 with an external data file: it is not self-contained",
            CONVERT,
        )));
    }
    Some(Ok(Header {
        format: DiskFormat::Qcow2,
        virtual_size: Some(be64(h, 24)?),
    }))
}

/// vmdk sparse extent: capacity (sectors) at 12, the embedded descriptor at sector
/// `descriptorOffset` (28); only the single-file kinds are self-contained.
fn vmdk(h: &[u8]) -> Option<Result<Header, Refusal>> {
    let capacity = le64(h, 12)?;
    let offset = usize::try_from(le64(h, 28)?).ok()?.checked_mul(512)?;
    let len = usize::try_from(le64(h, 36)?).ok()?.checked_mul(512)?;
    let descriptor = h
        .get(offset..offset.checked_add(len)?.min(h.len()))
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let create_type = descriptor
        .lines()
        .find_map(|l| l.trim().strip_prefix("createType="))
        .map(|v| v.trim().trim_matches('"').to_owned());
    match create_type.as_deref() {
        Some("monolithicSparse" | "streamOptimized") => Some(Ok(Header {
            format: DiskFormat::Vmdk,
            virtual_size: Some(capacity.checked_mul(512)?),
        })),
        other => Some(Err(refuse(
            format!(
                "the image is a vmdk of type {}: only monolithicSparse and streamOptimized vmdk files are self-contained",
                other.unwrap_or("(no embedded descriptor)")
            ),
            CONVERT,
        ))),
    }
}

/// vhd: a dynamic or differencing disk starts with a copy of its footer; current size at 48,
/// disk type at 60 (2 fixed, 3 dynamic, 4 differencing).
fn vhd(h: &[u8]) -> Option<Result<Header, Refusal>> {
    let size = be64(h, 48)?;
    match be32(h, 60)? {
        2 | 3 => Some(Ok(Header {
            format: DiskFormat::Vhd,
            virtual_size: Some(size),
        })),
        4 => Some(Err(refuse(
            "the image is a differencing vhd: it is not self-contained",
            CONVERT,
        ))),
        t => Some(Err(refuse(
            format!("the image is a vhd of unknown disk type {t}"),
            CONVERT,
        ))),
    }
}

/// The `disk_format` to create the image with: the header's, which a catalog value must
/// agree with.
pub fn decide(catalog: Option<DiskFormat>, found: &Header) -> Result<DiskFormat, Refusal> {
    match catalog {
        Some(c) if c != found.format => {
            let seen = match found.format {
                DiskFormat::Raw => {
                    "raw (no qcow2, vmdk, vhd or ISO signature in its first bytes)".to_owned()
                }
                f => f.as_str().to_owned(),
            };
            let mut hint = format!(
                "set `glance.disk_format: {}` on this image, or leave `disk_format` out to take it from the image's header; if the catalog is right, the lockfile's URL names the wrong file",
                found.format.as_str()
            );
            if c == DiskFormat::Vhd {
                hint.push_str(" (a fixed vhd has its footer only at the end: publish it as raw)");
            }
            Err(refuse(
                format!(
                    "the catalog says `disk_format: {}`, but the image's header is {seen}",
                    c.as_str()
                ),
                hint,
            ))
        }
        _ => Ok(found.format),
    }
}

/// `min_disk` (GiB): the catalog's, raised to the virtual size rounded up to whole GiB.
pub fn min_disk(catalog: u64, virtual_size: u64) -> u64 {
    catalog.max(virtual_size.div_ceil(GIB))
}

/// The head of `body` (up to `n` bytes, fewer when it ends first) and the whole body again,
/// head included, for the upload. An error while peeking is returned as such.
pub async fn peek<S, E>(
    body: S,
    n: usize,
) -> Result<
    (
        Vec<u8>,
        impl Stream<Item = Result<Bytes, E>> + Send + 'static,
    ),
    E,
>
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Send + 'static,
{
    // Fused: a body that ended while peeking is not polled again (an `unfold` would panic).
    let mut body = Box::pin(body.fuse());
    let mut chunks = Vec::new();
    let mut head = Vec::with_capacity(n);
    while head.len() < n {
        match body.next().await {
            Some(Ok(b)) => {
                head.extend_from_slice(&b[..b.len().min(n - head.len())]);
                chunks.push(Ok(b));
            }
            Some(Err(e)) => return Err(e),
            None => break,
        }
    }
    Ok((head, futures_util::stream::iter(chunks).chain(body)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A qcow2 header: version, virtual size, backing file offset, incompatible features.
    pub(crate) fn qcow2_head(version: u32, size: u64, backing: u64, features: u64) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..4].copy_from_slice(b"QFI\xfb");
        h[4..8].copy_from_slice(&version.to_be_bytes());
        h[8..16].copy_from_slice(&backing.to_be_bytes());
        h[20..24].copy_from_slice(&16u32.to_be_bytes());
        h[24..32].copy_from_slice(&size.to_be_bytes());
        h[72..80].copy_from_slice(&features.to_be_bytes());
        h
    }

    fn vmdk_head(create_type: &str, sectors: u64) -> Vec<u8> {
        let mut h = vec![0u8; 2048];
        h[..4].copy_from_slice(b"KDMV");
        h[12..20].copy_from_slice(&sectors.to_le_bytes());
        h[28..36].copy_from_slice(&1u64.to_le_bytes());
        h[36..44].copy_from_slice(&2u64.to_le_bytes());
        let d = format!("# Disk DescriptorFile\nversion=1\ncreateType=\"{create_type}\"\n");
        h[512..512 + d.len()].copy_from_slice(d.as_bytes());
        h
    }

    fn vhd_head(kind: u32, size: u64) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..8].copy_from_slice(b"conectix");
        h[48..56].copy_from_slice(&size.to_be_bytes());
        h[60..64].copy_from_slice(&kind.to_be_bytes());
        h
    }

    fn iso_head(blocks: u32) -> Vec<u8> {
        let mut h = vec![0u8; ISO_DESCRIPTOR + 2048];
        h[ISO_DESCRIPTOR] = 1;
        h[ISO_DESCRIPTOR + 1..ISO_DESCRIPTOR + 6].copy_from_slice(b"CD001");
        h[ISO_DESCRIPTOR + 80..ISO_DESCRIPTOR + 84].copy_from_slice(&blocks.to_le_bytes());
        h[ISO_DESCRIPTOR + 128..ISO_DESCRIPTOR + 130].copy_from_slice(&2048u16.to_le_bytes());
        h
    }

    fn ok(format: DiskFormat, size: u64) -> Result<Header, Refusal> {
        Ok(Header {
            format,
            virtual_size: Some(size),
        })
    }

    #[test]
    fn formats_and_virtual_sizes_from_the_header() {
        let g3 = 3 << 30;
        assert_eq!(inspect(&qcow2_head(3, g3, 0, 0)), ok(DiskFormat::Qcow2, g3));
        assert_eq!(inspect(&qcow2_head(2, 5, 0, 0)), ok(DiskFormat::Qcow2, 5));
        // Dirty and corrupt bits are the hypervisor's business, not a dependency.
        assert_eq!(
            inspect(&qcow2_head(3, 5, 0, 0b11)),
            ok(DiskFormat::Qcow2, 5)
        );
        for t in ["monolithicSparse", "streamOptimized"] {
            assert_eq!(inspect(&vmdk_head(t, 8)), ok(DiskFormat::Vmdk, 4096), "{t}");
        }
        assert_eq!(inspect(&vhd_head(3, g3)), ok(DiskFormat::Vhd, g3));
        assert_eq!(inspect(&iso_head(10)), ok(DiskFormat::Iso, 20480));
        let raw = Header {
            format: DiskFormat::Raw,
            virtual_size: None,
        };
        assert_eq!(inspect(b""), Ok(raw));
        assert_eq!(inspect(&[0u8; PEEK]), Ok(raw));
        assert_eq!(inspect(b"\x55\xaa an MBR, or anything else"), Ok(raw));
        // Short of the ISO descriptor: raw.
        assert_eq!(inspect(&iso_head(1)[..ISO_DESCRIPTOR]), Ok(raw));
    }

    #[test]
    fn images_that_are_not_self_contained_or_not_read_are_refused() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (qcow2_head(3, 5, 0x200, 0), "backing file"),
            (qcow2_head(3, 5, 0, 0b100), "external data file"),
            (qcow2_head(4, 5, 0, 0), "version 4"),
            (qcow2_head(3, 5, 0, 0)[..20].to_vec(), "cut short"),
            (vmdk_head("monolithicFlat", 8), "monolithicFlat"),
            (vmdk_head("twoGbMaxExtentSparse", 8), "twoGbMaxExtentSparse"),
            (vhd_head(4, 5), "differencing"),
            (b"vhdxfile and more".to_vec(), "vhdx"),
            (b"QED\0 and more".to_vec(), "qed"),
            (b"LUKS\xba\xbe\0\x02".to_vec(), "LUKS"),
            (
                b"# Disk DescriptorFile\ncreateType=\"vmfs\"".to_vec(),
                "descriptor",
            ),
            (
                [&[b'<'; 64][..], &0xbeda_107f_u32.to_le_bytes()].concat(),
                "vdi",
            ),
        ];
        for (head, says) in cases {
            let err = inspect(&head).expect_err(says);
            assert!(err.message.contains(says), "{says}: {err:?}");
            let fix = if says == "cut short" {
                "not a complete image"
            } else {
                "qemu-img convert"
            };
            assert!(err.hint.contains(fix), "{says}: {err:?}");
        }
    }

    #[test]
    fn a_catalog_value_must_agree_with_the_header() {
        let qcow2 = inspect(&qcow2_head(3, 5, 0, 0)).unwrap();
        let raw = inspect(b"plain").unwrap();
        assert_eq!(decide(None, &qcow2), Ok(DiskFormat::Qcow2));
        assert_eq!(decide(None, &raw), Ok(DiskFormat::Raw));
        assert_eq!(
            decide(Some(DiskFormat::Qcow2), &qcow2),
            Ok(DiskFormat::Qcow2)
        );
        let err = decide(Some(DiskFormat::Qcow2), &raw).unwrap_err();
        assert!(
            err.message.contains("`disk_format: qcow2`") && err.message.contains("header is raw"),
            "{err:?}"
        );
        assert!(err.hint.contains("glance.disk_format: raw"), "{err:?}");
        let err = decide(Some(DiskFormat::Raw), &qcow2).unwrap_err();
        assert!(err.message.contains("header is qcow2"), "{err:?}");
        let err = decide(Some(DiskFormat::Vhd), &raw).unwrap_err();
        assert!(err.hint.contains("fixed vhd"), "{err:?}");
    }

    #[test]
    fn min_disk_holds_the_virtual_size_rounded_up() {
        assert_eq!(min_disk(1, 0), 1);
        assert_eq!(min_disk(1, 1), 1);
        assert_eq!(min_disk(1, 1 << 30), 1);
        assert_eq!(min_disk(1, (1 << 30) + 1), 2);
        assert_eq!(min_disk(10, 3 << 30), 10);
        assert_eq!(min_disk(0, 3 << 30), 3);
    }

    #[tokio::test]
    async fn peek_gives_the_head_and_the_whole_body() {
        let chunks: Vec<Result<Bytes, String>> = (0..10u8)
            .map(|i| Ok(Bytes::from(vec![i; 10_000])))
            .collect();
        let (head, body) = peek(futures_util::stream::iter(chunks.clone()), 25_000)
            .await
            .unwrap();
        assert_eq!(head.len(), 25_000);
        assert_eq!(&head[19_999..20_001], &[1, 2]);
        let all: Vec<Result<Bytes, String>> = body.collect().await;
        assert_eq!(all, chunks);
        // Shorter than the peek: the whole body.
        let (head, body) = peek(futures_util::stream::iter(chunks[..1].to_vec()), PEEK)
            .await
            .unwrap();
        assert_eq!(head.len(), 10_000);
        assert_eq!(body.collect::<Vec<_>>().await.len(), 1);
        // A body that ended while peeking is never polled again.
        let once = futures_util::stream::unfold(false, |done| async move {
            (!done).then(|| (Ok::<_, String>(Bytes::from_static(b"tiny")), true))
        });
        let (head, body) = peek(once, PEEK).await.unwrap();
        assert_eq!(head, b"tiny");
        assert_eq!(body.collect::<Vec<_>>().await.len(), 1);
        // An error while peeking is the answer.
        let broken = vec![Ok(Bytes::from_static(b"abc")), Err("reset".to_owned())];
        let r = peek(futures_util::stream::iter(broken), PEEK).await;
        assert_eq!(r.err(), Some("reset".to_owned()));
    }
}
