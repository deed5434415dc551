//! HL7 v2 ER7 messages: segments split on CR (or LF), fields on `|`, components on `^`, `~`, `&`.
//! Each component is a leaf named `SEG.n` (e.g. `hl7:PID.5`), so HL7's delimiters are never read as
//! shell pipes or SQL operators.

use super::Sink;
use crate::leaf::{FieldKind, Leaf, Location};

/// Decodes an ER7 message into one leaf per non-empty component.
pub fn decode_hl7(body: &[u8], sink: &mut dyn Sink) {
    let mut name = String::new();
    for segment in body.split(|&b| b == b'\r' || b == b'\n') {
        if segment.len() < 3 {
            continue;
        }
        let seg_id = String::from_utf8_lossy(&segment[..3]);
        // MSH-2 holds the encoding characters themselves; skip it.
        let skip_encoding = seg_id == "MSH";
        for (n, field) in segment.split(|&b| b == b'|').enumerate().skip(1) {
            if skip_encoding && n == 1 {
                continue;
            }
            name.clear();
            name.push_str(&seg_id);
            name.push('.');
            name.push_str(&n.to_string());
            for comp in field.split(|&b| matches!(b, b'^' | b'~' | b'&')) {
                if comp.is_empty() {
                    continue;
                }
                sink.leaf(Leaf {
                    location: Location::Hl7,
                    name: &name,
                    value: comp,
                    field: FieldKind::FreeText,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::CollectingSink;

    #[test]
    fn components_are_leaves() {
        let mut s = CollectingSink::default();
        decode_hl7(
            b"MSH|^~\\&|SND|FAC\rPID|1||123^^^MRN||DOE^JOHN||19700101|M\r",
            &mut s,
        );
        let got: Vec<(String, String)> = s
            .leaves
            .iter()
            .map(|(n, v, _)| (n.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect();
        assert!(got.contains(&("hl7:PID.5".into(), "DOE".into())), "{got:?}");
        assert!(got.contains(&("hl7:PID.5".into(), "JOHN".into())));
        assert!(!got.iter().any(|(_, v)| v.contains('|') || v.contains('^')));
    }
}
