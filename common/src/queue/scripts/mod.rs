//! The Lua scripts that make every multi-key queue transition atomic. Each `.lua` file starts
//! with its KEYS, ARGV and return value; `common.lua` (key spellings, time, id and type
//! checks) is prepended to each, then `tree.lua` (the roll-up of job trees).
//!
//! Every script starts with a `#!lua` shebang, which makes Redis (7.0 and later) decide
//! before the script runs whether it may write: when Redis refuses writes (memory full under
//! `noeviction`, a failed snapshot, a replica), the whole script is refused with `OOM`,
//! `MISCONF` or `READONLY` and nothing of it runs. A script without the shebang is checked
//! command by command, and Redis lets it go on after its first write: a claim could take a
//! job out of its lane and then fail to give it a lease. Lease renewal alone may run on a
//! full Redis (`allow-oom`): it grows nothing but the worker's heartbeat entry, and keeping
//! leases alive while outcomes wait for memory means no job runs twice because of it.

use std::sync::LazyLock;

use redis::Script;

/// A script's source and the key spellings it relies on (checked against `Keys`).
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) struct ScriptSource {
    pub(crate) name: &'static str,
    pub(crate) source: &'static str,
    pub(crate) key_parts: &'static [&'static str],
}

macro_rules! script {
    ($name:literal, $file:literal, $parts:expr) => {
        script!($name, $file, $parts, "#!lua")
    };
    ($name:literal, $file:literal, $parts:expr, $shebang:literal) => {
        ScriptSource {
            name: $name,
            source: concat!(
                $shebang,
                "\n",
                include_str!("common.lua"),
                "\n",
                include_str!("tree.lua"),
                "\n",
                include_str!($file)
            ),
            key_parts: $parts,
        }
    };
}

pub(crate) const ENQUEUE: ScriptSource =
    script!("enqueue", "enqueue.lua", &["':queued:'", "':tree'"]);
pub(crate) const CLAIM: ScriptSource =
    script!("claim", "claim.lua", &["'job:'", "'queue:'", "':log'"]);
pub(crate) const RENEW: ScriptSource =
    script!("renew", "renew.lua", &["'leases'"], "#!lua flags=allow-oom");
pub(crate) const FINISH: ScriptSource = script!(
    "finish",
    "finish.lua",
    &["':children'", "'latest'", "'dead'", "'retry'"]
);
pub(crate) const MAINTAIN: ScriptSource =
    script!("maintain", "maintain.lua", &["'leases'", "'retry'"]);
pub(crate) const RELEASE: ScriptSource = script!("release", "release.lua", &["'leases'"]);
pub(crate) const DEAD: ScriptSource = script!("dead", "dead.lua", &["'jobs:finished'", "'dead'"]);
pub(crate) const CANCEL: ScriptSource = script!("cancel", "cancel.lua", &["'retry'", "'latest'"]);

/// Every script, for the key-spelling test.
#[cfg(test)]
pub(crate) const ALL_SOURCES: [ScriptSource; 8] = [
    ENQUEUE, CLAIM, RENEW, FINISH, MAINTAIN, RELEASE, DEAD, CANCEL,
];

/// The loaded scripts (each hashed once; sent by SHA with a fallback to the source).
pub(crate) struct Scripts {
    pub(crate) enqueue: Script,
    pub(crate) claim: Script,
    pub(crate) renew: Script,
    pub(crate) finish: Script,
    pub(crate) maintain: Script,
    pub(crate) release: Script,
    pub(crate) dead: Script,
    pub(crate) cancel: Script,
}

pub(crate) static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    enqueue: Script::new(ENQUEUE.source),
    claim: Script::new(CLAIM.source),
    renew: Script::new(RENEW.source),
    finish: Script::new(FINISH.source),
    maintain: Script::new(MAINTAIN.source),
    release: Script::new(RELEASE.source),
    dead: Script::new(DEAD.source),
    cancel: Script::new(CANCEL.source),
});
