use super::*;

fn hit(s: &str) -> Option<&'static str> {
    let d = ssrf(s)?;
    assert!(
        s.get(d.span.clone()).is_some(),
        "span on a char boundary: {s:?}"
    );
    Some(d.fingerprint)
}

#[test]
fn loopback_in_every_spelling() {
    for s in [
        "http://127.0.0.1/",
        "http://127.1/admin",
        "http://0177.0.0.1/",
        "http://0x7f.1/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0/",
        "http://[::1]:8080/",
        "http://[::ffff:127.0.0.1]/",
        "http://localhost:6379/",
        "https://LOCALHOST/",
        "  http://127.0.0.1",
        "gopher://127.0.0.1:6379/_FLUSHALL",
        "redis://localhost:6379",
        "http://%31%32%37.0.0.1/",
    ] {
        assert_eq!(
            hit(s),
            Some(if s.contains("localhost") || s.contains("LOCALHOST") {
                INTERNAL_NAME
            } else {
                LOOPBACK
            }),
            "{s}"
        );
    }
}

#[test]
fn metadata_and_private_networks() {
    assert_eq!(
        hit("http://169.254.169.254/latest/meta-data/"),
        Some(LINK_LOCAL)
    );
    assert_eq!(hit("http://0xa9fea9fe/"), Some(LINK_LOCAL));
    assert_eq!(hit("http://[fd00:ec2::254]/"), Some(PRIVATE));
    assert_eq!(hit("http://10.0.0.5:9200/_search"), Some(PRIVATE));
    assert_eq!(hit("http://192.168.1.1/"), Some(PRIVATE));
    assert_eq!(
        hit("http://100.100.100.200/latest/meta-data"),
        Some(PRIVATE)
    );
    assert_eq!(
        hit("http://metadata.google.internal/computeMetadata/v1/"),
        Some(INTERNAL_NAME)
    );
    assert_eq!(hit("http://127.0.0.1.nip.io/"), Some(INTERNAL_NAME));
}

#[test]
fn parser_differentials_count_for_either_reading() {
    // User info: the last `@` (WHATWG, curl) and the first.
    assert_eq!(hit("http://user@127.1/"), Some(LOOPBACK));
    assert_eq!(hit("http://a@127.0.0.1@example.com/"), Some(LOOPBACK));
    // A backslash ends the host for WHATWG, not for RFC 3986 parsers.
    assert_eq!(hit("http://example.com\\@127.0.0.1/"), Some(LOOPBACK));
    assert_eq!(hit("http://127.0.0.1\\@example.com/"), Some(LOOPBACK));
    assert_eq!(
        hit("http://example.com:80 &@127.88.23.245:22/# @example.com:80/"),
        Some(LOOPBACK)
    );
    // Parsers that end the authority at `/` alone read past `#`.
    assert_eq!(
        hit("http://example.com:80 &@example.com:80# @127.88.23.245:22/"),
        Some(LOOPBACK)
    );
    assert_eq!(hit("http://7147006462/"), Some(LINK_LOCAL));
    // Special schemes take any slashes, or none.
    assert_eq!(hit("http:127.1/"), Some(LOOPBACK));
    assert_eq!(hit("http:/\\127.0.0.1/"), Some(LOOPBACK));
    assert_eq!(hit("https:\\\\localhost/"), Some(INTERNAL_NAME));
}

#[test]
fn characters_idna_maps_to_ascii_spell_the_same_host() {
    assert_eq!(hit("acap://①②⑦.⓪.⓪.①"), Some(LOOPBACK));
    assert_eq!(hit("imap://①⑥⑨.②⑤④.①⑥⑨.②⑤④"), Some(LINK_LOCAL));
    assert_eq!(hit("http://169。254。169。254/"), Some(LINK_LOCAL));
    assert_eq!(hit("irc://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ"), Some(INTERNAL_NAME));
    assert_eq!(hit("pop3://ⓁⓄⒸⒶⓁⒽⓄⓈⓉ"), Some(INTERNAL_NAME));
    assert_eq!(hit("http://１２７．０．０．１/"), Some(LOOPBACK));
    assert_eq!(hit("http://⑩.0.0.1/"), Some(PRIVATE));
    assert_eq!(hit("http://bücher.example/"), None);
    assert_eq!(hit("http://例え.テスト/"), None);
}

#[test]
fn public_urls_and_non_urls_pass() {
    for s in [
        "http://hl7.org/fhir/StructureDefinition/us-core-patient",
        "http://loinc.org",
        "https://fhir.example.com/r4/Patient/123",
        "urn:oid:2.16.840.1.113883.6.1",
        "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",
        "mailto:dr@127.0.0.1",
        "http://example.com/?next=http://127.0.0.1/",
        "see http://127.0.0.1/ for details",
        "127.0.0.1",
        "BP 120/80, follow-up at 10:30",
        "http://8.8.8.8/",
        "http://1.2.3.4.5/",
        "http://256.0.0.1/",
        "http://[::ffff:8.8.8.8]/",
        "http://user:pass@example.com:8443/",
        "",
        "http:",
        "http://",
        "http://[",
        "http://%zz/",
        // Decoded once here, as WHATWG does; the engine URL-decodes before the detector.
        "http://%2531%2532%2537.0.0.1/",
    ] {
        assert_eq!(hit(s), None, "{s}");
    }
}

#[test]
fn span_is_the_host() {
    let s = "http://user@0x7f.1:8080/x";
    let d = ssrf(s).expect("loopback");
    assert_eq!(&s[d.span], "0x7f.1");
}

#[test]
fn candidate_needs_a_colon() {
    assert!(!ssrf_candidate(b"localhost"));
    assert!(ssrf_candidate(b"http://x"));
}
