//! Every detector on arbitrary text: no panic, and a finding's span slices the input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use palisade_engine::detect::{run, DetectorKind};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for name in DetectorKind::NAMES {
        let Some(kind) = DetectorKind::from_name(name) else {
            panic!("detector name {name} does not parse");
        };
        if let Some(f) = run(kind, &text) {
            assert!(text.get(f.span.clone()).is_some(), "{name}: span {:?}", f.span);
        }
    }
});
