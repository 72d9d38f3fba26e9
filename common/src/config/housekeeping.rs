//! `[housekeeping.*]`: the periodic jobs of role `housekeeping` (NetKAN-Infra's daily and
//! weekly scheduled tasks, reference §0 and §1.7–§1.10), each with its schedule and its
//! parameters.
//!
//! A schedule is `every_secs` (periods aligned on the Unix epoch) or, when that is 0, a UTC
//! time of day `at`, as the scheduler's passes have it.

use serde::{Deserialize, Serialize};

use super::parse_time_of_day;

/// The housekeeping jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct HousekeepingSettings {
    /// `download-count`: `download_counts.json` in each game's CKAN-meta.
    pub download_count: DownloadCountSettings,
    /// `auto-freeze`: a pull request freezing mods idle for long, in each game's NetKAN.
    pub auto_freeze: AutoFreezeSettings,
    /// `ticket-close`: closes answered support issues nobody followed up.
    pub ticket_close: TicketCloseSettings,
    /// `clean-cache`: removes old downloads from the download cache.
    pub clean_cache: CleanCacheSettings,
}

/// When a housekeeping job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleSpec<'a> {
    /// Whether it runs on a schedule at all (it can still be run by hand).
    pub enabled: bool,
    /// Every this many seconds; 0: daily at `at`.
    pub every_secs: u64,
    /// `HH:MM` UTC, when `every_secs` is 0.
    pub at: &'a str,
}

impl ScheduleSpec<'_> {
    fn validate(&self, key: &str) -> Result<(), String> {
        if self.every_secs == 0 && parse_time_of_day(self.at).is_none() {
            return Err(format!(
                "{key}.at must be a UTC time HH:MM when {key}.every_secs is 0, not {:?}",
                self.at
            ));
        }
        Ok(())
    }
}

/// The download counter (reference §1.7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DownloadCountSettings {
    /// Runs on its schedule.
    pub enabled: bool,
    /// Every this many seconds; 0: daily at `at`.
    pub every_secs: u64,
    /// `HH:MM` UTC.
    pub at: String,
    /// A rate-limit wait up to this long is waited out inside the job; a longer one ends the
    /// attempt, and the job runs again once the wait is over (without using an attempt).
    pub max_inline_wait_secs: u64,
}

impl Default for DownloadCountSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            every_secs: 0,
            at: "03:00".into(),
            max_inline_wait_secs: 10,
        }
    }
}

/// The auto-freezer (reference §1.8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutoFreezeSettings {
    /// Runs on its schedule.
    pub enabled: bool,
    /// Every this many seconds; 0: daily at `at`. Default one week.
    pub every_secs: u64,
    /// `HH:MM` UTC.
    pub at: String,
    /// A mod is idle once its last release (or last indexing) is this many days old ...
    pub days_limit: u64,
    /// ... and proposed for freezing only during this many days after that, so ancient mods
    /// are not proposed again every week.
    pub days_till_ignore: u64,
}

impl Default for AutoFreezeSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            every_secs: 7 * 86_400,
            at: String::new(),
            days_limit: 1000,
            days_till_ignore: 21,
        }
    }
}

/// The ticket closer (reference §1.9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TicketCloseSettings {
    /// Runs on its schedule.
    pub enabled: bool,
    /// Every this many seconds; 0: daily at `at`.
    pub every_secs: u64,
    /// `HH:MM` UTC.
    pub at: String,
    /// Support issues untouched for this many days are closed.
    pub days_limit: u64,
    /// `owner/name` of each repository whose issues it closes (the reference's
    /// `<CKAN_USER>/CKAN` and `<CKAN_USER>/NetKAN`); empty: the job does nothing. Needs
    /// `hosts.github_token`.
    pub repositories: Vec<String>,
}

impl Default for TicketCloseSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            every_secs: 0,
            at: "05:00".into(),
            days_limit: 7,
            repositories: Vec::new(),
        }
    }
}

/// The scheduled cache cleaner (reference `clean-cache --days 30`, daily).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CleanCacheSettings {
    /// Runs on its schedule.
    pub enabled: bool,
    /// Every this many seconds; 0: daily at `at`.
    pub every_secs: u64,
    /// `HH:MM` UTC.
    pub at: String,
    /// Files downloaded more than this many days ago are removed.
    pub days: u64,
}

impl Default for CleanCacheSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            every_secs: 0,
            at: "02:00".into(),
            days: 30,
        }
    }
}

macro_rules! schedule_of {
    ($t:ty) => {
        impl $t {
            /// Its schedule.
            pub fn schedule(&self) -> ScheduleSpec<'_> {
                ScheduleSpec {
                    enabled: self.enabled,
                    every_secs: self.every_secs,
                    at: &self.at,
                }
            }
        }
    };
}
schedule_of!(DownloadCountSettings);
schedule_of!(AutoFreezeSettings);
schedule_of!(TicketCloseSettings);
schedule_of!(CleanCacheSettings);

impl HousekeepingSettings {
    /// Checks the schedules and parameters; errors name the key.
    pub fn validate(&self) -> Result<(), String> {
        let schedules = [
            (
                "housekeeping.download_count",
                self.download_count.schedule(),
            ),
            ("housekeeping.auto_freeze", self.auto_freeze.schedule()),
            ("housekeeping.ticket_close", self.ticket_close.schedule()),
            ("housekeeping.clean_cache", self.clean_cache.schedule()),
        ];
        for (key, s) in schedules {
            s.validate(key)?;
        }
        if self.auto_freeze.days_limit == 0 {
            return Err("housekeeping.auto_freeze.days_limit must be at least 1".into());
        }
        for repo in &self.ticket_close.repositories {
            let mut parts = repo.split('/');
            let ok = matches!((parts.next(), parts.next(), parts.next()),
                (Some(o), Some(n), None) if !o.is_empty() && !n.is_empty());
            if !ok {
                return Err(format!(
                    "housekeeping.ticket_close.repositories: {repo:?} is not owner/name"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Settings;

    #[test]
    fn bad_housekeeping_settings_name_the_key() {
        let env = |k: &str, v: &str| vec![(k.to_owned(), v.to_owned())];
        let e = Settings::load_from(
            None,
            &env("NETKAN__HOUSEKEEPING__DOWNLOAD_COUNT__AT", "3 am"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("housekeeping.download_count.at"), "{e}");
        let e = Settings::load_from(
            None,
            &env(
                "NETKAN__HOUSEKEEPING__TICKET_CLOSE__REPOSITORIES",
                "[\"KSP-CKAN\"]",
            ),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("housekeeping.ticket_close.repositories"), "{e}");
        let s = Settings::load_from(
            None,
            &env("NETKAN__HOUSEKEEPING__AUTO_FREEZE__DAYS_LIMIT", "500"),
        )
        .unwrap();
        assert_eq!(s.housekeeping.auto_freeze.days_limit, 500);
        assert_eq!(s.housekeeping.auto_freeze.days_till_ignore, 21);
    }
}
