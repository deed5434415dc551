//! A second reference for `ci/bench/proxy.sh`: the least a proxy built directly on pingora-core's
//! HTTP/1 sessions can do, without pingora-proxy. Each client connection gets its own upstream
//! connection; requests are relayed one at a time (head, body, response head, response body),
//! with no filters, no timeouts, no pool and no error pages. It is not a product path: it answers
//! "how close to nginx could Palisade get if it replaced pingora-proxy with its own HTTP/1 loop?"
//! (the proxy-core issue's 0.9× floor), before anyone spends weeks finding out.
//!
//! ```text
//! PORT=8080 UPSTREAM=127.0.0.1:9000 cargo run --release --example core_h1
//! ```

use std::sync::Arc;

mod common;

use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::http::v1::client::HttpSession as UpstreamSession;
use pingora::protocols::http::v1::server::HttpSession as DownstreamSession;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use pingora::services::listening::Service;

/// The palisade binary's allocator (crates/palisade/src/allocator.rs), for a like-for-like ceiling.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct CoreH1 {
    upstream: String,
}

impl CoreH1 {
    /// Relays requests on one client connection until either side closes or fails.
    async fn relay(&self, client: Stream) -> Option<()> {
        let tcp = tokio::net::TcpStream::connect(&self.upstream).await.ok()?;
        tcp.set_nodelay(true).ok()?;
        let mut app: Stream = Box::new(pingora::protocols::l4::stream::Stream::from(tcp));
        let mut client = client;
        loop {
            let mut down = DownstreamSession::new(client);
            down.read_request().await.ok()??;
            // As pingora's own HTTP service does: keep the connection unless the client said not to.
            down.set_server_keepalive(Some(60));
            let mut up = UpstreamSession::new(app);
            up.write_request_header(Box::new(down.req_header().clone()))
                .await
                .ok()?;
            while let Some(chunk) = down.read_body_bytes().await.ok()? {
                up.write_body(&chunk).await.ok()?;
            }
            up.finish_body().await.ok()?;
            up.read_response().await.ok()?;
            up.respect_keepalive();
            let head = Box::new(up.resp_header()?.clone());
            down.write_response_header(head).await.ok()?;
            while let Some(chunk) = up.read_body_bytes().await.ok()? {
                down.write_body(&chunk).await.ok()?;
            }
            down.finish_body().await.ok()?;
            app = up.reuse().await?;
            // Pipelined bytes are not handled: wrk does not pipeline.
            client = down.reuse().await.ok()??.into_parts().0;
        }
    }
}

#[async_trait]
impl ServerApp for CoreH1 {
    async fn process_new(self: &Arc<Self>, client: Stream, _: &ShutdownWatch) -> Option<Stream> {
        self.relay(client).await;
        None
    }
}

fn main() {
    let reference = common::reference();
    let upstream = reference.upstream.clone();
    common::serve(
        reference,
        Service::new("core_h1".into(), CoreH1 { upstream }),
    );
}
