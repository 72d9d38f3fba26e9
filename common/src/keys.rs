//! Every Redis key netkan uses, built in one place under one prefix.
//!
//! The Lua scripts in `queue/scripts/` derive per-job keys (`job:<uuid>`, its log and
//! children, the queued index shard) from the same prefix because the job id is only known
//! inside the script; `job_key_formats_match_the_scripts` keeps both spellings in step.

use crate::job::{Game, JobId, Lane, QueueName};

/// Builds the names of netkan's Redis keys. `docs/redis-keys.md` documents each one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

impl Default for Keys {
    fn default() -> Self {
        Self::new("netkan:")
    }
}

impl Keys {
    /// Keys under `prefix` (conventionally ending in `:`).
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    /// The prefix every key starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Set of the names of every queue that has ever been enqueued into.
    pub fn queues(&self) -> String {
        format!("{}queues", self.prefix)
    }

    /// Stream of the jobs waiting in one lane of a queue.
    pub fn lane(&self, queue: &QueueName, lane: Lane) -> String {
        format!("{}queue:{}:{}", self.prefix, queue, lane.as_str())
    }

    /// Stream of jobs interrupted by a dead or stopping worker, served before both lanes so
    /// that they run again at once rather than behind the backlog.
    pub fn resume(&self, queue: &QueueName) -> String {
        format!("{}queue:{}:resume", self.prefix, queue)
    }

    /// Sorted set of in-flight job ids scored by lease deadline (ms since the epoch).
    pub fn leases(&self, queue: &QueueName) -> String {
        format!("{}queue:{}:leases", self.prefix, queue)
    }

    /// Sorted set of job ids waiting out a retry backoff, scored by due time (ms).
    pub fn retry(&self, queue: &QueueName) -> String {
        format!("{}queue:{}:retry", self.prefix, queue)
    }

    /// The dead-letter list: sorted set of job ids scored by time of death (ms).
    pub fn dead(&self, queue: &QueueName) -> String {
        format!("{}queue:{}:dead", self.prefix, queue)
    }

    /// Hash from a de-duplication key to the newest job id requested with it.
    pub fn latest(&self, queue: &QueueName) -> String {
        format!("{}queue:{}:latest", self.prefix, queue)
    }

    /// The job record hash.
    pub fn job(&self, id: &JobId) -> String {
        format!("{}job:{}", self.prefix, id)
    }

    /// The job's log: a list of formatted lines, the index being the cursor.
    pub fn log(&self, id: &JobId) -> String {
        format!("{}job:{}:log", self.prefix, id)
    }

    /// The ids of the jobs this job caused, in order.
    pub fn children(&self, id: &JobId) -> String {
        format!("{}job:{}:children", self.prefix, id)
    }

    /// The roll-up of the job's tree: a hash counting its descendants by outcome (`jobs`,
    /// `pending`, `succeeded`, `failed`, `dead`) and listing up to 100 of the failed and dead
    /// ones (`f:<id>` = finish time in ms, `listed` = how many), kept by the scripts as each
    /// descendant is enqueued or finishes (`queue/scripts/tree.lua`). Absent for a job
    /// without descendants.
    pub fn tree(&self, id: &JobId) -> String {
        format!("{}job:{}:tree", self.prefix, id)
    }

    /// The shard of a lane's index from a not-yet-claimed job id to its stream entry.
    ///
    /// A job has no record hash until it is first claimed: its stream entry is the record.
    /// This index finds that entry. Each value is the entry's stream id `<ms>-<seq>`, packed
    /// as the integer `ms·100 + seq` when `seq < 100` (see [`crate::queue::unpack_stream_id`]),
    /// because Redis stores such a value in 9 bytes instead of 17. The index is split into
    /// 4,096 small hashes by the first three hex digits of the id so each stays in Redis's
    /// compact listpack encoding. Both keep a queued job within its memory budget
    /// (docs/BENCHMARKS.md).
    pub fn queued_index(&self, queue: &QueueName, lane: Lane, id: &JobId) -> String {
        let hex = id.to_string();
        format!(
            "{}queue:{}:{}:queued:{}",
            self.prefix,
            queue,
            lane.as_str(),
            &hex[..3]
        )
    }

    /// Sorted set of finished job ids scored by finish time, for listing recent jobs.
    pub fn finished(&self) -> String {
        format!("{}jobs:finished", self.prefix)
    }

    /// Hash of counters: jobs finished per queue, kind and outcome, and their total duration.
    pub fn stats(&self) -> String {
        format!("{}stats", self.prefix)
    }

    /// Set of the queues an operator paused: no worker claims from them (running jobs finish).
    pub fn paused(&self) -> String {
        format!("{}paused", self.prefix)
    }

    /// Stream of control events for workers (a queue resumed), capped at about 1,000 entries:
    /// a worker blocked waiting for jobs reads it beside the lanes, so it wakes up at once.
    pub fn control(&self) -> String {
        format!("{}control", self.prefix)
    }

    /// Hash from worker id to its announcement (JSON with host, pid, roles, heartbeat).
    pub fn workers(&self) -> String {
        format!("{}workers", self.prefix)
    }

    /// A mod's status hash (`last_inflated`, `success`, `frozen`, ...) for one game.
    pub fn status(&self, game: &Game, identifier: &str) -> String {
        format!("{}status:{}:{}", self.prefix, game, identifier)
    }

    /// Set of the identifiers that have a status hash, per game.
    pub fn status_index(&self, game: &Game) -> String {
        format!("{}status:{}", self.prefix, game)
    }

    /// A named lock (a string holding the owner, with an expiry).
    pub fn lock(&self, name: &str) -> String {
        format!("{}lock:{}", self.prefix, name)
    }

    /// Marks that periodic job `name` was enqueued for period `period` (a string holding
    /// the job's id, `SET NX` by the first worker to get there, expiring after the period).
    pub fn periodic(&self, name: &str, period: i64) -> String {
        format!("{}periodic:{}:{}", self.prefix, name, period)
    }

    /// Marks a GitHub webhook payload as received (a string holding its `X-GitHub-Delivery`,
    /// `SET NX` with an expiry of `web.github_replay_window_secs`), so a replay of it is
    /// refused. Keyed by the SHA-256 of the route, query and signed body, not by the delivery
    /// id, because the signature does not cover the headers: a replay could carry any id.
    pub fn github_delivery(&self, digest_hex: &str) -> String {
        format!("{}github:delivery:{}", self.prefix, digest_hex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_key_formats_match_the_scripts() {
        let keys = Keys::new("p:");
        let id: JobId = "0f8fad5b-d9cb-469f-a165-70867728950e".parse().unwrap();
        // These spellings are repeated in queue/scripts/*.lua; change both together.
        assert_eq!(keys.job(&id), "p:job:0f8fad5b-d9cb-469f-a165-70867728950e");
        assert_eq!(
            keys.log(&id),
            "p:job:0f8fad5b-d9cb-469f-a165-70867728950e:log"
        );
        assert_eq!(
            keys.children(&id),
            "p:job:0f8fad5b-d9cb-469f-a165-70867728950e:children"
        );
        assert_eq!(
            keys.tree(&id),
            "p:job:0f8fad5b-d9cb-469f-a165-70867728950e:tree"
        );
        let q = QueueName::new("push").unwrap();
        assert_eq!(
            keys.queued_index(&q, Lane::Low, &id),
            "p:queue:push:low:queued:0f8"
        );
        assert_eq!(keys.lane(&q, Lane::High), "p:queue:push:high");
        assert_eq!(keys.leases(&q), "p:queue:push:leases");
        for script in crate::queue::scripts::ALL_SOURCES {
            for part in script.key_parts {
                assert!(
                    script.source.contains(part),
                    "{} no longer builds keys with {part:?}",
                    script.name
                );
            }
        }
    }
}
