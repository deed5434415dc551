//! Runs one detector many times on clinical prose, for instruction counting under callgrind:
//! `valgrind --tool=callgrind target/release/examples/prose shell 1000`.
#![allow(missing_docs)]

const NOTES: &[&str] = &[
    "Patient reports improved sleep since the last visit and walks 30 minutes most days.",
    "Follow up in 3 months; repeat labs before the visit. Discussed diet and exercise.",
    "No known drug allergies. Family history of heart disease (father, age 61).",
    "Mild wheeze on exam, resolved after bronchodilator. Inhaler technique reviewed.",
    "Blood pressure well controlled on current dose; continue home monitoring twice daily.",
];

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "shell".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let values: Vec<String> = (0..25)
        .map(|i| format!("{} {}", NOTES[i / 5], NOTES[i % 5]))
        .collect();
    let mut hits = 0usize;
    for i in 0..n {
        let v = std::hint::black_box(values[i % values.len()].as_str());
        let hit = match which.as_str() {
            "sqli" => palisade_detect::sqli(v).is_some(),
            "xss" => palisade_detect::xss(v).is_some(),
            _ => palisade_detect::shell(v).is_some(),
        };
        hits += usize::from(hit);
    }
    println!("{which} x{n}: {hits} hits");
}
