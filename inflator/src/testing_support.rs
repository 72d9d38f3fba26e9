//! Helpers for the crate's unit tests: metadata literals, a context with local services, and
//! a log that records its lines.

use std::sync::Mutex;

use netkan_common::ckan::Object;
use netkan_common::config::HostSettings;
use netkan_common::log::Level;
use serde_json::Value;

use crate::InflateError;
use crate::cache::DownloadCache;
use crate::context::{Context, GameInfo, InflationLog, Services, TransformOptions};
use crate::http::HttpClient;
use crate::pipeline::Step;

/// The object of a `json!` literal.
pub(crate) fn obj(v: Value) -> Object {
    match v {
        Value::Object(o) => o,
        other => panic!("test metadata must be an object, got {other}"),
    }
}

/// A log that keeps every line.
#[derive(Default)]
pub(crate) struct Recorder {
    pub(crate) lines: Mutex<Vec<(Level, String)>>,
}

impl InflationLog for Recorder {
    fn line(&self, level: Level, message: &str) {
        self.lines
            .lock()
            .expect("no test panics while holding it")
            .push((level, message.to_owned()));
    }
}

/// Host settings that send every request to a closed loopback port, so a step that should
/// not touch the network fails fast instead of leaving the machine.
pub(crate) fn offline_hosts() -> HostSettings {
    let dead = "http://127.0.0.1:1";
    let mut hosts = HostSettings {
        github_api: format!("{dead}/github-api"),
        github: format!("{dead}/github"),
        gitlab_api: format!("{dead}/gitlab-api"),
        spacedock: format!("{dead}/spacedock"),
        sourceforge: format!("{dead}/sourceforge"),
        archive_org: format!("{dead}/archive-org"),
        ..HostSettings::default()
    };
    for scheme in ["https", "http"] {
        hosts
            .rewrite
            .insert(format!("{scheme}://"), format!("{dead}/{scheme}/"));
    }
    hosts
}

/// Services that talk to nothing (an unused cache directory, [`offline_hosts`]).
pub(crate) fn services() -> Services {
    Services {
        http: HttpClient::new(&offline_hosts()).expect("client builds"),
        cache: DownloadCache::new(std::env::temp_dir().join("netkan-inflator-unit-cache"), 0),
    }
}

/// One step run in a fresh context; what the step left in the options and warnings is kept.
pub(crate) struct Harness {
    pub(crate) services: Services,
    pub(crate) game: GameInfo,
    pub(crate) log: Recorder,
    pub(crate) opts: TransformOptions,
    pub(crate) warnings: Vec<String>,
}

impl Harness {
    pub(crate) fn new() -> Harness {
        Harness {
            services: services(),
            game: GameInfo::ksp(),
            log: Recorder::default(),
            opts: TransformOptions::default(),
            warnings: Vec::new(),
        }
    }

    pub(crate) async fn run(
        &mut self,
        step: Step,
        json: Object,
    ) -> Result<Vec<Object>, InflateError> {
        let mut cx = Context::new(self.opts.clone(), &self.services, &self.game, &self.log);
        let out = step.run(json, &mut cx).await;
        self.warnings = cx.warnings().to_vec();
        self.opts = cx.opts;
        out
    }
}

/// One step on one object with default options.
pub(crate) async fn run_step(step: Step, json: Object) -> Result<Vec<Object>, InflateError> {
    Harness::new().run(step, json).await
}
