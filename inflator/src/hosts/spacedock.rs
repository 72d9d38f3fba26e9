//! spacedock API client (being written).
