//! Shared core of netkan: the Redis job protocol, the CKAN/NetKAN metadata model,
//! configuration and telemetry.
//!
//! # Layout
//! - `ckan`: parsing, ordering, validating and writing `.netkan` / `.ckan` files exactly as CKAN does.

pub mod ckan;
