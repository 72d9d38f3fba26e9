//! The validators of §10: `NetkanValidator` on every input document and step output
//! ([`netkan`]), and `CkanValidator` on every final `.ckan` ([`ckan`]). Each failure is an
//! [`InflateError::Metadata`](crate::InflateError) with CKAN's message; warnings go to the
//! context, which collects them for `WarningMessages`.

pub mod ckan;
pub mod installs;
pub mod netkan;

pub use ckan::validate_ckan;
pub use netkan::{validate_input, validate_netkan};
