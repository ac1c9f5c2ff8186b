//! Simplestreams `products:1.0` documents (Ubuntu, CirrOS): product selection by fields,
//! version keys, and item fields with inheritance (item → version → product → root), as
//! `products_condense` moves shared fields up the tree.
//!
//! Pure: takes the document text, returns flat [`Item`]s in document order. Sorting is the
//! caller's job (the keys come in no useful order).

use serde_json::{Map, Value};

/// One item of one version of one product, with inherited fields resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub product: String,
    /// The version key (a serial such as `20240821` or `20240523.1`).
    pub serial: String,
    /// The item key.
    pub key: String,
    pub ftype: Option<String>,
    pub path: Option<String>,
    pub sha256: Option<String>,
    pub md5: Option<String>,
    pub size: Option<u64>,
    /// The `version` field (a release number such as `24.04` or `0.6.2`).
    pub version: Option<String>,
}

/// A parsed products document.
#[derive(Debug)]
pub struct Products {
    root: Map<String, Value>,
}

/// The mirror root of a stream URL: the prefix before `streams/v1/`.
pub fn mirror_root(stream_url: &str) -> Option<&str> {
    stream_url.find("streams/v1/").map(|i| &stream_url[..i])
}

impl Products {
    pub fn parse(text: &str) -> Result<Self, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let Value::Object(root) = value else {
            return Err("not a JSON object".into());
        };
        match root.get("format").and_then(Value::as_str) {
            Some("products:1.0") => {}
            other => return Err(format!("format is {other:?}, want \"products:1.0\"")),
        }
        if !root.get("products").is_some_and(Value::is_object) {
            return Err("no \"products\" object".into());
        }
        Ok(Self { root })
    }

    /// Product keys whose own (or inherited) fields satisfy `pred(field) -> value`, sorted.
    pub fn products_where(
        &self,
        pred: impl Fn(&dyn Fn(&str) -> Option<String>) -> bool,
    ) -> Vec<String> {
        let mut keys: Vec<String> = self
            .products()
            .iter()
            .filter(|(_, p)| {
                let lookup = |field: &str| -> Option<String> {
                    field_str(p.get(field)).or_else(|| field_str(self.root.get(field)))
                };
                pred(&lookup)
            })
            .map(|(k, _)| k.clone())
            .collect();
        keys.sort();
        keys
    }

    fn products(&self) -> &Map<String, Value> {
        self.root
            .get("products")
            .and_then(Value::as_object)
            .expect("checked in parse")
    }

    /// Every item of a product, in document order, with inherited fields.
    pub fn items(&self, product: &str) -> Vec<Item> {
        let Some(p) = self.products().get(product).and_then(Value::as_object) else {
            return Vec::new();
        };
        let Some(versions) = p.get("versions").and_then(Value::as_object) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (serial, v) in versions {
            let Some(v) = v.as_object() else { continue };
            let Some(items) = v.get("items").and_then(Value::as_object) else {
                continue;
            };
            for (key, item) in items {
                let Some(item) = item.as_object() else {
                    continue;
                };
                let chain = [Some(item), Some(v), Some(p), Some(&self.root)];
                let get = |field: &str| chain.iter().flatten().find_map(|m| m.get(field));
                out.push(Item {
                    product: product.to_owned(),
                    serial: serial.clone(),
                    key: key.clone(),
                    ftype: field_str(get("ftype")),
                    path: field_str(get("path")),
                    sha256: field_str(get("sha256")),
                    md5: field_str(get("md5")),
                    size: get("size").and_then(|s| match s {
                        Value::Number(n) => n.as_u64(),
                        Value::String(s) => s.parse().ok(),
                        _ => None,
                    }),
                    version: field_str(get("version")),
                });
            }
        }
        out
    }
}

fn field_str(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONDENSED: &str = r#"{"format": "products:1.0", "os": "cirros",
      "products": {"p:0.6:x86_64": {"arch": "x86_64", "version": "0.6.2",
        "versions": {"20230512": {"path": "0.6.2/d.img", "items": {
            "disk.img": {"ftype": "disk.img", "sha256": "ab", "size": 12},
            "uec.tar.gz": {"ftype": "uec.tar.gz", "path": "0.6.2/u.tgz", "version": "x"}}}}}}}"#;

    #[test]
    fn fields_are_inherited_from_version_product_and_root() {
        let p = Products::parse(CONDENSED).unwrap();
        let keys = p.products_where(|f| {
            f("os").as_deref() == Some("cirros") && f("arch").as_deref() == Some("x86_64")
        });
        assert_eq!(keys, ["p:0.6:x86_64"]);
        let items = p.items("p:0.6:x86_64");
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].path.as_deref(), Some("0.6.2/d.img"));
        assert_eq!(items[0].version.as_deref(), Some("0.6.2"));
        assert_eq!(items[0].size, Some(12));
        // The item's own field wins over the inherited one.
        assert_eq!(items[1].path.as_deref(), Some("0.6.2/u.tgz"));
        assert_eq!(items[1].version.as_deref(), Some("x"));
    }

    #[test]
    fn rejects_other_formats_and_finds_the_mirror_root() {
        assert!(Products::parse(r#"{"format": "index:1.0", "index": {}}"#).is_err());
        assert!(Products::parse("[]").is_err());
        assert_eq!(
            mirror_root("https://cloud-images.ubuntu.com/releases/streams/v1/x.json"),
            Some("https://cloud-images.ubuntu.com/releases/")
        );
        assert_eq!(mirror_root("https://example.org/x.json"), None);
    }
}
