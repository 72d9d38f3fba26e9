//! `ticket-close`: closes support tickets nobody followed up (NetKAN-Infra
//! `ticket_closer.py`, reference §1.9).
//!
//! In each of `housekeeping.ticket_close.repositories`, every open issue labelled `support`
//! with no assignee is closed (state reason `not_planned`, after the reference's comment)
//! when it has comments, the last one is not by its author, and it was last updated more
//! than `days_limit` days ago. Without repositories or a GitHub token the job says so and
//! does nothing.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use crate::context::{JobContext, JobError, JobResult, Registry};
use crate::forge::{Forge, ForgeError};

use super::housekeeping::{HousekeepingEnv, exclusively};

/// The job kind.
pub const KIND: &str = "ticket-close";
/// The label of the issues it considers.
pub const LABEL: &str = "support";
/// The comment posted before closing (the reference's `ticket_close_template.md`).
pub const MESSAGE: &str = "Hey there! I'm a fun-loving automated bot who's responsible for making sure old support tickets get closed out. As we haven't seen any activity on this ticket for a while, we're hoping the problem has been resolved and I'm closing out the ticket automatically. If I'm doing this in error, please add a comment to this ticket to let us know, and we'll re-open it!\n";
/// GitHub's largest page.
const PAGE: usize = 100;

/// Registers the handler.
pub fn register(registry: &mut Registry, env: Arc<HousekeepingEnv>) {
    registry.register(KIND, move |ctx| {
        let env = env.clone();
        async move { exclusively(&ctx.clone(), run(ctx, env)).await }
    });
}

#[derive(Debug, Deserialize)]
struct User {
    login: String,
}

/// An issue as GitHub lists it.
#[derive(Debug, Deserialize)]
struct Issue {
    number: u64,
    title: String,
    user: User,
    comments: u64,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
struct Comment {
    user: User,
}

/// What to do with an issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nobody answered.
    NoComments,
    /// Its author spoke last: the ball is in our court.
    AuthorComment,
    /// Updated within the limit.
    RecentUpdate,
    /// Close it.
    Close,
}

/// The reference's rules, in its order.
pub fn verdict(
    comments: u64,
    last_commenter: Option<&str>,
    author: &str,
    updated: DateTime<Utc>,
    cutoff: DateTime<Utc>,
) -> Verdict {
    if comments < 1 {
        Verdict::NoComments
    } else if last_commenter == Some(author) {
        Verdict::AuthorComment
    } else if updated > cutoff {
        Verdict::RecentUpdate
    } else {
        Verdict::Close
    }
}

/// Every open `support` issue without an assignee, all pages.
async fn issues(forge: &Forge, repo: &str) -> Result<Vec<Issue>, ForgeError> {
    let mut out = Vec::new();
    for page in 1.. {
        let path = format!(
            "/repos/{repo}/issues?state=open&labels={LABEL}&assignee=none&per_page={PAGE}&page={page}"
        );
        let batch: Vec<Issue> = forge.get(&path).await?;
        let last = batch.len() < PAGE;
        out.extend(batch);
        if last {
            break;
        }
    }
    Ok(out)
}

/// Who wrote the last comment (from the last page, which holds it).
async fn last_commenter(
    forge: &Forge,
    repo: &str,
    issue: &Issue,
) -> Result<Option<String>, ForgeError> {
    let page = issue.comments.div_ceil(PAGE as u64).max(1);
    let path = format!(
        "/repos/{repo}/issues/{}/comments?per_page={PAGE}&page={page}",
        issue.number
    );
    let comments: Vec<Comment> = forge.get(&path).await?;
    Ok(comments.into_iter().last().map(|c| c.user.login))
}

async fn close(forge: &Forge, repo: &str, number: u64) -> Result<(), ForgeError> {
    forge.comment(repo, number, MESSAGE).await?;
    let path = format!("/repos/{repo}/issues/{number}");
    forge
        .call(
            Method::PATCH,
            &path,
            Some(json!({"state": "closed", "state_reason": "not_planned"})),
        )
        .await?;
    Ok(())
}

async fn run(ctx: JobContext, env: Arc<HousekeepingEnv>) -> JobResult {
    let settings = &env.settings.ticket_close;
    if settings.repositories.is_empty() {
        ctx.notice(
            "no repositories are configured (housekeeping.ticket_close.repositories): nothing to close",
        );
        return Ok(());
    }
    if env.hosts.github_token.is_empty() {
        ctx.notice("no GitHub token is configured (hosts.github_token): nothing closed");
        return Ok(());
    }
    let cutoff = Utc::now()
        - Duration::days(i64::try_from(settings.days_limit).unwrap_or(i64::MAX / 86_400_000));
    let (mut closed, mut failed) = (0usize, Vec::new());
    for repo in &settings.repositories {
        match close_in(&ctx, &env.forge, repo, cutoff).await {
            Ok(n) => closed += n,
            Err(e) => {
                ctx.error(format!("{repo}: {e}"));
                failed.push((repo.clone(), e));
            }
        }
    }
    ctx.notice(format!(
        "closed {closed} support tickets in {} repositories",
        settings.repositories.len() - failed.len()
    ));
    match failed.into_iter().next() {
        None => Ok(()),
        // Closing is idempotent (closed issues are no longer listed): a retry is safe.
        Some((repo, e)) if e.is_transient() => Err(JobError::Retry(anyhow::anyhow!("{repo}: {e}"))),
        Some((repo, e)) => Err(JobError::Permanent(anyhow::anyhow!("{repo}: {e}"))),
    }
}

async fn close_in(
    ctx: &JobContext,
    forge: &Forge,
    repo: &str,
    cutoff: DateTime<Utc>,
) -> Result<usize, ForgeError> {
    let issues = issues(forge, repo).await?;
    ctx.info(format!(
        "{repo}: {} open {LABEL} issues without an assignee",
        issues.len()
    ));
    let mut closed = 0;
    for issue in &issues {
        let last = if issue.comments > 0 {
            last_commenter(forge, repo, issue).await?
        } else {
            None
        };
        let v = verdict(
            issue.comments,
            last.as_deref(),
            &issue.user.login,
            issue.updated_at,
            cutoff,
        );
        let what = format!("{} ({repo}#{})", issue.title, issue.number);
        match v {
            Verdict::NoComments => ctx.info(format!("Skipped (no comments): {what}")),
            Verdict::AuthorComment => ctx.info(format!("Skipped (author comment): {what}")),
            Verdict::RecentUpdate => ctx.info(format!("Skipped (recent update): {what}")),
            Verdict::Close => {
                ctx.info(format!("Closing: {what}"));
                close(forge, repo, issue.number).await?;
                closed += 1;
            }
        }
    }
    Ok(closed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_rules_apply_in_order() {
        let now = Utc::now();
        let cutoff = now - Duration::days(7);
        let old = now - Duration::days(8);
        assert_eq!(verdict(0, None, "op", old, cutoff), Verdict::NoComments);
        assert_eq!(
            verdict(2, Some("op"), "op", old, cutoff),
            Verdict::AuthorComment
        );
        assert_eq!(
            verdict(2, Some("bot"), "op", now, cutoff),
            Verdict::RecentUpdate
        );
        assert_eq!(verdict(2, Some("bot"), "op", old, cutoff), Verdict::Close);
    }
}
