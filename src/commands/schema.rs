//! `image-crawler schema`: the JSON Schemas of catalog and lockfile, generated from the Rust
//! types (`schema/*.schema.json` are these, checked in; a test fails when they are stale).

use crate::cli::{SchemaArgs, SchemaKind};
use crate::exit::ExitStatus;
use crate::output::Printer;

/// The catalog file schema, pretty JSON with a trailing newline.
pub fn catalog_schema() -> String {
    let schema = schemars::schema_for!(crate::catalog::raw::CatalogFile);
    format!(
        "{}\n",
        serde_json::to_string_pretty(&schema).expect("schema serializes")
    )
}

/// The lockfile schema.
pub fn lock_schema() -> String {
    let schema = schemars::schema_for!(crate::lock::LockedImage);
    format!(
        "{}\n",
        serde_json::to_string_pretty(&schema).expect("schema serializes")
    )
}

/// The schema of `catalog/lifecycle.yaml`.
pub fn lifecycle_schema() -> String {
    format!(
        "{}\n",
        serde_json::to_string_pretty(&crate::scs::lifecycle::schema()).expect("schema serializes")
    )
}

pub fn run(args: &SchemaArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    if let Some(dir) = &args.write {
        for (name, text) in [
            ("catalog.schema.json", catalog_schema()),
            ("lock.schema.json", lock_schema()),
            ("lifecycle.schema.json", lifecycle_schema()),
        ] {
            let path = dir.join(name);
            let changed = crate::lock::store::write_atomic_if_changed(&path, text.as_bytes())
                .map_err(|e| anyhow::anyhow!("cannot write `{}`: {e}", path.display()))?;
            printer.status(
                if changed { "Wrote" } else { "Unchanged" },
                &path.display().to_string(),
            );
        }
        return Ok(ExitStatus::Success);
    }
    match args.which {
        Some(SchemaKind::Catalog) => printer.data(&catalog_schema()),
        Some(SchemaKind::Lock) => printer.data(&lock_schema()),
        Some(SchemaKind::Lifecycle) => printer.data(&lifecycle_schema()),
        None => {
            let both = serde_json::json!({
                "catalog": serde_json::from_str::<serde_json::Value>(&catalog_schema())?,
                "lock": serde_json::from_str::<serde_json::Value>(&lock_schema())?,
                "lifecycle": serde_json::from_str::<serde_json::Value>(&lifecycle_schema())?,
            });
            printer.json_raw(&both);
        }
    }
    Ok(ExitStatus::Success)
}
