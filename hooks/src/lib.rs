//! The git post-receive hook: turns a push into a `push` job on Redis.
