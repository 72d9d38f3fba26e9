//! gitlab API client (being written).
