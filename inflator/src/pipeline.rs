//! The steps of an inflation in the reference's order (`NetkanTransformer.cs`, §5).

use netkan_common::ckan::Object;

use crate::InflateError;
use crate::context::Context;
use crate::transformers;

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
