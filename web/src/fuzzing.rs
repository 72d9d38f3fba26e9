//! The fuzz entry points of the web's parsers of untrusted input: webhook payloads (GitHub's
//! JSON and form encodings with their signatures, SpaceDock's forms, `/inflate`'s JSON) and
//! the query parameters of the log pages and the job API. Shared by the cargo-fuzz targets
//! `fuzz/fuzz_targets/{webhook_payload,log_query}.rs` and the stable smoke test
//! `web/tests/it/fuzz_smoke.rs`, so both run the same code. Each runs the route's own parsing
//! functions, without Redis or HTTP.

use actix_web::web::Query;
use hmac::{Hmac, KeyInit, Mac};
use netkan_common::Game;
use netkan_common::config::Secret;
use netkan_common::log::{LogQuery, format_line, parse_line};
use sha2::Sha256;

use crate::auth;
use crate::request;
use crate::requests;
use crate::routes::{github, inflate, jobs, logs, spacedock};

/// The secret the fuzzed GitHub payloads are signed with.
const SECRET: &str = "fuzzing secret";

/// Splits `data` at its first `\n` (the rest is empty without one).
fn split_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// `data` is a header line, then the body. The header's first byte picks the content type
/// (JSON, GitHub's form encoding, none or the line's own text), the rest is a query string.
/// The body goes through every webhook's parser; signed with the secret, and then altered
/// by one bit, it goes through the signature check, which must accept the first and refuse
/// the second. Must never panic.
pub fn webhook_payload(data: &[u8]) {
    let (head, body) = split_line(data);
    let head = String::from_utf8_lossy(head);
    let mut chars = head.chars();
    let selector = chars.next().unwrap_or('j');
    let query: String = chars.collect();
    let content_type = match selector {
        'j' => Some("application/json"),
        'f' => Some("application/x-www-form-urlencoded"),
        'n' => None,
        _ => Some(query.as_str()),
    };

    // GitHub: the body as a push to NetKAN, a push to CKAN-meta and a release.
    if let Ok(event) = github::parse_payload::<github::PushEvent>(content_type, body) {
        let _ = github::push_request(event, "master").map(|push| {
            let job = requests::push_job(&Game::ksp(), &push);
            assert!(!job.body.is_empty(), "a push job has a body");
        });
    }
    if let Ok(event) = github::parse_payload::<github::PushEvent>(content_type, body)
        && let Ok(paths) = github::mirrored_paths(event, "master")
    {
        for p in &paths {
            let _ = requests::mirror_job(&Game::ksp(), p);
        }
    }
    if let Ok(event) = github::parse_payload::<github::ReleaseEvent>(content_type, body) {
        let _ = github::release_inflates(&event);
    }
    if let Ok(identifier) = github::release_identifier(&query) {
        let _ = requests::inflate_request_job(&Game::ksp(), &[identifier]);
    }

    // The signature check: the body's own HMAC passes, one flipped bit does not.
    let secret = Secret::new(SECRET);
    let mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes())
        .expect("HMAC takes any key")
        .chain_update(body)
        .finalize()
        .into_bytes();
    let header: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    let header = format!("sha256={header}");
    assert!(
        auth::signature_check(Some(&header), None, body, &secret).is_ok(),
        "the body's own signature is accepted"
    );
    if let Some((first, rest)) = body.split_first() {
        let mut altered = vec![first ^ 1];
        altered.extend_from_slice(rest);
        assert!(
            auth::signature_check(Some(&header), None, &altered, &secret).is_err(),
            "an altered body is refused"
        );
    }
    // Whatever the header line holds, as either signature header.
    let _ = auth::signature_check(Some(&query), None, body, &secret);
    let _ = auth::signature_check(None, Some(&query), body, &secret);

    // SpaceDock's forms and `/inflate`'s JSON.
    if let Ok(form) = request::parse_form_of_type(content_type, body) {
        let _ = spacedock::spacedock_event(&form)
            .map(|(mod_id, event)| requests::spacedock_event_job(&Game::ksp(), mod_id, event));
        if !form.is_empty() {
            let job = requests::addition(&Game::ksp(), &form);
            let _: serde_json::Value =
                serde_json::from_str(&job.body).expect("an add body is JSON");
        }
    }
    if let Ok(identifiers) = inflate::inflate_identifiers(body) {
        let _ = requests::inflate_request_job(&Game::ksp(), &identifiers);
    }
}

/// `data` is a query string line, then log lines as stored. The query goes through the
/// parsers of `/api/v1/jobs/<id>`, `/api/v1/jobs`, `/logs/<id>` and `/logs/<id>/events`; the
/// first line also as a job id; the lines are parsed and filtered by the query, and a line
/// written back reads the same. Must never panic.
pub fn log_query(data: &[u8]) {
    let (head, rest) = split_line(data);
    let query = String::from_utf8_lossy(head);
    let _ = jobs::parse_id(&query);
    let log_query: LogQuery = Query::<jobs::JobQuery>::from_query(&query)
        .ok()
        .and_then(|q| q.to_log_query().ok())
        .unwrap_or_default();
    if let Ok(list) = Query::<jobs::ListQuery>::from_query(&query) {
        let _ = list.wanted_state();
    }
    if let Ok(page) = Query::<logs::PageQuery>::from_query(&query) {
        let _ = page.level();
    }
    if let Ok(stream) = Query::<logs::StreamQuery>::from_query(&query) {
        let _ = stream.level();
    }
    let text = String::from_utf8_lossy(rest);
    for (cursor, raw) in (0u64..).zip(text.lines()) {
        let line = parse_line(cursor, raw);
        let _ = log_query.matches(&line);
        let _ = jobs::LineJson::from(line.clone()).to_json();
        // A line as a worker stores it reads back the same.
        if line
            .timestamp
            .timestamp_subsec_nanos()
            .is_multiple_of(1_000_000)
            && !line.message.contains('\n')
        {
            let stored = format_line(line.timestamp, line.level, &line.message);
            let back = parse_line(cursor, &stored);
            assert_eq!(back.level, line.level, "{stored:?}");
            assert_eq!(back.message, line.message, "{stored:?}");
        }
    }
}
