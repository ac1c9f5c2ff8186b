//! Unit tests of the resolution; the SDK comparison table is tests/clouds_table.rs.

use super::*;
use std::collections::BTreeMap;

const CLOUDS: &str = r#"
clouds:
  prod:
    auth:
      auth_url: https://keystone.example.org:5000/v3
      username: alice
      project_name: images
      user_domain_name: Users
    region_name: RegionTwo
    interface: internal
  appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: https://keystone.example.org:5000
      application_credential_id: abc123
    verify: false
  tok:
    auth_type: token
    auth:
      auth_url: https://keystone.example.org/v3/
      token: tok-secret
      project_id: p-1
"#;
const SECURE: &str = r#"
clouds:
  prod:
    auth:
      password: pw-secret
  appcred:
    auth:
      application_credential_secret: ac-secret
"#;

fn files(clouds: &str, secure: Option<&str>) -> ConfigFiles {
    ConfigFiles::from_texts(
        Some((Path::new("/x/clouds.yaml"), clouds)),
        secure.map(|s| (Path::new("/x/secure.yaml"), s)),
    )
    .unwrap()
}

fn env_of(vars: BTreeMap<String, String>) -> Environment {
    Environment {
        vars,
        cwd: "/cwd".into(),
        home: Some("/home/u".into()),
        root: "/".into(),
    }
}

fn no_env() -> Environment {
    env_of(BTreeMap::new())
}

#[test]
fn password_cloud_merges_secure_yaml() {
    let c = resolve(&files(CLOUDS, Some(SECURE)), Some("prod"), None, &no_env()).unwrap();
    assert_eq!(
        c.auth,
        AuthMethod::Password {
            user: UserRef::Name {
                name: "alice".into(),
                domain: DomainRef::Name("Users".into())
            },
            password: Secret::new("pw-secret"),
        }
    );
    assert_eq!(
        c.scope,
        Some(ProjectScope::Name {
            name: "images".into(),
            domain: DomainRef::Name("Default".into())
        })
    );
    assert_eq!(c.region_name.as_deref(), Some("RegionTwo"));
    assert_eq!(c.interface, Interface::Internal);
    assert!(!c.insecure);
    assert_eq!(
        c.token_url(),
        "https://keystone.example.org:5000/v3/auth/tokens"
    );
    // The password never shows in Debug.
    assert!(!format!("{c:?}").contains("pw-secret"));
}

#[test]
fn app_credential_and_verify_false() {
    let c = resolve(
        &files(CLOUDS, Some(SECURE)),
        Some("appcred"),
        None,
        &no_env(),
    )
    .unwrap();
    assert!(matches!(
        &c.auth,
        AuthMethod::ApplicationCredential { id: Some(id), secret, .. }
            if id == "abc123" && secret.expose() == "ac-secret"
    ));
    assert!(c.insecure);
    assert_eq!(c.scope, None);
    assert_eq!(
        c.token_url(),
        "https://keystone.example.org:5000/v3/auth/tokens"
    );
    assert!(!format!("{c:?}").contains("ac-secret"));
}

#[test]
fn token_cloud_scoped_by_id() {
    let c = resolve(&files(CLOUDS, None), Some("tok"), None, &no_env()).unwrap();
    assert!(matches!(&c.auth, AuthMethod::Token { token } if token.expose() == "tok-secret"));
    assert_eq!(c.scope, Some(ProjectScope::Id("p-1".into())));
    assert_eq!(c.token_url(), "https://keystone.example.org/v3/auth/tokens");
}

#[test]
fn missing_password_without_secure_yaml_has_a_hint() {
    let e = resolve(&files(CLOUDS, None), Some("prod"), None, &no_env()).unwrap_err();
    assert!(e.message.contains("needs `auth.password`"), "{e}");
    assert_eq!(e.location.as_deref(), Some("/x/clouds.yaml:3:3"));
    assert!(e.hint.unwrap().contains("secure.yaml"));
}

#[test]
fn unknown_cloud_lists_known_names() {
    let e = resolve(&files(CLOUDS, None), Some("nope"), None, &no_env()).unwrap_err();
    assert_eq!(e.message, "no cloud named `nope`");
    assert_eq!(e.hint.as_deref(), Some("known clouds: appcred, prod, tok"));
}

#[test]
fn yaml_errors_have_file_line_col() {
    let e = ConfigFiles::from_texts(
        Some((
            Path::new("/x/clouds.yaml"),
            "clouds:\n  a:\n    auth: [unclosed\n",
        )),
        None,
    )
    .unwrap_err();
    let loc = e.location.unwrap();
    assert!(loc.starts_with("/x/clouds.yaml:"), "{loc}");
    assert_eq!(loc.matches(':').count(), 2, "{loc}");
}

#[test]
fn strict_booleans_reject_yes() {
    let text = "clouds:\n  a:\n    auth: {auth_url: 'http://k/v3', token: t}\n    verify: no\n";
    let e = resolve(&files(text, None), Some("a"), None, &no_env()).unwrap_err();
    assert!(e.message.contains("`verify` must be true or false"), "{e}");
}

#[test]
fn env_fallback_when_no_cloud_is_named() {
    let env: BTreeMap<String, String> = [
        ("OS_AUTH_URL", "http://127.0.0.1:5000/v3"),
        ("OS_USERNAME", "demo"),
        ("OS_PASSWORD", "env-secret"),
        ("OS_PROJECT_NAME", "demo"),
        ("OS_USER_DOMAIN_ID", "default"),
        ("OS_PROJECT_DOMAIN_ID", "default"),
        ("OS_REGION_NAME", "RegionOne"),
        ("OS_INTERFACE", "publicURL"),
        ("OS_INSECURE", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let c = resolve(&ConfigFiles::default(), None, None, &env_of(env)).unwrap();
    assert_eq!(c.name, "OS_* environment");
    assert_eq!(
        c.auth,
        AuthMethod::Password {
            user: UserRef::Name {
                name: "demo".into(),
                domain: DomainRef::Id("default".into())
            },
            password: Secret::new("env-secret")
        }
    );
    assert_eq!(
        c.scope,
        Some(ProjectScope::Name {
            name: "demo".into(),
            domain: DomainRef::Id("default".into())
        })
    );
    assert!(c.insecure);
    assert_eq!(c.interface, Interface::Public);
}

#[test]
fn nothing_selected_explains_how() {
    let e = resolve(&files(CLOUDS, None), None, None, &no_env()).unwrap_err();
    assert!(e.hint.unwrap().contains("appcred, prod, tok"));
    let e = resolve(&ConfigFiles::default(), None, None, &no_env()).unwrap_err();
    assert!(e.hint.unwrap().contains("OS_AUTH_URL"));
}
