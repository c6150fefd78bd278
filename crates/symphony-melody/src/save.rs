//! Deterministic serialization: the same melody always gives the same bytes.
//!
//! Keys are sorted (maps are `BTreeMap`s, `serde_json::Map` is sorted), struct fields keep their
//! declared order, defaults are left out, indentation is two spaces and the file ends in a newline.
//! So loading and saving an unchanged melody changes no byte, and diffs in git show only edits.

use crate::model::Melody;

/// The canonical bytes of a melody file.
pub fn to_bytes(melody: &Melody) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(melody)
        .expect("a Melody has only string keys and always serializes");
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    /// Found by the fuzzer: a long decimal parsed to a float that printed as a different float,
    /// so a save/load round trip changed the melody. serde_json's `float_roundtrip` fixes it.
    #[test]
    fn long_decimals_survive_a_round_trip() {
        let y = format!("100{}.0", "3".repeat(106));
        let text = format!(
            r#"{{"formatVersion": 1, "melody": {{"id": "m", "name": "M"}}, "steps": [],
                "layout": {{"steps": {{"a": {{"x": 0.1, "y": {y}}}}}}}}}"#
        );
        let first = crate::load(text.as_bytes(), "m").unwrap();
        let bytes = super::to_bytes(&first);
        let second = crate::load(&bytes, "m").unwrap();
        assert_eq!(first, second);
        assert_eq!(super::to_bytes(&second), bytes);
    }
}
