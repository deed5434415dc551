//! [`RedisClient`]: one multiplexed connection per process, kept alive by a background task.
//!
//! Requests are queued to a task that owns the connection, pipelines them and matches replies
//! in order. When the connection fails the task reconnects with exponential backoff
//! (100 ms doubling to 5 s); meanwhile callers are told at once that Redis is unavailable, so
//! they use local state instead of waiting. A request that is not answered within its timeout
//! opens a one-second breaker, so a hung server costs one timeout per second, not one per
//! request. The task starts on the first call made inside a Tokio runtime (or explicitly via
//! [`RedisClient::start`]) and ends when the client is dropped.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, Notify};

use super::connection::{RedisConnector, RedisError, RespConnection, CONNECT_TIMEOUT};
use super::resp::{encode_command, parse_reply, RespValue};
use super::url::RedisUrl;

/// First reconnect delay.
pub const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Longest reconnect delay.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long the breaker stays open after a timeout.
pub const BREAKER_OPEN: Duration = Duration::from_secs(1);
/// How often (at most) a "Redis unavailable" warning is handed out.
pub const WARN_INTERVAL: Duration = Duration::from_secs(60);
/// Queue length between callers and the connection task.
const QUEUE: usize = 4096;
/// Consecutive timeouts after which the connection is dropped and re-established (a server that
/// hangs without closing the socket would otherwise keep it forever).
const TIMEOUTS_BEFORE_RECONNECT: u32 = 3;
/// Longest a write to the server may take before the connection is considered dead.
const WRITE_TIMEOUT: Duration = Duration::from_secs(1);

type Reply = oneshot::Sender<Result<RespValue, RedisError>>;

struct Job {
    frame: Vec<u8>,
    reply: Option<Reply>,
}

/// Connection health, shared by the client and its task.
pub(crate) struct Health {
    epoch: Instant,
    connected: AtomicBool,
    breaker_until: AtomicU64,
    down_since: AtomicU64,
    last_warn: AtomicU64,
    warned: AtomicBool,
    last_error: Mutex<String>,
    consecutive_timeouts: AtomicU32,
    reset: Notify,
}

impl Health {
    fn new() -> Self {
        Health {
            epoch: Instant::now(),
            connected: AtomicBool::new(false),
            breaker_until: AtomicU64::new(0),
            down_since: AtomicU64::new(0),
            last_warn: AtomicU64::new(0),
            warned: AtomicBool::new(false),
            last_error: Mutex::new(String::new()),
            consecutive_timeouts: AtomicU32::new(0),
            reset: Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX - 1) + 1
    }

    fn mark_failure(&self, error: &RedisError) {
        let now = self.now();
        let _ = self
            .down_since
            .compare_exchange(0, now, Ordering::AcqRel, Ordering::Acquire);
        if let Ok(mut e) = self.last_error.lock() {
            *e = error.to_string();
        }
    }

    fn mark_success(&self) {
        if self.consecutive_timeouts.load(Ordering::Relaxed) != 0 {
            self.consecutive_timeouts.store(0, Ordering::Relaxed);
        }
        if self.down_since.load(Ordering::Acquire) != 0 {
            self.down_since.store(0, Ordering::Release);
        }
    }

    fn usable(&self) -> bool {
        self.connected.load(Ordering::Acquire)
            && self.now() >= self.breaker_until.load(Ordering::Acquire)
    }
}

/// Shared-state health as reported to the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SharedStatus {
    /// No Redis configured: limits and bans are per process.
    Disabled,
    /// Connecting for the first time.
    Connecting,
    /// Connected; limits and bans are shared.
    Connected,
    /// Redis is unreachable or slow; local limits are used meanwhile.
    Degraded {
        /// The last error.
        error: String,
        /// Seconds since it became unavailable.
        down_for_secs: u64,
    },
}

/// A message for the proxy to log (this crate does not log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SharedWarning {
    /// Redis is unavailable; limits and bans are per process until it returns.
    Unavailable {
        /// The last error.
        error: String,
        /// Seconds since it became unavailable.
        down_for_secs: u64,
    },
    /// Redis is back; limits and bans are shared again.
    Recovered,
}

impl std::fmt::Display for SharedWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SharedWarning::Unavailable { error, down_for_secs } => write!(
                f,
                "redis unavailable for {down_for_secs}s ({error}); rate limits and bans are per process until it returns"
            ),
            SharedWarning::Recovered => f.write_str("redis reachable again; rate limits and bans are shared"),
        }
    }
}

type ManagerFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A Redis client: one connection, pipelined, reconnecting. See the module docs.
pub struct RedisClient {
    tx: mpsc::Sender<Job>,
    pending_start: Mutex<Option<ManagerFuture>>,
    started: AtomicBool,
    health: Arc<Health>,
    scripts: &'static [&'static str],
    shas: Arc<OnceLock<Vec<String>>>,
    url: RedisUrl,
}

impl std::fmt::Debug for RedisClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisClient")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl RedisClient {
    /// A client for `url` using `connector`; `scripts` are loaded (`SCRIPT LOAD`) on every
    /// connect so they can be run with [`RedisClient::eval_script`]. Nothing happens until
    /// [`RedisClient::start`] or the first call inside a Tokio runtime.
    pub fn new<C: RedisConnector>(
        url: RedisUrl,
        connector: C,
        scripts: &'static [&'static str],
    ) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let health = Arc::new(Health::new());
        let shas = Arc::new(OnceLock::new());
        let manager: ManagerFuture = Box::pin(run_manager(
            connector,
            url.clone(),
            rx,
            health.clone(),
            scripts,
            shas.clone(),
        ));
        RedisClient {
            tx,
            pending_start: Mutex::new(Some(manager)),
            started: AtomicBool::new(false),
            health,
            scripts,
            shas,
            url,
        }
    }

    /// Starts the connection task on `handle` (idempotent).
    pub fn start(&self, handle: &tokio::runtime::Handle) {
        if self.started.load(Ordering::Acquire) {
            return;
        }
        let fut = match self.pending_start.lock() {
            Ok(mut slot) => slot.take(),
            Err(_) => None,
        };
        if let Some(fut) = fut {
            self.started.store(true, Ordering::Release);
            handle.spawn(fut);
        }
    }

    fn ensure_started(&self) {
        if !self.started.load(Ordering::Acquire) {
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                self.start(&handle);
            }
        }
    }

    /// The URL (its `Display` hides the password).
    pub fn url(&self) -> &RedisUrl {
        &self.url
    }

    /// True if a request would be sent now (connected and breaker closed).
    pub fn is_usable(&self) -> bool {
        self.ensure_started();
        self.health.usable()
    }

    /// Current health.
    pub fn status(&self) -> SharedStatus {
        let down_since = self.health.down_since.load(Ordering::Acquire);
        if down_since != 0 {
            let error = self
                .health
                .last_error
                .lock()
                .map(|e| e.clone())
                .unwrap_or_default();
            SharedStatus::Degraded {
                error,
                down_for_secs: (self.health.now().saturating_sub(down_since)) / 1_000_000_000,
            }
        } else if self.health.connected.load(Ordering::Acquire) {
            SharedStatus::Connected
        } else {
            SharedStatus::Connecting
        }
    }

    /// At most one warning per [`WARN_INTERVAL`] while degraded, and one `Recovered` after.
    pub fn take_warning(&self) -> Option<SharedWarning> {
        let h = &self.health;
        let down_since = h.down_since.load(Ordering::Acquire);
        if down_since == 0 {
            return h
                .warned
                .swap(false, Ordering::AcqRel)
                .then_some(SharedWarning::Recovered);
        }
        let now = h.now();
        let last = h.last_warn.load(Ordering::Acquire);
        let interval = WARN_INTERVAL.as_nanos() as u64;
        if last != 0 && now.saturating_sub(last) < interval {
            return None;
        }
        if h.last_warn
            .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return None;
        }
        h.warned.store(true, Ordering::Release);
        match self.status() {
            SharedStatus::Degraded {
                error,
                down_for_secs,
            } => Some(SharedWarning::Unavailable {
                error,
                down_for_secs,
            }),
            _ => None,
        }
    }

    /// Sends a command and waits at most `timeout` for its reply.
    pub async fn call(&self, args: &[&[u8]], timeout: Duration) -> Result<RespValue, RedisError> {
        if !self.is_usable() {
            return Err(RedisError::Unavailable);
        }
        let mut frame = Vec::with_capacity(128);
        encode_command(args, &mut frame);
        let (reply_tx, reply_rx) = oneshot::channel();
        let sent = self.tx.try_send(Job {
            frame,
            reply: Some(reply_tx),
        });
        if let Err(e) = sent {
            if matches!(e, mpsc::error::TrySendError::Closed(_)) {
                // The connection task is gone (its runtime shut down): report it, stay local.
                self.health.connected.store(false, Ordering::Release);
                self.health
                    .mark_failure(&RedisError::Io("connection task ended".into()));
            }
            return Err(RedisError::Unavailable);
        }
        match tokio::time::timeout(timeout, reply_rx).await {
            Ok(Ok(Ok(RespValue::Error(e)))) => Err(RedisError::Server(e)),
            Ok(Ok(Ok(v))) => {
                self.health.mark_success();
                Ok(v)
            }
            Ok(Ok(Err(e))) => Err(e),
            Ok(Err(_)) => Err(RedisError::Unavailable),
            Err(_) => {
                let until = self.health.now() + BREAKER_OPEN.as_nanos() as u64;
                self.health.breaker_until.store(until, Ordering::Release);
                self.health.mark_failure(&RedisError::Timeout);
                let timeouts = self
                    .health
                    .consecutive_timeouts
                    .fetch_add(1, Ordering::AcqRel)
                    + 1;
                if timeouts >= TIMEOUTS_BEFORE_RECONNECT {
                    self.health.consecutive_timeouts.store(0, Ordering::Release);
                    self.health.reset.notify_one();
                }
                Err(RedisError::Timeout)
            }
        }
    }

    /// Queues a command whose reply nobody waits for; dropped if Redis is unavailable.
    pub fn send_and_forget(&self, args: &[&[u8]]) {
        if !self.is_usable() {
            return;
        }
        let mut frame = Vec::with_capacity(128);
        encode_command(args, &mut frame);
        let _ = self.tx.try_send(Job { frame, reply: None });
    }

    fn script_args<'a>(
        head: &'a [u8],
        body: &'a [u8],
        numkeys: &'a [u8],
        keys: &[&'a [u8]],
        args: &[&'a [u8]],
    ) -> Vec<&'a [u8]> {
        let mut all: Vec<&[u8]> = Vec::with_capacity(3 + keys.len() + args.len());
        all.push(head);
        all.push(body);
        all.push(numkeys);
        all.extend_from_slice(keys);
        all.extend_from_slice(args);
        all
    }

    /// Runs script `index` (of those given to [`RedisClient::new`]) with `EVALSHA`, falling back
    /// to `EVAL` if the server lost its script cache; waits at most `timeout` overall.
    pub async fn eval_script(
        &self,
        index: usize,
        keys: &[&[u8]],
        args: &[&[u8]],
        timeout: Duration,
    ) -> Result<RespValue, RedisError> {
        let deadline = Instant::now() + timeout;
        let numkeys = keys.len().to_string();
        let script = self.scripts.get(index).ok_or(RedisError::Unavailable)?;
        if let Some(sha) = self.shas.get().and_then(|s| s.get(index)) {
            let all = Self::script_args(b"EVALSHA", sha.as_bytes(), numkeys.as_bytes(), keys, args);
            match self.call(&all, timeout).await {
                Err(RedisError::Server(e)) if e.starts_with("NOSCRIPT") => {}
                other => return other,
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let all = Self::script_args(b"EVAL", script.as_bytes(), numkeys.as_bytes(), keys, args);
        self.call(&all, left).await
    }

    /// Like [`RedisClient::eval_script`] without waiting for the reply (`EVALSHA` only; skipped
    /// before the scripts are loaded).
    pub fn eval_script_and_forget(&self, index: usize, keys: &[&[u8]], args: &[&[u8]]) {
        if let Some(sha) = self.shas.get().and_then(|s| s.get(index)) {
            let numkeys = keys.len().to_string();
            let all = Self::script_args(b"EVALSHA", sha.as_bytes(), numkeys.as_bytes(), keys, args);
            self.send_and_forget(&all);
        }
    }
}

async fn connect<C: RedisConnector>(
    connector: &C,
    url: &RedisUrl,
    scripts: &[&str],
    shas: &OnceLock<Vec<String>>,
) -> Result<RespConnection<C::Stream>, RedisError> {
    let stream = connector.connect(url).await?;
    let mut conn = RespConnection::new(stream);
    conn.handshake(url).await?;
    let mut loaded = Vec::with_capacity(scripts.len());
    for script in scripts {
        match conn
            .command(&[b"SCRIPT", b"LOAD", script.as_bytes()])
            .await?
        {
            RespValue::Bulk(Some(sha)) => loaded.push(String::from_utf8_lossy(&sha).into_owned()),
            other => {
                return Err(RedisError::Protocol(format!(
                    "SCRIPT LOAD answered {other:?}"
                )))
            }
        }
    }
    // The SHA-1 of a script never changes, so the first successful load is good forever.
    let _ = shas.set(loaded);
    Ok(conn)
}

enum Ended {
    Dropped,
    Failed(RedisError),
}

async fn run_manager<C: RedisConnector>(
    connector: C,
    url: RedisUrl,
    mut rx: mpsc::Receiver<Job>,
    health: Arc<Health>,
    scripts: &'static [&'static str],
    shas: Arc<OnceLock<Vec<String>>>,
) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let attempt =
            tokio::time::timeout(CONNECT_TIMEOUT, connect(&connector, &url, scripts, &shas)).await;
        let error = match attempt {
            Ok(Ok(conn)) => {
                health.connected.store(true, Ordering::Release);
                health.breaker_until.store(0, Ordering::Release);
                health.mark_success();
                backoff = MIN_BACKOFF;
                let ended = serve(conn, &mut rx, &health.reset).await;
                health.connected.store(false, Ordering::Release);
                match ended {
                    Ended::Dropped => return,
                    Ended::Failed(e) => e,
                }
            }
            Ok(Err(e)) => e,
            Err(_) => RedisError::Timeout,
        };
        health.mark_failure(&error);
        // Wait before reconnecting; fail anything queued meanwhile so nobody waits on us.
        let sleep = tokio::time::sleep(backoff);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => break,
                job = rx.recv() => match job {
                    Some(job) => {
                        if let Some(reply) = job.reply {
                            let _ = reply.send(Err(RedisError::Unavailable));
                        }
                    }
                    None => return,
                },
            }
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn serve<S>(conn: RespConnection<S>, rx: &mut mpsc::Receiver<Job>, reset: &Notify) -> Ended
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send,
{
    let (stream, mut buf) = conn.into_parts();
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut pending: VecDeque<Option<Reply>> = VecDeque::new();
    let mut out: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 16 * 1024];
    // A reset requested while we were reconnecting is stale: consume its stored permit now
    // (`timeout` polls the inner future once before looking at the zero deadline).
    let _ = tokio::time::timeout(Duration::ZERO, reset.notified()).await;
    let result = loop {
        tokio::select! {
            job = rx.recv() => {
                let Some(job) = job else { break Ended::Dropped };
                out.clear();
                out.extend_from_slice(&job.frame);
                pending.push_back(job.reply);
                // Pipeline whatever else is already queued into the same write.
                while out.len() < 64 * 1024 {
                    match rx.try_recv() {
                        Ok(more) => {
                            out.extend_from_slice(&more.frame);
                            pending.push_back(more.reply);
                        }
                        Err(_) => break,
                    }
                }
                match tokio::time::timeout(WRITE_TIMEOUT, wr.write_all(&out)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => break Ended::Failed(e.into()),
                    Err(_) => break Ended::Failed(RedisError::Timeout),
                }
            }
            _ = reset.notified() => {
                break Ended::Failed(RedisError::Timeout);
            }
            read = rd.read(&mut chunk) => {
                let n = match read {
                    Ok(0) => break Ended::Failed(RedisError::Io("connection closed by server".into())),
                    Ok(n) => n,
                    Err(e) => break Ended::Failed(e.into()),
                };
                buf.extend_from_slice(&chunk[..n]);
                let mut failed = None;
                loop {
                    match parse_reply(&buf) {
                        Ok(Some((value, used))) => {
                            buf.drain(..used);
                            match pending.pop_front() {
                                Some(Some(reply)) => { let _ = reply.send(Ok(value)); }
                                Some(None) => {}
                                None => {
                                    failed = Some(RedisError::Protocol("reply without a request".into()));
                                    break;
                                }
                            }
                        }
                        Ok(None) => break,
                        Err(e) => { failed = Some(e.into()); break; }
                    }
                }
                if let Some(e) = failed {
                    break Ended::Failed(e);
                }
            }
        }
    };
    let error = match &result {
        Ended::Failed(e) => e.clone(),
        Ended::Dropped => RedisError::Unavailable,
    };
    for reply in pending.into_iter().flatten() {
        let _ = reply.send(Err(error.clone()));
    }
    result
}
