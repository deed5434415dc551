//! Content-Encoding inflation: any bytes, either coding, a limit from 0 to 127 × 512 bytes. The
//! output never passes the limit, and a stream cut at the limit holds exactly the limit.
#![no_main]
use libfuzzer_sys::fuzz_target;
use palisade_engine::decode::content_coding::{inflate, ContentCoding, Inflated};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let coding = if selector & 1 == 0 {
        ContentCoding::Gzip
    } else {
        ContentCoding::Deflate
    };
    let limit = usize::from(selector >> 1) * 512;
    let mut out = Vec::new();
    let inflated = inflate(coding, body, limit, &mut out);
    assert!(out.len() <= limit);
    if inflated == Inflated::TooLarge {
        assert_eq!(out.len(), limit);
    }
});
