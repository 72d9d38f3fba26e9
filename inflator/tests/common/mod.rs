//! Shared by the host tests: running one step against the fixture upstream.

#![allow(dead_code, unreachable_pub)]

use netkan_common::ckan::Object;
use netkan_inflator::cache::DownloadCache;
use netkan_inflator::context::{Context, NoLog};
use netkan_inflator::pipeline::Step;
use netkan_inflator::testing::upstream::Upstream;
use netkan_inflator::{GameInfo, InflateError, Services, TransformOptions};
use serde_json::Value;

/// The object of a `json!` literal.
pub fn obj(v: Value) -> Object {
    match v {
        Value::Object(o) => o,
        other => panic!("test metadata must be an object, got {other}"),
    }
}

/// What one step did.
pub struct Ran {
    pub out: Result<Vec<Object>, InflateError>,
    pub warnings: Vec<String>,
    pub opts: TransformOptions,
}

impl Ran {
    /// The outputs, or a panic naming the error.
    pub fn ok(&self) -> &[Object] {
        match &self.out {
            Ok(o) => o,
            Err(e) => panic!("the step failed: {e}"),
        }
    }

    /// The only output.
    pub fn one(&self) -> &Object {
        let out = self.ok();
        assert_eq!(out.len(), 1, "expected one output, got {out:#?}");
        &out[0]
    }

    /// The error's text.
    pub fn err(&self) -> String {
        match &self.out {
            Ok(o) => panic!("expected an error, got {o:#?}"),
            Err(e) => e.to_string(),
        }
    }
}

/// Runs `step` on `json` with `opts`, against `up`.
pub async fn run(up: &Upstream, step: Step, json: Value, opts: TransformOptions) -> Ran {
    let dir = tempfile::tempdir().expect("tempdir");
    let services = Services {
        http: up.client(),
        cache: DownloadCache::new(dir.path(), 0),
    };
    let game = GameInfo::ksp();
    let mut cx = Context::new(opts, &services, &game, &NoLog);
    let out = step.run(obj(json), &mut cx).await;
    Ran {
        out,
        warnings: cx.warnings().to_vec(),
        opts: cx.opts,
    }
}

/// Runs `step` on `json` with the queue's default options (one release, none skipped).
pub async fn run_one(up: &Upstream, step: Step, json: Value) -> Ran {
    run(up, step, json, releases(Some(1), 0)).await
}

/// `Releases` and `SkipReleases`.
pub fn releases(take: Option<usize>, skip: usize) -> TransformOptions {
    TransformOptions {
        releases: take,
        skip_releases: skip,
        ..TransformOptions::default()
    }
}
