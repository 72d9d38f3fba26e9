//! Fixtures derived from metadata, shared by the acceptance test over the real pairs and
//! the benchmark over the whole NetKAN corpus: archive entries that satisfy a module's
//! install stanzas, and serving a text file where the inflator will look for it.

use serde_json::Value;

use super::upstream::Upstream;

/// Archive paths that the install stanzas (or the default `find: <identifier>` stanza)
/// install: a file in each `file` / `find` folder (named after the first `include_only`
/// entry, if any). `find_regexp` stanzas cannot be satisfied from their text; their index
/// is returned in the second list so the caller can supply entries by hand.
pub fn stanza_entries(identifier: &str, install: Option<&Value>) -> (Vec<String>, Vec<usize>) {
    let default = [serde_json::json!({"find": identifier, "install_to": "GameData"})];
    let stanzas: Vec<&Value> = match install {
        Some(Value::Array(items)) if !items.is_empty() => items.iter().collect(),
        _ => default.iter().collect(),
    };
    let text = |s: &Value, k: &str| s.get(k).and_then(Value::as_str).map(str::to_owned);
    let mut entries = Vec::new();
    let mut by_hand = Vec::new();
    for (i, stanza) in stanzas.into_iter().enumerate() {
        let dir = if let Some(file) = text(stanza, "file") {
            file
        } else if let Some(find) = text(stanza, "find") {
            if text(stanza, "install_to").is_some_and(|t| t.starts_with("GameData")) {
                format!("GameData/{find}")
            } else {
                find
            }
        } else {
            by_hand.push(i);
            continue;
        };
        let leaf = match stanza.get("include_only") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(a)) => a
                .first()
                .and_then(Value::as_str)
                .map_or_else(|| format!("readme-{i}.txt"), str::to_owned),
            _ => format!("readme-{i}.txt"),
        };
        entries.push(format!("{dir}/{leaf}"));
    }
    (entries, by_hand)
}

/// Serves `text` at `url` as the inflator fetches it: files on github.com
/// (`/<owner>/<repo>/(blob|tree|raw)/<branch>/<path>`) and raw.githubusercontent.com through
/// the GitHub contents API, anything else as a plain file.
pub fn serve_text(up: &Upstream, url: &str, text: &str) {
    if let Some(rest) = url.strip_prefix("https://github.com/") {
        let parts: Vec<&str> = rest.splitn(5, '/').collect();
        if let [owner, repo, _kind, branch, path] = parts.as_slice() {
            up.github_contents(owner, repo, branch, path, text);
            return;
        }
    }
    if let Some(rest) = url.strip_prefix("https://raw.githubusercontent.com/") {
        let rest = rest.replacen("/refs/heads/", "/", 1);
        let parts: Vec<&str> = rest.splitn(4, '/').collect();
        if let [owner, repo, branch, path] = parts.as_slice() {
            up.github_contents(owner, repo, branch, path, text);
            return;
        }
    }
    up.file(url, text.to_owned());
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_stanza_gets_a_file_it_installs() {
        let (entries, by_hand) = stanza_entries(
            "Mod",
            Some(&json!([
                {"file": "GameData/Mod", "install_to": "GameData"},
                {"find": "Parts", "install_to": "GameData/Mod"},
                {"find": "Craft", "install_to": "Ships/VAB", "include_only": ["a.craft"]},
                {"find_regexp": "x.*", "install_to": "GameData"},
            ])),
        );
        assert_eq!(
            entries,
            [
                "GameData/Mod/readme-0.txt",
                "GameData/Parts/readme-1.txt",
                "Craft/a.craft"
            ]
        );
        assert_eq!(by_hand, [3]);
        let (entries, _) = stanza_entries("Mod", None);
        assert_eq!(entries, ["GameData/Mod/readme-0.txt"]);
    }
}
