//! Checksum files (GNU, BSD, clear-signed): parse, then every lookup the sources use.
#![no_main]
use image_crawler::upstream::checksums;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(file) = checksums::parse(&text) {
        for name in file.names() {
            let _ = file.get(name);
            let _ = file.digests(name);
            let _ = file.size(name);
            let _ = file.resolve_alias(name);
        }
        let _ = file.single();
    }
});
