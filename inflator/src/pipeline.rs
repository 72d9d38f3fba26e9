//! The steps of an inflation in the reference's order (`NetkanTransformer.cs`, §5), with the
//! versioned overrides injected around them, and what happens to the outputs of all
//! documents afterwards (§6): merge by version, spec version, sort, prereleases first, the
//! `Releases` limit.

use std::sync::OnceLock;

use netkan_common::ckan::game_version::set_json_compatibility;
use netkan_common::ckan::module::merge_json;
use netkan_common::ckan::spec_version::minimum_spec_version;
use netkan_common::ckan::write::canonical_sort;
use netkan_common::ckan::{ModuleVersion, Object};
use serde_json::Value;

use crate::InflateError;
use crate::context::Context;
use crate::metadata;
use crate::transformers;
use crate::validate::validate_netkan;

/// One step of the pipeline. The names are those `x_netkan_override` stanzas use in
/// `before` / `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// `staging`: Never changes the JSON; stages hard-coded game versions that miss the latest release (§5 #1).
    Staging,
    /// `metanetkan`: `$kref: #/ckan/netkan/<url>`: the target `.netkan`'s properties fill the gaps (§5 #2).
    Metanetkan,
    /// `spacedock`: `$kref: #/ckan/spacedock/<id>` (§5 #3, §9.2).
    Spacedock,
    /// `github`: `$kref: #/ckan/github/<owner>/<repo>[...]` (§5 #4, §9.1).
    Github,
    /// `gitlab`: `$kref: #/ckan/gitlab/<owner>/<repo>` (§5 #5, §9.3).
    Gitlab,
    /// `gitea`: `$kref: #/ckan/gitea/<host>/<owner>/<repo>` (§5 #6, §9.4).
    Gitea,
    /// `sourceforge`: `$kref: #/ckan/sourceforge/<project>` (§5 #7, §9.6).
    Sourceforge,
    /// `http`: `$kref: #/ckan/http/<url>`: the redirect-resolved download (§5 #8).
    Http,
    /// `jenkins`: `$kref: #/ckan/jenkins/<job-url>` (§5 #9, §9.5).
    Jenkins,
    /// `avc-kref`: `$kref: #/ckan/ksp-avc/<url>`: a remote `.version` file as the source (§5 #10).
    AvcKref,
    /// `internal_ckan`: A `.ckan` inside the download fills the gaps (§5 #11).
    InternalCkan,
    /// `space_warp_info`: `$vref: #/ckan/space-warp`: `swinfo.json` inside the download (§5 #12).
    SpaceWarpInfo,
    /// `avc`: `$vref: #/ckan/ksp-avc`: the `.version` file inside the download, and its remote copy (§5 #13).
    Avc,
    /// `localizations`: Locales found in the installed `.cfg` files (§5 #14).
    Localizations,
    /// `version_edit`: `x_netkan_version_edit`, with .NET replacement semantics (§5 #15).
    VersionEdit,
    /// `forced_v`: `x_netkan_force_v` (§5 #16).
    ForcedV,
    /// `epoch`: `x_netkan_epoch` and auto-epoching against the highest indexed version (§5 #17).
    Epoch,
    /// `versioned_override`: `x_netkan_override` stanzas; injected between every pair of steps too (§5 #18).
    VersionedOverride,
    /// `download_attributes`: `download_size`, `download_hash`, `download_content_type` of the download (§5 #19).
    DownloadAttributes,
    /// `install_size`: The uncompressed size of what the install stanzas install (§5 #20).
    InstallSize,
    /// `staging_links`: A table of the module's links appended to the staging reasons (§5 #21).
    StagingLinks,
    /// `generated_by`: `x_generated_by: netkan` (§5 #22).
    GeneratedBy,
    /// `optimus_prime`: `x_netkan_optimus_prime` only logs (§5 #23).
    OptimusPrime,
    /// `strip_netkan_metadata`: Removes `x_netkan_*`, `$kref` and `$vref` at every depth (§5 #24).
    StripNetkanMetadata,
    /// `property_sort`: The canonical property order (§5 #25, §12).
    PropertySort,
}

impl Step {
    /// Every step, in the order they run.
    pub const ORDER: [Step; 25] = [
        Step::Staging,
        Step::Metanetkan,
        Step::Spacedock,
        Step::Github,
        Step::Gitlab,
        Step::Gitea,
        Step::Sourceforge,
        Step::Http,
        Step::Jenkins,
        Step::AvcKref,
        Step::InternalCkan,
        Step::SpaceWarpInfo,
        Step::Avc,
        Step::Localizations,
        Step::VersionEdit,
        Step::ForcedV,
        Step::Epoch,
        Step::VersionedOverride,
        Step::DownloadAttributes,
        Step::InstallSize,
        Step::StagingLinks,
        Step::GeneratedBy,
        Step::OptimusPrime,
        Step::StripNetkanMetadata,
        Step::PropertySort,
    ];

    /// The step's name.
    pub fn name(self) -> &'static str {
        match self {
            Step::Staging => "staging",
            Step::Metanetkan => "metanetkan",
            Step::Spacedock => "spacedock",
            Step::Github => "github",
            Step::Gitlab => "gitlab",
            Step::Gitea => "gitea",
            Step::Sourceforge => "sourceforge",
            Step::Http => "http",
            Step::Jenkins => "jenkins",
            Step::AvcKref => "avc-kref",
            Step::InternalCkan => "internal_ckan",
            Step::SpaceWarpInfo => "space_warp_info",
            Step::Avc => "avc",
            Step::Localizations => "localizations",
            Step::VersionEdit => "version_edit",
            Step::ForcedV => "forced_v",
            Step::Epoch => "epoch",
            Step::VersionedOverride => "versioned_override",
            Step::DownloadAttributes => "download_attributes",
            Step::InstallSize => "install_size",
            Step::StagingLinks => "staging_links",
            Step::GeneratedBy => "generated_by",
            Step::OptimusPrime => "optimus_prime",
            Step::StripNetkanMetadata => "strip_netkan_metadata",
            Step::PropertySort => "property_sort",
        }
    }

    /// Runs the step on one metadata object.
    pub async fn run(
        self,
        metadata: Object,
        cx: &mut Context<'_>,
    ) -> Result<Vec<Object>, InflateError> {
        match self {
            Step::Staging => transformers::staging::transform(metadata, cx).await,
            Step::Metanetkan => transformers::metanetkan::transform(metadata, cx).await,
            Step::Spacedock => transformers::spacedock::transform(metadata, cx).await,
            Step::Github => transformers::github::transform(metadata, cx).await,
            Step::Gitlab => transformers::gitlab::transform(metadata, cx).await,
            Step::Gitea => transformers::gitea::transform(metadata, cx).await,
            Step::Sourceforge => transformers::sourceforge::transform(metadata, cx).await,
            Step::Http => transformers::http::transform(metadata, cx).await,
            Step::Jenkins => transformers::jenkins::transform(metadata, cx).await,
            Step::AvcKref => transformers::avc_kref::transform(metadata, cx).await,
            Step::InternalCkan => transformers::internal_ckan::transform(metadata, cx).await,
            Step::SpaceWarpInfo => transformers::space_warp_info::transform(metadata, cx).await,
            Step::Avc => transformers::avc::transform(metadata, cx).await,
            Step::Localizations => transformers::localizations::transform(metadata, cx).await,
            Step::VersionEdit => transformers::version_edit::transform(metadata, cx).await,
            Step::ForcedV => transformers::forced_v::transform(metadata, cx).await,
            Step::Epoch => transformers::epoch::transform(metadata, cx).await,
            Step::VersionedOverride => {
                transformers::versioned_override::transform(metadata, cx).await
            }
            Step::DownloadAttributes => {
                transformers::download_attributes::transform(metadata, cx).await
            }
            Step::InstallSize => transformers::install_size::transform(metadata, cx).await,
            Step::StagingLinks => transformers::staging_links::transform(metadata, cx).await,
            Step::GeneratedBy => transformers::generated_by::transform(metadata, cx).await,
            Step::OptimusPrime => transformers::optimus_prime::transform(metadata, cx).await,
            Step::StripNetkanMetadata => {
                transformers::strip_netkan_metadata::transform(metadata, cx).await
            }
            Step::PropertySort => transformers::property_sort::transform(metadata, cx).await,
        }
    }
}

/// One point of the pipeline: a step, or an injected versioned override answering to the
/// names of its neighbours (`InjectVersionedOverrideTransformers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// A step of [`Step::ORDER`].
    Step(Step),
    /// Stanzas whose `before` is in `before` or whose `after` is in `after`.
    Override {
        before: Vec<Option<&'static str>>,
        after: Vec<Option<&'static str>>,
    },
}

impl Stage {
    /// Every stage in order: an override before the first step (`before: <first>|$all` or
    /// `after: $none`), one between each pair (`before: <next>` or `after: <previous>`), one
    /// after the last (`before: $none` or `after: <last>|$all`). With the default override
    /// step among the steps, a stanza that names only `before` or only `after` runs twice.
    pub fn all() -> &'static [Stage] {
        static STAGES: OnceLock<Vec<Stage>> = OnceLock::new();
        STAGES.get_or_init(|| {
            let steps = Step::ORDER;
            let mut out = Vec::with_capacity(steps.len() * 2 + 1);
            out.push(Stage::Override {
                before: vec![Some(steps[0].name()), Some("$all")],
                after: vec![Some("$none")],
            });
            for (i, step) in steps.iter().enumerate() {
                out.push(Stage::Step(*step));
                out.push(match steps.get(i + 1) {
                    Some(next) => Stage::Override {
                        before: vec![Some(next.name())],
                        after: vec![Some(step.name())],
                    },
                    None => Stage::Override {
                        before: vec![Some("$none")],
                        after: vec![Some(step.name()), Some("$all")],
                    },
                });
            }
            out
        })
    }

    /// The stage's name in the log.
    pub fn name(&self) -> &'static str {
        match self {
            Stage::Step(step) => step.name(),
            Stage::Override { .. } => "versioned_override (injected)",
        }
    }

    async fn run(
        &self,
        metadata: Object,
        cx: &mut Context<'_>,
    ) -> Result<Vec<Object>, InflateError> {
        match self {
            Stage::Step(step) => step.run(metadata, cx).await,
            Stage::Override { before, after } => {
                transformers::versioned_override::apply(metadata, cx, before, after)
            }
        }
    }
}

/// Runs every stage on one (mixed, pre-validated) document: each output of a stage goes
/// through the next (`SelectMany`), then every result is validated again.
///
/// # Errors
/// The first step or validation that fails.
pub async fn run_document(doc: Object, cx: &mut Context<'_>) -> Result<Vec<Object>, InflateError> {
    let mut modules = vec![doc];
    for stage in Stage::all() {
        let mut next = Vec::with_capacity(modules.len());
        for module in modules {
            let before = module.clone();
            let out = stage.run(module, cx).await?;
            if out.len() != 1 {
                cx.debug(format!("{}: {} modules", stage.name(), out.len()));
            } else if out[0] != before {
                cx.debug(format!("{}: metadata changed", stage.name()));
            }
            next.extend(out);
        }
        modules = next;
    }
    for module in &modules {
        validate_netkan(module)?;
    }
    Ok(modules)
}

/// `GroupBy(module => module.Version)`: CKAN hashes the epoch and the raw version text, so
/// `1.01` and `1.1` are different groups even though they compare equal. Groups keep the
/// order in which their first member appeared.
///
/// # Errors
/// A version that cannot be read.
pub fn group_by_version(modules: Vec<Object>) -> Result<Vec<Vec<Object>>, InflateError> {
    let mut keys: Vec<Option<(u32, String)>> = Vec::new();
    let mut groups: Vec<Vec<Object>> = Vec::new();
    for module in modules {
        let key = metadata::version(&module)?
            .map(|v: ModuleVersion| (v.epoch(), v.without_epoch().to_owned()));
        match keys.iter().position(|k| *k == key) {
            Some(i) => groups[i].push(module),
            None => {
                keys.push(key);
                groups.push(vec![module]);
            }
        }
    }
    Ok(groups)
}

/// `(string?)token` for the download comparison: missing and null are alike.
fn compared(v: Option<&Value>) -> Option<String> {
    v.and_then(metadata::cs_string)
}

/// `Metadata.Merge`: one module is returned as it is; several (one per host document with
/// the same version) become one, whose downloads are all of theirs (first document's first),
/// whose other properties are the later documents' where they differ, and whose game
/// versions are re-normalized. The result is sorted.
///
/// # Errors
/// "Download from A does not match download from B" when sizes or hashes differ.
pub fn merge_group(mut group: Vec<Object>) -> Result<Object, InflateError> {
    if group.len() == 1 {
        return Ok(group.pop().expect("one element"));
    }
    let mut downloads: Vec<Value> = Vec::new();
    for json in &group {
        let items = match json.get("download") {
            Some(Value::Array(items)) => items.clone(),
            Some(v) => vec![v.clone()],
            None => vec![Value::Null],
        };
        for item in items {
            if !downloads.contains(&item) {
                downloads.push(item);
            }
        }
    }
    let mut others = group.into_iter();
    let mut first = others.next().expect("a group has members");
    let hash = |j: &Object, k: &str| compared(j.get("download_hash").and_then(|h| h.get(k)));
    for other in others {
        if compared(first.get("download_size")) != compared(other.get("download_size"))
            || hash(&first, "sha1") != hash(&other, "sha1")
            || hash(&first, "sha256") != hash(&other, "sha256")
        {
            return Err(InflateError::metadata(format!(
                "Download from {} does not match download from {}",
                metadata::token_text(first.get("download")),
                metadata::token_text(other.get("download"))
            )));
        }
        merge_json(&mut first, &other);
    }
    set_json_compatibility(&mut first, None, None, None);
    let download = if downloads.len() == 1 {
        downloads.pop().expect("one element")
    } else {
        Value::Array(downloads)
    };
    first.insert("download".to_owned(), download);
    Ok(canonical_sort(&first))
}

/// `SpecVersionTransformer`: `spec_version` is always the minimum the module needs (the
/// integer 1 or `"vX.Y"`), whatever the netkan said.
pub fn set_spec_version(json: &mut Object) {
    let value = minimum_spec_version(json).to_value();
    if json.get("spec_version") != Some(&value) {
        json.insert("spec_version".to_owned(), value);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::testing_support::obj;

    #[test]
    fn overrides_are_injected_around_every_step() {
        let stages = Stage::all();
        assert_eq!(stages.len(), Step::ORDER.len() * 2 + 1);
        assert_eq!(
            stages[0],
            Stage::Override {
                before: vec![Some("staging"), Some("$all")],
                after: vec![Some("$none")]
            }
        );
        assert_eq!(stages[1], Stage::Step(Step::Staging));
        assert_eq!(
            stages[2],
            Stage::Override {
                before: vec![Some("metanetkan")],
                after: vec![Some("staging")]
            }
        );
        assert_eq!(
            stages.last(),
            Some(&Stage::Override {
                before: vec![Some("$none")],
                after: vec![Some("property_sort"), Some("$all")]
            })
        );
        let steps: Vec<Step> = stages
            .iter()
            .filter_map(|s| match s {
                Stage::Step(step) => Some(*step),
                Stage::Override { .. } => None,
            })
            .collect();
        assert_eq!(steps, Step::ORDER);
    }

    fn doc(download: Value, extra: Value) -> Object {
        let mut j = obj(json!({"identifier": "DebugStifle", "version": "v2.0.0.0",
            "download": download, "download_size": 10,
            "download_hash": {"sha1": "A", "sha256": "B"}, "author": "github-author",
            "ksp_version": "1.12"}));
        for (k, v) in obj(extra) {
            j.insert(k, v);
        }
        j
    }

    #[test]
    fn two_hosts_merge_into_a_download_array_and_the_later_document_wins() {
        let merged = merge_group(vec![
            doc(
                json!("https://github.com/x.zip"),
                json!({"ksp_version": "1.8"}),
            ),
            doc(
                json!("https://spacedock.info/x.zip"),
                json!({"author": "sd-author", "ksp_version": "1.12"}),
            ),
        ])
        .expect("merges");
        assert_eq!(
            merged["download"],
            json!(["https://github.com/x.zip", "https://spacedock.info/x.zip"])
        );
        assert_eq!(merged["author"], "sd-author");
        assert_eq!(
            merged["ksp_version"], "1.12",
            "the later document's game version"
        );
        let keys: Vec<&str> = merged.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "identifier",
                "author",
                "version",
                "ksp_version",
                "download",
                "download_size",
                "download_hash"
            ]
        );
    }

    #[test]
    fn a_single_url_and_an_array_are_deduplicated() {
        let merged = merge_group(vec![
            doc(json!("https://a/x.zip"), json!({})),
            doc(json!(["https://a/x.zip", "https://b/x.zip"]), json!({})),
        ])
        .expect("merges");
        assert_eq!(
            merged["download"],
            json!(["https://a/x.zip", "https://b/x.zip"])
        );
        let same = merge_group(vec![
            doc(json!("https://a/x.zip"), json!({})),
            doc(json!("https://a/x.zip"), json!({})),
        ])
        .expect("merges");
        assert_eq!(same["download"], "https://a/x.zip");
    }

    #[test]
    fn mismatched_sizes_or_hashes_are_an_error() {
        for extra in [
            json!({"download_size": 11}),
            json!({"download_hash": {"sha1": "X", "sha256": "B"}}),
            json!({"download_hash": {"sha1": "A", "sha256": "X"}}),
        ] {
            let err = merge_group(vec![
                doc(json!("https://a/x.zip"), json!({})),
                doc(json!("https://b/x.zip"), extra.clone()),
            ])
            .expect_err("mismatch");
            assert_eq!(
                err.to_string(),
                "Download from https://a/x.zip does not match download from https://b/x.zip",
                "{extra}"
            );
        }
    }

    #[test]
    fn a_group_of_one_is_left_alone() {
        let one = doc(
            json!("https://a/x.zip"),
            json!({"zzz": 1, "ksp_version_min": "1.2"}),
        );
        assert_eq!(merge_group(vec![one.clone()]).expect("one"), one);
    }

    #[test]
    fn versions_group_by_their_text_not_by_equality() {
        let v = |s: &str| obj(json!({"version": s}));
        let groups =
            group_by_version(vec![v("1.01"), v("1.1"), v("1.01"), v("1:1.1")]).expect("groups");
        let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
        assert_eq!(sizes, [2, 1, 1]);
    }

    #[test]
    fn spec_version_is_the_integer_1_or_a_vx_y_string() {
        let mut j = obj(json!({"spec_version": "v1.4", "identifier": "A"}));
        set_spec_version(&mut j);
        assert_eq!(j["spec_version"], json!(1));
        let mut j = obj(json!({"download": ["a", "b"]}));
        set_spec_version(&mut j);
        assert_eq!(j["spec_version"], "v1.34");
        let mut j = obj(json!({"install": [{"find": "A", "install_to": "GameData"}]}));
        set_spec_version(&mut j);
        assert_eq!(j["spec_version"], "v1.4");
    }
}
