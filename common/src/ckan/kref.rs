//! `$kref` (where a download comes from) and `$vref` (where version data comes from):
//! `Netkan/Model/RemoteRef.cs`, `KrefValidator` and the per-kind id parsers of the transformers.

use std::fmt;

use super::CkanError;

/// The generic form `#/ckan/<source>[/<id>]` (`RemoteRef`, regex
/// `^#/ckan/(?<source>[^/]+)(?:/(?<id>.+))?`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRef {
    pub source: String,
    pub id: Option<String>,
}

impl RemoteRef {
    pub fn parse(text: &str) -> Option<RemoteRef> {
        let rest = text.strip_prefix("#/ckan/")?;
        let (source, id) = match rest.split_once('/') {
            Some((source, id)) => (source, Some(id)),
            None => (rest, None),
        };
        if source.is_empty() {
            return None;
        }
        // No `$` anchor: `[^/]+` takes newlines too, while `.+` stops at the first one.
        let id = id
            .map(|i| i.split('\n').next().unwrap_or_default())
            .filter(|i| !i.is_empty());
        Some(RemoteRef {
            source: source.to_owned(),
            id: id.map(str::to_owned),
        })
    }
}

impl fmt::Display for RemoteRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#/ckan/{}", self.source)?;
        if let Some(id) = &self.id {
            write!(f, "/{id}")?;
        }
        Ok(())
    }
}

/// A `$kref`, one variant per source the inflator knows (`KrefValidator`'s list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kref {
    /// `#/ckan/spacedock/<id>`.
    SpaceDock { id: i32 },
    /// `#/ckan/github/<account>/<project>[/asset_match/<regex>|/version_from_asset/<regex>]`.
    /// The regexes are .NET regexes (look-ahead occurs in real netkans).
    GitHub {
        account: String,
        project: String,
        asset_match: Option<String>,
        version_from_asset: Option<String>,
    },
    /// `#/ckan/gitlab/<account>/<project>`.
    GitLab { account: String, project: String },
    /// `#/ckan/gitea/<host>/<owner>/<repository>`.
    Gitea {
        host: String,
        owner: String,
        repository: String,
    },
    /// `#/ckan/sourceforge/<name>`.
    SourceForge { name: String },
    /// `#/ckan/jenkins/<job url>`.
    Jenkins { url: String },
    /// `#/ckan/http/<url>`.
    Http { url: String },
    /// `#/ckan/ksp-avc/<url of a .version file>`.
    KspAvc { url: String },
    /// `#/ckan/netkan/<url of a .netkan>` (a metanetkan).
    Netkan { url: String },
}

impl Kref {
    /// The sources `KrefValidator` accepts.
    pub const SOURCES: [&'static str; 9] = [
        "github",
        "gitlab",
        "gitea",
        "http",
        "ksp-avc",
        "jenkins",
        "netkan",
        "spacedock",
        "sourceforge",
    ];

    /// Parses a `$kref` value with the id rules each transformer applies.
    pub fn parse(text: &str) -> Result<Kref, CkanError> {
        let invalid = |why: &str| CkanError::Kref(format!("{text}: {why}"));
        let remote = RemoteRef::parse(text)
            .ok_or_else(|| invalid("not of the form #/ckan/<source>/<id>"))?;
        if !Kref::SOURCES.contains(&remote.source.as_str()) {
            return Err(invalid("unknown source"));
        }
        let id = remote.id.ok_or_else(|| invalid("missing id"))?;
        let segments: Vec<&str> = id.split('/').collect();
        let plain = |n: usize| segments.len() == n && segments.iter().all(|s| !s.is_empty());
        let owned = |i: usize| segments[i].to_owned();
        match remote.source.as_str() {
            "spacedock" => {
                // Convert.ToInt32(id).
                let id = super::parse::parse_dotnet_int(&id)
                    .and_then(|i| i32::try_from(i).ok())
                    .ok_or_else(|| invalid("a spacedock id is a number"))?;
                Ok(Kref::SpaceDock { id })
            }
            "github" => parse_github(&id).ok_or_else(|| {
                invalid("expected <account>/<project>[/asset_match/<regex>|/version_from_asset/<regex>]")
            }),
            "gitlab" if plain(2) => Ok(Kref::GitLab {
                account: owned(0),
                project: owned(1),
            }),
            "gitlab" => Err(invalid("expected <account>/<project>")),
            "gitea" if plain(3) => Ok(Kref::Gitea {
                host: owned(0),
                owner: owned(1),
                repository: owned(2),
            }),
            "gitea" => Err(invalid("expected <host>/<owner>/<repository>")),
            "sourceforge" if plain(1) => Ok(Kref::SourceForge { name: id }),
            "sourceforge" => Err(invalid("expected <project>")),
            "jenkins" => Ok(Kref::Jenkins { url: id }),
            source => {
                if !is_absolute_uri(&id) {
                    return Err(invalid("the id must be an absolute url"));
                }
                Ok(match source {
                    "http" => Kref::Http { url: id },
                    "ksp-avc" => Kref::KspAvc { url: id },
                    _ => Kref::Netkan { url: id },
                })
            }
        }
    }

    /// The source name as written in the kref.
    pub fn source(&self) -> &'static str {
        match self {
            Kref::SpaceDock { .. } => "spacedock",
            Kref::GitHub { .. } => "github",
            Kref::GitLab { .. } => "gitlab",
            Kref::Gitea { .. } => "gitea",
            Kref::SourceForge { .. } => "sourceforge",
            Kref::Jenkins { .. } => "jenkins",
            Kref::Http { .. } => "http",
            Kref::KspAvc { .. } => "ksp-avc",
            Kref::Netkan { .. } => "netkan",
        }
    }

    /// Whether the kref also matches NetKAN.schema's stricter pattern for its kind
    /// (e.g. GitHub names `[A-Za-z0-9_-]+`, Gitea hosts `[A-Za-z0-9_.-]+`).
    pub fn matches_schema_pattern(&self) -> bool {
        let name = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        match self {
            Kref::SpaceDock { id } => *id >= 0,
            Kref::GitHub {
                account, project, ..
            }
            | Kref::GitLab { account, project } => name(account) && name(project),
            Kref::Gitea {
                host,
                owner,
                repository,
            } => {
                host.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
                    && name(owner)
                    && name(repository)
            }
            _ => true,
        }
    }
}

/// `^(?<account>[^/]+)/(?<project>[^/]+)(?:(/asset_match/(?<assetMatch>.+))|(/version_from_asset/(?<versionFromAsset>.+)))?$`
fn parse_github(id: &str) -> Option<Kref> {
    let (account, rest) = id.split_once('/')?;
    let (project, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if account.is_empty() || project.is_empty() {
        return None;
    }
    let (asset_match, version_from_asset) = if tail.is_empty() {
        (None, None)
    } else if let Some(re) = tail.strip_prefix("/asset_match/").filter(|r| !r.is_empty()) {
        (Some(re.to_owned()), None)
    } else if let Some(re) = tail
        .strip_prefix("/version_from_asset/")
        .filter(|r| !r.is_empty())
    {
        (None, Some(re.to_owned()))
    } else {
        return None;
    };
    Some(Kref::GitHub {
        account: account.to_owned(),
        project: project.to_owned(),
        asset_match,
        version_from_asset,
    })
}

/// An approximation of `Uri.IsWellFormedUriString(s, UriKind.Absolute)`: a scheme, `:`, a
/// non-empty rest, and no white space or control characters.
pub fn is_absolute_uri(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl fmt::Display for Kref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#/ckan/{}/", self.source())?;
        match self {
            Kref::SpaceDock { id } => write!(f, "{id}"),
            Kref::GitHub {
                account,
                project,
                asset_match,
                version_from_asset,
            } => {
                write!(f, "{account}/{project}")?;
                if let Some(re) = asset_match {
                    write!(f, "/asset_match/{re}")?;
                }
                if let Some(re) = version_from_asset {
                    write!(f, "/version_from_asset/{re}")?;
                }
                Ok(())
            }
            Kref::GitLab { account, project } => write!(f, "{account}/{project}"),
            Kref::Gitea {
                host,
                owner,
                repository,
            } => write!(f, "{host}/{owner}/{repository}"),
            Kref::SourceForge { name } => f.write_str(name),
            Kref::Jenkins { url }
            | Kref::Http { url }
            | Kref::KspAvc { url }
            | Kref::Netkan { url } => f.write_str(url),
        }
    }
}

/// A `$vref`: `#/ckan/ksp-avc[/<path or regex>]` or `#/ckan/space-warp[/<path>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vref {
    KspAvc { path: Option<String> },
    SpaceWarp { path: Option<String> },
}

impl Vref {
    pub fn parse(text: &str) -> Result<Vref, CkanError> {
        let remote = RemoteRef::parse(text)
            .ok_or_else(|| CkanError::Vref(format!("{text}: not of the form #/ckan/<source>")))?;
        match remote.source.as_str() {
            "ksp-avc" => Ok(Vref::KspAvc { path: remote.id }),
            "space-warp" => Ok(Vref::SpaceWarp { path: remote.id }),
            _ => Err(CkanError::Vref(format!("{text}: unknown source"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> Kref {
        Kref::parse(s).expect("valid kref")
    }

    #[test]
    fn every_kind_parses() {
        assert_eq!(k("#/ckan/spacedock/777"), Kref::SpaceDock { id: 777 });
        assert_eq!(
            k("#/ckan/github/pjf/DogeCoinFlag"),
            Kref::GitHub {
                account: "pjf".into(),
                project: "DogeCoinFlag".into(),
                asset_match: None,
                version_from_asset: None
            }
        );
        assert_eq!(
            k("#/ckan/github/a/b/asset_match/^(?!.*Server_Settings).*\\.zip$"),
            Kref::GitHub {
                account: "a".into(),
                project: "b".into(),
                asset_match: Some("^(?!.*Server_Settings).*\\.zip$".into()),
                version_from_asset: None
            }
        );
        assert_eq!(
            k("#/ckan/github/a/b/version_from_asset/^X-(?<version>.+)\\.zip$"),
            Kref::GitHub {
                account: "a".into(),
                project: "b".into(),
                asset_match: None,
                version_from_asset: Some("^X-(?<version>.+)\\.zip$".into())
            }
        );
        assert_eq!(
            k("#/ckan/gitlab/N70/Kerbalism"),
            Kref::GitLab {
                account: "N70".into(),
                project: "Kerbalism".into()
            }
        );
        assert_eq!(
            k("#/ckan/gitea/git.example.org/o/r"),
            Kref::Gitea {
                host: "git.example.org".into(),
                owner: "o".into(),
                repository: "r".into()
            }
        );
        assert_eq!(
            k("#/ckan/sourceforge/proj"),
            Kref::SourceForge {
                name: "proj".into()
            }
        );
        assert_eq!(
            k("#/ckan/jenkins/https://ksp.sarbian.com/jenkins/job/MechJeb2-Release/"),
            Kref::Jenkins {
                url: "https://ksp.sarbian.com/jenkins/job/MechJeb2-Release/".into()
            }
        );
        assert_eq!(
            k("#/ckan/http/https://example.com/a.zip"),
            Kref::Http {
                url: "https://example.com/a.zip".into()
            }
        );
        assert_eq!(
            k("#/ckan/ksp-avc/https://example.com/a.version"),
            Kref::KspAvc {
                url: "https://example.com/a.version".into()
            }
        );
        assert_eq!(
            k("#/ckan/netkan/https://example.com/a.netkan"),
            Kref::Netkan {
                url: "https://example.com/a.netkan".into()
            }
        );
        for s in [
            "#/ckan/spacedock/777",
            "#/ckan/github/a/b/asset_match/x",
            "#/ckan/gitea/h/o/r",
            "#/ckan/netkan/https://e.com/x",
        ] {
            assert_eq!(k(s).to_string(), s);
        }
    }

    #[test]
    fn bad_krefs_are_refused() {
        for s in [
            "#/ckan/techman/123",
            "#/ckan/spacedock/abc",
            "#/ckan/github/onlyone",
            "#/ckan/github/a/b/c",
            "#/ckan/github/a/b/asset_match/",
            "#/ckan/gitlab/a/b/c",
            "#/ckan/gitea/h/o",
            "#/ckan/sourceforge/a/b",
            "#/ckan/http/not a url",
            "#/ckan/netkan/relative/path",
            "#/ckan/spacedock",
            "https://example.com",
        ] {
            assert!(Kref::parse(s).is_err(), "{s} should be refused");
        }
        let err = Kref::parse("#/ckan/techman/1").expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "invalid $kref: #/ckan/techman/1: unknown source"
        );
    }

    #[test]
    fn schema_patterns_are_stricter() {
        assert!(k("#/ckan/github/a-b/c_d").matches_schema_pattern());
        assert!(!k("#/ckan/github/a.b/c").matches_schema_pattern());
        assert!(k("#/ckan/gitea/git.host/o/r").matches_schema_pattern());
        assert!(!k("#/ckan/spacedock/-5").matches_schema_pattern());
    }

    #[test]
    fn remote_refs_and_vrefs() {
        assert_eq!(
            RemoteRef::parse("#/ckan/ksp-avc"),
            Some(RemoteRef {
                source: "ksp-avc".into(),
                id: None
            })
        );
        assert_eq!(
            Vref::parse("#/ckan/ksp-avc").expect("vref"),
            Vref::KspAvc { path: None }
        );
        assert_eq!(
            Vref::parse("#/ckan/ksp-avc/GameData/X/X.version").expect("vref"),
            Vref::KspAvc {
                path: Some("GameData/X/X.version".into())
            }
        );
        assert_eq!(
            Vref::parse("#/ckan/space-warp").expect("vref"),
            Vref::SpaceWarp { path: None }
        );
        assert!(Vref::parse("#/ckan/github/a/b").is_err());
    }
}
