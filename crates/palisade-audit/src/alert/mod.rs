//! Security alerts to webhooks: aggregated per window, capped per window, sent from a dedicated
//! thread running a small tokio runtime, with retries and backoff. Nothing here can block a request:
//! the sink hands events over with `try_send` on a bounded queue and counts what does not fit.

mod batch;
pub mod http;
pub mod url;

use crate::queue::QueueSender;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Semaphore};
use tokio::time::{sleep, sleep_until, timeout, Instant};

use crate::config::{AuditConfig, Webhook, WebhookKind};
use crate::counters::Counters;
use crate::event::SecurityEvent;
use crate::writer::Msg;
use batch::AlertBatch;
use http::{post_json, HttpError};
use url::WebhookUrl;

/// Attempts per webhook call (first try included).
pub const ATTEMPTS: u32 = 4;
/// Delay before the first retry; doubles each time.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Limit for connecting, sending and reading the status of one attempt.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// Webhook calls in flight at once; a call that finds none free is dropped and counted.
pub const MAX_IN_FLIGHT: usize = 16;

/// A byte stream a webhook call can run over (TCP, or TLS over TCP).
pub trait AlertStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> AlertStream for T {}

/// What [`AlertConnector::connect`] returns.
pub type ConnectFuture<'a> =
    Pin<Box<dyn Future<Output = io::Result<Box<dyn AlertStream>>> + Send + 'a>>;

/// Opens connections to webhook destinations. The lead implements this with BoringSSL for
/// `https://` (connect with [`TcpConnector::connect_tcp`], then wrap the stream in TLS with SNI =
/// `url.host`).
pub trait AlertConnector: Send + Sync {
    /// Connects to `url.host:url.port`.
    fn connect<'a>(&'a self, url: &'a WebhookUrl) -> ConnectFuture<'a>;
}

/// Plain TCP; refuses `https://` URLs with a clear error.
#[derive(Debug, Clone, Copy, Default)]
pub struct TcpConnector;

impl TcpConnector {
    /// A TCP connection to the URL's host and port, with `TCP_NODELAY`.
    pub async fn connect_tcp(url: &WebhookUrl) -> io::Result<TcpStream> {
        let stream = TcpStream::connect((url.host.as_str(), url.port)).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

impl AlertConnector for TcpConnector {
    fn connect<'a>(&'a self, url: &'a WebhookUrl) -> ConnectFuture<'a> {
        Box::pin(async move {
            if url.https {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "https webhook needs a TLS connector (SinkOptions::connector); this build has plain TCP only",
                ));
            }
            let stream = Self::connect_tcp(url).await?;
            Ok(Box::new(stream) as Box<dyn AlertStream>)
        })
    }
}

/// One webhook call with retries and exponential backoff. Returns the last error on failure.
pub async fn deliver(
    connector: &dyn AlertConnector,
    url: &WebhookUrl,
    body: &[u8],
) -> Result<u16, HttpError> {
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        let result = timeout(ATTEMPT_TIMEOUT, async {
            let mut stream = connector.connect(url).await?;
            post_json(&mut stream, url, body).await
        })
        .await
        .unwrap_or(Err(HttpError::Timeout));
        let err = match result {
            Ok(status) if (200..300).contains(&status) => return Ok(status),
            Ok(status) => HttpError::Status(status),
            Err(e) => e,
        };
        if attempt >= ATTEMPTS || !err.is_retryable() {
            return Err(err);
        }
        sleep(backoff).await;
        backoff *= 2;
        attempt += 1;
    }
}

struct Alerter {
    webhooks: Vec<Webhook>,
    window: Duration,
    cap: u32,
    mask_ids: bool,
    client_ips: bool,
    dyno: String,
    boot_id: String,
    connector: Arc<dyn AlertConnector>,
    counters: Arc<Counters>,
    writer: QueueSender<Msg>,
    in_flight: Arc<Semaphore>,
}

/// Starts the alert thread; returns the queue the sink feeds.
pub(crate) fn spawn(
    config: &AuditConfig,
    boot_id: String,
    connector: Arc<dyn AlertConnector>,
    counters: Arc<Counters>,
    writer: QueueSender<Msg>,
) -> io::Result<mpsc::Sender<Arc<SecurityEvent>>> {
    let (tx, rx) = mpsc::channel(config.alert_queue_capacity);
    let alerter = Alerter {
        webhooks: config.webhooks.clone(),
        window: config.alert_window,
        cap: config.alert_max_per_window,
        mask_ids: config.mask_path_ids,
        client_ips: config.alert_client_ips,
        dyno: config.dyno.clone(),
        boot_id,
        connector,
        counters,
        writer,
        in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("palisade-alerts".into())
        .spawn(move || runtime.block_on(alerter.run(rx)))?;
    Ok(tx)
}

impl Alerter {
    async fn run(self, mut rx: mpsc::Receiver<Arc<SecurityEvent>>) {
        let mut batch = AlertBatch::default();
        let mut window_end = Instant::now() + self.window;
        let mut calls = 0u32;
        loop {
            tokio::select! {
                event = rx.recv() => match event {
                    Some(e) => {
                        batch.add(&e, self.mask_ids, self.client_ips);
                        // Leading edge: the first events of a window go out at once (up to the cap);
                        // the rest wait for the window's end and go out together.
                        if calls < self.cap {
                            calls += 1;
                            self.send(std::mem::take(&mut batch));
                        }
                    }
                    None => break,
                },
                _ = sleep_until(window_end) => {
                    window_end = Instant::now() + self.window;
                    calls = 0;
                    if !batch.is_empty() {
                        calls = 1;
                        self.send(std::mem::take(&mut batch));
                    }
                }
            }
        }
        if !batch.is_empty() {
            self.send(batch);
        }
        // Give calls in flight a bounded time to finish before the runtime goes away.
        let all = u32::try_from(MAX_IN_FLIGHT).unwrap_or(u32::MAX);
        let _ = timeout(ATTEMPT_TIMEOUT * 2, self.in_flight.acquire_many(all)).await;
    }

    fn send(&self, batch: AlertBatch) {
        let window = self.window.as_secs().max(1);
        for hook in &self.webhooks {
            let body = match hook.kind {
                WebhookKind::Generic => batch.generic_body(&self.dyno, &self.boot_id, window),
                WebhookKind::Slack => batch.slack_body(&self.dyno, window),
            };
            let events = batch.events;
            let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
                self.failed(&hook.url, "too many webhook calls in flight", events);
                continue;
            };
            let url = hook.url.clone();
            let connector = self.connector.clone();
            let counters = self.counters.clone();
            let writer = self.writer.clone();
            tokio::spawn(async move {
                let body = body.to_string().into_bytes();
                match deliver(&*connector, &url, &body).await {
                    Ok(_) => {
                        counters.alerts_sent.fetch_add(1, Relaxed);
                    }
                    Err(e) => report_failure(&counters, &writer, &url, &e.to_string(), events),
                }
                drop(permit);
            });
        }
    }

    fn failed(&self, url: &WebhookUrl, why: &str, events: u64) {
        report_failure(&self.counters, &self.writer, url, why, events);
    }
}

fn report_failure(
    counters: &Counters,
    writer: &QueueSender<Msg>,
    url: &WebhookUrl,
    why: &str,
    events: u64,
) {
    counters.alerts_dropped.fetch_add(events, Relaxed);
    // Best effort: if the log queue is full too, the counter still tells the story.
    let _ = writer.try_send(Msg::AlertFailure {
        destination: url.redacted(),
        error: why.to_owned(),
        events,
    });
}
