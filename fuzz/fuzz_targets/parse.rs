//! Fuzzes the melody parser and validator with arbitrary bytes.
//!
//! Properties: nothing panics or hangs; whatever loads, validates without panicking, plans
//! when it is valid, and survives a save/load round trip unchanged (deterministic bytes).
//!
//! Run: `cargo fuzz run parse` (from the repository root; see README "Fuzzing").

#![no_main]

use libfuzzer_sys::fuzz_target;
use symphony_conductor::Registry;

fuzz_target!(|data: &[u8]| {
    let Ok(melody) = symphony_melody::load(data, "fuzz") else {
        return;
    };
    let registry = Registry::standard();
    let problems = symphony_melody::validate(&melody, &registry);
    let bytes = symphony_melody::to_bytes(&melody);
    let again = symphony_melody::load(&bytes, "fuzz").expect("saved bytes load again");
    assert_eq!(again, melody, "a save/load round trip changed the melody");
    assert_eq!(symphony_melody::to_bytes(&again), bytes, "saving is deterministic");
    if problems.is_empty() {
        let graph = symphony_melody::graph::MelodyGraph::build(&melody);
        assert!(graph.plan(&melody, |_| 1).is_some(), "a valid melody has a plan");
    }
});
