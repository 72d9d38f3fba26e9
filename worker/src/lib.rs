//! The job runner and one module per job kind.
