//! Test support (feature `test-support`): a local fixture upstream that serves what GitHub,
//! SpaceDock, GitLab, Gitea, Jenkins, SourceForge and plain HTTP hosts would, and archives
//! generated in the test. Nothing leaves the machine.

pub mod archive;
pub mod fixtures;
pub mod upstream;
