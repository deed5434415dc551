//! `application/x-www-form-urlencoded` bodies and query strings: `&`-separated `name=value`
//! pairs, `+` and `%XX` decoded once. Repeated names are inspected one by one.

use std::borrow::Cow;

use super::Sink;
use crate::fields::classify_param;
use crate::leaf::{FieldKind, Leaf, Location};
use crate::signal::Signal;
use crate::transform::url_decode::{is_double_encoded, url_decode_once};

fn has_invalid_escape(s: &[u8]) -> bool {
    memchr::memchr_iter(b'%', s).any(|i| {
        let hex_pair = s.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && s.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        let iis_unicode = matches!(s.get(i + 1), Some(b'u' | b'U'));
        !hex_pair && !iis_unicode
    })
}

/// Decodes `a=1&b=2` into name and value leaves at `location` (query or form).
pub fn decode_form(input: &[u8], location: Location, sink: &mut dyn Sink) {
    let mut invalid_reported = false;
    // memchr's vector search finds the separators: a 10 KB form of prose has few of them.
    let mut rest = input;
    while !rest.is_empty() {
        let end = memchr::memchr(b'&', rest).unwrap_or(rest.len());
        let pair = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or_default();
        if pair.is_empty() {
            continue;
        }
        let (raw_name, raw_value) = match memchr::memchr(b'=', pair) {
            Some(eq) => (&pair[..eq], Some(&pair[eq + 1..])),
            None => (pair, None),
        };
        if !invalid_reported && has_invalid_escape(pair) {
            sink.signal(Signal::InvalidUrlEncoding, location, "");
            invalid_reported = true;
        }
        let name_bytes = url_decode_once(raw_name, true);
        let name: Cow<'_, str> = String::from_utf8_lossy(&name_bytes);
        sink.leaf(Leaf {
            location: Location::ArgName,
            name: &name,
            value: &name_bytes,
            field: FieldKind::Generic,
        });
        let Some(raw_value) = raw_value else { continue };
        let value = url_decode_once(raw_value, true);
        if is_double_encoded(&value) {
            sink.signal(Signal::DoubleEncoding, location, &name);
        }
        // A NUL once decoded, or twice (`%2500`: the application's own second decode, as CRS
        // judges it, gives the path-truncating NUL all the same).
        if memchr::memchr(0, &value).is_some() || memchr::memmem::find(&value, b"%00").is_some() {
            sink.signal(Signal::NullByte, location, &name);
        }
        sink.leaf(Leaf {
            location,
            name: &name,
            value: &value,
            field: classify_param(&name),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::CollectingSink;

    #[test]
    fn pairs_and_repeats() {
        let mut s = CollectingSink::default();
        decode_form(b"a=1+2&a=%27x&flag&=v", Location::Query, &mut s);
        let vals: Vec<(&str, &[u8])> = s
            .leaves
            .iter()
            .map(|(n, v, _)| (n.as_str(), v.as_slice()))
            .collect();
        assert_eq!(
            vals,
            vec![
                ("args_names:a", b"a" as &[u8]),
                ("args:a", b"1 2"),
                ("args_names:a", b"a"),
                ("args:a", b"'x"),
                ("args_names:flag", b"flag"),
                ("args_names:", b""),
                ("args:", b"v"),
            ]
        );
    }

    #[test]
    fn signals() {
        let mut s = CollectingSink::default();
        decode_form(b"p=%252e%252e&q=%zz&n=a%00b", Location::Form, &mut s);
        assert!(s.signals.contains(&Signal::DoubleEncoding));
        assert!(s.signals.contains(&Signal::InvalidUrlEncoding));
        assert!(s.signals.contains(&Signal::NullByte));
    }

    #[test]
    fn a_double_encoded_nul_is_a_nul_byte() {
        for (input, nul) in [
            (&b"cantidad=40%2500"[..], true),
            (b"b=%2500", true),
            (b"b=%00", true),
            (b"price=100%25", false),
            (b"b=%2530", false),
        ] {
            let mut s = CollectingSink::default();
            decode_form(input, Location::Form, &mut s);
            assert_eq!(
                s.signals.contains(&Signal::NullByte),
                nul,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn url_fields_typed() {
        let mut s = CollectingSink::default();
        decode_form(
            b"redirect_uri=https%3A%2F%2Fapp%2Fcb",
            Location::Query,
            &mut s,
        );
        assert_eq!(s.leaves[1].2, FieldKind::Redirect);
    }
}
