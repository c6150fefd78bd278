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
