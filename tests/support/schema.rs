//! Validation of `--format json` documents against the shipped schemas in `schema/output/`
//! (docs/json-output.md). A document whose shape drifted from its schema fails the test that
//! produced it, naming every mismatch by JSON pointer.

use std::path::{Path, PathBuf};

use serde_json::Value;

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schema")
}

/// Reads the `file://` references between the shipped schemas (`../lock.schema.json`), nothing
/// else: no schema may reach for the network.
struct LocalSchemas;

impl jsonschema::Retrieve for LocalSchemas {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let path = uri
            .as_str()
            .strip_prefix("file://")
            .ok_or_else(|| format!("a schema refers outside schema/: {}", uri.as_str()))?;
        let path = Path::new(path);
        if !path.starts_with(schema_dir()) {
            return Err(format!("a schema refers outside schema/: {}", path.display()).into());
        }
        Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
    }
}

/// The validator of `schema/output/<name>.schema.json`.
pub fn validator(name: &str) -> jsonschema::Validator {
    let dir = schema_dir().join("output");
    let path = dir.join(format!("{name}.schema.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .with_base_uri(format!("file://{}/{name}.schema.json", dir.display()))
        .with_retriever(LocalSchemas)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{} is not a valid schema: {e}", path.display()))
}

/// Every way `doc` breaks `schema/output/<name>.schema.json` (empty: it matches).
pub fn violations(name: &str, doc: &Value) -> Vec<String> {
    validator(name)
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// Fails unless `doc` matches `schema/output/<name>.schema.json`.
pub fn assert_matches(name: &str, doc: &Value) {
    let errors = violations(name, doc);
    assert!(
        errors.is_empty(),
        "the `{name}` document does not match schema/output/{name}.schema.json (update the \
         schema and docs/json-output.md with the shape):\n  {}\n{doc:#}",
        errors.join("\n  ")
    );
}
