//! Palisade's HTTP proxy, built on Pingora.
//!
//! A request goes through [`service::PalisadeProxy`] in pipeline order (see `ARCHITECTURE.md`):
//! request id → boot hold → (transport, access, inspection: added by later stages) → the app →
//! response headers → one access event. Palisade's own responses come from [`pages`].

pub mod app;
pub mod app_pool;
pub mod headers;
pub mod inflight;
pub mod lane;
pub mod limits;
pub mod pages;
pub mod redirect;
pub mod request_id;
pub mod service;
pub mod shedding;
pub mod slow_client;
pub mod tls;

pub use pingora;
