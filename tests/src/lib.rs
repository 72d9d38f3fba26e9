//! End-to-end scenarios live in `tests/`; this library is empty on purpose.
