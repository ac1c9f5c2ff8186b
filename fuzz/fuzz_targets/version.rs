//! Version ordering and build dates: the ordering must be a total order.
#![no_main]
use std::cmp::Ordering;

use image_crawler::upstream::version;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let (a, b, c) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    assert_eq!(version::compare(a, a), Ordering::Equal);
    assert_eq!(version::compare(a, b), version::compare(b, a).reverse());
    if version::compare(a, b) == Ordering::Equal {
        assert_eq!(a, b, "equal order but different strings");
    }
    if version::compare(a, b) != Ordering::Greater && version::compare(b, c) != Ordering::Greater {
        assert_ne!(version::compare(a, c), Ordering::Greater, "not transitive");
    }
    let _ = version::build_date(a);
    let _ = version::is_alias(a);
    let _ = version::valid_date(a);
});
