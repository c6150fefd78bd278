//! The stores and the chain at their public API, in temporary folders and an in-memory
//! keychain: no test touches the user's real keychain or config folder.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use std::path::Path;
use std::sync::Arc;

use symphony_credentials::{
    open, Backend, Chain, CredentialError, Credentials, FileStore, Keychain, KeychainStore,
    MemoryKeychain, Preference, Secret, Store, StoreCredentials, StoreError, StoreOptions,
};

fn options(dir: &Path, keychain: Option<Box<dyn Keychain>>, pref: Preference) -> StoreOptions {
    StoreOptions {
        config_dir: Some(dir.join("symphony")),
        keychain,
        preference: pref,
    }
}

/// A keychain whose service is not running, like a headless machine with no D-Bus session.
struct DeadKeychain;

impl Keychain for DeadKeychain {
    fn get(&self, _: &str) -> Result<Option<String>, String> {
        Err("no session bus".into())
    }
    fn set(&self, _: &str, _: &str) -> Result<(), String> {
        Err("no session bus".into())
    }
    fn delete(&self, _: &str) -> Result<bool, String> {
        Err("no session bus".into())
    }
    fn describe(&self) -> String {
        "a dead keychain".into()
    }
}

/// A store's whole life: set, get, list (names only), replace, remove.
fn check_store(store: &dyn Store) {
    assert_eq!(store.list().unwrap(), Vec::<String>::new());
    assert_eq!(store.get("github").unwrap(), None);
    store
        .set("github", &Secret::new("ghp-first-value"))
        .unwrap();
    store
        .set("openai", &Secret::new("sk-openai-value"))
        .unwrap();
    store
        .set("github", &Secret::new("ghp-second-value"))
        .unwrap();
    assert_eq!(store.list().unwrap(), ["github", "openai"]);
    assert_eq!(
        store.get("github").unwrap().unwrap().expose(),
        "ghp-second-value"
    );
    assert!(store.remove("github").unwrap());
    assert!(!store.remove("github").unwrap(), "already gone");
    assert_eq!(store.list().unwrap(), ["openai"]);
    assert_eq!(store.get("github").unwrap(), None);
    let bad = store.set("../etc", &Secret::new("x")).unwrap_err();
    assert!(
        matches!(bad, StoreError::BadName { .. }),
        "a name with a slash is refused: {bad}"
    );
}

#[test]
fn the_file_store_sets_lists_and_removes() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::in_dir(dir.path().join("symphony"));
    check_store(&store);
}

#[test]
fn the_keychain_store_sets_lists_and_removes() {
    let store = KeychainStore::new(Box::new(MemoryKeychain::default()));
    check_store(&store);
}

#[cfg(unix)]
#[test]
fn the_file_and_its_folder_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::in_dir(dir.path().join("symphony"));
    store.set("github", &Secret::new("ghp-value")).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(store.path()), 0o600);
    assert_eq!(mode(&dir.path().join("symphony")), 0o700);
    let text = std::fs::read_to_string(store.path()).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["formatVersion"], 1);
    assert_eq!(json["credentials"]["github"], "ghp-value");
}

#[cfg(unix)]
#[test]
fn a_file_others_can_read_is_refused_with_the_fix() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::in_dir(dir.path().join("symphony"));
    store.set("github", &Secret::new("ghp-value")).unwrap();
    std::fs::set_permissions(store.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = store.get("github").unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(e, StoreError::Permissions { mode: 0o644, .. }),
        "{text}"
    );
    assert!(text.contains("mode 0644"), "{text}");
    assert!(text.contains("chmod 600"), "{text}");
    assert!(!text.contains("ghp-value"), "{text}");
    // Listing and writing are refused too: nothing reads the file until it is fixed.
    assert!(store.list().is_err());
    assert!(store.set("other", &Secret::new("v")).is_err());
    std::fs::set_permissions(store.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(store.get("github").unwrap().unwrap().expose(), "ghp-value");
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_in_place_of_the_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("elsewhere.json");
    std::fs::write(&target, r#"{"formatVersion":1,"credentials":{}}"#).unwrap();
    std::fs::create_dir(dir.path().join("symphony")).unwrap();
    let store = FileStore::in_dir(dir.path().join("symphony"));
    std::os::unix::fs::symlink(&target, store.path()).unwrap();
    let e = store.list().unwrap_err().to_string();
    assert!(e.contains("symbolic link"), "{e}");
}

#[test]
fn a_damaged_file_is_reported_without_its_contents() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("symphony")).unwrap();
    let store = FileStore::in_dir(dir.path().join("symphony"));
    write_private(
        store.path(),
        "{\"formatVersion\":1,\"credentials\":{\"a\":\"sk-leaky-value\"",
    );
    let e = store.get("a").unwrap_err().to_string();
    assert!(e.contains("not a Symphony credentials file"), "{e}");
    assert!(!e.contains("sk-leaky-value"), "{e}");

    // serde_json quotes what it found in a shape error; the store does not pass that on.
    write_private(
        store.path(),
        r#"{"formatVersion":1,"credentials":{"a":"v"},"sk-stray-value":1}"#,
    );
    let e = store.get("a").unwrap_err().to_string();
    assert!(e.contains("not shaped like"), "{e}");
    assert!(!e.contains("sk-stray-value"), "{e}");
}

fn write_private(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

#[test]
fn open_uses_a_keychain_that_answers() {
    let dir = tempfile::tempdir().unwrap();
    let opened = open(options(
        dir.path(),
        Some(Box::new(MemoryKeychain::default())),
        Preference::Auto,
    ))
    .unwrap();
    assert_eq!(opened.backend, Backend::Keychain);
    assert_eq!(opened.warning, None);
    opened
        .store
        .set("github", &Secret::new("ghp-value"))
        .unwrap();
    assert!(
        !dir.path().join("symphony").exists(),
        "nothing is written to disk when the keychain holds the values"
    );
}

#[test]
fn open_falls_back_to_the_file_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let opened = open(options(
        dir.path(),
        Some(Box::new(DeadKeychain)),
        Preference::Auto,
    ))
    .unwrap();
    assert_eq!(opened.backend, Backend::File);
    let warning = opened.warning.unwrap();
    assert!(warning.contains("plain file"), "{warning}");
    assert!(warning.contains("credentials.json"), "{warning}");
    assert!(
        warning.contains("a dead keychain does not answer: no session bus"),
        "{warning}"
    );
}

#[test]
fn open_honours_the_preference() {
    let dir = tempfile::tempdir().unwrap();
    let file = open(options(
        dir.path(),
        Some(Box::new(MemoryKeychain::default())),
        Preference::File,
    ))
    .unwrap();
    assert_eq!(file.backend, Backend::File);
    let e = open(options(
        dir.path(),
        Some(Box::new(DeadKeychain)),
        Preference::Keychain,
    ))
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("a dead keychain is not available"), "{e}");
    assert_eq!(Preference::parse("FILE"), Some(Preference::File));
    assert_eq!(Preference::parse("vault"), None);
}

#[test]
fn the_chain_reads_the_environment_first_then_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let opened = open(options(dir.path(), None, Preference::Auto)).unwrap();
    opened
        .store
        .set("symphony-chain-test", &Secret::new("from-the-store"))
        .unwrap();
    let chain = Chain::standard(&opened);
    assert_eq!(
        chain.get("symphony-chain-test").unwrap().expose(),
        "from-the-store"
    );

    // The environment wins; a variable unique to this test keeps it apart from the others.
    let env = Chain::new(vec![
        Arc::new(Fixed("from-the-env")),
        Arc::new(StoreCredentials(opened.store.clone())),
    ]);
    assert_eq!(
        env.get("symphony-chain-test").unwrap().expose(),
        "from-the-env"
    );

    let e = chain.get("symphony-never-set").unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, CredentialError::Missing { .. }), "{text}");
    assert!(
        text.contains("$SYMPHONY_CREDENTIAL_SYMPHONY_NEVER_SET"),
        "names the variable: {text}"
    );
    assert!(
        text.contains("symphony credential set symphony-never-set"),
        "says how to set it: {text}"
    );
}

#[cfg(unix)]
#[test]
fn the_chain_reports_a_broken_store_rather_than_missing() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let opened = open(options(dir.path(), None, Preference::File)).unwrap();
    opened
        .store
        .set("github", &Secret::new("ghp-value"))
        .unwrap();
    let path = dir.path().join("symphony").join("credentials.json");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let e = Chain::standard(&opened)
        .get("symphony-broken-test")
        .unwrap_err();
    assert!(matches!(e, CredentialError::Source { .. }), "{e}");
    assert!(e.to_string().contains("chmod 600"), "{e}");
}

/// A source that always has the same value.
struct Fixed(&'static str);

impl Credentials for Fixed {
    fn get(&self, _: &str) -> Result<Secret, CredentialError> {
        Ok(Secret::new(self.0))
    }
}
