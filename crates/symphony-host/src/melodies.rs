//! Melody files: listing, opening, saving (canonical bytes), validating, importing and
//! exporting. Every path goes through [`crate::project::Project::resolve`] first.

use std::path::Path;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use symphony_melody::{Melody, Problem};

use crate::error::HostError;
use crate::project::Confined;
use crate::wire::{ExportedMelody, MelodyDocument, MelodyEntry};
use crate::Host;

/// The ending every melody file has; `saveMelody` writes nothing else.
pub const MELODY_SUFFIX: &str = ".melody.json";

/// How deep `listMelodies` looks under `melodies/`.
const MAX_DEPTH: usize = 8;

/// SHA-256 of bytes, hex.
pub fn hash_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Host {
    /// `listMelodies`: every `*.melody.json` under `melodies/`, then under `templates/` (melodies
    /// to start from; their paths say which), each sorted by path. A file that cannot be read as
    /// a melody is listed too, its description saying why.
    pub fn list_melodies(&self) -> Result<Vec<MelodyEntry>, HostError> {
        let mut files = Vec::new();
        for (dir, name) in [
            (
                self.inner.project.melodies_dir(),
                crate::project::MELODIES_DIR,
            ),
            (
                self.inner.project.templates_dir(),
                crate::project::TEMPLATES_DIR,
            ),
        ] {
            if dir.is_dir() {
                collect(&dir, 0, &mut files).map_err(|e| HostError::Read {
                    path: name.into(),
                    source: e,
                })?;
            }
        }
        let mut entries = Vec::new();
        for file in files {
            let Some(path) = file.to_str() else { continue };
            // Symbolic links out of the project are skipped, not followed.
            let Ok(confined) = self.inner.project.resolve(path) else {
                continue;
            };
            entries.push(entry(&confined));
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(entries)
    }

    /// `openMelody`: the file's text, the melody, its hash and every problem. The file is
    /// watched from now on (`file-changed`).
    ///
    /// Only melody files are read: the name given and the name of the file it leads to (a
    /// symbolic link is followed inside the project) must end in `.melody.json`, which a file
    /// the user picked in the app's own dialog does too. A file larger than the loader takes
    /// (`symphony_melody::load::MAX_BYTES`) is refused before it is read.
    pub fn open_melody(&self, path: &str) -> Result<MelodyDocument, HostError> {
        let not_a_melody = || HostError::BadPath {
            path: path.to_owned(),
            why: format!("the app opens melody files only, whose names end in `{MELODY_SUFFIX}`"),
        };
        // Confined first (its refusals, such as `..`, come first), then both names checked
        // before a byte of the file is read.
        let file = self.inner.project.resolve(path)?;
        if !is_melody_name(Path::new(path)) || !is_melody_name(&file.abs) {
            return Err(not_a_melody());
        }
        let bytes = read_melody_file(&file)?;
        let doc = self.document(&file.rel, bytes)?;
        self.inner.watch.track(&file, &doc.hash)?;
        Ok(doc)
    }

    /// `saveMelody`: writes the melody's canonical bytes (so saving an unchanged melody changes
    /// no byte) to a `*.melody.json` file inside the project, atomically (an exclusive, randomly
    /// named temporary file renamed over the old one, see `symphony_conductor::atomic`), and
    /// returns what was written. A symbolic link at the name is refused, not written through
    /// ([`crate::project::Project::resolve_for_write`]). A melody with validation
    /// problems is saved (work in progress is kept); one that is not a melody is refused.
    pub fn save_melody(&self, path: &str, melody: Value) -> Result<MelodyDocument, HostError> {
        if !path.ends_with(MELODY_SUFFIX) {
            return Err(HostError::BadPath {
                path: path.to_owned(),
                why: format!(
                    "the app saves melodies only, to files whose names end in `{MELODY_SUFFIX}`"
                ),
            });
        }
        // The name itself, not where a link at it leads: a link there is refused.
        let file = self.inner.project.resolve_for_write(path)?;
        let mut melody = self.parse(melody)?;
        // The file records the versions of exactly the step types it uses.
        symphony_melody::versions::pin(&mut melody, self.registry());
        let bytes = symphony_melody::to_bytes(&melody);
        let doc = self.document(&file.rel, bytes.clone())?;
        // Told before writing, so the watcher knows this change is ours and stays quiet.
        self.inner.watch.track(&file, &doc.hash)?;
        write_atomically(&file, &bytes)?;
        Ok(doc)
    }

    /// `validateMelody`: every problem, shape and meaning, each with its path and step.
    pub fn validate_melody(&self, melody: Value) -> Vec<Problem> {
        match self.parse(melody) {
            Ok(m) => symphony_melody::validate(&m, self.registry()),
            Err(HostError::Invalid { problems, .. }) => problems,
            Err(e) => vec![Problem::at("", e.to_string())],
        }
    }

    /// `importSuperoptix`: a SuperOptiX orchestra (YAML) as a melody document, not saved.
    pub fn import_superoptix(&self, yaml: &str) -> Result<MelodyDocument, HostError> {
        let melody = symphony_melody::import_superoptix(yaml.as_bytes(), "orchestra.yaml")
            .map_err(HostError::invalid)?;
        self.document("", symphony_melody::to_bytes(&melody))
    }

    /// `importMelody`: a shared melody's text (a `*.melody.json` someone sent, not a file of
    /// the project) as a document, not saved: migrated to the current format and validated.
    /// Its path is empty, so saving it asks where; what it may do is shown before it runs.
    pub fn import_melody(&self, text: &str) -> Result<MelodyDocument, HostError> {
        self.document("", text.as_bytes().to_vec())
    }

    /// `exportMelody`: the melody's canonical text with the version of every step type it
    /// uses pinned under `layout.exportedWith`, refused when a config value looks like a
    /// secret (melodies name credentials; the machine supplies their values).
    pub fn export_melody(&self, melody: Value) -> Result<ExportedMelody, HostError> {
        let mut melody = self.parse(melody)?;
        let mut found = Vec::new();
        for step in &melody.steps {
            secrets_in(
                &Value::Object(step.config.clone()),
                &format!("steps.{}.config", step.id),
                &mut found,
            );
        }
        if !found.is_empty() {
            return Err(HostError::SecretInMelody {
                paths: found.join(", "),
            });
        }
        let mut types = Map::new();
        for name in used_types(&melody) {
            if let Some(entry) = self.registry().get(&name) {
                types.insert(name, json!(entry.spec.version));
            }
        }
        melody.layout.extra.insert(
            "exportedWith".into(),
            json!({"symphony": env!("CARGO_PKG_VERSION"), "types": types}),
        );
        let bytes = symphony_melody::to_bytes(&melody);
        Ok(ExportedMelody {
            text: String::from_utf8(bytes).expect("serde_json writes UTF-8"),
        })
    }

    /// Reads a melody sent by the UI (the file format as JSON), or lists every shape problem.
    ///
    /// The editor's melody came from [`Host::open_melody`] (so it is already upgraded and its
    /// types pinned) or was drawn in this build: a step type without a pin was added here and is
    /// pinned at this build's version. A pin to another version is upgraded or refused as on
    /// opening a file.
    pub(crate) fn parse(&self, melody: Value) -> Result<Melody, HostError> {
        let mut melody = symphony_melody::load_value(melody).map_err(HostError::invalid)?;
        symphony_melody::versions::pin_new(&mut melody, self.registry());
        symphony_melody::versions::upgrade(&mut melody, self.registry())
            .map_err(|problems| HostError::invalid(symphony_melody::Problems::new(problems)))?;
        Ok(melody)
    }

    /// A document of `bytes` at `rel`: parsed and validated.
    fn document(&self, rel: &str, bytes: Vec<u8>) -> Result<MelodyDocument, HostError> {
        let hash = hash_hex(&bytes);
        // A file made for older step-type versions is upgraded here; the person sees the new
        // form and saving writes it.
        let loaded = symphony_melody::load(&bytes, rel).and_then(|mut m| {
            symphony_melody::versions::upgrade(&mut m, self.registry())
                .map(|_| m)
                .map_err(|p| symphony_melody::Problems::new(p).in_file(rel))
        });
        let (melody, problems) = match loaded {
            Ok(m) => {
                let problems = symphony_melody::validate(&m, self.registry());
                (Some(m), problems)
            }
            Err(p) => (None, p.into_vec()),
        };
        let text = String::from_utf8(bytes).map_err(|_| HostError::BadPath {
            path: rel.to_owned(),
            why: "the file is not UTF-8 text, so it is not a melody".into(),
        })?;
        Ok(MelodyDocument {
            path: rel.to_owned(),
            text,
            melody,
            hash,
            problems,
        })
    }
}

/// Every `*.melody.json` under `dir` (symbolic links are listed, then confined by the caller).
fn collect(dir: &Path, depth: usize, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() && depth < MAX_DEPTH {
            collect(&path, depth + 1, out)?;
        } else if (kind.is_file() || kind.is_symlink())
            && path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(MELODY_SUFFIX))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// The list entry of one file.
fn entry(file: &Confined) -> MelodyEntry {
    let file_name = file.rel.rsplit('/').next().unwrap_or(&file.rel).to_owned();
    let loaded = read_melody_file(file)
        .map_err(|e| e.to_string())
        .and_then(|b| symphony_melody::load(&b, &file.rel).map_err(|p| p.to_string()));
    match loaded {
        Ok(m) => MelodyEntry {
            path: file.rel.clone(),
            id: m.melody.id,
            name: m.melody.name,
            description: m.melody.description,
        },
        Err(why) => MelodyEntry {
            path: file.rel.clone(),
            id: String::new(),
            name: file_name,
            description: format!(
                "cannot be read as a melody: {}",
                why.lines().next().unwrap_or_default()
            ),
        },
    }
}

/// Whether a path's file name ends in `.melody.json`.
fn is_melody_name(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(MELODY_SUFFIX))
}

/// A melody file's bytes, its size checked before a byte is read: not a regular file (a
/// folder, a device, a pipe that would block) or more than the loader takes is refused, and
/// the read itself stops one byte past that limit (a file that grows while read).
fn read_melody_file(file: &Confined) -> Result<Vec<u8>, HostError> {
    use std::io::Read as _;
    let max = symphony_melody::load::MAX_BYTES;
    let read_error = |e| HostError::Read {
        path: file.rel.clone(),
        source: e,
    };
    let refuse = |why: String| HostError::BadPath {
        path: file.rel.clone(),
        why,
    };
    let check = |meta: &std::fs::Metadata| {
        if !meta.is_file() {
            return Err(refuse(
                "it is not a regular file, so it is not a melody".into(),
            ));
        }
        if meta.len() > max as u64 {
            return Err(refuse(too_large(meta.len(), max)));
        }
        Ok(())
    };
    // Before opening: opening a named pipe would wait for a writer.
    check(&std::fs::metadata(&file.abs).map_err(read_error)?)?;
    let opened = std::fs::File::open(&file.abs).map_err(read_error)?;
    // Again on the open file, so what is checked is what is read.
    let meta = opened.metadata().map_err(read_error)?;
    check(&meta)?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    opened
        .take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() > max {
        return Err(refuse(too_large(bytes.len() as u64, max)));
    }
    Ok(bytes)
}

/// Why a file of `len` bytes is not opened as a melody.
fn too_large(len: u64, max: usize) -> String {
    format!(
        "the file is {} MiB and melodies are limited to {} MiB, so it is not opened",
        len.div_ceil(1024 * 1024),
        max / (1024 * 1024)
    )
}

/// Writes a melody file atomically (see `symphony_conductor::atomic`): a reader never sees
/// half a file, and a symbolic link at the target or at a temporary name is never written
/// through.
fn write_atomically(file: &Confined, bytes: &[u8]) -> Result<(), HostError> {
    symphony_conductor::atomic::write_atomic(
        &file.abs,
        bytes,
        symphony_conductor::atomic::Access::Shared,
    )
    .map_err(|e| HostError::Write {
        path: file.rel.clone(),
        source: e,
    })
}

/// Step types a melody uses: its steps', their fallbacks', and map bodies'.
fn used_types(melody: &Melody) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for step in &melody.steps {
        out.insert(step.type_name.clone());
        for f in &step.policy.fallbacks {
            if let Some(t) = &f.type_name {
                out.insert(t.clone());
            }
        }
        if let Some(t) = step
            .config
            .get("body")
            .and_then(|b| b.get("type"))
            .and_then(Value::as_str)
        {
            out.insert(t.to_owned());
        }
    }
    out
}

/// Config keys whose values are secrets when they are literal text.
const SECRET_KEYS: &[&str] = &[
    "apikey",
    "api_key",
    "api-key",
    "password",
    "secret",
    "token",
    "accesstoken",
    "access_token",
    "authorization",
    "x-api-key",
];

/// Field paths under `value` where a secret-looking key holds literal text (templates that
/// only name a reference, `{{…}}`, are not secrets).
fn secrets_in(value: &Value, path: &str, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let here = format!("{path}.{k}");
                let secret_key = SECRET_KEYS.contains(&k.to_ascii_lowercase().as_str());
                match v {
                    Value::String(s) if secret_key && !s.trim().is_empty() && !is_reference(s) => {
                        found.push(here)
                    }
                    Value::String(s) if looks_like_key(s) => found.push(here),
                    _ => secrets_in(v, &here, found),
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                secrets_in(v, &format!("{path}[{i}]"), found);
            }
        }
        Value::String(s) if looks_like_key(s) => found.push(path.to_owned()),
        _ => {}
    }
}

/// A template that is nothing but `{{reference}}`.
fn is_reference(s: &str) -> bool {
    let t = s.trim();
    t.starts_with("{{") && t.ends_with("}}") && t.matches("{{").count() == 1
}

/// Text shaped like a provider key (`sk-…`, `sk-ant-…`) or a bearer token.
fn looks_like_key(s: &str) -> bool {
    let t = s.trim();
    let long_token = |rest: &str| {
        rest.len() >= 20
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    };
    t.strip_prefix("sk-").is_some_and(long_token)
        || t.strip_prefix("Bearer ").is_some_and(long_token)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The race `saveMelody` cannot lose, made deterministic: the name is checked, then a link
    /// appears at it before the write. The write replaces the link; the file it led to (inside
    /// the project or out of it) keeps its bytes.
    #[cfg(unix)]
    #[test]
    fn a_link_that_appears_after_the_check_is_replaced_not_followed() {
        let project = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(project.path().join("melodies")).unwrap();
        std::fs::write(project.path().join("main.rs"), "fn main() {}").unwrap();
        std::fs::write(outside.path().join(".bashrc"), "keep").unwrap();
        let p = crate::project::Project::open(project.path()).unwrap();
        for target in [
            project.path().join("main.rs"),
            outside.path().join(".bashrc"),
        ] {
            let file = p.resolve_for_write("melodies/x.melody.json").unwrap();
            let _ = std::fs::remove_file(&file.abs);
            std::os::unix::fs::symlink(&target, &file.abs).unwrap();
            write_atomically(&file, b"{}").unwrap();
            let meta = std::fs::symlink_metadata(&file.abs).unwrap();
            assert!(meta.is_file(), "the link was replaced by the melody");
            assert_eq!(std::fs::read(&file.abs).unwrap(), b"{}");
        }
        assert_eq!(
            std::fs::read_to_string(project.path().join("main.rs")).unwrap(),
            "fn main() {}"
        );
        assert_eq!(
            std::fs::read_to_string(outside.path().join(".bashrc")).unwrap(),
            "keep"
        );
    }

    #[test]
    fn secrets_are_found_by_key_and_by_shape() {
        let config = json!({
            "prompt": "hello {{goal}}",
            "apiKey": "abc",
            "credential": "openai",
            "headers": {"Authorization": "{{token}}", "X-Other": "Bearer abcdefghijklmnopqrstuvwxyz"},
            "list": ["sk-0123456789abcdefghijkl"]
        });
        let mut found = Vec::new();
        secrets_in(&config, "c", &mut found);
        assert_eq!(
            found,
            vec!["c.apiKey", "c.headers.X-Other", "c.list[0]"],
            "a reference is not a secret, a key-shaped literal is"
        );
    }
}
