//! The reference for `ci/bench/proxy.sh`: Pingora as a plain reverse proxy with every filter
//! left at its default, configured like palisade (one thread, no work stealing, upstream
//! keep-alive, the same allocator). Its ratio to nginx is what pingora-proxy costs; Palisade's
//! bodyless GETs skip pingora-proxy's upstream half (`service/direct_relay.rs`), so palisade's ratio
//! to this one is what Palisade adds, less what that relay saves.
//!
//! ```text
//! PORT=8080 UPSTREAM=127.0.0.1:9000 cargo run --release --example bare_pingora
//! ```

use async_trait::async_trait;

/// The palisade binary's allocator (crates/palisade/src/allocator.rs), for a like-for-like ceiling.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod common;

use pingora::prelude::*;

struct Bare {
    upstream: String,
}

#[async_trait]
impl ProxyHttp for Bare {
    type CTX = ();

    fn new_ctx(&self) -> Self::CTX {}

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(
            self.upstream.as_str(),
            false,
            String::new(),
        )))
    }
}

fn main() {
    let reference = common::reference();
    let upstream = reference.upstream.clone();
    let service = http_proxy_service(&reference.server.configuration, Bare { upstream });
    common::serve(reference, service);
}
