//! Object-storage listings (pure): S3 `ListBucketResult` XML and Swift `?format=json`.
//!
//! Both are structured documents; nothing here scrapes HTML. Each page parses into the
//! objects it lists and where the next page starts, so the caller can follow continuation
//! tokens (S3 V2), markers (S3 V1, Swift) without knowing the format.

use serde::Deserialize;

use crate::catalog::raw::ObjectListing;

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// The key, relative to the container/bucket.
    pub key: String,
    pub size: Option<u64>,
    /// `YYYY-MM-DD` of the listed last modification, when the listing has a valid one.
    pub modified: Option<String>,
}

/// Where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    Done,
    /// S3 V2 `continuation-token`.
    Token(String),
    /// S3 V1 / Swift `marker` (list keys after this one).
    Marker(String),
}

/// One parsed page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub objects: Vec<Object>,
    pub next: Next,
}

/// The query string of a listing request (without `?`), for the page after `next`.
pub fn query(listing: ObjectListing, prefix: Option<&str>, next: &Next) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    match listing {
        ObjectListing::S3 => {
            q.append_pair("list-type", "2");
        }
        ObjectListing::S3V1 => {}
        ObjectListing::Swift => {
            q.append_pair("format", "json");
        }
    }
    if let Some(p) = prefix.filter(|p| !p.is_empty()) {
        q.append_pair("prefix", p);
    }
    match next {
        Next::Done => {}
        Next::Token(t) => {
            q.append_pair("continuation-token", t);
        }
        Next::Marker(m) => {
            q.append_pair("marker", m);
        }
    }
    q.finish()
}

/// Parses one page in the given format. Errors carry a 1-based line (0: whole document).
pub fn parse(listing: ObjectListing, body: &str) -> Result<Page, (usize, String)> {
    match listing {
        ObjectListing::S3 | ObjectListing::S3V1 => parse_s3(body),
        ObjectListing::Swift => parse_swift(body),
    }
}

#[derive(Deserialize)]
struct SwiftEntry {
    /// Absent for `subdir` pseudo-entries (listings with a delimiter).
    name: Option<String>,
    bytes: Option<u64>,
    last_modified: Option<String>,
}

/// Swift JSON listing: an array of objects; the next page starts after the last name, and an
/// empty page ends the listing (Swift does not say whether more follow).
pub fn parse_swift(body: &str) -> Result<Page, (usize, String)> {
    let entries: Vec<SwiftEntry> = serde_json::from_str(body)
        .map_err(|e| (e.line(), format!("not a Swift JSON container listing: {e}")))?;
    let objects: Vec<Object> = entries
        .into_iter()
        .filter_map(|e| {
            Some(Object {
                key: e.name?,
                size: e.bytes,
                modified: e.last_modified.as_deref().and_then(day_of),
            })
        })
        .collect();
    let next = objects
        .last()
        .map_or(Next::Done, |o| Next::Marker(o.key.clone()));
    Ok(Page { objects, next })
}

/// S3 `ListBucketResult` (V1 or V2). A truncated V2 page continues with
/// `NextContinuationToken`; a truncated V1 page with `NextMarker`, else its last key.
pub fn parse_s3(body: &str) -> Result<Page, (usize, String)> {
    let doc = roxmltree::Document::parse(body).map_err(|e| {
        (
            e.pos().row as usize,
            format!("not an S3 ListBucketResult XML document: {e}"),
        )
    })?;
    let root = doc.root_element();
    let line_of = |n: roxmltree::Node<'_, '_>| doc.text_pos_at(n.range().start).row as usize;
    if root.tag_name().name() == "Error" {
        let field = |name: &str| child_text(root, name).unwrap_or_default();
        return Err((
            line_of(root),
            format!(
                "the store answered with an S3 error: {} {}",
                field("Code"),
                field("Message")
            ),
        ));
    }
    if root.tag_name().name() != "ListBucketResult" {
        return Err((
            line_of(root),
            format!(
                "expected <ListBucketResult>, found <{}>",
                root.tag_name().name()
            ),
        ));
    }
    let mut objects = Vec::new();
    for contents in root
        .children()
        .filter(|n| n.is_element() && n.tag_name().name() == "Contents")
    {
        let key = child_text(contents, "Key")
            .ok_or_else(|| (line_of(contents), "<Contents> without <Key>".to_owned()))?;
        let size = match child_text(contents, "Size") {
            None => None,
            Some(s) => Some(s.trim().parse::<u64>().map_err(|_| {
                (
                    line_of(contents),
                    format!("<Size> of {key:?} is not a number: {s:?}"),
                )
            })?),
        };
        objects.push(Object {
            modified: child_text(contents, "LastModified")
                .as_deref()
                .and_then(day_of),
            key,
            size,
        });
    }
    let truncated = child_text(root, "IsTruncated").is_some_and(|t| t.trim() == "true");
    let next = if !truncated {
        Next::Done
    } else if let Some(token) = child_text(root, "NextContinuationToken") {
        Next::Token(token)
    } else if let Some(marker) = child_text(root, "NextMarker") {
        Next::Marker(marker)
    } else if let Some(last) = objects.last() {
        Next::Marker(last.key.clone())
    } else {
        return Err((
            line_of(root),
            "the listing is truncated but names no way to continue".to_owned(),
        ));
    };
    Ok(Page { objects, next })
}

fn child_text(node: roxmltree::Node<'_, '_>, name: &str) -> Option<String> {
    node.children()
        .find(|n| n.is_element() && n.tag_name().name() == name)
        .map(|n| n.text().unwrap_or_default().to_owned())
}

/// `YYYY-MM-DD` from an ISO-8601 timestamp (`2025-06-01T10:00:00.000Z`, Swift's
/// `2025-06-01T10:00:00.123456`).
fn day_of(ts: &str) -> Option<String> {
    let day = ts.get(..10)?;
    crate::upstream::version::valid_date(day).then(|| day.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2_TRUNCATED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>images</Name><Prefix>k/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <NextContinuationToken>1/tok+en=</NextContinuationToken>
  <Contents><Key>k/a-1.qcow2</Key><LastModified>2025-06-01T10:00:00.000Z</LastModified><ETag>"x"</ETag><Size>10</Size></Contents>
  <Contents><Key>k/a &amp; b.qcow2</Key><Size>11</Size></Contents>
</ListBucketResult>"#;

    #[test]
    fn s3_v2_page_with_token() {
        let page = parse_s3(V2_TRUNCATED).unwrap();
        assert_eq!(page.objects.len(), 2);
        assert_eq!(page.objects[0].modified.as_deref(), Some("2025-06-01"));
        assert_eq!(page.objects[1].key, "k/a & b.qcow2");
        assert_eq!(page.next, Next::Token("1/tok+en=".into()));
        assert_eq!(
            query(ObjectListing::S3, Some("k/"), &page.next),
            "list-type=2&prefix=k%2F&continuation-token=1%2Ftok%2Ben%3D"
        );
    }

    #[test]
    fn s3_v1_continues_after_last_key_without_next_marker() {
        let body = "<ListBucketResult><IsTruncated>true</IsTruncated>\
            <Contents><Key>a</Key></Contents><Contents><Key>b</Key></Contents></ListBucketResult>";
        assert_eq!(parse_s3(body).unwrap().next, Next::Marker("b".into()));
        let done = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";
        assert_eq!(parse_s3(done).unwrap().next, Next::Done);
    }

    #[test]
    fn s3_errors_and_garbage_are_refused_with_a_line() {
        let err =
            parse_s3("<Error><Code>AccessDenied</Code><Message>no</Message></Error>").unwrap_err();
        assert!(err.1.contains("AccessDenied"), "{err:?}");
        let err = parse_s3("<html>\n<body>index</body></html>").unwrap_err();
        assert!(err.1.contains("ListBucketResult"), "{err:?}");
        let err = parse_s3("<ListBucketResult>\n<Contents><Key>a</Wrong>").unwrap_err();
        assert_eq!(err.0, 2, "{err:?}");
        let err = parse_s3(
            "<ListBucketResult><Contents><Key>a</Key><Size>big</Size></Contents></ListBucketResult>",
        )
        .unwrap_err();
        assert!(err.1.contains("not a number"), "{err:?}");
    }

    #[test]
    fn swift_pages_continue_after_the_last_name() {
        let body = r#"[{"name":"d/a.qcow2","bytes":5,"hash":"x","last_modified":"2025-06-02T08:00:00.123456","content_type":"application/octet-stream"},{"subdir":"d/e/"}]"#;
        let page = parse_swift(body).unwrap();
        assert_eq!(page.objects.len(), 1);
        assert_eq!(page.objects[0].modified.as_deref(), Some("2025-06-02"));
        assert_eq!(page.next, Next::Marker("d/a.qcow2".into()));
        assert_eq!(parse_swift("[]").unwrap().next, Next::Done);
        assert_eq!(
            query(ObjectListing::Swift, None, &page.next),
            "format=json&marker=d%2Fa.qcow2"
        );
        assert!(parse_swift("{\n\"x\": 1}").unwrap_err().1.contains("Swift"));
    }
}
