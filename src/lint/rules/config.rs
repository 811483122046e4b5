//! The server's configuration from the ConfigMap it mounts, as the charts' script leaves it.

use super::*;

/// The server's configuration as the server will read it: each `-config` path found in the
/// ConfigMap mounted over it, through the charts' `cp SRC DST` and their `sed` placeholder
/// substitutions. Err: why not, and whether that is a reading error (FAIL) or something the
/// manifests do not hold (SKIP). Ok also gives each file's first line in the manifest.
pub(super) struct ReadConfig {
    pub(super) files: Vec<ConfigFile>,
    /// Per file: the document and the line of the data value, and whether the value is a
    /// literal block (its line N is the value's line + N - 1).
    pub(super) places: Vec<(PathBuf, usize, usize, bool)>,
}

pub(super) fn substitutions(script: &str, destination: &str) -> (Option<String>, Vec<(String, String)>) {
    let mut source = None;
    let mut replaced = Vec::new();
    for words in script.lines().flat_map(manifest::shell_commands) {
        match words.first().map(String::as_str) {
            Some("cp") => {
                let operands: Vec<&String> = words[1..].iter().filter(|w| !w.starts_with('-')).collect();
                if let [from, to] = operands.as_slice() {
                    if *to == destination {
                        source = Some(from.to_string());
                    }
                }
            }
            Some("sed") if words.last().is_some_and(|w| w == destination) => {
                for word in &words[1..] {
                    let Some(expression) = word.strip_prefix('s') else { continue };
                    let Some(delimiter) = expression.chars().next() else { continue };
                    let parts: Vec<&str> = expression[delimiter.len_utf8()..].split(delimiter).collect();
                    if let [from, to, _flags] = parts.as_slice() {
                        replaced.push((from.to_string(), to.to_string()));
                    }
                }
            }
            _ => {}
        }
    }
    (source, replaced)
}

/// `${NAME?}`, `${NAME}` or `$NAME` in a substitution: the variable's name.
pub(super) fn variable_of(text: &str) -> Option<&str> {
    let inner = text.strip_prefix("${").and_then(|t| t.strip_suffix('}')).or_else(|| text.strip_prefix('$'))?;
    Some(inner.trim_end_matches('?'))
}

pub(super) fn read_config(
    target: &Target,
    configs: &[PathBuf],
    env: &[(String, String, usize)],
    cluster: &Cluster,
) -> Result<ReadConfig, (Status, String)> {
    let mut raw = Vec::new();
    let mut places = Vec::new();
    for path in configs {
        let path_text = path.to_string_lossy().to_string();
        let (source, replaced) = match &target.script {
            Some(script) => substitutions(script, &path_text),
            None => (None, Vec::new()),
        };
        let read_from = source.clone().unwrap_or_else(|| path_text.clone());
        let skip = |why: String| (Status::Skip, why);
        let (_, volume, inside) = manifest::mount_of(target.container, target.workload.pod, &read_from)
            .ok_or_else(|| skip(format!("{read_from} is not on a volume of the manifest (the image's own file)")))?;
        let (map_name, key) = manifest::config_map_key(volume, &inside).ok_or_else(|| {
            skip(format!("{read_from} is on a {} volume, not a ConfigMap", manifest::volume_kind(volume)))
        })?;
        let (document, map) = cluster.find("ConfigMap", &map_name, &target.workload.namespace).ok_or_else(|| {
            skip(format!("the ConfigMap {map_name} that {read_from} comes from is not in these manifests"))
        })?;
        let data = map.get("data");
        let keys: Vec<&(String, Node)> = if key.is_empty() {
            // A directory: the server loads its *.hcl and *.json files, by name.
            let mut keys: Vec<_> =
                data.entries().iter().filter(|(k, _)| k.ends_with(".hcl") || k.ends_with(".json")).collect();
            keys.sort_by(|a, b| a.0.cmp(&b.0));
            keys
        } else {
            let found = data.entries().iter().rev().find(|(k, _)| *k == key);
            vec![found.ok_or_else(|| {
                (
                    Status::Fail,
                    format!("{read_from}: the ConfigMap {map_name} has no key {key} (the server would not start)"),
                )
            })?]
        };
        for (name, value) in keys {
            let mut text = value.text().unwrap_or("").to_string();
            // The chart's sed: each placeholder replaced where the variable is set and not empty.
            for (from, to) in &replaced {
                let value = variable_of(to)
                    .and_then(|v| env.iter().find(|(n, _, _)| n == v))
                    .map(|(_, value, _)| value.clone());
                if let Some(value) = value.filter(|v| !v.is_empty()) {
                    text = text.replace(from.as_str(), &value);
                }
            }
            let file = if key.is_empty() { PathBuf::from(&read_from).join(name) } else { PathBuf::from(&read_from) };
            places.push((file.clone(), document, value.line, value.block));
            raw.push((file, text.into_bytes()));
        }
    }
    let files = server_config::parse_all(raw).map_err(|e| (Status::Fail, e.message))?;
    Ok(ReadConfig { files, places })
}

/// The manifest line a configuration finding's first `path:line` points at.
pub(super) fn config_line(summary: &str, places: &[(PathBuf, usize, usize, bool)]) -> Option<usize> {
    for (path, _, line, block) in places {
        let prefix = format!("{}:", path.display());
        if let Some(at) = summary.find(&prefix) {
            let digits: String = summary[at + prefix.len()..].chars().take_while(char::is_ascii_digit).collect();
            let n: usize = digits.parse().ok()?;
            return Some(if *block { line + n.saturating_sub(1) } else { *line });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_charts_substitutions() {
        let script = "cp /vault/config/x.hcl /tmp/s.hcl;\n[ -n \"${POD_IP}\" ] && sed -Ei \"s|POD_IP|${POD_IP?}|g\" /tmp/s.hcl;\n";
        let (source, replaced) = substitutions(script, "/tmp/s.hcl");
        assert_eq!(source.as_deref(), Some("/vault/config/x.hcl"));
        assert_eq!(replaced, [("POD_IP".to_string(), "${POD_IP?}".to_string())]);
        assert_eq!(variable_of("${POD_IP?}"), Some("POD_IP"));
    }
}
