//! What the benchmark references share: their settings from the environment and a Pingora server
//! configured like palisade (one thread unless `THREADS` says otherwise, no work stealing).

use pingora::apps::ServerApp;
use pingora::server::configuration::ServerConf;
use pingora::server::Server;
use pingora::services::listening::Service;

/// A reference proxy's listen address, upstream and bootstrapped server.
pub struct Reference {
    /// `127.0.0.1:$PORT` (default 8080).
    pub listen: String,
    /// `$UPSTREAM` (default `127.0.0.1:9000`).
    pub upstream: String,
    /// The server to add the reference's service to.
    pub server: Server,
}

/// Reads `PORT`, `UPSTREAM` and `THREADS` and bootstraps the server.
pub fn reference() -> Reference {
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".into());
    let upstream = std::env::var("UPSTREAM").unwrap_or_else(|_| "127.0.0.1:9000".into());
    let threads = std::env::var("THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(1);
    let conf = ServerConf {
        threads,
        work_stealing: false,
        // A benchmark reference stops when the script ends: Pingora's default grace period
        // (300 s) kept ci/bench/proxy.sh waiting five minutes after its last measurement.
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(1),
        ..Default::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    Reference {
        listen: format!("127.0.0.1:{port}"),
        upstream,
        server,
    }
}

/// Listens on the reference's address with `service` and runs the server until it is stopped.
pub fn serve<A: ServerApp + Send + Sync + 'static>(
    Reference {
        listen, mut server, ..
    }: Reference,
    mut service: Service<A>,
) -> ! {
    service.add_tcp(&listen);
    server.add_service(service);
    server.run_forever()
}
