//! The validators that look inside the download (§10), each a port of its CKAN class with its
//! exact messages.
//!
//! # Entry points
//! `CkanValidator` (in `validate/ckan.rs`) calls, at CKAN's places in its order:
//! - [`installs_files`] (`InstallsFilesValidator`): errors when the stanzas match nothing, a
//!   mod directory nests inside itself, or two files install to one place; warns about an
//!   unmatched `include_only`;
//! - [`harmony`] (`HarmonyValidator`, KSP only): a bundled Harmony DLL needs
//!   `provides: [Harmony1]`;
//! - [`module_manager_depends`], [`plugins`], [`crafts_in_ships`], [`space_warp_info`]:
//!   warnings only.
//!
//! The `avc` step calls [`vref`] (`VrefValidator`): warnings about a `$vref` that does not fit
//! the download, before it applies the `.version` file.
//!
//! Each takes the final metadata and the context, opens the download through the inflation's
//! memo (fetched and opened once for all of them), and returns `Err` only for an error CKAN
//! raises; warnings go to [`Context::warn`]. A module with `kind: dlc` is skipped where CKAN
//! skips it.

use std::sync::LazyLock;

use fancy_regex::Regex;
use netkan_common::ckan::write::culture_compare;
use netkan_common::ckan::{Module, Object, Vref};
use serde_json::Value;

use crate::InflateError;
use crate::archive::avc::{AvcError, FindAvcError, ReadAvcError, find_internal_avc, read_avc};
use crate::archive::install::{GameLayout, InstallErrorKind, is_match};
use crate::archive::{self, contents};
use crate::context::Context;
use crate::transformers::space_warp_info::{first_swinfo_text, load};

fn is_dlc(json: &Object) -> bool {
    json.get("kind").and_then(Value::as_str) == Some("dlc")
}

fn sorted(mut items: Vec<String>) -> Vec<String> {
    items.sort_by(|a, b| culture_compare(a, b));
    items
}

/// `VrefValidator`: warns when the `$vref` and the download disagree about a `.version` file
/// or a `swinfo.json`.
///
/// # Errors
/// What CKAN lets through: a malformed stanza, stanzas that match nothing (from the
/// `swinfo.json` lookup), an unreadable entry.
pub async fn vref(metadata: &Object, cx: &mut Context<'_>) -> Result<(), InflateError> {
    cx.debug("Validating that metadata vref is consistent with download contents");
    if is_dlc(metadata) {
        return Ok(());
    }
    let vref = Module::new(metadata).vref()?;
    let result = archive::inspect(cx, metadata, Some("0"), |files| {
        // "." matches any name: the first version file, if there is one.
        let avc = match find_internal_avc(files, files.archive(), Some(".")) {
            Ok(None) => Ok(None),
            Ok(Some(found)) => match read_avc(files.archive(), &found) {
                Ok(_) => Ok(Some((found.name, found.installable))),
                // A syntax error: no path, but a version file is there.
                Err(ReadAvcError::Parse(AvcError::Syntax(_) | AvcError::Serialization(_))) => {
                    Ok(Some((String::new(), false)))
                }
                Err(ReadAvcError::Parse(AvcError::Conversion(m)) | ReadAvcError::Archive(m)) => {
                    Err(InflateError::metadata(m))
                }
            },
            // Stanzas that match nothing are somebody else's to report.
            Err(FindAvcError::Install(e)) if e.kind == InstallErrorKind::BadMetadata => Ok(None),
            Err(FindAvcError::Install(e)) if e.kind == InstallErrorKind::Other => Err(e.into()),
            Err(_) => Ok(Some((String::new(), false))),
        };
        let swinfo = contents::space_warp_info_entries(files, None).map(|e| !e.is_empty());
        (avc, swinfo)
    })
    .await?;
    let Some((avc, swinfo)) = result else {
        return Ok(());
    };
    let avc = avc?;
    let has_avc_vref = matches!(vref, Some(Vref::KspAvc { .. }));
    match (&avc, has_avc_vref) {
        (None, true) => cx.warn("$vref is ksp-avc, version file missing"),
        (Some((path, true)), false) => {
            cx.warn(format!(
                "$vref is not ksp-avc, version file present: {path}"
            ));
        }
        _ => {}
    }
    let has_swinfo = swinfo?;
    let has_sw_vref = matches!(vref, Some(Vref::SpaceWarp { .. }));
    if has_sw_vref && !has_swinfo {
        cx.warn("$vref is space-warp, swinfo.json file missing");
    } else if !has_sw_vref && has_swinfo {
        cx.warn("$vref is not space-warp, swinfo.json file present");
    }
    Ok(())
}

/// `InstallsFilesValidator`.
///
/// # Errors
/// "Module contains no files matching: …", "<dir> directory found within <dir>:\n…",
/// "Multiple files attempted to install to:\n…".
pub async fn installs_files(json: &Object, cx: &mut Context<'_>) -> Result<(), InflateError> {
    if is_dlc(json) {
        return Ok(());
    }
    let game = GameLayout::of(&cx.game.id)?;
    let Some(result) = archive::inspect(cx, json, None, |files| {
        let describe = files.plan().describe();
        match files.non_dirs() {
            Ok(list) => Ok(list.map(|f| f.destination.clone()).collect::<Vec<_>>()),
            Err(_) => Err(describe),
        }
    })
    .await?
    else {
        return Ok(());
    };
    let all = result.map_err(|describe| {
        InflateError::metadata(format!("Module contains no files matching: {describe}"))
    })?;
    for dir in game.mod_dirs() {
        let lower_dir = dir.to_lowercase();
        let inner = format!("/{lower_dir}/");
        let nested: Vec<String> = all
            .iter()
            .filter(|p| {
                let lower = p.to_lowercase();
                lower.starts_with(&lower_dir) && lower.rfind(&inner).is_some_and(|i| i > 0)
            })
            .cloned()
            .collect();
        if !nested.is_empty() {
            return Err(InflateError::metadata(format!(
                "{dir} directory found within {dir}:\n{}",
                sorted(nested).join("\n")
            )));
        }
    }
    let mut seen: Vec<(&String, usize)> = Vec::new();
    for f in &all {
        match seen.iter_mut().find(|(g, _)| *g == f) {
            Some((_, n)) => *n += 1,
            None => seen.push((f, 1)),
        }
    }
    let duplicates: Vec<String> = seen
        .iter()
        .flat_map(|(f, n)| std::iter::repeat_n((*f).clone(), n - 1))
        .collect();
    if !duplicates.is_empty() {
        return Err(InflateError::metadata(format!(
            "Multiple files attempted to install to:\n{}",
            duplicates.join("\n")
        )));
    }
    if let Some(Value::Array(stanzas)) = json.get("install") {
        let mut unmatched: Vec<String> = Vec::new();
        for text in stanzas
            .iter()
            .filter_map(|s| s.get("include_only"))
            .flat_map(|v| match v {
                Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                Value::String(s) => vec![s.as_str()],
                _ => Vec::new(),
            })
        {
            if !unmatched.iter().any(|u| u == text) && !all.iter().any(|f| f.contains(text)) {
                unmatched.push(text.to_owned());
            }
        }
        if !unmatched.is_empty() {
            cx.warn(format!(
                "No matches for include_only: {}",
                unmatched.join(", ")
            ));
        }
    }
    Ok(())
}

/// The files a module installs with `suffix`: (source name, destination) pairs; `None`
/// without a download.
async fn by_suffix(
    json: &Object,
    cx: &mut Context<'_>,
    suffixes: &'static [&'static str],
) -> Result<Option<Vec<(String, String)>>, InflateError> {
    let found = archive::inspect(cx, json, None, move |files| {
        let entries = files.archive().entries();
        Ok::<_, InflateError>(
            files
                .files()?
                .iter()
                .filter(|f| {
                    suffixes
                        .iter()
                        .any(|s| archive::install::ends_with_ignore_case(&f.destination, s))
                })
                .map(|f| (entries[f.entry].name.clone(), f.destination.clone()))
                .collect::<Vec<_>>(),
        )
    })
    .await?;
    found.transpose()
}

/// `HarmonyValidator` (KSP only; the `Harmony2` module itself is exempt).
///
/// # Errors
/// "Harmony DLL found at …, but Harmony1 is not in the provides list".
pub async fn harmony(json: &Object, cx: &mut Context<'_>) -> Result<(), InflateError> {
    let identifier = json.get("identifier").and_then(Value::as_str).unwrap_or("");
    if cx.game.id.as_str() != "ksp" || is_dlc(json) || identifier == "Harmony2" {
        return Ok(());
    }
    let Some(plugins) = by_suffix(json, cx, &[".dll"]).await? else {
        return Ok(());
    };
    let dlls = sorted(
        plugins
            .into_iter()
            .map(|(source, _)| source)
            .filter(|name| {
                let from = name.rfind('/').unwrap_or(0);
                name[from..].to_lowercase().contains("harmony")
            })
            .collect(),
    );
    let provides_harmony1 = identifier == "Harmony1"
        || matches!(json.get("provides"), Some(Value::Array(p)) if p.iter().any(|v| v == "Harmony1"));
    if !dlls.is_empty() && !provides_harmony1 {
        return Err(InflateError::metadata(format!(
            "Harmony DLL found at {}, but Harmony1 is not in the provides list",
            dlls.join(", ")
        )));
    }
    if provides_harmony1 && dlls.is_empty() {
        cx.warn("Harmony1 provided by module that doesn't install a Harmony DLL, consider removing from provides list");
    }
    Ok(())
}

/// Whether a relationship list names `identifier`, directly or inside an `any_of`.
fn relationships_contain(list: Option<&Value>, identifier: &str) -> bool {
    let Some(Value::Array(items)) = list else {
        return false;
    };
    items.iter().any(|r| {
        r.get("name").and_then(Value::as_str) == Some(identifier)
            || relationships_contain(r.get("any_of"), identifier)
    })
}

static MM_SYNTAX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?ms)^\s*[@+$\-!%]|^\s*[a-zA-Z0-9_]+:")
        .expect("the ModuleManager syntax pattern compiles")
});

/// `ModuleManagerDependsValidator`: warnings only.
///
/// # Errors
/// The download's or the stanzas' error, or an unreadable `.cfg`.
pub async fn module_manager_depends(
    json: &Object,
    cx: &mut Context<'_>,
) -> Result<(), InflateError> {
    if is_dlc(json) {
        return Ok(());
    }
    let Some(found) = archive::inspect(cx, json, None, |files| {
        let mut names = Vec::new();
        for cfg in files.by_suffix(".cfg")? {
            let text = contents::entry_text(files.archive(), cfg.entry)?;
            if is_match(&MM_SYNTAX, &text)? {
                names.push(files.archive().entries()[cfg.entry].name.clone());
            }
        }
        Ok::<_, InflateError>(names)
    })
    .await?
    else {
        return Ok(());
    };
    let configs = found?;
    let depends_on_mm = relationships_contain(json.get("depends"), "ModuleManager");
    if !depends_on_mm && !configs.is_empty() {
        cx.warn(format!(
            "ModuleManager syntax used without ModuleManager dependency: {}",
            sorted(configs).join(", ")
        ));
    } else if depends_on_mm && configs.is_empty() {
        cx.warn("ModuleManager dependency may not be needed, no ModuleManager syntax found");
    }
    Ok(())
}

/// `Identifier.Sanitize`: leading characters that cannot start an identifier dropped, the
/// rest of the invalid ones replaced.
fn sanitize(ident: &str, replacement: &str) -> String {
    let trimmed = ident.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
    trimmed
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c.to_string()
            } else {
                replacement.to_owned()
            }
        })
        .collect()
}

static DLL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:.*/)?(?<identifier>[^.]+).*\.dll$").expect("the DLL pattern compiles")
});

/// `GameInstance.DllPathToIdentifier`: the identifier a DLL's file name suggests, for DLLs in a
/// mod directory.
fn dll_identifier(game: &GameLayout, path: &str) -> Option<String> {
    if !game.mod_dirs().any(|d| path.starts_with(&format!("{d}/"))) {
        return None;
    }
    let caps = DLL.captures(path).ok()??;
    Some(sanitize(caps.name("identifier")?.as_str(), "-"))
}

/// `PluginsValidator`: warnings only.
///
/// # Errors
/// The download's or the stanzas' error.
pub async fn plugins(json: &Object, cx: &mut Context<'_>) -> Result<(), InflateError> {
    cx.debug("Validating that metadata is appropriate for DLLs");
    if is_dlc(json) {
        return Ok(());
    }
    let game = GameLayout::of(&cx.game.id)?;
    let Some(dlls) = by_suffix(json, cx, &[".dll"]).await? else {
        return Ok(());
    };
    let plugins = sorted(dlls.into_iter().map(|(_, d)| d).collect());
    if !plugins.is_empty() {
        let identifier = json.get("identifier").and_then(Value::as_str).unwrap_or("");
        let idents: Vec<String> = plugins
            .iter()
            .filter_map(|p| dll_identifier(game, p))
            .filter(|i| !i.is_empty() && i != "MiniAVC")
            .collect();
        if !idents.is_empty() && !idents.iter().any(|i| i == identifier) {
            cx.warn(format!(
                "No plugin matching the identifier, manual installations won't be detected: {}",
                plugins.join(", ")
            ));
        }
        if !json.contains_key("ksp_version") && !json.contains_key("ksp_version_max") {
            cx.warn("Unbounded future compatibility for module with a plugin, consider setting $vref or ksp_version or ksp_version_max");
        }
        return Ok(());
    }
    let Some(code) = by_suffix(json, cx, &[".cs", ".csproj", ".sln"]).await? else {
        return Ok(());
    };
    if !code.is_empty() {
        cx.warn(format!(
            "Found C# source code without DLL, mod may not have been compiled: {}",
            sorted(code.into_iter().map(|(_, d)| d).collect()).join(", ")
        ));
    }
    Ok(())
}

/// `CraftsInShipsValidator`: a warning only.
///
/// # Errors
/// The download's or the stanzas' error.
pub async fn crafts_in_ships(json: &Object, cx: &mut Context<'_>) -> Result<(), InflateError> {
    cx.debug("Validating that craft files are installed into Ships");
    if is_dlc(json) {
        return Ok(());
    }
    let Some(crafts) = by_suffix(json, cx, &[".craft"]).await? else {
        return Ok(());
    };
    let bad: Vec<String> = crafts
        .into_iter()
        .map(|(_, d)| d)
        .filter(|d| {
            !(d.starts_with("Ships/")
                || d.starts_with("Missions/")
                || d.starts_with("GameData/ContractPacks/"))
        })
        .collect();
    if !bad.is_empty() {
        cx.warn(format!(
            "Craft files installed outside Ships folder: {}",
            sorted(bad).join(", ")
        ));
    }
    Ok(())
}

/// `SpaceWarpInfoValidator`: warns about `swinfo.json` dependencies the module does not
/// depend on (namespace prefixes dropped, case ignored).
///
/// # Errors
/// The download's or the stanzas' error; a failed remote `swinfo.json`.
pub async fn space_warp_info(json: &Object, cx: &mut Context<'_>) -> Result<(), InflateError> {
    let Some(text) = first_swinfo_text(cx, json, None, None).await? else {
        return Ok(());
    };
    let Some(info) = load(cx, &text).await? else {
        return Ok(());
    };
    let depends: Vec<String> = match json.get("depends") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|r| r.get("name").and_then(Value::as_str))
            .map(str::to_lowercase)
            .collect(),
        _ => Vec::new(),
    };
    let missing: Vec<String> = info
        .dependencies
        .iter()
        .flatten()
        .filter_map(|d| d.id.clone())
        .filter(|id| {
            let last = id.rfind('.').map_or(id.as_str(), |i| &id[i + 1..]);
            !depends.contains(&sanitize(last, "").to_lowercase())
        })
        .collect();
    if !missing.is_empty() {
        cx.warn(format!(
            "Dependencies from swinfo.json missing from module: {}",
            missing.join(", ")
        ));
    }
    Ok(())
}
