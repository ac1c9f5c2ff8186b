//! Directory listings: Apache FancyIndex tables, Apache/nginx `<pre>` listings, and
//! MirrorCache `?jsontable` documents, reduced to the names they list.
//!
//! Rules (docs/upstream-formats.md §11): only the `href` counts (link text is display-only
//! and nginx truncates it); sort/query links, `../`, fragments and absolute or parent links
//! are dropped; names are URL-decoded; directories end with `/`. Order is the document's,
//! without duplicates; callers sort with their own key, never trusting listing order.

use std::collections::HashSet;

use serde::Deserialize;

/// One name in a listing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    /// Decoded name, without a trailing `/`.
    pub name: String,
    pub dir: bool,
    /// Size in bytes, where the listing gives it exactly (MirrorCache JSON).
    pub size: Option<u64>,
}

impl Entry {
    /// The name as it appears in a URL path (directories with a trailing `/`).
    pub fn path(&self) -> String {
        if self.dir {
            format!("{}/", self.name)
        } else {
            self.name.clone()
        }
    }
}

/// Parses a listing body: JSON (MirrorCache) when it starts with `{` or `[`, HTML otherwise.
pub fn parse(body: &str) -> Result<Vec<Entry>, String> {
    let trimmed = body.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        parse_jsontable(trimmed)
    } else {
        Ok(parse_html(body))
    }
}

/// The entries of an HTML listing.
pub fn parse_html(html: &str) -> Vec<Entry> {
    // A set, not a scan of `out` per link: a listing of 100,000 links stays linear.
    let mut seen: HashSet<(String, bool)> = HashSet::new();
    let mut out: Vec<Entry> = Vec::new();
    for href in hrefs(html) {
        if let Some(entry) = entry_for_href(&href)
            && seen.insert((entry.name.clone(), entry.dir))
        {
            out.push(entry);
        }
    }
    out
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonListing {
    Table { data: Vec<JsonItem> },
    List(Vec<JsonItem>),
}

#[derive(Deserialize)]
struct JsonItem {
    name: String,
    size: Option<u64>,
    #[serde(default)]
    dir: Option<bool>,
}

/// The entries of a MirrorCache `?jsontable` (`{"data":[{"name":…,"size":…}]}`) or `?json`
/// (a bare array) document.
pub fn parse_jsontable(json: &str) -> Result<Vec<Entry>, String> {
    let listing: JsonListing =
        serde_json::from_str(json).map_err(|e| format!("not a MirrorCache listing: {e}"))?;
    let items = match listing {
        JsonListing::Table { data } => data,
        JsonListing::List(items) => items,
    };
    let mut seen: HashSet<String> = HashSet::new();
    let mut out: Vec<Entry> = Vec::new();
    for item in items {
        let Some(mut entry) = entry_for_href(&item.name) else {
            continue;
        };
        entry.dir |= item.dir.unwrap_or(false);
        if !entry.dir {
            entry.size = item.size;
        }
        if seen.insert(entry.name.clone()) {
            out.push(entry);
        }
    }
    Ok(out)
}

/// Every `href` attribute value of `<a>` elements, entity-decoded, in document order.
fn hrefs(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(i) = lower[pos..].find("<a") {
        let start = pos + i;
        let Some(end) = lower[start..].find('>').map(|e| start + e) else {
            break;
        };
        pos = end;
        // `<abbr>` and friends are not links.
        if !lower[start + 2..].starts_with(|c: char| c.is_ascii_whitespace()) {
            continue;
        }
        if let Some(value) = attribute(&html[start..end], &lower[start..end], "href") {
            out.push(decode_entities(&value));
        }
    }
    out
}

fn attribute(tag: &str, lower: &str, name: &str) -> Option<String> {
    let mut from = 0;
    while let Some(i) = lower[from..].find(name) {
        let at = from + i;
        from = at + name.len();
        let before_ok = at > 0 && lower.as_bytes()[at - 1].is_ascii_whitespace();
        let rest = lower[from..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let value_start = tag.len() - rest.len() + 1;
        let value = tag[value_start..].trim_start();
        return Some(match value.chars().next()? {
            q @ ('"' | '\'') => value[1..].split(q).next()?.to_owned(),
            _ => value
                .split(|c: char| c.is_ascii_whitespace())
                .next()?
                .to_owned(),
        });
    }
    None
}

fn decode_entities(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Keeps relative links to names in this directory; drops everything else.
fn entry_for_href(href: &str) -> Option<Entry> {
    let href = href.trim();
    if href.is_empty()
        || href.contains(['?', '#'])
        || href.starts_with('/')
        || href.contains(':')
        || href.starts_with('.')
    {
        return None;
    }
    let (raw, dir) = match href.strip_suffix('/') {
        Some(d) => (d, true),
        None => (href, false),
    };
    let name = percent_decode(raw)?;
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return None;
    }
    Some(Entry {
        name,
        dir,
        size: None,
    })
}

/// Decodes `%XX` escapes; `None` for malformed escapes or non-UTF-8 results.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn names(entries: &[Entry]) -> Vec<String> {
        entries.iter().map(Entry::path).collect()
    }

    #[test]
    fn apache_fancy_table() {
        let html = r#"<html><body><h1>Index of /cdimage/cloud/trixie/daily</h1>
<table id="indexlist">
<tr class="indexhead"><th class="indexcolicon"><img src="/icons2/blank.png" alt="[ICO]"></th><th class="indexcolname"><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a></th></tr>
<tr class="indexbreakrow"><th colspan="5"><hr></th></tr>
<tr class="even"><td class="indexcolicon"><a href="/cdimage/cloud/trixie/"><img src="/icons2/go-previous.png" alt="[PARENTDIR]"></a></td><td class="indexcolname"><a href="/cdimage/cloud/trixie/">Parent Directory</a></td></tr>
<tr class="odd"><td class="indexcolicon"><a href="20260319-2421/"><img src="/icons2/folder.png" alt="[DIR]"></a></td><td class="indexcolname"><a href="20260319-2421/">20260319-2421/</a></td><td class="indexcollastmod">2026-03-19 23:51  </td><td class="indexcolsize">  - </td></tr>
<tr class="even"><td class="indexcolicon"><a href='20260320-2422/'><img></a></td><td class="indexcolname"><A HREF="20260320-2422/">20260320-2422/</A></td></tr>
</table></body></html>"#;
        assert_eq!(
            names(&parse(html).unwrap()),
            vec!["20260319-2421/", "20260320-2422/"]
        );
    }

    #[test]
    fn nginx_pre_listing_uses_href_not_truncated_text() {
        let html = "<html>\r\n<head><title>Index of /almalinux/9/cloud/x86_64/images/</title></head>\r\n<body>\r\n<h1>Index of /almalinux/9/cloud/x86_64/images/</h1><hr><pre><a href=\"../\">../</a>\r\n<a href=\"AlmaLinux-9-GenericCloud-ext4-9.8-20260526.x86_64.qcow2\">AlmaLinux-9-GenericCloud-ext4-9.8-20260526.x86_..&gt;</a> 26-May-2026 14:03           594542592\r\n<a href=\"CHECKSUM\">CHECKSUM</a>    26-May-2026 14:05    1234\r\n<a href=\"v3.23%2Bextra/\">v3.23+extra/</a>\r\n</pre><hr></body>\r\n</html>\r\n";
        assert_eq!(
            names(&parse(html).unwrap()),
            vec![
                "AlmaLinux-9-GenericCloud-ext4-9.8-20260526.x86_64.qcow2",
                "CHECKSUM",
                "v3.23+extra/"
            ]
        );
    }

    #[test]
    fn apache_pre_listing_inside_a_page_template_drops_foreign_links() {
        let html = r##"<div><a href="http://www.ubuntu.com/">Ubuntu</a> <a href="https://help.ubuntu.com/x">help</a>
<pre><img src="/icons/blank.gif" alt="Icon "> <a href="?C=N;O=D">Name</a>
<img src="/icons/back.gif" alt="[PARENTDIR]"> <a href="/">Parent Directory</a>
<img src="/icons/folder.gif" alt="[DIR]"> <a href="20260705/">20260705/</a>   2026-07-13 16:27    -
<img src="/icons/folder.gif" alt="[DIR]"> <a href="current/">current/</a>   2026-07-13 16:27    -
<abbr title="x">y</abbr> <a href="mailto:a@b">mail</a> <a href="#top">top</a> <a href="./">.</a> <a href="sub/dir/">deep</a>
</pre></div>"##;
        assert_eq!(names(&parse(html).unwrap()), vec!["20260705/", "current/"]);
    }

    #[test]
    fn mirrorcache_jsontable() {
        let json = r#"{"data":[{"mtime":1758027412,"name":"Leap-16.0-Minimal-VM.aarch64-Cloud-Build18.7.qcow2","size":271319040},{"name":"sub/","size":0},{"name":"a%20b.img","size":5}]}"#;
        let entries = parse(json).unwrap();
        assert_eq!(
            names(&entries),
            vec![
                "Leap-16.0-Minimal-VM.aarch64-Cloud-Build18.7.qcow2",
                "sub/",
                "a b.img"
            ]
        );
        assert_eq!(entries[0].size, Some(271319040));
        assert_eq!(entries[1].size, None);
        assert!(parse("{\"nope\": 1}").is_err());
    }

    #[test]
    fn parsing_is_linear_in_the_number_of_links() {
        // Complexity, not wall time: 10x the links may cost about 10x, never 100x. The
        // best of three runs of each size, interleaved, smooths out a busy machine.
        fn html(n: usize) -> String {
            (0..n)
                .map(|i| format!("<a href=\"img-{i}.qcow2\">img-{i}.qcow2</a>\n"))
                .collect()
        }
        fn json(n: usize) -> String {
            let items: Vec<String> = (0..n)
                .map(|i| format!("{{\"name\":\"img-{i}.qcow2\",\"size\":1}}"))
                .collect();
            format!("{{\"data\":[{}]}}", items.join(","))
        }
        let (small, large) = (5_000, 50_000);
        for (kind, make) in [("html", html as fn(usize) -> String), ("json", json)] {
            let (s, l) = (make(small), make(large));
            let mut best = [std::time::Duration::MAX; 2];
            for _ in 0..3 {
                for (i, body) in [&s, &l].into_iter().enumerate() {
                    let t = std::time::Instant::now();
                    let n = parse(body).unwrap().len();
                    best[i] = best[i].min(t.elapsed());
                    assert_eq!(n, if i == 0 { small } else { large });
                }
            }
            let ratio = best[1].as_secs_f64() / best[0].as_secs_f64().max(1e-6);
            // bench/listing.sh shows these figures (--nocapture, release mode).
            #[allow(clippy::print_stdout)]
            {
                println!(
                    "listing {kind}: {small} links {:?}, {large} links {:?}, ratio {ratio:.1} (linear: ~10)",
                    best[0], best[1]
                );
            }
            assert!(
                ratio < 35.0,
                "{kind}: 10x the links took {ratio:.1}x the time ({:?} vs {:?}): not linear",
                best[1],
                best[0]
            );
        }
    }

    #[test]
    fn malformed_percent_escapes_are_dropped() {
        assert_eq!(percent_decode("a%2"), None);
        assert_eq!(percent_decode("a%zz"), None);
        assert_eq!(percent_decode("a%41").as_deref(), Some("aA"));
        assert!(parse_html(r#"<a href="x%2">x</a>"#).is_empty());
    }
}
