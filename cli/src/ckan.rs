//! `netkan ckan check`: parses and validates every `.netkan`, `.frozen` and `.ckan` under the
//! given paths, optionally re-writes each `.ckan` and compares bytes.
//!
//! Output contract (scripts and the CLI test rely on it): one line per problem,
//! `<path>: <problem>`, in path order; then exactly one summary line
//! `checked N files: V valid, I invalid, R identical after roundtrip, D differ`. The exit code
//! is 1 only when some file could not be read or parsed at all.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand};
use netkan_common::ckan::{
    CkanError, Module, Object, SchemaKind, Schemas, Typing, mix_documents, parse_documents,
    write::{is_canonical_order, to_ckan_string},
};
use serde_json::{Value, json};

#[derive(Args)]
pub(crate) struct CkanCommand {
    #[command(subcommand)]
    command: CkanSubcommand,
}

#[derive(Subcommand)]
enum CkanSubcommand {
    /// Parse and validate .netkan, .frozen and .ckan files (directories are walked).
    Check(CheckArgs),
}

#[derive(Args)]
struct CheckArgs {
    /// Re-write each .ckan as the inflator would (keeping its key order) and compare bytes.
    #[arg(long)]
    roundtrip: bool,
    /// Also count the .ckan files already in the inflator's canonical property order.
    #[arg(long)]
    canonical: bool,
    /// Print problems and the summary as JSON lines instead of text.
    #[arg(long)]
    json: bool,
    /// Print timings (wall clock and per-phase CPU time) on stderr.
    #[arg(long)]
    bench: bool,
    /// Files or directories to check.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

pub(crate) fn run(cmd: CkanCommand) -> anyhow::Result<ExitCode> {
    match cmd.command {
        CkanSubcommand::Check(args) => check(&args),
    }
}

/// How a file is read and which schema applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Netkan,
    Ckan,
    /// A `.frozen` file: a retired netkan (`NetKAN/<id>.frozen`) or a withdrawn .ckan
    /// (`CKAN-meta/<id>/<id>-<version>.frozen`); told apart by its name.
    Frozen,
}

fn kind_of(path: &Path) -> Option<FileKind> {
    match path.extension()?.to_str()? {
        "netkan" => Some(FileKind::Netkan),
        "ckan" => Some(FileKind::Ckan),
        "frozen" => Some(FileKind::Frozen),
        _ => None,
    }
}

#[derive(Default)]
struct Report {
    /// Why the file is invalid (parse, schema and typed-view errors).
    problems: Vec<String>,
    /// How the rewritten `.ckan` differs; not a validity problem.
    difference: Option<String>,
    /// Could not be read or parsed at all.
    fatal: bool,
    roundtrip: Option<bool>,
    canonical: Option<bool>,
}

#[derive(Default)]
struct Timings {
    read: Duration,
    parse: Duration,
    validate: Duration,
    write: Duration,
}

fn collect(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        let meta =
            std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        if meta.is_dir() {
            walk(path, &mut files)?;
        } else {
            files.push(path.clone());
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        let path = entry.path();
        let file_type = entry
            .file_type()
            .with_context(|| format!("cannot read {}", path.display()))?;
        if file_type.is_dir() {
            walk(&path, files)?;
        } else if kind_of(&path).is_some() {
            files.push(path);
        }
    }
    Ok(())
}

fn check(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let files = collect(&args.paths)?;
    let schemas = Schemas::global();
    let reports: Vec<std::sync::Mutex<Option<Report>>> =
        files.iter().map(|_| std::sync::Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let progress = std::io::stderr().is_terminal() && files.len() > 500;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let timings: Vec<Timings> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut timings = Timings::default();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = files.get(i) else { break };
                        let report = check_file(path, args, schemas, &mut timings);
                        if let Ok(mut slot) = reports[i].lock() {
                            *slot = Some(report);
                        }
                        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                        if progress && n.is_multiple_of(1000) {
                            eprint!("\rchecked {n}/{}", files.len());
                        }
                    }
                    timings
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    if progress {
        eprint!("\r\x1b[K");
    }

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let (mut valid, mut invalid, mut identical, mut differ) = (0, 0, 0, 0);
    let (mut canonical, mut ckans) = (0, 0);
    let mut fatal = false;
    for (path, slot) in files.iter().zip(reports) {
        let report = slot
            .into_inner()
            .ok()
            .flatten()
            .context("a worker thread stopped early")?;
        fatal |= report.fatal;
        if report.problems.is_empty() {
            valid += 1;
        } else {
            invalid += 1;
        }
        for problem in report.problems.iter().chain(&report.difference) {
            if args.json {
                writeln!(out, "{}", json!({"path": path, "problem": problem}))?;
            } else {
                writeln!(out, "{}: {problem}", path.display())?;
            }
        }
        match report.roundtrip {
            Some(true) => identical += 1,
            Some(false) => differ += 1,
            None => {}
        }
        if let Some(c) = report.canonical {
            ckans += 1;
            canonical += usize::from(c);
        }
    }
    if args.json {
        let mut summary = json!({
            "checked": files.len(), "valid": valid, "invalid": invalid,
            "identical": identical, "differ": differ,
        });
        if args.canonical {
            summary["canonical"] = json!(canonical);
            summary["canonical_of"] = json!(ckans);
        }
        writeln!(out, "{summary}")?;
    } else {
        if args.canonical {
            writeln!(
                out,
                "in canonical order: {canonical} of {ckans} .ckan files"
            )?;
        }
        writeln!(
            out,
            "checked {} files: {valid} valid, {invalid} invalid, {identical} identical after roundtrip, {differ} differ",
            files.len()
        )?;
    }
    out.flush()?;
    if args.bench {
        let sum =
            |f: fn(&Timings) -> Duration| timings.iter().map(f).sum::<Duration>().as_secs_f64();
        eprintln!(
            "wall {:.3} s on {workers} threads; cpu: read {:.3} s, parse {:.3} s, validate {:.3} s, write+compare {:.3} s",
            started.elapsed().as_secs_f64(),
            sum(|t| t.read),
            sum(|t| t.parse),
            sum(|t| t.validate),
            sum(|t| t.write),
        );
    }
    Ok(if fatal {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn check_file(path: &Path, args: &CheckArgs, schemas: &Schemas, t: &mut Timings) -> Report {
    let mut report = Report::default();
    let clock = Instant::now();
    let text = match std::fs::read(path).map(String::from_utf8) {
        Ok(Ok(text)) => text,
        Ok(Err(_)) => {
            report.fatal = true;
            report
                .problems
                .push("cannot read file: not valid UTF-8".to_owned());
            return report;
        }
        Err(e) => {
            report.fatal = true;
            report.problems.push(CkanError::Read(e).to_string());
            return report;
        }
    };
    t.read += clock.elapsed();

    let clock = Instant::now();
    let mut kind = kind_of(path).unwrap_or(FileKind::Ckan);
    let typing = if kind == FileKind::Netkan {
        Typing::Netkan
    } else {
        Typing::Ckan
    };
    let parsed = parse_documents(&text, typing);
    let mut docs = match parsed {
        Ok(docs) if !docs.is_empty() => docs,
        Ok(_) => {
            report.fatal = true;
            report.problems.push(CkanError::NoDocument.to_string());
            return report;
        }
        Err(e) => {
            report.fatal = true;
            report.problems.push(e.to_string());
            return report;
        }
    };
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if kind == FileKind::Frozen {
        // CKAN-meta freezes a .ckan by renaming it (`<id>-<version>.frozen`, a full module with
        // `spec_version` and no `$kref`); NetKAN freezes a netkan (`<id>.frozen`).
        let first = &docs[0];
        let identifier = first.get("identifier").and_then(Value::as_str);
        let is_ckan = first.contains_key("spec_version")
            && !first.contains_key("$kref")
            && identifier != Some(stem);
        if is_ckan {
            kind = FileKind::Ckan;
        } else {
            kind = FileKind::Netkan;
            // Retired netkans are still netkans: read them with the netkan typing.
            match parse_documents(&text, Typing::Netkan) {
                Ok(d) => docs = d,
                Err(e) => report.problems.push(e.to_string()),
            }
        }
    }
    t.parse += clock.elapsed();

    let clock = Instant::now();
    match kind {
        FileKind::Ckan => {
            if docs.len() > 1 {
                report
                    .problems
                    .push(CkanError::TooManyDocuments(docs.len()).to_string());
            }
            let doc = Value::Object(docs.swap_remove(0));
            check_ckan(&doc, schemas, &mut report);
            t.validate += clock.elapsed();
            let clock = Instant::now();
            if path.extension().is_some_and(|e| e == "ckan") {
                let obj = doc.as_object().expect("built as an object");
                if args.roundtrip {
                    let written = to_ckan_string(obj);
                    let same = written == text;
                    if !same {
                        report.difference = Some(format!(
                            "differs after roundtrip: {}",
                            describe_difference(&text, &written)
                        ));
                    }
                    report.roundtrip = Some(same);
                }
                if args.canonical {
                    report.canonical = Some(is_canonical_order(obj));
                }
            }
            t.write += clock.elapsed();
        }
        FileKind::Netkan | FileKind::Frozen => {
            let many = docs.len() > 1;
            // CKAN validates each host section after mixing in the shared fields.
            for (i, doc) in mix_documents(&docs).into_iter().enumerate() {
                let prefix = if many {
                    format!("document {}: ", i + 1)
                } else {
                    String::new()
                };
                check_netkan(doc, stem, &prefix, schemas, &mut report);
            }
            t.validate += clock.elapsed();
        }
    }
    report
}

fn check_ckan(doc: &Value, schemas: &Schemas, report: &mut Report) {
    for e in schemas.validate(SchemaKind::Ckan, doc) {
        report.problems.push(e.to_string());
    }
    let obj = doc.as_object().expect("built as an object");
    if let Err(e) = Module::new(obj).version() {
        report.problems.push(e.to_string());
    }
}

fn check_netkan(doc: Object, stem: &str, prefix: &str, schemas: &Schemas, report: &mut Report) {
    let module = Module::new(&doc);
    let mut typed: Vec<String> = Vec::new();
    match module.identifier() {
        Ok(id) if id != stem => typed.push(format!(
            "identifier {id:?} does not match the file name {stem:?}"
        )),
        Ok(_) => {}
        // A missing identifier is already a schema error.
        Err(e) if doc.contains_key("identifier") => typed.push(e.to_string()),
        Err(_) => {}
    }
    for e in [
        module.kref().err(),
        module.vref().err(),
        module.version().err(),
        module.netkan_options().err(),
    ]
    .into_iter()
    .flatten()
    {
        typed.push(e.to_string());
    }
    let doc = Value::Object(doc);
    for e in schemas.validate(SchemaKind::Netkan, &doc) {
        report.problems.push(format!("{prefix}{e}"));
    }
    for e in typed {
        report.problems.push(format!("{prefix}{e}"));
    }
}

/// A short reason for a round-trip difference, for the conformance report.
fn describe_difference(original: &str, written: &str) -> String {
    let kind = if original.contains('\r') {
        "crlf line ends"
    } else if original.trim_end() == written.trim_end() {
        if original.ends_with('\n') {
            "extra white space at the end"
        } else {
            "no final newline"
        }
    } else if original.contains('\t') {
        "tab indentation"
    } else if original.lines().any(|l| l.contains("\" :")) {
        "space before colon"
    } else if original.lines().any(|l| l.contains("\":  ")) {
        "values aligned after the colon"
    } else if original
        .lines()
        .nth(1)
        .is_some_and(|l| l.len() - l.trim_start_matches(' ').len() != 4)
    {
        "indentation other than 4 spaces"
    } else if original.lines().any(|l| {
        let l = l.trim();
        (l.contains("{ ") || l.contains("[ ") || l.contains("[\""))
            && (l.ends_with('}') || l.ends_with("},") || l.ends_with(']') || l.ends_with("],"))
    }) {
        "object or array on one line"
    } else if original.contains("\\u") || original.contains("\\/") {
        "escaped characters written raw"
    } else {
        "other formatting"
    };
    let mut line = 1;
    for (a, b) in original.lines().zip(written.lines()) {
        if a != b {
            break;
        }
        line += 1;
    }
    let missing_newline = if kind != "no final newline" && !original.ends_with('\n') {
        ", no final newline"
    } else {
        ""
    };
    format!("{kind}{missing_newline} (first difference at line {line})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_are_classified() {
        let written = "{\n    \"a\": 1\n}\n";
        assert!(describe_difference("{\n    \"a\": 1\n}", written).starts_with("no final newline"));
        assert!(
            describe_difference("{\n    \"a\" : 1\n}\n", written).starts_with("space before colon")
        );
        assert!(describe_difference("{\r\n    \"a\": 1\r\n}\r\n", written).starts_with("crlf"));
        assert!(
            describe_difference(
                "{\n    \"d\": [ { \"name\": \"x\" } ]\n}\n",
                "{\n    \"d\": [\n    ]\n}\n"
            )
            .starts_with("object or array on one line")
        );
        assert!(
            describe_difference("{\n  \"a\": 1\n}\n", written)
                .starts_with("indentation other than 4 spaces")
        );
        assert!(
            describe_difference("{\n    \"a\":  1\n}\n", written)
                .starts_with("values aligned after the colon")
        );
    }
}
