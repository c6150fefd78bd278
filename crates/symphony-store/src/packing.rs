//! Large text kept deflated in the event log: an instrument's raw response (a streamed answer
//! is one JSON chunk per token, 6 KB for 30 tokens) shrinks to a fraction. It is stored as
//! `{"$deflate": "<base64 of the raw deflate stream>"}` in place of the string, and put back
//! by [`inflate_in_place`] wherever the log is read (the board, the export).

use std::io::{Read, Write};

use base64::Engine;
use serde_json::{json, Value};

/// Shorter than this, text is kept as it is.
const MIN_BYTES: usize = 1024;

/// `text` deflated, if that is worth it (it is long, and comes out shorter).
pub(crate) fn deflate(text: &str) -> Option<Value> {
    if text.len() < MIN_BYTES {
        return None;
    }
    let mut encoder =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(text.as_bytes()).ok()?;
    let packed = base64::engine::general_purpose::STANDARD.encode(encoder.finish().ok()?);
    (packed.len() < text.len()).then(|| json!({ "$deflate": packed }))
}

/// Turns `{"$deflate": …}` back into its text; leaves anything else alone. Text that cannot be
/// inflated (a damaged store) becomes a note saying so, not an error for the whole log.
pub(crate) fn inflate_in_place(value: &mut Value) {
    let Some(packed) = value.get("$deflate").and_then(Value::as_str) else {
        return;
    };
    *value = Value::String(
        inflate(packed)
            .unwrap_or_else(|why| format!("(the stored response could not be read back: {why})")),
    );
}

fn inflate(packed: &str) -> Result<String, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(packed)
        .map_err(|e| e.to_string())?;
    let mut text = String::new();
    flate2::read::DeflateDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_long_response_is_deflated_and_read_back_as_it_was() {
        let sse: String = (0..30)
            .map(|i| format!("data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"w{i} \"}},\"finish_reason\":null}}]}}\n\n"))
            .collect();
        let mut packed = deflate(&sse).unwrap();
        let stored = packed.to_string().len();
        assert!(stored * 4 < sse.len(), "{stored} bytes for {}", sse.len());
        inflate_in_place(&mut packed);
        assert_eq!(packed, Value::String(sse));
    }

    #[test]
    fn short_text_is_left_alone_and_damage_is_said_not_thrown() {
        assert_eq!(deflate("{\"ok\": true}"), None);
        let mut plain = json!("as it was");
        inflate_in_place(&mut plain);
        assert_eq!(plain, json!("as it was"));
        let mut damaged = json!({"$deflate": "not base64!"});
        inflate_in_place(&mut damaged);
        assert!(damaged
            .as_str()
            .unwrap()
            .starts_with("(the stored response could not be read back"));
    }
}
