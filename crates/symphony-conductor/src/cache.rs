//! Reusing outputs: a step whose type is cacheable, with unchanged config and inputs, may take
//! an output stored by an earlier run instead of being played again.
//!
//! The conductor computes the key ([`cache_key`]); where outputs are kept is the host's
//! business, behind [`OutputCache`] (the run store implements it). A step's `StepSucceeded`
//! event carries its key, so whoever stores outputs can file them under it.

use std::sync::Arc;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use symphony_melody::{FieldType, Reference, Template, TypeSpec};

use crate::step::{BoxFuture, Outputs, RunView};

/// Where outputs of earlier plays are found.
pub trait OutputCache: Send + Sync {
    /// The outputs stored under a key, if any. A failure to look is a miss (the step is
    /// played): the cache must never be the reason a run fails.
    fn lookup<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<Outputs>>;
}

/// A shared cache, as run options hold it.
#[derive(Clone)]
pub struct CacheHandle(pub Arc<dyn OutputCache>);

impl std::fmt::Debug for CacheHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CacheHandle")
    }
}

/// The key of a step's output: the SHA-256 (hex) of its type name, the type's version, the
/// config in force, the input values by port, and `reads` — the value of every reference its
/// config templates read (run inputs, upstream outputs), by reference — as canonical JSON
/// (keys sorted, compact). Whatever can change what the step is asked changes the key.
pub fn cache_key(
    type_name: &str,
    version: u32,
    config: &Map<String, Value>,
    inputs: &Map<String, Value>,
    reads: &Map<String, Value>,
) -> String {
    let doc = json!({
        "type": type_name,
        "version": version,
        "config": config,
        "inputs": inputs,
        "reads": reads,
    });
    let bytes = serde_json::to_vec(&doc).expect("a JSON value serializes");
    let digest = Sha256::digest(&bytes);
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// The values a step's config templates read, by reference text (`goal`, `plan.output`);
/// `null` for a reference with no value.
pub(crate) fn template_reads(
    spec: &TypeSpec,
    config: &Map<String, Value>,
    inputs: &Map<String, Value>,
    view: &dyn RunView,
) -> Map<String, Value> {
    let mut reads = Map::new();
    each_template_read(spec, config, inputs, view, |r, value| {
        reads.insert(r.to_string(), value.cloned().unwrap_or(Value::Null));
    });
    reads
}

/// Calls `f` with every reference a step's config templates read and its value (none when the
/// reference has no value), without copying the values.
pub(crate) fn each_template_read<'v>(
    spec: &TypeSpec,
    config: &Map<String, Value>,
    inputs: &'v Map<String, Value>,
    view: &'v dyn RunView,
    mut f: impl FnMut(&Reference, Option<&'v Value>),
) {
    for field in &spec.config {
        if field.ty != FieldType::Template {
            continue;
        }
        let Some(Ok(template)) = config
            .get(&field.name)
            .and_then(Value::as_str)
            .map(Template::parse)
        else {
            continue;
        };
        for r in template.references() {
            f(r, crate::conductor::lookup(inputs, view, r));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn the_key_depends_on_type_version_config_and_inputs_not_on_key_order() {
        let a = cache_key(
            "instrument.offline",
            1,
            &map(json!({"prompt": "p", "model": "m"})),
            &map(json!({"x": 1})),
            &Map::new(),
        );
        let same = cache_key(
            "instrument.offline",
            1,
            &map(json!({"model": "m", "prompt": "p"})),
            &map(json!({"x": 1})),
            &Map::new(),
        );
        assert_eq!(a, same);
        assert_eq!(a.len(), 64);
        let others = [
            cache_key(
                "instrument.chat",
                1,
                &map(json!({"prompt": "p", "model": "m"})),
                &map(json!({"x": 1})),
                &Map::new(),
            ),
            cache_key(
                "instrument.offline",
                2,
                &map(json!({"prompt": "p", "model": "m"})),
                &map(json!({"x": 1})),
                &Map::new(),
            ),
            cache_key(
                "instrument.offline",
                1,
                &map(json!({"prompt": "q", "model": "m"})),
                &map(json!({"x": 1})),
                &Map::new(),
            ),
            cache_key(
                "instrument.offline",
                1,
                &map(json!({"prompt": "p", "model": "m"})),
                &map(json!({"x": 2})),
                &Map::new(),
            ),
        ];
        for other in others {
            assert_ne!(a, other);
        }
        let reading = cache_key(
            "instrument.offline",
            1,
            &map(json!({"prompt": "p", "model": "m"})),
            &map(json!({"x": 1})),
            &map(json!({"goal": "another goal"})),
        );
        assert_ne!(a, reading, "what the templates read is part of the key");
    }
}
