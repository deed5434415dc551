//! Every transform on arbitrary bytes: no panic, bounded growth.
#![no_main]
use libfuzzer_sys::fuzz_target;
use palisade_engine::transform::Transform;

fuzz_target!(|data: &[u8]| {
    for &t in Transform::ALL {
        let out = t.apply(data);
        // Decoders only shrink or keep size, except entity/escape decoders that may expand a
        // short reference into a 4-byte character.
        assert!(out.len() <= data.len() * 4 + 4, "{} grew too much", t.name());
    }
});
