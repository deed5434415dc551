//! [`AuditSink`]: the handle the proxy logs through. Cheap to clone, never blocks a request.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{self, SyncSender};

use crate::queue::{self, QueueError, QueueSender};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::alert::{self, AlertConnector, TcpConnector};
use crate::chain::new_boot_id;
use crate::config::{AuditConfig, ConfigError};
use crate::counters::{Counters, CountersSnapshot};
use crate::event::{AccessEvent, ConfigChangeEvent, SecurityEvent, StartupEvent};
use crate::writer::{count_on_request_thread, Msg, Writer, WriterSettings};

/// Why the sink could not start.
#[derive(Debug)]
pub enum StartError {
    /// The configuration is invalid.
    Config(ConfigError),
    /// A thread or runtime could not be created.
    Io(io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Config(e) => write!(f, "audit configuration: {e}"),
            StartError::Io(e) => write!(f, "could not start the audit writer: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

impl From<ConfigError> for StartError {
    fn from(e: ConfigError) -> Self {
        StartError::Config(e)
    }
}

impl From<io::Error> for StartError {
    fn from(e: io::Error) -> Self {
        StartError::Io(e)
    }
}

/// Where lines go and how webhooks connect; [`SinkOptions::default`] is stdout and plain TCP.
pub struct SinkOptions {
    /// Output for lines (stdout by default).
    pub output: Box<dyn Write + Send>,
    /// Connector for webhooks; the default refuses `https://` (the lead plugs in TLS).
    pub connector: Arc<dyn AlertConnector>,
}

impl Default for SinkOptions {
    fn default() -> Self {
        SinkOptions {
            output: Box::new(io::stdout()),
            connector: Arc::new(TcpConnector),
        }
    }
}

struct Inner {
    tx: QueueSender<Msg>,
    alert_tx: Option<tokio::sync::mpsc::Sender<Arc<SecurityEvent>>>,
    counters: Arc<Counters>,
    boot_id: String,
}

/// The audit sink: enqueue events from any thread; a dedicated writer thread formats, chains and
/// writes them; an optional alert thread sends webhooks. `Clone + Send + Sync`.
#[derive(Clone)]
pub struct AuditSink {
    inner: Arc<Inner>,
}

impl fmt::Debug for AuditSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditSink")
            .field("boot_id", &self.inner.boot_id)
            .finish_non_exhaustive()
    }
}

impl AuditSink {
    /// Starts the writer thread on stdout (and the alert thread when webhooks are configured).
    pub fn start(config: AuditConfig) -> Result<AuditSink, StartError> {
        Self::start_with(config, SinkOptions::default())
    }

    /// Starts with a custom output and/or webhook connector.
    pub fn start_with(config: AuditConfig, options: SinkOptions) -> Result<AuditSink, StartError> {
        config.validate()?;
        let counters = Arc::new(Counters::default());
        let boot_id = new_boot_id();
        let (tx, rx) = queue::bounded(config.queue_capacity);
        let settings = WriterSettings {
            format: config.format,
            mask_ids: config.mask_path_ids,
            dyno: config.dyno.clone(),
            boot_id: boot_id.clone(),
            key: config.hmac_key.clone(),
            summary_interval: config.summary_interval,
        };
        let writer = Writer::new(settings, options.output, counters.clone());
        std::thread::Builder::new()
            .name("palisade-audit-writer".into())
            .spawn(move || writer.run(rx))?;
        let alert_tx = if config.webhooks.is_empty() {
            None
        } else {
            Some(alert::spawn(
                &config,
                boot_id.clone(),
                options.connector,
                counters.clone(),
                tx.clone(),
            )?)
        };
        Ok(AuditSink {
            inner: Arc::new(Inner {
                tx,
                alert_tx,
                counters,
                boot_id,
            }),
        })
    }

    /// Logs a request. Never blocks: if the writer is behind by `queue_capacity` events, the event
    /// is dropped and counted (`lines_dropped_queue_full`, reported in the next summary).
    pub fn access(&self, event: AccessEvent) {
        let c = &self.inner.counters;
        c.requests.fetch_add(1, Relaxed);
        if let Some(us) = event.added_latency_us {
            c.latency.record(us);
        }
        self.enqueue(Msg::Access(event));
    }

    /// Logs a security decision and hands it to the alert task. Never blocks.
    pub fn security(&self, event: SecurityEvent) {
        count_on_request_thread(&self.inner.counters, event.action);
        let event = Arc::new(event);
        if let Some(alerts) = &self.inner.alert_tx {
            if alerts.try_send(event.clone()).is_err() {
                self.inner.counters.alerts_dropped.fetch_add(1, Relaxed);
            }
        }
        self.enqueue(Msg::Security(event));
    }

    /// Logs the startup event (effective policy). Call it once at boot, while the queue is empty.
    pub fn startup(&self, event: StartupEvent) {
        if self
            .inner
            .tx
            .try_send(Msg::Startup(Box::new(event)))
            .is_err()
        {
            self.inner
                .counters
                .lines_dropped_queue_full
                .fetch_add(1, Relaxed);
        }
    }

    /// Logs a runtime change of what is in force (a ruleset swap, or a refused or failed one)
    /// into the hash chain. Never blocks.
    pub fn config_change(&self, event: ConfigChangeEvent) {
        self.enqueue(Msg::ConfigChange(Box::new(event)));
    }

    fn enqueue(&self, msg: Msg) {
        match self.inner.tx.try_send(msg) {
            Ok(()) => {}
            Err(QueueError::Full(_) | QueueError::Disconnected(_)) => {
                self.inner
                    .counters
                    .lines_dropped_queue_full
                    .fetch_add(1, Relaxed);
            }
        }
    }

    /// Cumulative counters since start.
    pub fn counters(&self) -> CountersSnapshot {
        self.inner.counters.snapshot()
    }

    /// This process's boot id (in every line as `palisade.boot_id`).
    pub fn boot_id(&self) -> &str {
        &self.inner.boot_id
    }

    /// Waits until everything queued before this call is written, at most `timeout`. `false` on timeout.
    pub fn flush(&self, timeout: Duration) -> bool {
        self.request(timeout, Msg::Flush)
    }

    /// Writes a summary event now (e.g. at SIGTERM) and waits for it to be written, at most `timeout`.
    pub fn summarize(&self, timeout: Duration) -> bool {
        self.request(timeout, Msg::Summarize)
    }

    fn request(&self, timeout: Duration, make: fn(SyncSender<()>) -> Msg) -> bool {
        let (ack_tx, ack_rx) = mpsc::sync_channel(1);
        let deadline = SystemTime::now() + timeout;
        let mut msg = make(ack_tx);
        loop {
            match self.inner.tx.try_send(msg) {
                Ok(()) => break,
                Err(QueueError::Full(m)) => {
                    if SystemTime::now() >= deadline {
                        return false;
                    }
                    msg = m;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(QueueError::Disconnected(_)) => return false,
            }
        }
        let left = deadline
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        ack_rx.recv_timeout(left).is_ok()
    }
}
