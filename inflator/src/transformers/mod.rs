//! One module per step of the pipeline (§5), each `transform(metadata, context)` → the
//! metadata it turns into (usually one; hosts with several releases fan out; none is never
//! returned without an error).

pub mod avc;
pub mod avc_kref;
pub mod download_attributes;
pub mod epoch;
pub mod forced_v;
pub mod generated_by;
pub mod gitea;
pub mod github;
pub mod gitlab;
pub mod http;
pub mod install_size;
pub mod internal_ckan;
pub mod jenkins;
pub mod localizations;
pub mod metanetkan;
pub mod optimus_prime;
pub mod property_sort;
pub mod sourceforge;
pub mod space_warp_info;
pub mod spacedock;
pub mod staging;
pub mod staging_links;
pub mod strip_netkan_metadata;
pub mod version_edit;
pub mod versioned_override;
