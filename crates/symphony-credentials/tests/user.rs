//! [`UserCredentials`] with the user's settings taken from the environment. The only test in
//! this binary, so setting variables races with no other test; the file store is forced, so
//! the user's keychain is never touched.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use symphony_credentials::{Credentials, FileStore, Secret, Store, UserCredentials};

#[test]
fn user_credentials_read_the_environment_then_the_store_opened_on_first_use() {
    let dir = tempfile::tempdir().unwrap();
    std::env::set_var("XDG_CONFIG_HOME", dir.path());
    std::env::set_var("SYMPHONY_CREDENTIAL_STORE", "file");
    std::env::set_var("SYMPHONY_CREDENTIAL_USER_TEST_ENV", "from-the-env");
    FileStore::in_dir(dir.path().join("symphony"))
        .set("user-test-stored", &Secret::new("from-the-file"))
        .unwrap();

    let creds = UserCredentials::new();
    assert_eq!(creds.get("user-test-env").unwrap().expose(), "from-the-env");
    assert_eq!(
        creds.get("user-test-stored").unwrap().expose(),
        "from-the-file"
    );
    let missing = creds.get("user-test-missing").unwrap_err().to_string();
    assert!(
        missing.contains("$SYMPHONY_CREDENTIAL_USER_TEST_MISSING")
            && missing.contains("credentials.json"),
        "{missing}"
    );
}
