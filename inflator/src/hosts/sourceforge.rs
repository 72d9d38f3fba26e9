//! sourceforge API client (being written).
