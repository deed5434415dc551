//! Palisade's audit trail: PHI-free events, tamper evidence, alerts, counters, report, HIPAA checklist.
//!
//! - [`AuditSink`] takes [`AccessEvent`]s, [`SecurityEvent`]s and a [`StartupEvent`] from the proxy
//!   without blocking; a writer thread redacts, formats (JSON / CEF / l2met), hash-chains and writes
//!   them to stdout as lines of at most 10,000 bytes, and writes a summary event every minute.
//! - Security events also go to webhooks (generic JSON or Slack), aggregated per window.
//! - [`verify_logs`] checks an exported log's hash chains; [`render_report`] turns one into a
//!   self-contained HTML report; [`hipaa_checklist`] maps the effective policy to the Security Rule.
//!
//! The event types are the PHI boundary: they have no field for query values, bodies, cookies or
//! credentials. See `docs/audit-log.md` for the schema.

pub mod alert;
mod chain;
pub mod config;
mod counters;
pub mod event;
mod format;
pub mod hipaa;
mod html;
mod logline;
mod queue;
mod record;
pub mod redact;
pub mod report;
mod sink;
pub mod testing;
pub mod time;
pub mod verify;
mod writer;

pub use alert::{AlertConnector, AlertStream, ConnectFuture, TcpConnector};
pub use chain::{chain_hash, ALG_HMAC, ALG_SHA256};
pub use config::{AuditConfig, ConfigError, LogFormat, Webhook, WebhookKind};
pub use counters::{CountersSnapshot, HistogramSnapshot, LatencyHistogram};
pub use event::{
    AccessEvent, Action, ConfigChangeEvent, Control, RequestInfo, RuleHit, SecurityEvent,
    StartupEvent, TlsInfo,
};
pub use hipaa::{
    checklist_worst, hipaa_checklist, render_checklist_html, render_checklist_text, CheckStatus,
    ChecklistItem, Mode, PolicySummary,
};
pub use record::SCHEMA_VERSION;
pub use report::{render_report, render_report_with, ReportError, ReportOptions, ReportStats};
pub use sink::{AuditSink, SinkOptions, StartError};
pub use verify::{
    verify_logs, verify_logs_with, Finding, FindingKind, VerifyOptions, VerifyReport,
};
pub use writer::MAX_LINE_BYTES;
