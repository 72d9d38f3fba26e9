//! Tunables of the job protocol, with the defaults the design asks for.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long leases last, how often jobs are retried, how long records are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobSettings {
    /// A claimed job is handed to another worker once its lease has not been renewed for this
    /// long (a worker renews every third of it). With the maintenance interval this bounds how
    /// soon a killed worker's jobs run again: lease + interval ≈ 6 s by default.
    pub lease_ms: u64,
    /// How often each worker promotes due retries and reaps expired leases.
    pub maintenance_interval_ms: u64,
    /// Attempts before a failing job goes to the dead-letter list.
    pub max_attempts: u32,
    /// First retry delay; doubled for each further attempt.
    pub backoff_base_ms: u64,
    /// Upper bound of the retry delay.
    pub backoff_max_ms: u64,
    /// How long finished job records and their logs are kept.
    pub retention_secs: u64,
    /// How long dead jobs stay in the dead-letter list.
    pub dead_retention_secs: u64,
    /// Lines kept per job log; later lines are counted and dropped, except the final verdict.
    pub log_max_lines: u64,
    /// How long one attempt may run: past it the attempt is cancelled (the handler's
    /// cancellation token fires and its future is dropped) and counts as a failed attempt,
    /// retried like any other. Without it a hung handler would renew its lease forever.
    pub timeout_secs: u64,
    /// Limits for particular job kinds instead of `timeout_secs`
    /// (`[jobs.timeout_secs_by_kind]`, e.g. `mirror = 14400`). Setting the table replaces the
    /// default one, which gives `mirror` jobs (uploads of whole mod archives) four hours.
    pub timeout_secs_by_kind: BTreeMap<String, u64>,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            lease_ms: 5_000,
            maintenance_interval_ms: 1_000,
            max_attempts: 5,
            backoff_base_ms: 2_000,
            backoff_max_ms: 600_000,
            retention_secs: 14 * 24 * 3600,
            dead_retention_secs: 30 * 24 * 3600,
            log_max_lines: 10_000,
            timeout_secs: 3_600,
            timeout_secs_by_kind: BTreeMap::from([("mirror".to_owned(), 4 * 3_600)]),
        }
    }
}

impl JobSettings {
    /// The lease as a duration.
    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms)
    }

    /// Delay before attempt `attempt + 1`, after attempt `attempt` (1-based) failed:
    /// `base · 2^(attempt-1)`, capped, with up to 20 % random jitter added so that jobs that
    /// failed together do not all come back at once.
    pub fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let raw = self.backoff_base_ms.saturating_mul(1u64 << exp);
        let capped = raw.min(self.backoff_max_ms);
        let jittered = capped as f64 * (1.0 + 0.2 * jitter.clamp(0.0, 1.0));
        Duration::from_millis(jittered as u64)
    }

    /// How long an attempt of a `kind` job may run.
    pub fn timeout(&self, kind: &str) -> Duration {
        Duration::from_secs(
            self.timeout_secs_by_kind
                .get(kind)
                .copied()
                .unwrap_or(self.timeout_secs),
        )
    }

    /// Checks the values make sense together; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.lease_ms < 300 {
            return Err("jobs.lease_ms must be at least 300".into());
        }
        if self.maintenance_interval_ms == 0 || self.maintenance_interval_ms > self.lease_ms {
            return Err("jobs.maintenance_interval_ms must be between 1 and jobs.lease_ms".into());
        }
        if self.max_attempts == 0 {
            return Err("jobs.max_attempts must be at least 1".into());
        }
        if self.backoff_base_ms == 0 || self.backoff_max_ms < self.backoff_base_ms {
            return Err(
                "jobs.backoff_base_ms must be positive and at most jobs.backoff_max_ms".into(),
            );
        }
        if self.retention_secs == 0 || self.dead_retention_secs == 0 {
            return Err("jobs.retention_secs and jobs.dead_retention_secs must be positive".into());
        }
        if self.log_max_lines < 10 {
            return Err("jobs.log_max_lines must be at least 10".into());
        }
        if self.timeout_secs == 0 {
            return Err("jobs.timeout_secs must be at least 1".into());
        }
        if let Some((kind, _)) = self.timeout_secs_by_kind.iter().find(|(_, s)| **s == 0) {
            return Err(format!(
                "jobs.timeout_secs_by_kind.{kind} must be at least 1"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let s = JobSettings {
            backoff_base_ms: 1000,
            backoff_max_ms: 5000,
            ..JobSettings::default()
        };
        assert_eq!(s.backoff(1, 0.0), Duration::from_secs(1));
        assert_eq!(s.backoff(2, 0.0), Duration::from_secs(2));
        assert_eq!(s.backoff(3, 0.0), Duration::from_secs(4));
        assert_eq!(s.backoff(4, 0.0), Duration::from_secs(5));
        assert_eq!(s.backoff(40, 0.0), Duration::from_secs(5));
        assert_eq!(s.backoff(1, 1.0), Duration::from_millis(1200));
    }

    #[test]
    fn defaults_are_valid_and_nonsense_is_named() {
        assert!(JobSettings::default().validate().is_ok());
        let bad = JobSettings {
            max_attempts: 0,
            ..JobSettings::default()
        };
        assert!(bad.validate().unwrap_err().contains("jobs.max_attempts"));
        let bad = JobSettings {
            timeout_secs_by_kind: BTreeMap::from([("inflate".to_owned(), 0)]),
            ..JobSettings::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .contains("jobs.timeout_secs_by_kind.inflate")
        );
    }

    #[test]
    fn a_kind_of_its_own_overrides_the_timeout() {
        let s = JobSettings {
            timeout_secs: 60,
            timeout_secs_by_kind: BTreeMap::from([("mirror".to_owned(), 600)]),
            ..JobSettings::default()
        };
        assert_eq!(s.timeout("mirror"), Duration::from_secs(600));
        assert_eq!(s.timeout("inflate"), Duration::from_secs(60));
    }
}
