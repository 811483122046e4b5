//! What the manifests deploy: the pod templates of every workload, the Vault and OpenBao server
//! and agent containers in them (by the command they run, the charts' `sh -ec` script included,
//! and by image), the ConfigMaps and Secrets their volumes name, the PodDisruptionBudgets.

use super::yaml::{Document, Node};
use hardinit::harden::memory::Flavour;

/// One pod template: a Pod, or the template of a workload that makes pods.
pub struct Workload<'a> {
    pub document: usize,
    pub kind: String,
    pub name: String,
    pub namespace: String,
    pub line: usize,
    pub labels: &'a Node,
    pub annotations: &'a Node,
    /// The PodSpec.
    pub pod: &'a Node,
    /// How many pods run at once: `replicas` (1 unset), or None for a DaemonSet (one a node).
    pub replicas: Option<i64>,
}

impl Workload<'_> {
    pub fn object(&self) -> String {
        let ns = if self.namespace.is_empty() { String::new() } else { format!("{}/", self.namespace) };
        format!("{} {ns}{}", self.kind, self.name)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Server,
    Agent,
}

/// A Vault or OpenBao container, and how it is started.
pub struct Target<'a> {
    pub workload: &'a Workload<'a>,
    pub container: &'a Node,
    pub name: String,
    pub role: Role,
    pub flavour: Flavour,
    /// The server's arguments from `server` (or `agent`) on.
    pub args: Vec<String>,
    /// The shell script the container runs (`sh -c SCRIPT`), when it runs one.
    pub script: Option<String>,
    /// hardinit is the container's PID 1 (its binary named as the command, or its image).
    pub hardinit: bool,
    /// The image's default command was assumed (no command, no args).
    pub image_default: bool,
}

/// Every document's objects, `List` items included.
pub fn objects(documents: &[Document]) -> Vec<(usize, &Node)> {
    let mut found = Vec::new();
    for document in documents {
        let root = &document.root;
        if root.get("kind").text().is_some_and(|k| k.ends_with("List")) {
            found.extend(root.get("items").items().iter().map(|item| (document.index, item)));
        } else if root.get("kind").text().is_some() {
            found.push((document.index, root));
        }
    }
    found
}

pub fn kind_of(object: &Node) -> &str {
    object.get("kind").text().unwrap_or("")
}

pub fn name_of(object: &Node) -> &str {
    object.at("metadata.name").text().unwrap_or("")
}

pub fn namespace_of(object: &Node) -> &str {
    object.at("metadata.namespace").text().unwrap_or("")
}

/// Namespaces match when equal, or when one side leaves it to the command line (`-n`).
pub fn same_namespace(a: &str, b: &str) -> bool {
    a == b || a.is_empty() || b.is_empty()
}

pub fn workloads<'a>(objects: &[(usize, &'a Node)]) -> Vec<Workload<'a>> {
    let mut found = Vec::new();
    for (document, object) in objects {
        let kind = kind_of(object);
        let template = match kind {
            "Pod" => Some(*object),
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" | "ReplicationController" => {
                Some(object.at("spec.template"))
            }
            "CronJob" => Some(object.at("spec.jobTemplate.spec.template")),
            _ => None,
        };
        let Some(template) = template.filter(|t| !t.get("spec").is_null()) else { continue };
        let replicas = match kind {
            "DaemonSet" => None,
            "Pod" | "Job" | "CronJob" => Some(1),
            _ => Some(object.at("spec.replicas").integer().unwrap_or(1)),
        };
        found.push(Workload {
            document: *document,
            kind: kind.to_string(),
            name: name_of(object).to_string(),
            namespace: namespace_of(object).to_string(),
            line: object.line,
            labels: template.at("metadata.labels"),
            annotations: template.at("metadata.annotations"),
            pod: template.get("spec"),
            replicas,
        });
    }
    found
}

/// The last path segment of an image's repository: `docker.io/hashicorp/vault:1.20@sha256:..`
/// is `vault`.
pub fn image_name(image: &str) -> &str {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    last.split(':').next().unwrap_or(last)
}

/// The image's tag (`1.20.0`, `v2.6.2`), if it has one.
pub fn image_tag(image: &str) -> Option<&str> {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    last.split_once(':').map(|(_, tag)| tag)
}

fn flavour_of_image(image: &str) -> Option<Flavour> {
    let name = image_name(image);
    if name.contains("openbao") {
        Some(Flavour::OpenBao)
    } else if name.contains("vault") && !name.contains("k8s") && !name.contains("csi") {
        Some(Flavour::Vault)
    } else {
        None
    }
}

fn basename(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// One shell line as words, split into its simple commands (at `;`, `&&`, `||`, `|`, a
/// comment ends it): quotes removed, parameter expansions kept as written. Enough for the
/// charts' scripts, which only chain plain commands.
pub fn shell_commands(line: &str) -> Vec<Vec<String>> {
    let mut commands = vec![Vec::new()];
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars().peekable();
    let end_word = |word: &mut String, in_word: &mut bool, commands: &mut Vec<Vec<String>>| {
        if *in_word {
            commands.last_mut().expect("never empty").push(std::mem::take(word));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => {
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                if let Some(next) = chars.next() {
                    word.push(next);
                    in_word = true;
                }
            }
            (None, ' ' | '\t' | '\n') => end_word(&mut word, &mut in_word, &mut commands),
            (None, '#') if !in_word => break,
            (None, ';' | '&' | '|') => {
                end_word(&mut word, &mut in_word, &mut commands);
                if chars.peek() == Some(&c) {
                    chars.next();
                }
                commands.push(Vec::new());
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    end_word(&mut word, &mut in_word, &mut commands);
    commands.retain(|c| !c.is_empty());
    commands
}

/// The server or agent invocation among `words`: `vault server ...`, `bao agent ...`, or
/// `docker-entrypoint.sh server ...` (the images' entrypoint puts `vault` or `bao` in front of a
/// subcommand). The binary's name, and the arguments from the subcommand on.
fn invocation(words: &[String], image: Option<Flavour>) -> Option<(Flavour, Vec<String>)> {
    let subcommand = |w: &String| matches!(w.as_str(), "server" | "agent" | "proxy");
    for (i, word) in words.iter().enumerate() {
        let next = words.get(i + 1);
        match basename(word) {
            "vault" | "bao" if next.is_some_and(subcommand) => {
                // OpenBao's images link vault to bao.
                let flavour = match (basename(word), image) {
                    ("bao", _) | (_, Some(Flavour::OpenBao)) => Flavour::OpenBao,
                    _ => Flavour::Vault,
                };
                return Some((flavour, words[i + 1..].to_vec()));
            }
            "docker-entrypoint.sh" if next.is_some_and(subcommand) => {
                return Some((image.unwrap_or(Flavour::Vault), words[i + 1..].to_vec()));
            }
            _ => {}
        }
    }
    None
}

/// The script of `sh -c SCRIPT` (`-ec`, `-xc`...): the argument after the option that holds c.
fn script_of(argv: &[String]) -> Option<String> {
    let shell = argv.first().map(|a| basename(a))?;
    if !matches!(shell, "sh" | "bash" | "ash" | "dash") {
        return None;
    }
    let option = argv.iter().skip(1).position(|a| a.starts_with('-') && !a.starts_with("--") && a.contains('c'))?;
    argv.get(option + 2).cloned()
}

/// A sequence of strings (`command`, `args`): what is not a string, dropped.
pub fn strings(node: &Node) -> Vec<String> {
    node.items().iter().filter_map(|n| n.text()).map(str::to_string).collect()
}

/// The Vault and OpenBao containers of a workload.
pub fn targets<'a>(workload: &'a Workload<'a>) -> Vec<Target<'a>> {
    let mut found = Vec::new();
    for list in ["initContainers", "containers"] {
        for container in workload.pod.get(list).items() {
            let image = container.get("image").text().unwrap_or("");
            let by_image = flavour_of_image(image);
            let command = strings(container.get("command"));
            let args = strings(container.get("args"));
            let argv: Vec<String> = command.iter().chain(args.iter()).cloned().collect();
            let hardinit =
                command.first().is_some_and(|c| basename(c) == "hardinit") || image_name(image).contains("hardinit");
            let script = script_of(&argv);
            let mut image_default = false;
            let invoked = match &script {
                Some(script) => {
                    script.lines().flat_map(shell_commands).filter_map(|words| invocation(&words, by_image)).next_back()
                }
                None if command.is_empty() && by_image.is_some() => {
                    if args.is_empty() {
                        // The images' CMD: ["server", "-dev"].
                        image_default = true;
                        Some((by_image.unwrap_or(Flavour::Vault), vec!["server".to_string(), "-dev".to_string()]))
                    } else {
                        let mut words = vec!["docker-entrypoint.sh".to_string()];
                        words.extend(args.iter().cloned());
                        invocation(&words, by_image)
                    }
                }
                None => invocation(&argv, by_image),
            };
            let Some((flavour, server_args)) = invoked else { continue };
            let role = if server_args[0] == "server" { Role::Server } else { Role::Agent };
            found.push(Target {
                workload,
                container,
                name: container.get("name").text().unwrap_or("").to_string(),
                role,
                flavour,
                args: server_args,
                script,
                hardinit,
                image_default,
            });
        }
    }
    found
}

/// What the kubelet gives a variable: its value (`$(NAME)` of an earlier one expanded), or for
/// a `valueFrom` what it comes from, in angle brackets.
pub fn environment(container: &Node) -> Vec<(String, String, usize)> {
    let mut env: Vec<(String, String, usize)> = Vec::new();
    for entry in container.get("env").items() {
        let Some(name) = entry.get("name").text() else { continue };
        let value = if let Some(value) = entry.get("value").text() {
            expand(value, &env)
        } else if entry.get("value").is_null() && entry.get("valueFrom").is_null() {
            String::new()
        } else {
            let from = entry.get("valueFrom");
            let source = from
                .at("fieldRef.fieldPath")
                .text()
                .map(str::to_string)
                .or_else(|| {
                    let secret = from.get("secretKeyRef");
                    secret.get("name").text().map(|n| format!("secret {n}/{}", secret.get("key").text().unwrap_or("")))
                })
                .or_else(|| {
                    let map = from.get("configMapKeyRef");
                    map.get("name").text().map(|n| format!("configmap {n}/{}", map.get("key").text().unwrap_or("")))
                })
                .unwrap_or_else(|| "valueFrom".to_string());
            format!("<{source}>")
        };
        env.retain(|(n, _, _)| n != name);
        env.push((name.to_string(), value, entry.line));
    }
    env
}

/// The kubelet's `$(NAME)` expansion: defined names only, `$$(NAME)` escapes.
fn expand(value: &str, env: &[(String, String, usize)]) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        if let Some(escaped) = after.strip_prefix("$$") {
            out.push('$');
            rest = escaped;
        } else if let Some(close) = after.strip_prefix("$(").and_then(|s| s.find(')')) {
            let name = &after[2..2 + close];
            match env.iter().find(|(n, _, _)| n == name) {
                Some((_, v, _)) => out.push_str(v),
                None => out.push_str(&after[..3 + close]),
            }
            rest = &after[3 + close..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    out
}

/// Where a path inside the container comes from: the volume mounted over it (longest mount
/// path first) and the path inside that volume.
pub fn mount_of<'a>(container: &'a Node, pod: &'a Node, path: &str) -> Option<(&'a Node, &'a Node, String)> {
    let mut best: Option<(&Node, usize, String)> = None;
    for mount in container.get("volumeMounts").items() {
        let Some(at) = mount.get("mountPath").text() else { continue };
        let at = at.trim_end_matches('/');
        let relative = if path == at {
            Some(String::new())
        } else {
            path.strip_prefix(at).and_then(|r| r.strip_prefix('/')).map(str::to_string)
        };
        let Some(relative) = relative else { continue };
        if best.as_ref().is_none_or(|(_, len, _)| at.len() > *len) {
            let inside = match mount.get("subPath").text().filter(|s| !s.is_empty()) {
                Some(sub) if relative.is_empty() => sub.to_string(),
                Some(sub) => format!("{sub}/{relative}"),
                None => relative,
            };
            best = Some((mount, at.len(), inside));
        }
    }
    let (mount, _, inside) = best?;
    let name = mount.get("name").text()?;
    let volume = pod.get("volumes").items().iter().find(|v| v.get("name").text() == Some(name));
    volume.map(|v| (mount, v, inside))
}

/// The ConfigMap key a path inside a configMap volume (or a projected volume's configMap
/// source) is, and the ConfigMap's name: `items` map keys to paths, else the key is the path.
pub fn config_map_key(volume: &Node, inside: &str) -> Option<(String, String)> {
    let mut sources: Vec<&Node> = vec![volume.get("configMap")];
    sources.extend(volume.at("projected.sources").items().iter().map(|s| s.get("configMap")));
    for source in sources.into_iter().filter(|s| !s.is_null()) {
        let Some(name) = source.get("name").text() else { continue };
        let items = source.get("items").items();
        if items.is_empty() {
            return Some((name.to_string(), inside.to_string()));
        }
        if let Some(item) = items.iter().find(|i| i.get("path").text() == Some(inside)) {
            return item.get("key").text().map(|k| (name.to_string(), k.to_string()));
        }
        if inside.is_empty() {
            return Some((name.to_string(), String::new()));
        }
    }
    None
}

/// What kind of volume a node is (`secret`, `configMap`, `emptyDir`...): its one source key.
pub fn volume_kind(volume: &Node) -> String {
    if !volume.get("projected").is_null() {
        let kinds: Vec<&str> = volume
            .at("projected.sources")
            .items()
            .iter()
            .filter_map(|s| s.entries().first().map(|(k, _)| k.as_str()))
            .collect();
        return format!("projected ({})", kinds.join(", "));
    }
    volume.entries().iter().map(|(k, _)| k.as_str()).find(|k| *k != "name").unwrap_or("unknown").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_charts_script_as_commands() {
        let line = "[ -n \"${HOST_IP}\" ] && sed -Ei \"s|HOST_IP|${HOST_IP?}|g\" /tmp/storageconfig.hcl;";
        assert_eq!(
            shell_commands(line),
            [
                vec!["[", "-n", "${HOST_IP}", "]"],
                vec!["sed", "-Ei", "s|HOST_IP|${HOST_IP?}|g", "/tmp/storageconfig.hcl"]
            ]
        );
        let words = &shell_commands("/usr/local/bin/docker-entrypoint.sh vault server -config=/tmp/x.hcl # c")[0];
        assert_eq!(invocation(words, None), Some((Flavour::Vault, vec!["server".into(), "-config=/tmp/x.hcl".into()])));
        let words = &shell_commands("exec vault agent -config=/c")[0];
        assert_eq!(invocation(words, Some(Flavour::OpenBao)).map(|(f, _)| f), Some(Flavour::OpenBao));
    }

    #[test]
    fn images_and_variables() {
        assert_eq!(image_name("docker.io/hashicorp/vault:2.0.4@sha256:ab"), "vault");
        assert_eq!(image_tag("quay.io/openbao/openbao:v2.6.2"), Some("v2.6.2"));
        assert_eq!(image_tag("localhost:5000/vault"), None);
        assert_eq!(flavour_of_image("hashicorp/vault-k8s:1.7.0"), None);
        let env = vec![("POD_IP".to_string(), "<status.podIP>".to_string(), 1)];
        assert_eq!(
            expand("http://$(POD_IP):8200 $$(POD_IP) $(NONE)", &env),
            "http://<status.podIP>:8200 $(POD_IP) $(NONE)"
        );
    }
}
