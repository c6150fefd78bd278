//! Black-box tests of `symphony credential`: set, list and remove in a temporary config folder,
//! with the file store forced (`SYMPHONY_CREDENTIAL_STORE=file`) and no session bus, so no test
//! touches the user's keychain. The value given is never printed.

#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

/// A value no output may contain.
const SENTINEL: &str = "sk-sentinel-9f8e7d6c5b4a";

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `symphony credential ARGS` with `stdin` piped in, config in `home`.
fn credential(home: &Path, args: &[&str], stdin: &str) -> Ran {
    let mut child = Command::new(env!("CARGO_BIN_EXE_symphony"))
        .arg("credential")
        .args(args)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("HOME", home)
        .env("SYMPHONY_CREDENTIAL_STORE", "file")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the symphony binary runs");
    // A command that fails before reading its input closes the pipe: not an error here.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    let ran = Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !ran.stdout.contains(SENTINEL) && !ran.stderr.contains(SENTINEL),
        "a value was printed: {ran:?}"
    );
    ran
}

fn check(home: &Path, args: &[&str], stdin: &str, code: i32) -> Ran {
    let r = credential(home, args, stdin);
    assert_eq!(
        r.code,
        code,
        "symphony credential {}\n{r:?}",
        args.join(" ")
    );
    r
}

#[test]
fn set_list_and_remove_without_printing_the_value() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();

    let r = check(h, &["list"], "", 0);
    assert_eq!(r.stdout, "", "nothing stored yet");
    assert!(r.stderr.contains("0 credentials"), "{r:?}");

    let r = check(h, &["set", "github"], &format!("{SENTINEL}\n"), 0);
    assert!(r.stdout.contains("stored credential `github`"), "{r:?}");
    assert!(
        r.stderr
            .contains("warning: credentials are kept in the plain file"),
        "the file store is announced: {r:?}"
    );
    check(h, &["set", "openai"], "sk-other-value", 0);

    let r = check(h, &["list"], "", 0);
    assert_eq!(r.stdout, "github\nopenai\n", "{r:?}");
    let r = check(h, &["list", "--json"], "", 0);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(json["store"], "file");
    assert_eq!(json["names"], serde_json::json!(["github", "openai"]));

    // The value went to the file as given, less the trailing newline, and the file is private.
    let file = h.join("config/symphony/credentials.json");
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(stored["credentials"]["github"], SENTINEL);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    let r = check(h, &["remove", "github"], "", 0);
    assert!(r.stdout.contains("removed credential `github`"), "{r:?}");
    let r = check(h, &["list"], "", 0);
    assert_eq!(r.stdout, "openai\n");

    let r = check(h, &["remove", "github"], "", 3);
    assert!(r.stderr.contains("no stored credential `github`"), "{r:?}");
}

#[test]
fn bad_names_and_empty_values_are_refused() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let r = check(h, &["set", "../x"], SENTINEL, 3);
    assert!(r.stderr.contains("is not a credential name"), "{r:?}");
    let r = check(h, &["set", "github"], "\n", 3);
    assert!(r.stderr.contains("no value given for `github`"), "{r:?}");
    // A value on the command line is a usage error: there is no such argument.
    check(h, &["set", "github", "value-on-the-command-line"], "", 2);
    assert!(!h.join("config/symphony/credentials.json").exists());
}

#[cfg(unix)]
#[test]
fn a_file_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    check(h, &["set", "github"], SENTINEL, 0);
    let file = h.join("config/symphony/credentials.json");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = check(h, &["list"], "", 4);
    assert!(r.stderr.contains("chmod 600"), "{r:?}");
}
