//! Cross-crate end-to-end scenarios live in `tests/tests/`; this library is empty on purpose.
