//! Malformed input never panics: random bytes through the XFF parser, path patterns, the RESP
//! parser, list parsing and `check`.
#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)]

use palisade_access::identity::parse_forwarded_entry;
use palisade_access::redis::resp::parse_reply;
use palisade_access::{
    AccessConfig, AccessControl, AccessRequest, IpSet, NoHeaders, PathPattern, RateRule,
    TrustedProxies,
};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, alphabet: &[u8], max: usize) -> Vec<u8> {
        let len = (self.next() as usize) % max;
        (0..len)
            .map(|_| alphabet[(self.next() as usize) % alphabet.len()])
            .collect()
    }
}

const XFF_ALPHABET: &[u8] = b"0123456789abcdef:.[], \t%/\xff\x00unknow";
const PATH_ALPHABET: &[u8] = b"/a*.-_%\x00\xffAZ";
const RESP_ALPHABET: &[u8] = b"+-:$*\r\n0123456789-ab";

fn xff_token(rng: &mut Rng) -> Vec<u8> {
    let v4 = std::net::Ipv4Addr::from(rng.next() as u32);
    let v6 = std::net::Ipv6Addr::from(u128::from(rng.next()) << 64 | u128::from(rng.next()));
    let port = rng.next() % 70_000;
    match rng.next() % 7 {
        0 => v4.to_string().into_bytes(),
        1 => format!("{v4}:{port}").into_bytes(),
        2 => format!("[{v6}]:{port}").into_bytes(),
        3 => v6.to_string().into_bytes(),
        4 => format!(" 10.{}.0.1 ", rng.next() % 256).into_bytes(),
        _ => rng.bytes(XFF_ALPHABET, 30),
    }
}

#[test]
fn random_xff_never_panics_and_never_returns_garbage() {
    let proxies = TrustedProxies::heroku(IpSet::parse_list("10.0.0.0/8", "x").unwrap());
    let peer = "10.0.0.1".parse().unwrap();
    let mut rng = Rng(7);
    let mut resolved_from_header = 0;
    for _ in 0..20_000 {
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for _ in 0..1 + rng.next() % 2 {
            let tokens: Vec<Vec<u8>> = (0..1 + rng.next() % 4)
                .map(|_| xff_token(&mut rng))
                .collect();
            lines.push(tokens.join(&b","[..]));
        }
        let refs: Vec<&[u8]> = lines.iter().map(|l| l.as_slice()).collect();
        let ip = proxies.resolve(peer, &refs);
        // The result is the peer or one of the header's own entries, never anything invented.
        if ip != peer {
            resolved_from_header += 1;
            let entries: Vec<std::net::IpAddr> = lines
                .iter()
                .flat_map(|v| v.split(|&c| c == b','))
                .filter_map(|t| {
                    let t = String::from_utf8_lossy(t);
                    parse_forwarded_entry(t.trim_matches([' ', '\t']).as_bytes())
                })
                .collect();
            assert!(entries.contains(&ip), "{ip} not among {entries:?}");
        }
    }
    assert!(resolved_from_header > 1000, "{resolved_from_header}");
}

#[test]
fn random_paths_and_patterns_never_panic() {
    let mut rng = Rng(11);
    let fixed = PathPattern::parse("/a/**/b*/*.x").unwrap();
    for _ in 0..20_000 {
        let path = rng.bytes(PATH_ALPHABET, 60);
        let _ = fixed.matches(&path);
        let pat = String::from_utf8_lossy(&rng.bytes(PATH_ALPHABET, 30)).into_owned();
        if let Ok(p) = PathPattern::parse(&pat) {
            let _ = p.matches(&path);
        }
        let _ = RateRule::parse(&pat);
    }
}

#[test]
fn random_resp_never_panics() {
    let mut rng = Rng(13);
    for _ in 0..50_000 {
        let buf = rng.bytes(RESP_ALPHABET, 40);
        let _ = parse_reply(&buf);
    }
}

#[test]
fn random_list_text_never_panics() {
    let mut rng = Rng(17);
    for _ in 0..5_000 {
        let text =
            String::from_utf8_lossy(&rng.bytes(b"0123456789./:#; \nabcdef", 200)).into_owned();
        let _ = IpSet::parse_list(&text, "fuzz");
    }
}

#[test]
fn random_requests_never_panic() {
    let mut config = AccessConfig::default();
    config
        .rate_limits
        .rules
        .push(RateRule::parse("POST /login 5/minute").unwrap());
    let access = AccessControl::new(config).unwrap();
    let mut rng = Rng(19);
    for _ in 0..20_000 {
        let path = rng.bytes(PATH_ALPHABET, 60);
        let ua = rng.bytes(b"sqlmapMozil/ \x00\x7f\xff", 40);
        let ip = std::net::IpAddr::V4((rng.next() as u32).into());
        let req = AccessRequest {
            ip,
            method: "POST",
            method_overrides: &[],
            path: &path,
            user_agent: Some(&ua),
            headers: &NoHeaders,
        };
        let _ = access.check(&req);
    }
}
