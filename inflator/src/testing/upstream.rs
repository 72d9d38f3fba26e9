//! The fixture upstream: one local HTTP server answering as the hosts do.
