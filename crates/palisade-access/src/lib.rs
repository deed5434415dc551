//! Palisade access control (placeholder docs, replaced below).
pub mod country;
pub mod error;
pub mod geo;
pub mod identity;
pub mod ipset;
pub mod mmdb_writer;
pub mod pattern;
pub use geo::{AnonymousDb, GeoDb};
