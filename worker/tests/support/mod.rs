//! Helpers shared by the worker's integration tests.
#![allow(dead_code, unreachable_pub)] // Each test crate uses a different part.

pub mod corpus;
pub mod github;
pub mod hosts;
pub mod world;
