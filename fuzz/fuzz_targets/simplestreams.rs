//! Simplestreams / JSON product manifests: parse, then walk every product's items.
#![no_main]
use image_crawler::upstream::distro::simplestreams::Products;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(products) = Products::parse(&text) {
        for key in products.products_where(|_| true) {
            let _ = products.items(&key);
        }
    }
});
