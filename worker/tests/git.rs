//! The git write plumbing against real bare repositories and the real `git`: clones, the
//! primary branch, commits with identities and trailers, pull `-X ours`, push refusals,
//! `change_branch`.
#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

mod support;

use std::path::{Path, PathBuf};

use netkan_worker::git::{Favor, GitError, Identity, Pulled, WorkTree, message_with_job};
use support::world::{bare_repo_on, git, push_from_elsewhere, subjects};

fn bot() -> Identity {
    Identity::new("NetKAN inflator Robot", "netkan-bot@ksp-ckan.space")
}

/// A bare repository with one commit ("Test Data") on `branch`, holding `files`.
fn upstream(root: &Path, branch: &str, files: &[(&str, &str)]) -> PathBuf {
    let files: Vec<(&str, &[u8])> = files.iter().map(|(p, t)| (*p, t.as_bytes())).collect();
    bare_repo_on(root, "upstream", branch, &files)
}

fn log(bare: &Path, branch: &str) -> Vec<String> {
    subjects(bare, branch)
}

#[test]
fn the_primary_branch_comes_from_origin_head() {
    let dir = tempfile::tempdir().unwrap();
    let bare = upstream(dir.path(), "main", &[("a.txt", "a\n")]);
    let tree = WorkTree::open_or_clone(bare.to_str().unwrap(), &dir.path().join("w")).unwrap();
    assert_eq!(tree.primary(), "main");
    assert_eq!(tree.current_branch().as_deref(), Some("main"));

    let dir2 = tempfile::tempdir().unwrap();
    let bare2 = upstream(dir2.path(), "master", &[("a.txt", "a\n")]);
    let tree2 = WorkTree::open_or_clone(bare2.to_str().unwrap(), &dir2.path().join("w")).unwrap();
    assert_eq!(tree2.primary(), "master");
}

#[test]
fn commits_carry_the_author_committer_and_job_trailer_and_are_never_empty() {
    let dir = tempfile::tempdir().unwrap();
    let bare = upstream(dir.path(), "main", &[("a.txt", "a\n")]);
    let tree = WorkTree::open_or_clone(bare.to_str().unwrap(), &dir.path().join("w")).unwrap();
    let id = netkan_common::JobId::new();
    tree.write_file("Foo/Foo-1.0.ckan", b"{}\n").unwrap();
    let author = Identity::new("A Modder", "modder@example.com");
    let oid = tree
        .commit(
            &["Foo/Foo-1.0.ckan"],
            &message_with_job("NetKAN added mod - Foo-1.0", &id),
            &author,
            &bot(),
        )
        .unwrap()
        .expect("a new file is a commit");
    assert_eq!(tree.unpushed("main").unwrap(), vec![oid]);
    assert!(!tree.is_pushed(oid, "main"));
    // Same content again: nothing to commit.
    tree.write_file("Foo/Foo-1.0.ckan", b"{}\n").unwrap();
    assert_eq!(
        tree.commit(&["Foo/Foo-1.0.ckan"], "again", &author, &bot())
            .unwrap(),
        None
    );
    tree.push("main").unwrap();
    assert!(tree.is_pushed(oid, "main"));
    assert!(tree.unpushed("main").unwrap().is_empty());
    let shown = git(
        &bare,
        &["log", "-1", "--format=%an <%ae>|%cn <%ce>|%B", "main"],
    );
    assert_eq!(
        shown.trim_end(),
        format!(
            "A Modder <modder@example.com>|NetKAN inflator Robot <netkan-bot@ksp-ckan.space>|NetKAN added mod - Foo-1.0\n\nJob-Id: {id}"
        )
    );
    assert_eq!(
        tree.find_commit_with_line("main", &format!("Job-Id: {id}"), 10)
            .unwrap(),
        Some(oid)
    );
    assert_eq!(git(&bare, &["show", "main:Foo/Foo-1.0.ckan"]), "{}\n");
}

#[test]
fn an_empty_remote_gets_its_first_commit_on_its_head_branch() {
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("empty.git");
    git(
        dir.path(),
        &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()],
    );
    let tree = WorkTree::open_or_clone(bare.to_str().unwrap(), &dir.path().join("w")).unwrap();
    assert_eq!(tree.primary(), "main");
    assert_eq!(tree.committed_file("x.txt").unwrap(), None);
    tree.write_file("x.txt", b"x").unwrap();
    tree.commit(&["x.txt"], "first", &bot(), &bot())
        .unwrap()
        .unwrap();
    tree.push("main").unwrap();
    assert_eq!(log(&bare, "main"), vec!["first"]);
}

#[test]
fn pull_with_ours_keeps_our_side_of_a_conflict_and_pushes_a_merge() {
    let dir = tempfile::tempdir().unwrap();
    let bare = upstream(
        dir.path(),
        "main",
        &[("Foo/Foo.ckan", "base\n"), ("b.txt", "b\n")],
    );
    let mut ours =
        WorkTree::open_or_clone(bare.to_str().unwrap(), &dir.path().join("ours")).unwrap();
    // Someone else pushes a conflicting change and an unrelated one first.
    let theirs = [("Foo/Foo.ckan", Some("theirs\n")), ("c.txt", Some("c\n"))];
    push_from_elsewhere(dir.path(), &bare, "main", &theirs, "their change");

    ours.write_file("Foo/Foo.ckan", b"ours\n").unwrap();
    ours.commit(&["Foo/Foo.ckan"], "our change", &bot(), &bot())
        .unwrap()
        .unwrap();
    let e = ours.push("main").unwrap_err();
    assert!(matches!(e, GitError::Rejected { .. }), "{e}");
    assert!(e.is_transient());

    let pulled = ours.pull("main", Favor::Ours, &bot()).unwrap();
    assert!(matches!(pulled, Pulled::Merged(_)), "{pulled:?}");
    ours.push("main").unwrap();
    assert_eq!(git(&bare, &["show", "main:Foo/Foo.ckan"]), "ours\n");
    assert_eq!(git(&bare, &["show", "main:c.txt"]), "c\n");
    assert_eq!(
        log(&bare, "main")[0],
        format!("Merge branch 'main' of {}", bare.display())
    );
    // The working tree shows the merged result.
    assert_eq!(
        std::fs::read_to_string(ours.dir().join("c.txt")).unwrap(),
        "c\n"
    );
}

#[test]
fn commits_the_remote_already_has_are_not_pushed_again() {
    let dir = tempfile::tempdir().unwrap();
    let bare = upstream(dir.path(), "main", &[("a.txt", "a\n")]);
    let mut one = WorkTree::open_or_clone(bare.to_str().unwrap(), &dir.path().join("one")).unwrap();
    let two = WorkTree::open_or_clone(bare.to_str().unwrap(), &dir.path().join("two")).unwrap();
    for tree in [&one, &two] {
        tree.write_file("Foo/Foo-1.ckan", b"same\n").unwrap();
        let id = netkan_common::JobId::new();
        tree.commit(
            &["Foo/Foo-1.ckan"],
            &message_with_job("NetKAN added mod - Foo-1", &id),
            &bot(),
            &bot(),
        )
        .unwrap()
        .unwrap();
    }
    two.push("main").unwrap();
    assert!(one.push("main").is_err());
    assert_eq!(
        one.pull("main", Favor::Ours, &bot()).unwrap(),
        Pulled::AlreadyUpstream
    );
    assert!(one.unpushed("main").unwrap().is_empty());
    assert_eq!(
        log(&bare, "main"),
        vec!["NetKAN added mod - Foo-1", "Test Data"]
    );
}

#[test]
fn an_unreachable_remote_is_named_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let bare = upstream(dir.path(), "main", &[("a.txt", "a\n")]);
    let tree = WorkTree::open_or_clone(bare.to_str().unwrap(), &dir.path().join("w")).unwrap();
    tree.write_file("b.txt", b"b").unwrap();
    tree.commit(&["b.txt"], "b", &bot(), &bot())
        .unwrap()
        .unwrap();
    std::fs::remove_dir_all(&bare).unwrap();
    let e = tree.push("main").unwrap_err();
    assert!(matches!(e, GitError::Unreachable { .. }), "{e}");

    let e = WorkTree::open_or_clone(
        "http://bot:hunter2@127.0.0.1:1/CKAN-meta.git",
        &dir.path().join("w2"),
    )
    .err()
    .unwrap();
    assert!(matches!(e, GitError::Unreachable { .. }), "{e}");
    assert!(!e.to_string().contains("hunter2"), "{e}");
}

#[test]
fn paths_outside_the_working_tree_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bare = upstream(dir.path(), "main", &[("a.txt", "a\n")]);
    let tree = WorkTree::open_or_clone(bare.to_str().unwrap(), &dir.path().join("w")).unwrap();
    for bad in ["../escape", "/etc/passwd", "", "a/../../b"] {
        assert!(
            matches!(tree.write_file(bad, b"x"), Err(GitError::BadPath(_))),
            "{bad}"
        );
    }
}

#[test]
fn change_branch_commits_on_a_new_branch_pushes_it_and_returns_to_primary() {
    let dir = tempfile::tempdir().unwrap();
    let bare = upstream(dir.path(), "main", &[("a.txt", "a\n")]);
    let mut tree = WorkTree::open_or_clone(bare.to_str().unwrap(), &dir.path().join("w")).unwrap();
    let oid = tree
        .on_branch("add/DogeCoinFlag-v1.02", &bot(), |t| {
            assert_eq!(
                t.current_branch().as_deref(),
                Some("add/DogeCoinFlag-v1.02")
            );
            t.write_file("DogeCoinFlag/DogeCoinFlag-v1.02.ckan", b"{}\n")?;
            t.commit(
                &["DogeCoinFlag/DogeCoinFlag-v1.02.ckan"],
                "NetKAN added mod - DogeCoinFlag-v1.02",
                &bot(),
                &bot(),
            )
        })
        .unwrap()
        .unwrap();
    assert_eq!(tree.current_branch().as_deref(), Some("main"));
    assert!(
        !tree.dir().join("DogeCoinFlag").exists(),
        "the staged file is not on primary"
    );
    assert_eq!(log(&bare, "main"), vec!["Test Data"]);
    assert_eq!(
        log(&bare, "add/DogeCoinFlag-v1.02"),
        vec!["NetKAN added mod - DogeCoinFlag-v1.02", "Test Data"]
    );
    assert!(tree.is_pushed(oid, "add/DogeCoinFlag-v1.02"));
}

#[test]
fn change_branch_builds_on_the_remote_branch_when_it_exists() {
    let dir = tempfile::tempdir().unwrap();
    let bare = upstream(dir.path(), "main", &[("a.txt", "a\n")]);
    let earlier = [("earlier.txt", Some("e\n"))];
    push_from_elsewhere(
        dir.path(),
        &bare,
        "add/Foo-1",
        &earlier,
        "earlier on the branch",
    );

    let mut tree = WorkTree::open_or_clone(bare.to_str().unwrap(), &dir.path().join("w")).unwrap();
    tree.on_branch("add/Foo-1", &bot(), |t| {
        assert!(t.dir().join("earlier.txt").exists());
        t.write_file("later.txt", b"l\n")?;
        t.commit(&["later.txt"], "later", &bot(), &bot())
    })
    .unwrap();
    assert_eq!(
        log(&bare, "add/Foo-1"),
        vec!["later", "earlier on the branch", "Test Data"]
    );
    assert_eq!(tree.current_branch().as_deref(), Some("main"));
}

#[test]
fn a_crash_between_writing_and_committing_is_cleaned_up() {
    let dir = tempfile::tempdir().unwrap();
    let bare = upstream(dir.path(), "main", &[("a.txt", "a\n")]);
    let w = dir.path().join("w");
    {
        let tree = WorkTree::open_or_clone(bare.to_str().unwrap(), &w).unwrap();
        tree.write_file("a.txt", b"changed").unwrap();
        tree.write_file("New/New-1.ckan", b"new").unwrap();
    }
    let tree = WorkTree::open_or_clone(bare.to_str().unwrap(), &w).unwrap();
    tree.reset_to_head().unwrap();
    assert_eq!(std::fs::read_to_string(w.join("a.txt")).unwrap(), "a\n");
    assert!(!w.join("New/New-1.ckan").exists());
}

#[test]
fn pull_with_theirs_keeps_the_remote_side_and_deletions_follow_the_favoured_side() {
    let dir = tempfile::tempdir().unwrap();
    let bare = upstream(
        dir.path(),
        "main",
        &[("x.txt", "base\n"), ("gone.txt", "g\n")],
    );
    let mut ours =
        WorkTree::open_or_clone(bare.to_str().unwrap(), &dir.path().join("ours")).unwrap();
    let theirs = [("x.txt", Some("theirs\n")), ("gone.txt", None)];
    push_from_elsewhere(dir.path(), &bare, "main", &theirs, "their change");

    ours.write_file("x.txt", b"ours\n").unwrap();
    ours.write_file("gone.txt", b"kept by us\n").unwrap();
    ours.commit(&["x.txt", "gone.txt"], "our change", &bot(), &bot())
        .unwrap()
        .unwrap();
    // Their side wins everywhere, so the merge would be their tree: nothing of ours is left.
    assert_eq!(
        ours.pull("main", Favor::Theirs, &bot()).unwrap(),
        Pulled::AlreadyUpstream
    );
    assert_eq!(
        std::fs::read_to_string(ours.dir().join("x.txt")).unwrap(),
        "theirs\n"
    );
    assert!(!ours.dir().join("gone.txt").exists(), "their deletion wins");
    assert!(ours.unpushed("main").unwrap().is_empty());
}

#[test]
fn a_bare_clone_commits_files_without_an_index_and_pulls_and_branches() {
    let dir = tempfile::tempdir().unwrap();
    let bare = upstream(
        dir.path(),
        "main",
        &[("Foo/Foo-1.ckan", "one\n"), ("Bar/Bar-1.ckan", "bar\n")],
    );
    let mut tree =
        WorkTree::open_or_clone_bare(bare.to_str().unwrap(), &dir.path().join("b")).unwrap();
    assert!(tree.is_bare());
    assert_eq!(
        (tree.primary(), tree.current_branch().as_deref()),
        ("main", Some("main"))
    );
    assert_eq!(
        tree.committed_file("Foo/Foo-1.ckan").unwrap().as_deref(),
        Some(&b"one\n"[..])
    );
    let files = [
        ("Foo/Foo-2.ckan", Some(&b"two\n"[..])),
        ("Bar/Bar-1.ckan", None),
    ];
    let oid = tree
        .commit_files("main", &files, "two", &bot(), &bot())
        .unwrap()
        .unwrap();
    assert_eq!(
        tree.commit_files("main", &files, "again", &bot(), &bot())
            .unwrap(),
        None,
        "no empty commits"
    );
    assert_eq!(
        tree.committed_file("Foo/Foo-2.ckan").unwrap().as_deref(),
        Some(&b"two\n"[..])
    );
    // Someone else pushes meanwhile: pull -X ours merges in memory, push carries both.
    push_from_elsewhere(
        dir.path(),
        &bare,
        "main",
        &[("c.txt", Some("c\n"))],
        "their change",
    );
    assert!(matches!(
        tree.pull("main", Favor::Ours, &bot()).unwrap(),
        Pulled::Merged(_)
    ));
    tree.push("main").unwrap();
    assert!(tree.is_pushed(oid, "main"));
    assert_eq!(
        git(&bare, &["ls-tree", "-r", "--name-only", "main"]),
        "Foo/Foo-1.ckan\nFoo/Foo-2.ckan\nc.txt\n"
    );
    // A staged branch in the bare clone.
    tree.on_branch("add/Foo-3", &bot(), |t| {
        t.commit_files(
            "add/Foo-3",
            &[("Foo/Foo-3.ckan", Some(&b"3\n"[..]))],
            "three",
            &bot(),
            &bot(),
        )
    })
    .unwrap()
    .unwrap();
    assert_eq!(tree.current_branch().as_deref(), Some("main"));
    assert_eq!(log(&bare, "add/Foo-3")[0], "three");
    assert!(
        tree.committed_file("Foo/Foo-3.ckan").unwrap().is_none(),
        "not on main"
    );
    // Reopened: the same clone, no fetch needed to know its primary branch.
    let again =
        WorkTree::open_or_clone_bare(bare.to_str().unwrap(), &dir.path().join("b")).unwrap();
    assert_eq!(again.primary(), "main");
}

#[test]
fn jobs_sharing_a_read_clone_take_turns_instead_of_failing_on_git_locks() {
    let dir = tempfile::tempdir().unwrap();
    let bare = upstream(
        dir.path(),
        "main",
        &[("NetKAN/A.netkan", "identifier: A\n")],
    );
    let remote = bare.to_str().unwrap().to_owned();
    let clone_dir = dir.path().join("work/ksp/NetKAN");
    // Two scheduler passes, or several push jobs, open the same clone at once.
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (remote, clone_dir) = (remote.clone(), clone_dir.clone());
            std::thread::spawn(move || {
                for _ in 0..10 {
                    let clone =
                        netkan_worker::git::WorkingClone::open_or_clone(&remote, &clone_dir)?;
                    clone.fetch()?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap().unwrap();
    }
}

#[test]
fn the_indexers_pull_drops_a_commit_the_remote_already_has_and_replays_the_others() {
    // Clone one commits A (a .ckan) and B; clone two, which never saw A, commits the same
    // .ckan (a job run again after its worker was killed) and pushes first. A merge would
    // keep A beside two's commit: the same .ckan twice in the history.
    let dir = tempfile::tempdir().unwrap();
    let bare = upstream(dir.path(), "main", &[("a.txt", "a\n")]);
    let remote = bare.to_str().unwrap();
    let mut one = WorkTree::open_or_clone_bare(remote, &dir.path().join("one")).unwrap();
    let two = WorkTree::open_or_clone_bare(remote, &dir.path().join("two")).unwrap();
    let same: &[(&str, Option<&[u8]>)] = &[("Foo/Foo-1.ckan", Some(b"same\n"))];
    one.commit_files("main", same, "NetKAN added mod - Foo-1", &bot(), &bot())
        .unwrap()
        .unwrap();
    let other: &[(&str, Option<&[u8]>)] = &[("Bar/Bar-1.ckan", Some(b"bar\n"))];
    one.commit_files("main", other, "NetKAN added mod - Bar-1", &bot(), &bot())
        .unwrap()
        .unwrap();
    // Another job's commit (its own Job-Id trailer) of the same bytes.
    two.commit_files(
        "main",
        same,
        "NetKAN added mod - Foo-1\n\nJob-Id: 2",
        &bot(),
        &bot(),
    )
    .unwrap()
    .unwrap();
    two.push("main").unwrap();

    let pulled = one.pull_replaying("main", &bot()).unwrap();
    assert!(matches!(pulled, Pulled::Replayed(_)), "{pulled:?}");
    assert_eq!(
        one.unpushed("main").unwrap().len(),
        1,
        "only Bar is left to push"
    );
    one.push("main").unwrap();
    assert_eq!(
        log(&bare, "main"),
        vec![
            "NetKAN added mod - Bar-1",
            "NetKAN added mod - Foo-1",
            "Test Data"
        ]
    );
    // Nothing of ours left that the remote lacks: the pull says so and pushes nothing.
    two.commit_files(
        "main",
        other,
        "NetKAN added mod - Bar-1\n\nJob-Id: 3",
        &bot(),
        &bot(),
    )
    .unwrap()
    .unwrap();
    let mut two = two;
    assert_eq!(
        two.pull_replaying("main", &bot()).unwrap(),
        Pulled::AlreadyUpstream
    );
    assert!(two.unpushed("main").unwrap().is_empty());
}

#[test]
fn lock_files_left_by_a_killed_process_do_not_block_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let bare = upstream(dir.path(), "main", &[("a.txt", "a\n")]);
    let remote = bare.to_str().unwrap();
    let clone = dir.path().join("read");
    netkan_worker::git::checkout(remote, &clone).unwrap();
    // What SIGKILL in the middle of a reset and of a ref update leaves behind.
    std::fs::write(clone.join(".git/index.lock"), b"").unwrap();
    std::fs::write(clone.join(".git/refs/heads/main.lock"), b"").unwrap();
    let removed = netkan_worker::git::clear_stale_locks(&clone.join(".git")).unwrap();
    assert_eq!(removed.len(), 2, "{removed:?}");
    netkan_worker::git::checkout(remote, &clone).unwrap();
    // checkout clears them itself (its caller holds the clone's lock).
    std::fs::write(clone.join(".git/index.lock"), b"").unwrap();
    netkan_worker::git::checkout(remote, &clone).unwrap();
    assert!(!clone.join(".git/index.lock").exists());
}
