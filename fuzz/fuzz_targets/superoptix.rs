//! Fuzzes the SuperOptiX importer with arbitrary bytes: an orchestra file is what a user imports
//! from someone else.
//!
//! Properties: nothing panics or hangs; whatever imports is deterministic (the same bytes give
//! the same melody), validates without panicking, and survives a save/load round trip unchanged,
//! as the importer promises (`crates/symphony-melody/src/superoptix.rs`).
//!
//! Run: `scripts/fuzz 600 superoptix` (see README "Fuzzing").

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use symphony_conductor::Registry;

fuzz_target!(|data: &[u8]| {
    let Ok(melody) = symphony_melody::import_superoptix(data, "fuzz_orchestra.yaml") else {
        return;
    };
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    let registry = REGISTRY.get_or_init(Registry::standard);
    let _problems = symphony_melody::validate(&melody, registry);
    let bytes = symphony_melody::to_bytes(&melody);
    let again = symphony_melody::load(&bytes, "fuzz").expect("an imported melody's bytes load");
    assert_eq!(again, melody, "a save/load round trip changed the imported melody");
    let twice = symphony_melody::import_superoptix(data, "fuzz_orchestra.yaml")
        .expect("the same bytes import again");
    assert_eq!(twice, melody, "importing the same bytes twice gave different melodies");
});
