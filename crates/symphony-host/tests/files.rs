//! Attacks on the files the host writes and reads, staged through its public commands: links
//! planted at a melody's name or at a temporary name, a link swapped in while saving, a
//! non-melody file asked for by `openMelody`, an oversized file, and the trust file's privacy.
//! Each is refused or has no effect: the link's target keeps its bytes, nothing is leaked.

#![cfg(unix)]
#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.

use std::os::unix::fs::{symlink, PermissionsExt as _};
use std::path::Path;

use serde_json::{json, Value};

mod common;
use common::{error_of, fixture};

fn melody() -> Value {
    json!({"formatVersion": 1, "melody": {"id": "m", "name": "M"}, "steps": []})
}

fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path)
        .unwrap()
        .file_type()
        .is_symlink()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn save_melody_refuses_a_link_at_the_name_wherever_it_leads() {
    let f = fixture();
    let root = f.project.path();
    std::fs::create_dir(root.join("src")).unwrap();
    std::fs::write(root.join("src/main.rs"), "fn main() {}\n").unwrap();
    let outside = tempfile::tempdir().unwrap();
    let bashrc = outside.path().join(".bashrc");
    std::fs::write(&bashrc, "export PATH=$PATH\n").unwrap();

    // A link to a file inside the project: before, the melody replaced src/main.rs.
    symlink(
        root.join("src/main.rs"),
        root.join("melodies/inside.melody.json"),
    )
    .unwrap();
    let e = error_of(
        &f.host,
        "saveMelody",
        json!({"path": "melodies/inside.melody.json", "melody": melody()}),
    )
    .await;
    let message = e.to_string();
    assert!(message.contains("symbolic link"), "{message}");
    assert!(
        message.contains("src/main.rs"),
        "says where it leads: {message}"
    );
    assert!(message.contains("save under another name"), "{message}");
    assert!(e.is_client_error());
    assert_eq!(
        std::fs::read_to_string(root.join("src/main.rs")).unwrap(),
        "fn main() {}\n"
    );
    assert!(is_link(&root.join("melodies/inside.melody.json")));

    // A relative link to another melody inside the project: refused too, the melody kept.
    let before = std::fs::read(root.join("melodies/idea-to-code.melody.json")).unwrap();
    symlink(
        "idea-to-code.melody.json",
        root.join("melodies/alias.melody.json"),
    )
    .unwrap();
    let e = error_of(
        &f.host,
        "saveMelody",
        json!({"path": "melodies/alias.melody.json", "melody": melody()}),
    )
    .await;
    assert!(e.to_string().contains("symbolic link"), "{e}");
    assert_eq!(
        std::fs::read(root.join("melodies/idea-to-code.melody.json")).unwrap(),
        before
    );

    // A link to a file outside the project (the user's ~/.bashrc): refused, untouched.
    symlink(&bashrc, root.join("melodies/bashrc.melody.json")).unwrap();
    let e = error_of(
        &f.host,
        "saveMelody",
        json!({"path": "melodies/bashrc.melody.json", "melody": melody()}),
    )
    .await;
    assert!(e.to_string().contains("outside the project"), "{e}");
    assert_eq!(
        std::fs::read_to_string(&bashrc).unwrap(),
        "export PATH=$PATH\n"
    );

    // An absolute path naming the link, and a folder at the name, are refused the same way.
    let absolute = root
        .canonicalize()
        .unwrap()
        .join("melodies/inside.melody.json");
    let e = error_of(
        &f.host,
        "saveMelody",
        json!({"path": absolute.to_str().unwrap(), "melody": melody()}),
    )
    .await;
    assert!(e.to_string().contains("symbolic link"), "{e}");
    std::fs::create_dir(root.join("melodies/folder.melody.json")).unwrap();
    let e = error_of(
        &f.host,
        "saveMelody",
        json!({"path": "melodies/folder.melody.json", "melody": melody()}),
    )
    .await;
    assert!(e.to_string().contains("not a regular file"), "{e}");

    // Saving an ordinary melody still works, and leaves no temporary file.
    let saved = f
        .host
        .call(
            "saveMelody",
            json!({"path": "melodies/plain.melody.json", "melody": melody()}),
        )
        .await
        .unwrap();
    assert_eq!(saved["path"], "melodies/plain.melody.json");
    let leftovers: Vec<_> = std::fs::read_dir(root.join("melodies"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn save_melody_never_writes_through_a_link_at_the_old_temporary_name() {
    let f = fixture();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    // The name older versions wrote to first: `.{name}.{pid}.tmp` beside the melody.
    let old_tmp = f.project.path().join(format!(
        "melodies/.new.melody.json.{}.tmp",
        std::process::id()
    ));
    symlink(&victim, &old_tmp).unwrap();
    f.host
        .call(
            "saveMelody",
            json!({"path": "melodies/new.melody.json", "melody": melody()}),
        )
        .await
        .unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    assert!(is_link(&old_tmp), "the planted link is left as it was");
    let saved = f.project.path().join("melodies/new.melody.json");
    assert!(!is_link(&saved));
    assert!(std::fs::read_to_string(saved)
        .unwrap()
        .contains("\"id\": \"m\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_swapped_in_while_saving_cannot_redirect_the_write() {
    let f = fixture();
    let root = f.project.path().to_owned();
    std::fs::create_dir(root.join("src")).unwrap();
    std::fs::write(root.join("src/main.rs"), "fn main() {}\n").unwrap();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    let name = root.join("melodies/race.melody.json");
    std::fs::write(&name, "{}").unwrap();

    // Another process flips the name between a file and links (inside and out of the project)
    // as fast as it can, while the app saves again and again.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flipper = {
        let stop = stop.clone();
        let (name, inside, victim) = (name.clone(), root.join("src/main.rs"), victim.clone());
        std::thread::spawn(move || {
            let mut i = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = std::fs::remove_file(&name);
                let _ = match i % 4 {
                    0 | 2 => symlink(&inside, &name),
                    1 => std::fs::write(&name, "{}"),
                    _ => symlink(&victim, &name),
                };
                i += 1;
            }
        })
    };
    let (mut saved, mut refused) = (0, 0);
    for _ in 0..300 {
        match f.host.save_melody("melodies/race.melody.json", melody()) {
            Ok(_) => saved += 1,
            Err(_) => refused += 1,
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    flipper.join().unwrap();
    assert_eq!(saved + refused, 300);
    // Whatever interleaving happened, no write went through a link.
    assert_eq!(
        std::fs::read_to_string(root.join("src/main.rs")).unwrap(),
        "fn main() {}\n"
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
}

#[tokio::test]
async fn open_melody_reads_melody_files_only() {
    let f = fixture();
    let root = f.project.path();
    let secret = "OPENAI_API_KEY=sk-do-not-leak-0123456789";
    std::fs::write(root.join(".env"), secret).unwrap();
    std::fs::create_dir(root.join("src")).unwrap();
    std::fs::write(root.join("src/secret.txt"), secret).unwrap();
    // A melody-named link to a file that is not a melody.
    symlink(root.join(".env"), root.join("melodies/leak.melody.json")).unwrap();

    for path in [
        ".env",
        "src/secret.txt",
        "melodies/leak.melody.json",
        "melodies",
        "missing.txt",
    ] {
        let e = error_of(&f.host, "openMelody", json!({"path": path})).await;
        let message = e.to_string();
        assert!(
            message.contains("opens melody files only") || message.contains("not a regular file"),
            "{path}: {message}"
        );
        assert!(!message.contains("sk-do-not-leak"), "{path}: {message}");
        assert!(e.is_client_error(), "{path}: {e}");
    }

    // A melody file larger than the loader takes is refused before it is read (sparse: no
    // disk is used), and so is a named pipe (opening it would wait for a writer forever).
    let big = root.join("melodies/big.melody.json");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(symphony_melody::load::MAX_BYTES as u64 + 1)
        .unwrap();
    let e = error_of(
        &f.host,
        "openMelody",
        json!({"path": "melodies/big.melody.json"}),
    )
    .await;
    assert!(e.to_string().contains("limited to 64 MiB"), "{e}");
    let fifo = root.join("melodies/pipe.melody.json");
    if std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success())
    {
        let e = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            error_of(
                &f.host,
                "openMelody",
                json!({"path": "melodies/pipe.melody.json"}),
            ),
        )
        .await
        .expect("a pipe is refused, not waited on");
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }
    // The listing still lists them, each saying why it cannot be read.
    let listed = f.host.list_melodies().unwrap();
    let big_entry = listed
        .iter()
        .find(|m| m.path == "melodies/big.melody.json")
        .unwrap();
    assert!(
        big_entry.description.contains("limited to"),
        "{big_entry:?}"
    );

    // Melodies open as before, also through a link to one inside the project.
    symlink(
        "idea-to-code.melody.json",
        root.join("melodies/alias.melody.json"),
    )
    .unwrap();
    for path in [
        "melodies/idea-to-code.melody.json",
        "melodies/alias.melody.json",
    ] {
        let doc = f
            .host
            .call("openMelody", json!({"path": path}))
            .await
            .unwrap();
        assert_eq!(doc["melody"]["melody"]["id"], "idea-to-code", "{path}");
    }
}

#[tokio::test]
async fn a_file_picked_in_the_dialog_still_opens_and_saves() {
    let f = fixture();
    let elsewhere = tempfile::tempdir().unwrap();
    let picked = elsewhere.path().join("mine.melody.json");
    std::fs::copy(
        f.project.path().join("melodies/idea-to-code.melody.json"),
        &picked,
    )
    .unwrap();
    let name = f.host.admit(&picked).unwrap();
    let doc = f
        .host
        .call("openMelody", json!({"path": name}))
        .await
        .unwrap();
    assert_eq!(doc["melody"]["melody"]["id"], "idea-to-code");
    let saved = f
        .host
        .call("saveMelody", json!({"path": name, "melody": melody()}))
        .await
        .unwrap();
    assert_eq!(saved["path"], json!(name));
    assert!(std::fs::read_to_string(&picked)
        .unwrap()
        .contains("\"id\": \"m\""));
    assert!(!is_link(&picked));
    // Made a link after it was picked: refused, and the file it leads to is kept.
    let victim = elsewhere.path().join("victim.txt");
    std::fs::write(&victim, "keep").unwrap();
    std::fs::remove_file(&picked).unwrap();
    symlink(&victim, &picked).unwrap();
    let e = error_of(
        &f.host,
        "saveMelody",
        json!({"path": name, "melody": melody()}),
    )
    .await;
    assert!(
        e.to_string().contains("outside the project") || e.to_string().contains("symbolic link"),
        "{e}"
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
}

#[tokio::test]
async fn the_trust_file_is_private_and_never_written_through_a_link() {
    let f = fixture();
    let trust = f.data.path().join("trust.json");
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    // The name older versions wrote to first: `trust.json.{pid}.tmp`.
    let old_tmp = f
        .data
        .path()
        .join(format!("trust.json.{}.tmp", std::process::id()));
    symlink(&victim, &old_tmp).unwrap();
    let agentic = json!({
        "formatVersion": 1,
        "melody": {"id": "agentic", "name": "Agentic"},
        "steps": [
            {"id": "build", "kind": "instrument", "type": "instrument.agent",
             "config": {"preset": "command", "command": ["true"], "prompt": "build it"},
             "capabilities": ["command", "files"]}
        ]
    });
    f.host.trust_melody(agentic.clone()).unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    assert!(is_link(&old_tmp));
    assert!(!is_link(&trust));
    assert_eq!(mode(&trust), 0o600);
    assert!(f.host.permissions(agentic.clone()).unwrap().trusted);

    // A trust file from an older version (0644) becomes private on the next write.
    std::fs::set_permissions(&trust, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut other = agentic.clone();
    other["steps"][0]["config"]["command"] = json!(["make"]);
    f.host.trust_melody(other).unwrap();
    assert_eq!(mode(&trust), 0o600);
    assert!(f.host.permissions(agentic).unwrap().trusted, "kept");
}

#[tokio::test]
async fn a_host_on_a_new_data_folder_keeps_its_store_and_trust_private() {
    let project = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let folder = data.path().join("share/symphony");
    let credentials: std::sync::Arc<dyn symphony_credentials::Credentials> =
        std::sync::Arc::new(common::NoKeys);
    let options = symphony_host::HostOptions {
        registry: Some(symphony_host::registry::registry_with(credentials.clone())),
        credentials: Some(credentials),
        endpoints: symphony_instruments::discovery::Endpoints {
            openai: "http://127.0.0.1:9".into(),
            anthropic: "http://127.0.0.1:9".into(),
            ollama: "http://127.0.0.1:9".into(),
            timeout: std::time::Duration::from_millis(500),
        },
        store_path: Some(folder.join("runs.db")),
        trust_file: Some(folder.join("trust.json")),
        credential_store: Some(std::sync::Arc::new(
            symphony_credentials::FileStore::in_dir(data.path().join("config")),
        )),
        ..symphony_host::HostOptions::default()
    };
    let host =
        symphony_host::Host::new(project.path(), options, std::sync::Arc::new(|_| {})).unwrap();
    host.trust_melody(json!({
        "formatVersion": 1,
        "melody": {"id": "agentic", "name": "Agentic"},
        "steps": [{"id": "build", "kind": "instrument", "type": "instrument.agent",
                   "config": {"preset": "command", "command": ["true"], "prompt": "p"},
                   "capabilities": ["command"]}]
    }))
    .unwrap();
    host.call("storeInfo", json!({})).await.unwrap();
    assert_eq!(mode(&data.path().join("share")), 0o700);
    assert_eq!(mode(&folder), 0o700);
    assert_eq!(mode(&folder.join("trust.json")), 0o600);
    assert_eq!(mode(&folder.join("runs.db")), 0o600);
    for extra in ["runs.db-wal", "runs.db-shm"] {
        if folder.join(extra).exists() {
            assert_eq!(mode(&folder.join(extra)), 0o600, "{extra}");
        }
    }
}
