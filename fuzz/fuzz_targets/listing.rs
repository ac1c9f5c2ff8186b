//! Directory listings (Apache/nginx HTML, MirrorCache JSON) and percent-decoding.
#![no_main]
use image_crawler::upstream::listing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(entries) = listing::parse(&text) {
        for e in entries {
            assert!(!e.name.is_empty() || e.dir, "an empty file name was listed");
            let _ = e.path();
        }
    }
    let _ = listing::percent_decode(&text);
});
