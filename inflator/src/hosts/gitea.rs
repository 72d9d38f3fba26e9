//! gitea API client (being written).
