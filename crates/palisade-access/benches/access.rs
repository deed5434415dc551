//! Criterion benches: IP-set lookups at 100k CIDRs, XFF resolution, the local rate-limit
//! decision, and a full `check` with every control on.
#![allow(missing_docs, clippy::unwrap_used, clippy::field_reassign_with_default)]

use std::hint::black_box;
use std::net::IpAddr;

use criterion::{criterion_group, criterion_main, Criterion};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use palisade_access::mmdb_writer::{anonymous_db, country_db};
use palisade_access::{
    AccessConfig, AccessControl, AccessRequest, AnonymousCategory, ForwardedMode, IpListConfig,
    IpSet, NoHeaders, PathPattern, PathRuleConfig, RateLimit, RateRule,
};

/// Deterministic xorshift so runs are comparable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn random_v4_nets(n: usize, rng: &mut Rng) -> Vec<IpNet> {
    (0..n)
        .map(|_| {
            let len = 16 + (rng.next() % 17) as u8;
            let addr = std::net::Ipv4Addr::from(rng.next() as u32);
            IpNet::V4(Ipv4Net::new(addr, len).unwrap().trunc())
        })
        .collect()
}

fn bench_ipset(c: &mut Criterion) {
    let mut rng = Rng(0x1234_5678_9abc_def0);
    let set = IpSet::from_nets(random_v4_nets(100_000, &mut rng));
    let probes: Vec<IpAddr> = (0..4096)
        .map(|_| IpAddr::V4((rng.next() as u32).into()))
        .collect();
    let mut i = 0;
    c.bench_function("ipset_lookup_v4_100k_cidrs", |b| {
        b.iter(|| {
            i = (i + 1) & 4095;
            black_box(set.contains(black_box(probes[i])))
        })
    });

    let v6: Vec<IpNet> = (0..100_000)
        .map(|_| {
            let addr =
                std::net::Ipv6Addr::from((u128::from(rng.next()) << 64) | u128::from(rng.next()));
            IpNet::V6(
                Ipv6Net::new(addr, 32 + (rng.next() % 97) as u8)
                    .unwrap()
                    .trunc(),
            )
        })
        .collect();
    let set6 = IpSet::from_nets(v6);
    let probes6: Vec<IpAddr> = (0..4096)
        .map(|_| IpAddr::V6(((u128::from(rng.next()) << 64) | u128::from(rng.next())).into()))
        .collect();
    c.bench_function("ipset_lookup_v6_100k_cidrs", |b| {
        b.iter(|| {
            i = (i + 1) & 4095;
            black_box(set6.contains(black_box(probes6[i])))
        })
    });
}

fn bench_identity(c: &mut Criterion) {
    let cdn = IpSet::parse_list("173.245.48.0/20\n103.21.244.0/22\n2400:cb00::/32", "cdn").unwrap();
    let proxies = palisade_access::TrustedProxies::new(ForwardedMode::Heroku, cdn);
    let peer: IpAddr = "10.1.2.3".parse().unwrap();
    c.bench_function("xff_resolve_heroku_cdn", |b| {
        b.iter(|| {
            black_box(proxies.resolve(
                peer,
                black_box(&[b"1.2.3.4, 203.0.113.9, 173.245.48.5".as_slice()]),
            ))
        })
    });
}

fn ips(n: u32) -> Vec<IpAddr> {
    (0..n)
        .map(|i| IpAddr::V4((0x0b00_0000 + i * 7).into()))
        .collect()
}

fn bench_rate_limit(c: &mut Criterion) {
    let mut config = AccessConfig::default();
    config.rate_limits.global = Some(RateLimit::parse("1000000/second").unwrap());
    config
        .rate_limits
        .rules
        .push(RateRule::parse("POST /login 1000000/second").unwrap());
    let access = AccessControl::new(config).unwrap();
    let clients = ips(10_000);
    let mut i = 0;
    c.bench_function("rate_limit_decision_local_10k_clients", |b| {
        b.iter(|| {
            i = (i + 1) % clients.len();
            let req = AccessRequest {
                ip: clients[i],
                method: "POST",
                method_overrides: &[],
                path: b"/login",
                user_agent: Some(b"Mozilla/5.0"),
                headers: &NoHeaders,
            };
            black_box(access.check(black_box(&req)))
        })
    });

    let mut config = AccessConfig::default();
    config.rate_limits.global = Some(RateLimit::parse("1/hour").unwrap());
    let limited = AccessControl::new(config).unwrap();
    let req = AccessRequest {
        ip: "203.0.113.1".parse().unwrap(),
        method: "GET",
        method_overrides: &[],
        path: b"/",
        user_agent: Some(b"Mozilla/5.0"),
        headers: &NoHeaders,
    };
    let _ = limited.check(&req);
    c.bench_function("rate_limit_decision_local_limited", |b| {
        b.iter(|| black_box(limited.check(black_box(&req))))
    });
}

fn bench_full_check(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("palisade-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let geo = dir.join("country.mmdb");
    std::fs::write(
        &geo,
        country_db(&[("11.0.0.0/8", "US"), ("81.2.69.0/24", "GB")]),
    )
    .unwrap();
    let anon = dir.join("anon.mmdb");
    std::fs::write(
        &anon,
        anonymous_db(&[("198.51.100.0/24", &["is_tor_exit_node"])]),
    )
    .unwrap();
    let mut rng = Rng(42);
    let mut list = String::new();
    for net in random_v4_nets(100_000, &mut rng) {
        if !net.contains(&"11.0.0.0".parse::<IpAddr>().unwrap())
            && net.network().to_string().starts_with("11.")
        {
            continue;
        }
        list.push_str(&format!("{net}\n"));
    }
    let list_path = dir.join("block.netset");
    std::fs::write(&list_path, list).unwrap();

    let mut config = AccessConfig::default();
    config.block.files.push(list_path);
    config.geo.database = Some(geo);
    config.geo.block_countries = vec!["KP".parse().unwrap()];
    config.anonymous.database = Some(anon);
    config.anonymous.block = vec![AnonymousCategory::Tor];
    let mut admin = PathRuleConfig::new(PathPattern::parse("/admin/**").unwrap());
    admin.allow = IpListConfig::from_ips(["192.0.2.0/24"]);
    config.paths.push(admin);
    config.rate_limits.global = Some(RateLimit::parse("1000000/second").unwrap());
    config
        .rate_limits
        .rules
        .push(RateRule::parse("POST /login 1000000/second").unwrap());
    let access = AccessControl::new(config).unwrap();
    let clients = ips(10_000);
    let mut i = 0;
    c.bench_function("check_all_controls_allow", |b| {
        b.iter(|| {
            i = (i + 1) % clients.len();
            let req = AccessRequest {
                ip: clients[i],
                method: "GET",
                method_overrides: &[],
                path: b"/api/v1/patients/42",
                user_agent: Some(b"Mozilla/5.0 (X11; Linux x86_64) Firefox/125.0"),
                headers: &NoHeaders,
            };
            black_box(access.check(black_box(&req)))
        })
    });
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(
    benches,
    bench_ipset,
    bench_identity,
    bench_rate_limit,
    bench_full_check
);
criterion_main!(benches);
