//! The writer thread: formats events, assigns sequence numbers and hashes in write order, batches
//! lines to the output, survives a closed or full output, and writes the periodic summary.

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{SyncSender, TryRecvError};

use crate::queue::QueueReceiver;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::chain::Chain;
use crate::config::LogFormat;
use crate::counters::{Counters, CountersSnapshot};
use crate::event::{AccessEvent, Action, ConfigChangeEvent, Control, SecurityEvent, StartupEvent};
use crate::format::{
    append_hash, trailer_len, write_access_json, write_chain, write_record, ChainFields,
};
use crate::record::{self, Record, SummaryData};

/// Longest line written, newline included (logplex splits lines over 10,000 bytes).
pub const MAX_LINE_BYTES: usize = 10_000;
/// How long the writer sleeps when its queue is empty.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// Lines gathered before a write.
const BATCH_LINES: usize = 512;
/// Bytes gathered before a write.
const BATCH_BYTES: usize = 256 * 1024;
/// Distinct rule ids / categories tracked per summary interval (memory bound).
const MAX_TRACKED_KEYS: usize = 1024;
/// Rules listed in a summary.
const TOP_RULES: usize = 10;

/// Messages from the sink (and the alert task) to the writer.
// Access events travel by value: moving ~340 bytes through the channel is cheaper than a heap
// allocation per request on the request thread.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Msg {
    Access(AccessEvent),
    Security(Arc<SecurityEvent>),
    Startup(Box<StartupEvent>),
    ConfigChange(Box<ConfigChangeEvent>),
    AlertFailure {
        destination: String,
        error: String,
        events: u64,
    },
    /// Write everything queued so far, then acknowledge.
    Flush(SyncSender<()>),
    /// Write a summary now, flush, acknowledge.
    Summarize(SyncSender<()>),
}

pub(crate) struct WriterSettings {
    pub format: LogFormat,
    pub mask_ids: bool,
    pub dyno: String,
    pub boot_id: String,
    pub key: Option<Vec<u8>>,
    pub summary_interval: Duration,
}

pub(crate) struct Writer {
    s: WriterSettings,
    chain: Chain,
    out: Box<dyn Write + Send>,
    counters: Arc<Counters>,
    batch: String,
    /// Reused between lines by the direct access-line formatter.
    scratch: String,
    /// (end offset in `batch`, seq) of each line in the batch.
    line_ends: Vec<(usize, u64)>,
    /// Seq range lost on write and not yet announced.
    pending_loss: Option<(u64, u64)>,
    /// A failed write left a partial line: start the next write with a newline.
    partial_line: bool,
    top_rules: HashMap<String, u64>,
    blocks_by_category: HashMap<String, u64>,
    last: CountersSnapshot,
    last_summary: Instant,
}

impl Writer {
    pub(crate) fn new(
        s: WriterSettings,
        out: Box<dyn Write + Send>,
        counters: Arc<Counters>,
    ) -> Self {
        let chain = Chain::new(s.key.as_deref());
        Writer {
            s,
            chain,
            out,
            counters,
            batch: String::with_capacity(BATCH_BYTES),
            scratch: String::new(),
            line_ends: Vec::with_capacity(BATCH_LINES),
            pending_loss: None,
            partial_line: false,
            top_rules: HashMap::new(),
            blocks_by_category: HashMap::new(),
            last: CountersSnapshot::default(),
            last_summary: Instant::now(),
        }
    }

    /// The thread body: runs until every sender is gone.
    ///
    /// The writer polls instead of blocking in `recv`: a sender then never has to wake a sleeping
    /// thread (a futex syscall), which keeps `AuditSink::access` at a few atomic operations. The
    /// price is up to [`POLL_INTERVAL`] of extra delay for a line and ~100 idle wake-ups a second.
    ///
    /// It also sleeps after every batch that did not fill up, even under load: lines then leave in
    /// about one write per interval (hundreds of lines each) instead of one small write per
    /// handful of requests (at 25k req/s: ~100 writes a second instead of ~300). A full
    /// batch means more is waiting, so it goes on at once.
    pub(crate) fn run(mut self, mut rx: QueueReceiver<Msg>) {
        loop {
            let mut acks = Vec::new();
            let mut disconnected = false;
            while !self.batch_full() {
                match rx.try_recv() {
                    Ok(msg) => {
                        self.handle(msg, &mut acks);
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        disconnected = true;
                        break;
                    }
                }
            }
            if disconnected || self.last_summary.elapsed() >= self.s.summary_interval {
                self.summary();
            }
            let more_waiting = self.batch_full();
            self.write_batch();
            for ack in acks {
                // The requester may have given up waiting; nothing to do then.
                let _ = ack.send(());
            }
            if disconnected {
                return;
            }
            if !more_waiting {
                std::thread::sleep(POLL_INTERVAL);
            }
        }
    }

    fn batch_full(&self) -> bool {
        self.line_ends.len() >= BATCH_LINES || self.batch.len() >= BATCH_BYTES
    }

    fn handle(&mut self, msg: Msg, acks: &mut Vec<SyncSender<()>>) {
        let now = SystemTime::now();
        let mask = self.s.mask_ids;
        match msg {
            Msg::Access(e) => self.emit_access(&e, now),
            Msg::Security(e) => {
                self.count_security(&e);
                let rec = record::security(&e, mask, now);
                self.emit(rec);
            }
            Msg::Startup(e) => {
                let rec = record::startup(&e, now);
                self.emit(rec);
            }
            Msg::ConfigChange(e) => {
                let rec = record::config_change(&e, now);
                self.emit(rec);
            }
            Msg::AlertFailure {
                destination,
                error,
                events,
            } => {
                self.emit(record::alert_failure(destination, error, events, now));
            }
            Msg::Flush(ack) => acks.push(ack),
            Msg::Summarize(ack) => {
                self.summary();
                acks.push(ack);
            }
        }
    }

    fn count_security(&mut self, e: &SecurityEvent) {
        for hit in &e.hits {
            bump(&mut self.top_rules, &hit.id);
        }
        if !e.action.is_refusal() {
            return;
        }
        if e.control == Control::Waf && !e.hits.is_empty() {
            let mut seen: Vec<&str> = Vec::new();
            for hit in &e.hits {
                if !seen.contains(&hit.category.as_str()) {
                    seen.push(&hit.category);
                    bump(&mut self.blocks_by_category, &hit.category);
                }
            }
        } else {
            bump(&mut self.blocks_by_category, e.control.as_str());
        }
    }

    fn summary(&mut self) {
        let interval = self.last_summary.elapsed();
        self.last_summary = Instant::now();
        let now = self.counters.snapshot();
        let last = self.last;
        self.last = now;
        let latency = self.counters.latency.take();
        let mut top_rules: Vec<(String, u64)> = self.top_rules.drain().collect();
        top_rules.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        top_rules.truncate(TOP_RULES);
        let mut by_category: Vec<(String, u64)> = self.blocks_by_category.drain().collect();
        by_category.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let data = SummaryData {
            interval_s: interval.as_secs_f64().round() as u64,
            requests: now.requests - last.requests,
            blocked: now.blocked - last.blocked,
            monitored: now.monitored - last.monitored,
            rate_limited: now.rate_limited - last.rate_limited,
            blocks_by_category: by_category,
            top_rules,
            lost_lines: now.lost_lines() - last.lost_lines(),
            lost_lines_total: now.lost_lines(),
            dropped_alerts: now.alerts_dropped - last.alerts_dropped,
            alerts_sent: now.alerts_sent - last.alerts_sent,
            latency_p50_us: latency.quantile(0.50),
            latency_p99_us: latency.quantile(0.99),
        };
        self.emit(record::summary(&data, SystemTime::now()));
    }

    /// Formats one record as a chained line into the batch.
    fn emit(&mut self, rec: Record<'_>) {
        self.announce_loss();
        self.emit_line(rec);
    }

    /// A batch that follows a failed write opens with the loss notice.
    fn announce_loss(&mut self) {
        if self.line_ends.is_empty() {
            if let Some((from, to)) = self.pending_loss {
                self.emit_line(record::loss_notice(from, to, SystemTime::now()));
            }
        }
    }

    fn emit_access(&mut self, e: &AccessEvent, now: SystemTime) {
        self.announce_loss();
        let seq = format_access_line(
            self.s.format,
            e,
            self.s.mask_ids,
            now,
            &mut self.chain,
            &self.s.dyno,
            &self.s.boot_id,
            &mut self.scratch,
            &mut self.batch,
        );
        self.end_line(seq);
    }

    fn emit_line(&mut self, mut rec: Record<'_>) {
        let seq = format_line(
            self.s.format,
            &mut rec,
            &mut self.chain,
            &self.s.dyno,
            &self.s.boot_id,
            &mut self.batch,
        );
        self.end_line(seq);
    }

    /// Ends the line just formatted into the batch and notes where it ends.
    fn end_line(&mut self, seq: u64) {
        self.batch.push('\n');
        self.line_ends.push((self.batch.len(), seq));
    }

    /// Writes the batch; on failure counts the lines that did not fully make it out and remembers
    /// their seq range for the loss notice that opens the next batch.
    fn write_batch(&mut self) {
        if self.line_ends.is_empty() {
            return;
        }
        let announced_loss = self.pending_loss.is_some();
        let mut bytes = std::mem::take(&mut self.batch).into_bytes();
        let offset = usize::from(self.partial_line);
        if self.partial_line {
            // Terminate the line a failed write left half-written, so the next line parses.
            bytes.insert(0, b'\n');
        }
        let (written, result) = write_some(&mut *self.out, &bytes);
        let result = result.and_then(|()| self.out.flush());
        let done = self
            .line_ends
            .iter()
            .take_while(|(end, _)| end + offset <= written)
            .count();
        self.counters.lines_written.fetch_add(done as u64, Relaxed);
        if result.is_ok() {
            self.partial_line = false;
            self.pending_loss = None;
        } else {
            let lost = &self.line_ends[done..];
            if let (Some(first), Some(last)) = (lost.first(), lost.last()) {
                self.counters
                    .lines_lost_write_error
                    .fetch_add(lost.len() as u64, Relaxed);
                self.pending_loss = match self.pending_loss {
                    // The previous loss was not announced (its notice was lost too): extend it.
                    Some((from, _)) if !(announced_loss && done > 0) => Some((from, last.1)),
                    _ => Some((first.1, last.1)),
                };
            }
            let complete_end = if done == 0 {
                offset
            } else {
                self.line_ends[done - 1].0 + offset
            };
            self.partial_line = (self.partial_line && written == 0) || written > complete_end;
        }
        let mut reuse = String::from_utf8(bytes).unwrap_or_default();
        reuse.clear();
        self.batch = reuse;
        self.line_ends.clear();
    }
}

/// Appends the access event `e` as the next line of `chain` to `out` (no newline); returns its seq.
///
/// The default line (JSON, no rule hits, within the line limit) is written directly, without a
/// [`Record`]; every other takes [`format_line`]. Both produce the same bytes.
#[allow(clippy::too_many_arguments)]
pub(crate) fn format_access_line(
    format: LogFormat,
    e: &AccessEvent,
    mask_ids: bool,
    now: SystemTime,
    chain: &mut Chain,
    dyno: &str,
    boot_id: &str,
    scratch: &mut String,
    out: &mut String,
) -> u64 {
    if format == LogFormat::Json {
        let start = out.len();
        if write_access_json(e, mask_ids, now, scratch, out)
            && chain_fields_fit(format, chain, dyno, boot_id, start, out)
        {
            return seal_line(format, chain, start, out);
        }
        // Rule hits, or too long for one line: the record path bounds and shrinks.
        out.truncate(start);
    }
    format_line(
        format,
        &mut record::access(e, mask_ids, now),
        chain,
        dyno,
        boot_id,
        out,
    )
}

/// Appends `rec` as the next line of `chain` to `out` (no newline), shrinking the record until the
/// line fits [`MAX_LINE_BYTES`] with its newline. Returns the line's seq.
///
/// The writer appends straight into its batch, so a line is never copied after it is formatted.
pub(crate) fn format_line(
    format: LogFormat,
    rec: &mut Record<'_>,
    chain: &mut Chain,
    dyno: &str,
    boot_id: &str,
    out: &mut String,
) -> u64 {
    let start = out.len();
    loop {
        out.truncate(start);
        write_record(format, rec, out);
        if chain_fields_fit(format, chain, dyno, boot_id, start, out) || !rec.shrink() {
            break;
        }
    }
    seal_line(format, chain, start, out)
}

/// Appends the chain fields (dyno, boot id, the next seq, `prev`) to the line that starts at
/// `start` in `out`; `true` when the line, once hashed, fits [`MAX_LINE_BYTES`] with its newline.
fn chain_fields_fit(
    format: LogFormat,
    chain: &Chain,
    dyno: &str,
    boot_id: &str,
    start: usize,
    out: &mut String,
) -> bool {
    let (seq, prev) = chain.peek();
    let fields = ChainFields {
        dyno,
        boot_id,
        seq,
        alg: chain.alg(),
        prev,
    };
    write_chain(format, &fields, out);
    // Strictly less: the newline takes the last byte.
    out.len() - start + trailer_len(format) < MAX_LINE_BYTES
}

/// Hashes the line that starts at `start`, appends its hash and returns its seq.
fn seal_line(format: LogFormat, chain: &mut Chain, start: usize, out: &mut String) -> u64 {
    let (seq, _) = chain.peek();
    let hash = chain.seal(&out.as_bytes()[start..]);
    append_hash(format, &hash, out);
    seq
}

/// Writes as much of `buf` as possible; returns bytes written and the error that stopped it.
fn write_some(out: &mut dyn Write, buf: &[u8]) -> (usize, io::Result<()>) {
    let mut written = 0;
    let mut would_block = 0;
    while written < buf.len() {
        match out.write(&buf[written..]) {
            Ok(0) => {
                return (
                    written,
                    Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "output accepts no more bytes",
                    )),
                )
            }
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && would_block < 50 => {
                would_block += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return (written, Err(e)),
        }
    }
    (written, Ok(()))
}

fn bump(map: &mut HashMap<String, u64>, key: &str) {
    if let Some(n) = map.get_mut(key) {
        *n += 1;
    } else if map.len() < MAX_TRACKED_KEYS {
        map.insert(key.to_owned(), 1);
    } else {
        *map.entry("other".to_owned()).or_insert(0) += 1;
    }
}

/// Which counters a security event bumps on the request thread.
pub(crate) fn count_on_request_thread(counters: &Counters, action: Action) {
    counters.security_events.fetch_add(1, Relaxed);
    match action {
        Action::Monitor => {
            counters.monitored.fetch_add(1, Relaxed);
        }
        Action::Limit => {
            counters.rate_limited.fetch_add(1, Relaxed);
            counters.blocked.fetch_add(1, Relaxed);
        }
        a if a.is_refusal() => {
            counters.blocked.fetch_add(1, Relaxed);
        }
        _ => {}
    }
}
