//! clouds.yaml resolution compared with openstacksdk, case by case: the table is
//! tests/fixtures/clouds/cases.yaml (each case says what the SDK does; the same file is run
//! against the real SDK by tests/openstack/sdk-compare.py). Every case builds its files in a
//! scratch root (`cwd/`, `home/`, `etc/` for /etc) and resolves through the real file search.

use std::collections::BTreeMap;
use std::path::Path;

use image_crawler::openstack::config::{self, Environment, files};
use serde_json::Value;

const CASES: &str = include_str!("fixtures/clouds/cases.yaml");

fn cases() -> Vec<Value> {
    let v: Value = serde_saphyr::from_str(CASES).expect("cases.yaml parses");
    v.as_array().expect("a list of cases").clone()
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

/// Runs one case; `Err` describes the mismatch.
fn run(case: &Value) -> Result<(), String> {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    for d in ["cwd", "home"] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    if let Some(files) = case["files"].as_object() {
        for (rel, content) in files {
            let p = r.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, content.as_str().expect("file text")).unwrap();
        }
    }
    let sub = |s: &str| s.replace("$ROOT", &r.display().to_string());
    let vars: BTreeMap<String, String> = case["env"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), sub(v.as_str().expect("env values are strings"))))
                .collect()
        })
        .unwrap_or_default();
    let env = Environment {
        vars: vars.clone(),
        cwd: r.join("cwd"),
        home: Some(r.join("home")),
        root: r.to_path_buf(),
    };
    let cloud = text(&case["cloud"]).or_else(|| vars.get("OS_CLOUD").cloned());
    let region = text(&case["region"]);
    let got = files::find(&env)
        .and_then(|f| config::resolve(&f, cloud.as_deref(), region.as_deref(), &env));
    let expect = case["expect"].as_object().expect("expect");
    match (got, expect.get("error")) {
        (Err(e), Some(want)) => {
            let shown = format!("{e} / hint: {}", e.hint.clone().unwrap_or_default());
            let want = want.as_str().unwrap();
            if shown.contains(want) {
                Ok(())
            } else {
                Err(format!("error `{shown}` does not contain `{want}`"))
            }
        }
        (Err(e), None) => Err(format!("unexpected error: {e} (hint: {:?})", e.hint)),
        (Ok(c), Some(want)) => Err(format!("expected an error `{want}`, got {c:?}")),
        (Ok(c), None) => {
            let rel = |p: &Path| p.strip_prefix(r).unwrap_or(p).display().to_string();
            let ca = if c.insecure {
                Some("insecure".to_owned())
            } else {
                c.cacert.as_deref().map(|p| p.display().to_string())
            };
            let actual: BTreeMap<&str, Value> = [
                ("file", c.source.as_deref().map(rel).into()),
                ("auth_url", c.auth_url.as_str().trim_end_matches('/').into()),
                ("region", c.region_name.clone().into()),
                ("interface", c.interface.as_str().into()),
                (
                    "endpoint",
                    c.image_endpoint_override
                        .as_ref()
                        .map(|u| u.as_str().trim_end_matches('/').to_owned())
                        .into(),
                ),
                ("ca", ca.into()),
                (
                    "password",
                    matches!(c.auth, config::AuthMethod::Password { .. }).into(),
                ),
            ]
            .into_iter()
            .collect();
            let mut wrong = Vec::new();
            for (k, want) in expect {
                let have = actual
                    .get(k.as_str())
                    .unwrap_or_else(|| panic!("unknown field `{k}`"));
                if have != want {
                    wrong.push(format!("{k}: want {want}, got {have}"));
                }
            }
            if wrong.is_empty() {
                Ok(())
            } else {
                Err(wrong.join("; "))
            }
        }
    }
}

#[test]
fn every_case_of_the_table_resolves_as_documented() {
    let cases = cases();
    assert!(cases.len() >= 40, "the table lost cases: {}", cases.len());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            run(c)
                .err()
                .map(|e| format!("{}: {e}", c["name"].as_str().unwrap()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn every_difference_from_the_sdk_says_why() {
    for c in cases() {
        let name = c["name"].as_str().unwrap();
        let sdk = &c["sdk"];
        assert!(
            sdk == "same" || sdk.is_object(),
            "{name}: `sdk` is `same` or what the SDK does"
        );
        let is_error = c["expect"].get("error").is_some();
        let sdk_error = sdk.get("error").is_some();
        // A case where we and the SDK end differently (other than both failing) needs a reason.
        if sdk.is_object() && !(is_error && sdk_error) {
            assert!(
                c["why"].is_string(),
                "{name}: differs from the SDK without a `why`"
            );
        }
    }
}
