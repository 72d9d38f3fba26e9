//! jenkins API client (being written).
