//! Limits and bans shared through a real redis-server (started on a free loopback port; the
//! tests print SKIP and pass if redis-server is not installed).
#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{ip, req, RedisServer};
use palisade_access::redis::{RedisUrl, RespConnection, RespValue, TcpConnector};
use palisade_access::{
    AccessConfig, AccessControl, AccessDecision, ConfigDuration, Control, RateRule, RedisConfig,
    RedisConnector, SharedStatus, SharedWarning,
};

fn shared_config(url: &str, rule: &str) -> AccessConfig {
    let mut config = AccessConfig::default();
    config
        .rate_limits
        .rules
        .push(RateRule::parse(rule).unwrap());
    let mut redis = RedisConfig::new(url);
    // Generous: the test machine is shared; production default is 5 ms.
    redis.timeout = ConfigDuration(Duration::from_millis(500));
    redis.key_prefix = format!("palisade-test-{}", std::process::id());
    config.redis = Some(redis);
    config
}

async fn wait_connected(access: &AccessControl) {
    access
        .shared()
        .unwrap()
        .start(&tokio::runtime::Handle::current());
    let deadline = Instant::now() + Duration::from_secs(10);
    while access.shared_status() != SharedStatus::Connected {
        assert!(
            Instant::now() < deadline,
            "never connected: {:?}",
            access.shared_status()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_client_talks_to_real_redis() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let url = RedisUrl::parse(&server.url()).unwrap();
    let stream = TcpConnector.connect(&url).await.unwrap();
    let mut conn = RespConnection::new(stream);
    conn.handshake(&url).await.unwrap();
    assert_eq!(
        conn.command(&[b"SET", b"k", b"v"]).await.unwrap(),
        RespValue::Simple("OK".into())
    );
    assert_eq!(
        conn.command(&[b"GET", b"k"]).await.unwrap(),
        RespValue::Bulk(Some(b"v".to_vec()))
    );
    assert!(conn.command(&[b"NOSUCHCOMMAND"]).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_limit() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let rule = "GET /api/** 50/minute burst=50";
    let a = Arc::new(AccessControl::new(shared_config(&server.url(), rule)).unwrap());
    let b = Arc::new(AccessControl::new(shared_config(&server.url(), rule)).unwrap());
    wait_connected(&a).await;
    wait_connected(&b).await;
    let client = ip("203.0.113.40");
    let mut tasks = Vec::new();
    for access in [a.clone(), b.clone()] {
        tasks.push(tokio::spawn(async move {
            let mut allowed = 0;
            for _ in 0..100 {
                if access
                    .check_shared(&req(client, "GET", "/api/records"))
                    .await
                    .is_allow()
                {
                    allowed += 1;
                }
            }
            allowed
        }));
    }
    let mut per_instance = Vec::new();
    for t in tasks {
        per_instance.push(t.await.unwrap());
    }
    let total: i32 = per_instance.iter().sum();
    eprintln!(
        "shared limit 50: instance A allowed {}, B allowed {}",
        per_instance[0], per_instance[1]
    );
    // One combined limit of 50 (each alone would allow 50, 100 together); within 10 %.
    assert!(
        (45..=55).contains(&total),
        "allowed {per_instance:?} = {total}"
    );
    assert!(per_instance.iter().all(|&n| n > 0), "{per_instance:?}");
    assert_eq!(a.shared_status(), SharedStatus::Connected);

    // The 429 from the shared path carries the rule and a Retry-After.
    match b.check_shared(&req(client, "GET", "/api/records")).await {
        AccessDecision::Limit {
            rule,
            retry_after_secs,
            status,
        } => {
            assert_eq!(status, 429);
            assert_eq!(&*rule, "GET /api/**");
            assert!((1..=2).contains(&retry_after_secs), "{retry_after_secs}");
        }
        other => panic!("{other:?}"),
    }
    // Other paths are unaffected.
    assert!(a
        .check_shared(&req(client, "GET", "/home"))
        .await
        .is_allow());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bans_are_shared() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let rule = "GET /x 1000/minute";
    let mut ca = shared_config(&server.url(), rule);
    ca.bans.after_blocks = 3;
    let cb = ca.clone();
    let a = AccessControl::new(ca).unwrap();
    let b = AccessControl::new(cb).unwrap();
    wait_connected(&a).await;
    wait_connected(&b).await;
    let client = ip("198.51.100.9");
    for _ in 0..3 {
        a.record_block(client);
    }
    // B never saw a block, yet sees the ban once A's fire-and-forget writes land.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let d = b.check_shared(&req(client, "GET", "/x")).await;
        if d.control() == Some(Control::Ban) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "ban never reached instance B: {d:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(b
        .check_shared(&req(ip("198.51.100.10"), "GET", "/x"))
        .await
        .is_allow());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_mid_test_falls_back_to_local_then_recovers() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let access = AccessControl::new(shared_config(&server.url(), "POST /login 5/minute")).unwrap();
    wait_connected(&access).await;
    let client = ip("203.0.113.77");
    for _ in 0..2 {
        assert!(access
            .check_shared(&req(client, "POST", "/login"))
            .await
            .is_allow());
    }
    assert_eq!(access.take_shared_warning(), None);

    server.kill();
    // Requests keep being answered, quickly, from local state: 5 allowed, then limited.
    let started = Instant::now();
    let mut decisions = Vec::new();
    for _ in 0..8 {
        decisions.push(access.check_shared(&req(client, "POST", "/login")).await);
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let allowed = decisions.iter().filter(|d| d.is_allow()).count();
    assert_eq!(allowed, 5, "{decisions:?}");
    assert!(decisions[7].control() == Some(Control::RateLimit));
    // Other paths keep working.
    assert!(access
        .check_shared(&req(client, "GET", "/"))
        .await
        .is_allow());

    // Degraded, with one warning per minute.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !matches!(access.shared_status(), SharedStatus::Degraded { .. }) {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(matches!(
        access.take_shared_warning(),
        Some(SharedWarning::Unavailable { .. })
    ));
    assert_eq!(access.take_shared_warning(), None, "warn once per minute");

    // Redis comes back: the client reconnects by itself and says so once.
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    while access.shared_status() != SharedStatus::Connected {
        assert!(
            Instant::now() < deadline,
            "no reconnect: {:?}",
            access.shared_status()
        );
        let _ = access.check_shared(&req(client, "GET", "/")).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(access.take_shared_warning(), Some(SharedWarning::Recovered));
    // The restarted Redis is empty, so shared counting starts afresh.
    assert!(access
        .check_shared(&req(client, "POST", "/login"))
        .await
        .is_allow());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_redis_from_the_start_never_blocks() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    let access = AccessControl::new(shared_config(&url, "POST /login 2/minute")).unwrap();
    let client = ip("192.0.2.5");
    let started = Instant::now();
    assert!(access
        .check_shared(&req(client, "POST", "/login"))
        .await
        .is_allow());
    assert!(access
        .check_shared(&req(client, "POST", "/login"))
        .await
        .is_allow());
    assert_eq!(
        access
            .check_shared(&req(client, "POST", "/login"))
            .await
            .control(),
        Some(Control::RateLimit)
    );
    assert!(started.elapsed() < Duration::from_millis(500));
}

#[test]
fn rediss_without_tls_connector_is_a_clear_error() {
    let mut config = AccessConfig::default();
    config.redis = Some(RedisConfig::new("rediss://:hunter2@redis.example:6380"));
    let err = AccessControl::new(config).unwrap_err().to_string();
    assert!(err.contains("TLS connector"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

/// A connector that wraps the TCP stream in another type (as a TLS connector would) and counts
/// the bytes written: the client is generic over the stream, and `rediss://` URLs go through a
/// caller-supplied connector.
mod custom_connector {
    use std::pin::Pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Context, Poll};

    use palisade_access::{RedisConnector, RedisUrl};
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
    use tokio::net::TcpStream;

    pub struct Counting {
        inner: TcpStream,
        written: Arc<AtomicUsize>,
    }

    impl AsyncRead for Counting {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for Counting {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            let r = Pin::new(&mut self.inner).poll_write(cx, buf);
            if let Poll::Ready(Ok(n)) = &r {
                self.written.fetch_add(*n, Ordering::SeqCst);
            }
            r
        }
        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.inner).poll_flush(cx)
        }
        fn poll_shutdown(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    }

    pub struct CountingConnector {
        pub written: Arc<AtomicUsize>,
    }

    impl RedisConnector for CountingConnector {
        type Stream = Counting;
        async fn connect(&self, url: &RedisUrl) -> std::io::Result<Counting> {
            // A real TLS connector would start a handshake here when url.tls is set.
            let inner = TcpStream::connect((url.host.as_str(), url.port)).await?;
            Ok(Counting {
                inner,
                written: self.written.clone(),
            })
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_supplied_connector_for_rediss() {
    use palisade_access::SharedLimiter;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let Some(server) = RedisServer::start() else {
        return;
    };
    let config = shared_config(&server.url(), "POST /login 3/minute");
    let mut redis = config.redis.clone().unwrap();
    redis.url = format!("rediss://127.0.0.1:{}", server.port);
    let written = Arc::new(AtomicUsize::new(0));
    let shared = SharedLimiter::with_connector(
        &redis,
        custom_connector::CountingConnector {
            written: written.clone(),
        },
    )
    .unwrap();
    let access = AccessControl::with_shared(config, Some(shared)).unwrap();
    wait_connected(&access).await;
    let before = written.load(Ordering::SeqCst);
    let client = ip("192.0.2.33");
    let mut allowed = 0;
    for _ in 0..5 {
        if access
            .check_shared(&req(client, "POST", "/login"))
            .await
            .is_allow()
        {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 3);
    assert!(
        written.load(Ordering::SeqCst) > before,
        "requests went through the custom stream"
    );
}

/// A server that loads the scripts and then never answers again: each request waits at most the
/// timeout, then the breaker sends requests straight to local state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_redis_costs_one_timeout_then_breaker_opens() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let accepted = connections.clone();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                // Answer the two SCRIPT LOADs, then go silent (keep the socket open).
                let mut answered = 0;
                loop {
                    let n = sock.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    let loads = seen.windows(6).filter(|w| w == b"SCRIPT").count();
                    while answered < loads.min(2) {
                        sock.write_all(b"$40\r\n0123456789012345678901234567890123456789\r\n")
                            .await
                            .unwrap();
                        answered += 1;
                    }
                }
            });
        }
    });
    let mut config = shared_config(&format!("redis://127.0.0.1:{port}"), "POST /login 2/minute");
    config.redis.as_mut().unwrap().timeout = ConfigDuration(Duration::from_millis(200));
    let access = AccessControl::new(config).unwrap();
    wait_connected(&access).await;
    let client = ip("198.51.100.44");

    let t = Instant::now();
    assert!(access
        .check_shared(&req(client, "POST", "/login"))
        .await
        .is_allow());
    let first = t.elapsed();
    assert!(
        first >= Duration::from_millis(190) && first < Duration::from_millis(2000),
        "{first:?}"
    );

    let t = Instant::now();
    assert!(access
        .check_shared(&req(client, "POST", "/login"))
        .await
        .is_allow());
    assert_eq!(
        access
            .check_shared(&req(client, "POST", "/login"))
            .await
            .control(),
        Some(Control::RateLimit),
        "local limits apply while the breaker is open"
    );
    // Without the breaker these two would wait 2 × 200 ms.
    assert!(
        t.elapsed() < Duration::from_millis(350),
        "breaker open: {:?}",
        t.elapsed()
    );
    assert!(matches!(
        access.shared_status(),
        SharedStatus::Degraded { .. }
    ));
    match access.take_shared_warning() {
        Some(SharedWarning::Unavailable { error, .. }) => {
            assert!(error.contains("in time"), "{error}")
        }
        other => panic!("{other:?}"),
    }

    // Three timeouts in a row (one per breaker period) make the client drop the hung
    // connection and dial again.
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 1);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(15);
    while connections.load(std::sync::atomic::Ordering::SeqCst) < 2 {
        assert!(Instant::now() < deadline, "never reconnected");
        let _ = access
            .check_shared(&req(ip("198.51.100.45"), "GET", "/"))
            .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("hung redis: reconnected after {:?}", started.elapsed());
}

/// Blocks counted on two dynos add up in Redis: neither reaches the threshold alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_counts_add_up_across_instances() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let mut ca = shared_config(&server.url(), "GET /x 1000/minute");
    ca.bans.after_blocks = 4;
    let cb = ca.clone();
    let a = AccessControl::new(ca).unwrap();
    let b = AccessControl::new(cb).unwrap();
    wait_connected(&a).await;
    wait_connected(&b).await;
    let client = ip("192.0.2.200");
    for _ in 0..2 {
        assert_eq!(
            a.record_block(client),
            palisade_access::BlockRecord::Counted
        );
        assert_eq!(
            b.record_block(client),
            palisade_access::BlockRecord::Counted
        );
    }
    // Locally neither instance banned (2 < 4); Redis saw 4.
    assert!(a.check(&req(client, "GET", "/x")).is_allow());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let d = a.check_shared(&req(client, "GET", "/x")).await;
        if let AccessDecision::Deny { reason, .. } = &d {
            assert_eq!(reason.control(), Control::Ban);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "shared block count never banned: {d:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A password-protected server: AUTH from the URL, including the legacy `h:` user form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_from_url() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let url = RedisUrl::parse(&server.url()).unwrap();
    let mut admin = RespConnection::new(TcpConnector.connect(&url).await.unwrap());
    admin
        .command(&[b"CONFIG", b"SET", b"requirepass", b"s3cret"])
        .await
        .unwrap();
    for (form, ok) in [
        (format!("redis://:s3cret@127.0.0.1:{}", server.port), true),
        (format!("redis://h:s3cret@127.0.0.1:{}", server.port), true),
        (
            format!("redis://default:s3cret@127.0.0.1:{}/1", server.port),
            true,
        ),
        (format!("redis://:wrong@127.0.0.1:{}", server.port), false),
    ] {
        let url = RedisUrl::parse(&form).unwrap();
        let mut conn = RespConnection::new(TcpConnector.connect(&url).await.unwrap());
        let result = conn.handshake(&url).await;
        assert_eq!(result.is_ok(), ok, "{url}: {result:?}");
        if ok {
            assert_eq!(
                conn.command(&[b"PING"]).await.unwrap(),
                RespValue::Simple("PONG".into())
            );
        }
    }
}
