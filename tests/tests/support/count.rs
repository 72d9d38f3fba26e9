//! Counting what a scenario did: from Redis (every job under the push jobs, their states,
//! attempts and dead-letter reasons) and from git (the `.ckan` files at the tip of CKAN-meta
//! and every commit that added or changed one).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use netkan_common::{JobId, JobRecord, JobState};

use super::{Pipeline, Pushed, git, mod_name};

/// A job that did not end `succeeded`.
#[derive(Debug, Clone)]
pub struct Unfinished {
    pub id: JobId,
    pub kind: String,
    pub state: JobState,
    pub error: String,
    /// The generated mod it was about, if it names one.
    pub module: Option<String>,
}

/// What a scenario did.
#[derive(Debug, Default)]
pub struct Tally {
    pub scenario: String,
    /// Mods pushed (one inflation each).
    pub submitted: usize,
    /// Mods whose `.ckan` is at the tip of CKAN-meta.
    pub indexed: usize,
    /// Indexed mods whose archive is in the mirror directory.
    pub mirrored: usize,
    /// Jobs per kind under the push jobs.
    pub jobs: BTreeMap<String, usize>,
    /// Attempts beyond the first, summed over every job (re-deliveries after a kill, retries).
    pub replayed_attempts: u64,
    /// Jobs in a dead-letter list.
    pub dead: Vec<Unfinished>,
    /// Jobs that ended `failed`.
    pub failed: Vec<Unfinished>,
    /// Inflation failures reported to the indexer (`Success: False`, the `ErrorMessage`).
    pub reported_failures: Vec<Unfinished>,
    /// Jobs still `queued` or `running` after the pipeline settled.
    pub pending: Vec<Unfinished>,
    /// Mods neither indexed (and mirrored) nor accounted for by a dead or failed job.
    pub lost: Vec<String>,
    /// For each lost mod, its jobs: kind, state, attempts and last log line (diagnostics).
    pub lost_jobs: Vec<String>,
    /// Commits that added or changed a `.ckan`.
    pub commits: usize,
    /// `path@blob` committed by more than one commit, and job ids in more than one
    /// commit's `Job-Id` trailer.
    pub committed_twice: Vec<String>,
}

impl Tally {
    /// Counts everything under `pushes` once the pipeline has settled.
    pub async fn count(scenario: &str, p: &Pipeline, pushes: &[Pushed]) -> Tally {
        let mut t = Tally {
            scenario: scenario.to_owned(),
            ..Tally::default()
        };
        let submitted: BTreeSet<usize> = pushes.iter().flat_map(|p| p.mods.clone()).collect();
        t.submitted = submitted.len();

        let jq = p.jq();
        let mut conn = p.conn().await;
        let mut queue: VecDeque<JobId> = pushes.iter().map(|p| p.id).collect();
        let mut seen = BTreeSet::new();
        let mut accounted = BTreeSet::new();
        let mut by_module: BTreeMap<String, Vec<JobId>> = BTreeMap::new();
        while let Some(id) = queue.pop_front() {
            if !seen.insert(id) {
                continue;
            }
            let rec = jq
                .job(&mut conn, &id)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("job {id} has no record"));
            *t.jobs.entry(rec.kind.clone()).or_default() += 1;
            t.replayed_attempts += u64::from(rec.attempts.saturating_sub(1));
            let entry = || Unfinished {
                id,
                kind: rec.kind.clone(),
                state: rec.state,
                error: rec.last_error.clone().unwrap_or_default(),
                module: module_of(&rec),
            };
            match rec.state {
                JobState::Succeeded => {}
                JobState::Dead => t.dead.push(entry()),
                // No fault scenario cancels a job: a cancelled one is as unexplained as a failure.
                JobState::Failed | JobState::Cancelled => t.failed.push(entry()),
                JobState::Queued | JobState::Running => t.pending.push(entry()),
            }
            let reported = rec.kind == "index"
                && rec.attributes.get("Success").map(String::as_str) == Some("False");
            if reported {
                t.reported_failures.push(Unfinished {
                    error: rec
                        .attributes
                        .get("ErrorMessage")
                        .cloned()
                        .unwrap_or_default(),
                    ..entry()
                });
            }
            if (rec.state != JobState::Succeeded || reported)
                && let Some(m) = module_of(&rec)
            {
                accounted.insert(m);
            }
            if let Some(m) = module_of(&rec) {
                by_module.entry(m).or_default().push(id);
            }
            queue.extend(rec.children.iter().copied());
        }

        let indexed: BTreeSet<String> = p
            .indexed()
            .iter()
            .filter_map(|path| path.split('/').next().map(str::to_owned))
            .collect();
        let mirrored: BTreeSet<String> = p
            .mirrored()
            .iter()
            .filter_map(|f| f.split('-').next().map(str::to_owned))
            .collect();
        for i in &submitted {
            let name = mod_name(*i);
            let is_indexed = indexed.contains(&name);
            if is_indexed {
                t.indexed += 1;
            }
            let is_mirrored = mirrored.contains(&name);
            if is_mirrored {
                t.mirrored += 1;
            }
            let delivered = is_indexed && is_mirrored;
            if !delivered && !accounted.contains(&name) {
                t.lost.push(if is_indexed {
                    format!("{name} (indexed, not mirrored)")
                } else {
                    name
                });
            }
        }

        for lost in &t.lost {
            let name = lost.split(' ').next().unwrap_or_default();
            let commits = git(
                &p.ckanmeta,
                &[
                    "log",
                    "--format=%h %s %(trailers:key=Job-Id,valueonly,separator=%x2C)",
                    "main",
                    "--",
                    name,
                ],
            );
            t.lost_jobs.push(format!(
                "{name} commits: {}",
                commits.trim().replace('\n', " | ")
            ));
            for id in by_module.get(name).into_iter().flatten() {
                let rec = jq.job(&mut conn, id).await.unwrap().unwrap();
                let lines = jq.logs(&mut conn, id, &Default::default()).await.unwrap();
                let tail: Vec<String> = lines
                    .iter()
                    .rev()
                    .take(60)
                    .rev()
                    .map(|l| format!("{} {}", l.level, l.message))
                    .collect();
                t.lost_jobs.push(format!(
                    "{name} {} {id} {} attempts {}: {}",
                    rec.kind,
                    rec.state.as_str(),
                    rec.attempts,
                    tail.join(" / ")
                ));
            }
        }
        let (commits, twice) = ckan_commits(p);
        t.commits = commits;
        t.committed_twice = twice;
        t
    }

    /// The one-line report `docs/RELIABILITY.md` records.
    pub fn line(&self) -> String {
        let kinds: Vec<String> = self.jobs.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        for d in self.dead.iter().chain(&self.failed) {
            let short: String = d.error.chars().take(90).collect();
            *reasons
                .entry(format!("{} {}: {short}", d.kind, d.state.as_str()))
                .or_default() += 1;
        }
        for d in &self.reported_failures {
            let short: String = d.error.chars().take(90).collect();
            *reasons
                .entry(format!("inflation failed: {short}"))
                .or_default() += 1;
        }
        let reasons: Vec<String> = reasons.iter().map(|(r, n)| format!("{n}× {r}")).collect();
        format!(
            "fault {}: submitted {}, completed {} (indexed {}, mirrored {}), dead {}, failed {}, reported failures {}, pending {}, lost {}, run twice {}, commits {}; jobs: {}; replayed attempts {}{}",
            self.scenario,
            self.submitted,
            self.indexed.min(self.mirrored),
            self.indexed,
            self.mirrored,
            self.dead.len(),
            self.failed.len(),
            self.reported_failures.len(),
            self.pending.len(),
            self.lost.len(),
            self.committed_twice.len(),
            self.commits,
            kinds.join(", "),
            self.replayed_attempts,
            if reasons.is_empty() {
                String::new()
            } else {
                format!("; reasons: {}", reasons.join(" | "))
            },
        )
    }

    /// Prints the report and asserts the scenario's bounds: nothing lost, nothing committed
    /// twice, every job ended, every submitted mod indexed except `bounds.unindexed`, and at
    /// most `bounds.max_failures` jobs dead, failed or reported failed, each with a reason
    /// that contains one of `bounds.reasons`. A change that dead-letters jobs it should have
    /// run fails here, not only one that loses them.
    pub fn assert_within(&self, bounds: &Bounds<'_>) {
        println!("{}", self.line());
        assert!(
            self.lost.is_empty(),
            "lost: {:?}\n{}\ntheir jobs:\n{}",
            self.lost,
            self.line(),
            self.lost_jobs.join("\n")
        );
        assert!(
            self.committed_twice.is_empty(),
            "committed twice: {:?}\n{}",
            self.committed_twice,
            self.line()
        );
        assert!(
            self.pending.is_empty(),
            "jobs never ended: {:?}",
            self.pending
        );
        let failures: Vec<&Unfinished> = self
            .dead
            .iter()
            .chain(&self.failed)
            .chain(&self.reported_failures)
            .collect();
        assert!(
            failures.len() <= bounds.max_failures,
            "{} jobs dead, failed or reported failed, at most {} allowed: {}",
            failures.len(),
            bounds.max_failures,
            self.line()
        );
        for f in &failures {
            assert!(
                bounds.reasons.iter().any(|r| f.error.contains(r)),
                "a {} job {} ended {} for a reason this scenario does not allow (allowed: {:?}): {:?}",
                f.kind,
                f.id,
                f.state.as_str(),
                bounds.reasons,
                f.error
            );
        }
        assert_eq!(
            self.indexed,
            self.submitted - bounds.unindexed.len(),
            "every submitted mod indexed except {:?}: {}",
            bounds.unindexed,
            self.line()
        );
        assert!(
            self.mirrored + failures.len() >= self.indexed,
            "an indexed mod neither mirrored nor with a failed job: {}",
            self.line()
        );
    }

    /// [`Tally::assert_within`] with no failure allowed: every mod indexed and mirrored,
    /// every job succeeded.
    pub fn assert_all_succeeded(&self) {
        self.assert_within(&Bounds::default());
        assert_eq!(self.mirrored, self.submitted, "{}", self.line());
    }
}

/// What a scenario allows besides complete success.
#[derive(Debug, Default)]
pub struct Bounds<'a> {
    /// Jobs dead, failed, or inflations reported failed to the indexer, at most.
    pub max_failures: usize,
    /// Each such job's reason contains one of these.
    pub reasons: &'a [&'a str],
    /// Submitted mods allowed to be missing from CKAN-meta.
    pub unindexed: &'a [String],
}

/// The generated mod a job is about: its body (a `.netkan`, a `.ckan`, a CKAN-meta path) or
/// its `ModIdentifier` names it.
fn module_of(rec: &JobRecord) -> Option<String> {
    let text = format!(
        "{} {}",
        rec.attributes
            .get("ModIdentifier")
            .map(String::as_str)
            .unwrap_or(""),
        rec.body
    );
    let at = text.find("FaultMod")?;
    let digits: String = text[at + 8..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (digits.len() == 5).then(|| format!("FaultMod{digits}"))
}

/// Commits of CKAN-meta that added or changed a `.ckan`, and what was committed twice: the
/// same file content (path and blob) by two commits, or the same job id in two commits'
/// `Job-Id` trailers.
fn ckan_commits(p: &Pipeline) -> (usize, Vec<String>) {
    let log = git(
        &p.ckanmeta,
        &[
            "log",
            "--no-abbrev",
            "--raw",
            "--format=commit %H %(trailers:key=Job-Id,valueonly,separator=%x2C)",
            "main",
        ],
    );
    let mut commits = 0;
    let mut blobs: HashMap<String, usize> = HashMap::new();
    let mut trailers: HashMap<String, usize> = HashMap::new();
    let mut this_commit_counted = false;
    for line in log.lines() {
        if let Some(rest) = line.strip_prefix("commit ") {
            this_commit_counted = false;
            for job in rest.split_whitespace().nth(1).unwrap_or("").split(',') {
                if !job.is_empty() {
                    *trailers.entry(job.to_owned()).or_default() += 1;
                }
            }
        } else if let Some(raw) = line.strip_prefix(':') {
            // `:<mode> <mode> <old> <new> <status>\t<path>`
            let Some((meta, path)) = raw.split_once('\t') else {
                continue;
            };
            let fields: Vec<&str> = meta.split_whitespace().collect();
            if !path.ends_with(".ckan") || fields.len() < 5 || fields[4].starts_with('D') {
                continue;
            }
            *blobs.entry(format!("{path}@{}", fields[3])).or_default() += 1;
            if !this_commit_counted {
                commits += 1;
                this_commit_counted = true;
            }
        }
    }
    let mut twice: Vec<String> = blobs
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(k, n)| format!("{k} in {n} commits"))
        .collect();
    twice.extend(
        trailers
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(k, n)| format!("Job-Id {k} in {n} commits")),
    );
    twice.sort();
    (commits, twice)
}
