//! The validators of §10: `NetkanValidator` on every input document and step output, and
//! `CkanValidator` on every final `.ckan`.
