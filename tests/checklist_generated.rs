//! The checklist against the real OpenBao server, on generated configurations: each one drawn
//! from the server's configuration schema (OpenBao's config structs and their HCL keys:
//! internal/command/server/config.go, internal/helper/configutil's listener, telemetry, kms and
//! shared settings, the raft storage's `path`, the `audit` stanza, and the `server` flags), in
//! HCL or JSON, one file or several (a `-config` directory, or one `-config` per file, with
//! stanzas repeated across them), with variables that override the files. Each goes through
//! `hardinit --strict check --json` and the real `bao` as tests/checklist_bao.rs runs them
//! (tests/checklist_harness), and fails the suite on:
//! - a PASS the server contradicts (clear text served, data or an audit log where others can
//!   replace it, metrics without a token, a root token printed, ...);
//! - a PASS of a configuration the server refuses to start with;
//! - a WARN or FAIL where the server showed it safe: a FAIL of a configuration it started with,
//!   a `storage` WARN where raft wrote only where the server alone can, a `tls` WARN where every
//!   listener answered in TLS (no TLS below 1.2 drawn), a `metrics` WARN where no listener of
//!   the unsealed server served anything without a token.
//!
//! Seeded: HARDINIT_CHECKLIST_SEED replays a run (its seed is printed, and named in a failure),
//! HARDINIT_CHECKLIST_CASES sets the count (CI's slice: 120, about two minutes on two shared cores).

#[allow(dead_code)]
mod checklist_harness;
mod common;

use checklist_harness::*;
use common::*;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// CI's slice: about two minutes on two shared cores (200 took 190 s).
const DEFAULT_CASES: usize = 120;

/// splitmix64: small, seedable, the same on every machine.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }
}

/// A value of the configuration, written in HCL or JSON.
#[derive(Clone, Debug)]
enum V {
    Str(String),
    Int(i64),
    Bool(bool),
    Heredoc(String),
    Obj(Vec<(String, V)>),
    /// Lines of HCL as they are: a template of the harness (`{transit}`, the stand-in transit
    /// server's settings), which HCL files alone carry.
    Raw(&'static str),
}

fn s(text: &str) -> V {
    V::Str(text.to_string())
}

/// A stanza: its name, its labels, its body.
#[derive(Clone, Debug)]
struct Stanza {
    name: String,
    labels: Vec<String>,
    body: Vec<(String, V)>,
}

fn hcl_value(value: &V, indent: usize) -> String {
    match value {
        V::Str(t) => format!("\"{t}\""),
        V::Int(n) => n.to_string(),
        V::Bool(b) => b.to_string(),
        V::Heredoc(t) => format!("<<EOT\n{t}EOT"),
        V::Obj(items) => format!("{{\n{}{}}}", hcl_body(items, indent + 2), " ".repeat(indent)),
        V::Raw(text) => text.to_string(),
    }
}

fn hcl_body(items: &[(String, V)], indent: usize) -> String {
    let pad = " ".repeat(indent);
    items
        .iter()
        .map(|(k, v)| match v {
            V::Raw(text) => format!("{text}\n"),
            V::Obj(_) => format!("{pad}{k} {}\n", hcl_value(v, indent)),
            _ => format!("{pad}{k} = {}\n", hcl_value(v, indent)),
        })
        .collect()
}

fn json_value(value: &V) -> String {
    match value {
        V::Str(t) => format!("\"{t}\""),
        V::Heredoc(t) => format!("\"{}\"", t.replace('\n', "\\n")),
        V::Int(n) => n.to_string(),
        V::Bool(b) => b.to_string(),
        V::Obj(items) => json_object(items),
        V::Raw(_) => unreachable!("a template is written in HCL files only"),
    }
}

fn json_object(items: &[(String, V)]) -> String {
    let fields: Vec<String> = items.iter().map(|(k, v)| format!("\"{k}\": {}", json_value(v))).collect();
    format!("{{{}}}", fields.join(", "))
}

/// One file: its stanzas and top-level settings, in HCL or in JSON (stanzas of one name as a
/// list of objects, each label a nested object).
fn render(stanzas: &[Stanza], settings: &[(String, V)], json: bool) -> String {
    if !json {
        let mut out = String::new();
        for stanza in stanzas {
            let labels: String = stanza.labels.iter().map(|l| format!(" \"{l}\"")).collect();
            out += &format!("{}{labels} {{\n{}}}\n", stanza.name, hcl_body(&stanza.body, 2));
        }
        return out + &hcl_body(settings, 0);
    }
    let mut names: Vec<&str> = Vec::new();
    for stanza in stanzas {
        if !names.contains(&stanza.name.as_str()) {
            names.push(&stanza.name);
        }
    }
    let mut fields: Vec<String> = Vec::new();
    for name in names {
        let objects: Vec<String> = stanzas
            .iter()
            .filter(|st| st.name == name)
            .map(|st| {
                let mut inner = json_object(&st.body);
                for label in st.labels.iter().rev() {
                    inner = format!("{{\"{label}\": {inner}}}");
                }
                inner
            })
            .collect();
        fields.push(format!("\"{name}\": [{}]", objects.join(", ")));
    }
    fields.extend(settings.iter().map(|(k, v)| format!("\"{k}\": {}", json_value(v))));
    format!("{{{}}}\n", fields.join(",\n "))
}

/// The directories every generated case has, as the hand-written corpus names them: the
/// server's (`data`, `good`, `deep/open`), root's open to all (`open`, `deep/good`), root's
/// closed (`plugins`, `deep`, `deep/sub`), and `lnk -> deep/sub` for paths that Go cleans and
/// the kernel resolves differently.
const DIRS: &[Dir] = &[
    ("data", 0o700, true),
    ("good", 0o700, true),
    ("open", 0o777, false),
    ("plugins", 0o755, false),
    ("deep", 0o755, false),
    ("deep/sub", 0o755, false),
    ("deep/open", 0o700, true),
    ("deep/good", 0o777, false),
];

/// One file: its stanzas and its top-level settings.
type File = (Vec<Stanza>, Vec<(String, V)>);

/// What a generated case is made of, kept to judge the server's answers fairly.
struct Generated {
    case: Case,
    /// It names a TLS version below 1.2: a tls WARN is due even where TLS answers.
    old_tls: bool,
}

fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// A listener of the schema (configutil.Listener): address, TLS or not in one of the
/// spellings the server reads, its type by label or `type`, and its telemetry, profiling and
/// in-flight blocks, labelled or not.
fn listener(draw: &mut Draw, port: &str, cluster: &str, old_tls: &mut bool) -> Stanza {
    let mut body = vec![
        ("address".to_string(), s(&format!("127.0.0.1:{{{port}}}"))),
        ("cluster_address".to_string(), s(&format!("127.0.0.1:{{{cluster}}}"))),
    ];
    let label = draw.pick(&["tcp", "TCP", "Tcp"]);
    let mut labels = vec![label.to_string()];
    if draw.chance(15) {
        labels = vec!["unix".to_string()];
        body.push(("type".into(), s(draw.pick(&["tcp", "TCP"]))));
    }
    let disable = draw.pick(&[
        None,
        None,
        Some(V::Bool(true)),
        Some(V::Bool(true)),
        Some(V::Bool(false)),
        Some(V::Int(1)),
        Some(V::Int(0)),
        Some(s("1")),
        Some(s("true")),
        Some(s("false")),
        Some(s("t")),
        Some(s("maybe")),
    ]);
    let key = draw.pick(&["tls_disable", "TLS_DISABLE", "Tls_Disable"]);
    if let Some(value) = disable {
        body.push((key.into(), value));
    }
    body.push(("tls_cert_file".into(), s("{dir}/cert.pem")));
    body.push(("tls_key_file".into(), s("{dir}/key.pem")));
    let version = draw.pick(&[
        None,
        None,
        None,
        Some(s("tls12")),
        Some(s("tls13")),
        Some(s("TLS12")),
        Some(s("tls10")),
        Some(V::Heredoc("tls12\n".into())),
    ]);
    if draw.chance(15) {
        body.push(("tls_max_version".into(), s(draw.pick(&["tls13", "tls12", "tls11"]))));
    }
    if draw.chance(10) {
        body.push(("tls_require_and_verify_client_cert".into(), V::Bool(true)));
        body.push(("tls_client_ca_file".into(), s("{dir}/cert.pem")));
    }
    if let Some(version) = version {
        if matches!(&version, V::Str(t) if t == "tls10") {
            *old_tls = true;
        }
        body.push(("tls_min_version".into(), version));
    }
    for (block, key) in [
        ("telemetry", "unauthenticated_metrics_access"),
        ("profiling", "unauthenticated_pprof_access"),
        ("inflight_requests_logging", "unauthenticated_in_flight_requests_access"),
    ] {
        if !draw.chance(25) {
            continue;
        }
        let mut inner = vec![(key.to_string(), draw.pick(&[V::Bool(true), V::Bool(false), s("true"), V::Int(1)]))];
        if block == "telemetry" && draw.chance(40) {
            inner.push(("disallow_metrics".into(), draw.pick(&[V::Bool(true), V::Bool(false)])));
        }
        let value = if draw.chance(30) { V::Obj(vec![("x".into(), V::Obj(inner))]) } else { V::Obj(inner) };
        body.push((block.into(), value));
    }
    Stanza { name: "listener".into(), labels, body }
}

/// A storage of the schema: raft in one of the case's directories (some through `lnk/..`),
/// inmem, or the file storage OpenBao 2.7 no longer has; as `storage` or `backend`.
fn storage(draw: &mut Draw) -> Stanza {
    let name = draw.pick(&["storage", "storage", "backend"]).to_string();
    match draw.below(10) {
        0 => Stanza { name, labels: vec!["inmem".into()], body: Vec::new() },
        1 => Stanza { name, labels: vec!["file".into()], body: vec![("path".into(), s("{dir}/data"))] },
        _ => {
            let dir =
                draw.pick(&["data", "good", "open", "lnk/../open", "lnk/../good", "data/new/raft", "open/../data"]);
            let label = draw.pick(&["raft", "Raft", "RAFT"]);
            // Relative to the server's working directory (the case's folder) at times.
            let path = if draw.chance(25) { format!("./{dir}") } else { format!("{{dir}}/{dir}") };
            Stanza { name, labels: vec![label.into()], body: vec![("path".into(), s(&path))] }
        }
    }
}

/// One configuration over the schema, its files and how the server is pointed at them.
fn generate(draw: &mut Draw, index: usize, seed: u64) -> Generated {
    let mut old_tls = false;
    let mut files: Vec<File> = vec![(Vec::new(), Vec::new())];
    if draw.chance(40) {
        files.push((Vec::new(), Vec::new()));
    }
    let count = files.len();
    let file = |draw: &mut Draw| draw.below(count);
    let first = listener(draw, "p1", "c1", &mut old_tls);
    let at = file(draw);
    files[at].0.push(first);
    if draw.chance(35) {
        let second = listener(draw, "p2", "c2", &mut old_tls);
        let at = file(draw);
        files[at].0.push(second);
    }
    // A storage in one file, or in each (the last file's wins).
    for (at, _) in files.clone().iter().enumerate() {
        if at == 0 || draw.chance(50) {
            let stanza = storage(draw);
            files[at].0.push(stanza);
        }
    }
    for _ in 0..draw.pick(&[0, 0, 0, 0, 0, 0, 2, 3]) {
        let body = vec![("disabled".to_string(), draw.pick(&[s("true"), s("true"), s("false"), V::Bool(true)]))];
        let at = file(draw);
        files[at].0.push(Stanza { name: "hsm".into(), labels: vec!["pkcs11".into()], body });
    }
    if draw.chance(30) {
        let path =
            draw.pick(&["{dir}/open/audit.log", "{dir}/good/audit.log", "{dir}/lnk/../open/audit.log", "stdout"]);
        let mut body = vec![("options".to_string(), V::Obj(vec![("file_path".into(), s(path))]))];
        // In JSON a body of objects alone is flattened into more labels, which the server
        // refuses: a description keeps it a body.
        if draw.chance(60) {
            body.insert(0, ("description".into(), s("generated")));
        }
        let at = file(draw);
        files[at].0.push(Stanza { name: "audit".into(), labels: vec!["file".into(), "file-audit/".into()], body });
    }
    // A transit seal of the stand-in transit server: its token written out, a reference, or
    // from the environment; over TLS (a certificate it has no CA for) with or without the
    // environment's SKIP_VERIFY.
    let mut env: Vec<(&'static str, &'static str)> = Vec::new();
    if draw.chance(20) {
        let tls = draw.chance(40);
        let mut body = vec![(String::new(), V::Raw(if tls { "{transit_tls}" } else { "{transit}" }))];
        if !tls {
            match draw.below(3) {
                0 => body.push(("token".into(), s("s.generated-clear-token"))),
                1 => {
                    body.push(("token".into(), s("env://GENERATED_TOKEN")));
                    env.push(("GENERATED_TOKEN", "s.generated-from-env"));
                }
                _ => env.push(("VAULT_TRANSIT_SEAL_TOKEN", "s.generated-from-variable")),
            }
        } else if draw.chance(60) {
            env.push((draw.pick(&["VAULT_SKIP_VERIFY", "BAO_SKIP_VERIFY"]), draw.pick(&["true", "1", "false"])));
        }
        let name = draw.pick(&["seal", "kms"]).to_string();
        let label = draw.pick(&["transit", "Transit"]).to_string();
        let at = file(draw);
        files[at].0.push(Stanza { name, labels: vec![label], body });
    }
    let settings = &mut files[0].1;
    settings.push(("cluster_addr".into(), s("http://127.0.0.1:{c0}")));
    settings.push(("api_addr".into(), s("http://127.0.0.1:{p1}")));
    let mlock = [None, None, None, None, Some(V::Bool(true)), Some(V::Bool(false)), Some(s("false")), Some(s("true"))];
    if let Some(mlock) = draw.pick(&mlock) {
        settings.push(("disable_mlock".into(), mlock));
    }
    if draw.chance(30) {
        settings.push(("ui".into(), V::Bool(draw.chance(50))));
    }
    if draw.chance(20) {
        // The server's telemetry: what sys/metrics reports, never who may read it.
        let mut inner = vec![("disable_hostname".to_string(), V::Bool(true))];
        if draw.chance(50) {
            inner.push(("prometheus_retention_time".into(), s("30s")));
        }
        settings.push(("telemetry".into(), V::Obj(inner)));
    }
    if draw.chance(30) {
        settings.push(("plugin_directory".into(), s(draw.pick(&["{dir}/plugins", "{dir}/good", "{dir}/open"]))));
    }
    if draw.chance(15) {
        settings.push(("raw_storage_endpoint".into(), V::Bool(draw.chance(50))));
    }
    // HCL or JSON, file by file; in a -config directory, or one -config each.
    let in_directory = count > 1 && draw.chance(50);
    let mut written: Vec<(&'static str, &'static str)> = Vec::new();
    let mut args: Vec<&'static str> = Vec::new();
    for (at, (stanzas, settings)) in files.iter().enumerate() {
        let templated = stanzas.iter().any(|st| st.body.iter().any(|(_, v)| matches!(v, V::Raw(_))));
        let json = !templated && draw.chance(35);
        let name = format!("{}{at}.{}", if in_directory { "conf/" } else { "" }, if json { "json" } else { "hcl" });
        let name = leak(name);
        written.push((name, leak(render(stanzas, settings, json))));
        if !in_directory {
            args.push(leak(format!("-config={{dir}}/{name}")));
        }
    }
    if in_directory {
        args.push("-config={dir}/conf");
    }
    // The server's own flags, before the configuration or between its paths.
    for flag in ["-log-level=warn", "-disable-redirects", "-exit-on-core-shutdown", "-log-format=json"] {
        if draw.chance(10) {
            let at = draw.below(args.len() + 1);
            args.insert(at, flag);
        }
    }
    if draw.chance(15) {
        let name = draw.pick(&["BAO_RAFT_PATH", "VAULT_RAFT_PATH"]);
        env.push((name, leak(format!("{{dir}}/{}", draw.pick(&["open", "good", "lnk/../open"])))));
    }
    let mut dirs: Vec<Dir> = DIRS.to_vec();
    if in_directory {
        dirs.push(("conf", 0o755, false));
    }
    let case = Case {
        name: leak(format!("generated-{seed:x}-{index}")),
        server: "bao",
        files: Box::leak(written.into_boxed_slice()),
        args: Box::leak(args.into_boxed_slice()),
        env: Box::leak(env.into_boxed_slice()),
        dirs: Box::leak(dirs.into_boxed_slice()),
        expect: &[],
    };
    Generated { case, old_tls }
}

/// The WARNs and FAILs the server's behaviour shows to be false alarms.
fn false_alarms(
    generated: &Generated,
    said: &std::collections::BTreeMap<String, (String, String)>,
    seen: &Observed,
) -> Vec<String> {
    let mut out = Vec::new();
    let status = |id: &str| said.get(id).map_or("absent", |(s, _)| s.as_str());
    if !seen.started {
        return out;
    }
    for id in CONFIGURATION_CHECKS {
        if status(id) == "FAIL" {
            out.push(format!("FAIL {id} ({}), but the server started", said[*id].1));
        }
    }
    if status("storage") == "WARN" && !seen.storage.is_empty() && seen.storage.iter().all(|d| servers_alone(d)) {
        out.push(format!(
            "WARN storage ({}), but raft wrote only in {:?}, the server's alone",
            said["storage"].1, seen.storage
        ));
    }
    let answered: Vec<&Answer> = seen.answers.iter().map(|(_, a)| a).filter(|a| **a != Answer::Closed).collect();
    let all_tls = !answered.is_empty() && answered.iter().all(|a| **a == Answer::Tls);
    if status("tls") == "WARN" && all_tls && !generated.old_tls {
        out.push(format!("WARN tls ({}), but every listener answered in TLS", said["tls"].1));
    }
    if status("metrics") == "WARN" && seen.unsealed && seen.open_metrics.is_empty() {
        out.push(format!(
            "WARN metrics ({}), but no listener of the unsealed server served anything without a token",
            said["metrics"].1
        ));
    }
    out
}

/// A line on the test's stderr itself, past the harness's capture: the seed is in every log,
/// passing or not.
fn say(line: String) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

#[test]
fn generated_configurations_get_the_verdicts_the_real_server_calls_for() {
    if !privileged(false) {
        return;
    }
    let seed = std::env::var("HARDINIT_CHECKLIST_SEED")
        .ok()
        .map(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("HARDINIT_CHECKLIST_SEED: hexadecimal"))
        .unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
        });
    let count = std::env::var("HARDINIT_CHECKLIST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(DEFAULT_CASES);
    say(format!(
        "checklist_generated: seed {seed:x}, {count} cases (replay: HARDINIT_CHECKLIST_SEED={seed:x} HARDINIT_CHECKLIST_CASES={count})"
    ));
    let mut draw = Draw(seed);
    let cases: Vec<Generated> = (0..count).map(|i| generate(&mut draw, i, seed)).collect();
    let links: &[(&str, &str, &str)] =
        Box::leak(cases.iter().map(|g| (g.case.name, "lnk", "{dir}/deep/sub")).collect::<Vec<_>>().into_boxed_slice());
    let failures = Mutex::new(Vec::new());
    let next = AtomicUsize::new(0);
    // What the server did with them, so that a run that starts nothing says so.
    let (started, refused, unsealed) = (AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                while let Some(generated) = cases.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let case = &generated.case;
                    let prepared = Prepared::new(case, links);
                    let said = verdicts(&prepared);
                    let seen = run_bao(&prepared);
                    if !seen.started && !status_of_refusal(&seen.log) {
                        let tail: String = seen.log.lines().rev().take(2).collect::<Vec<_>>().join(" | ");
                        eprintln!("checklist_generated: {} neither started nor was refused: {tail}", case.name);
                    }
                    for (counter, yes) in [
                        (&started, seen.started),
                        (&refused, !seen.started && status_of_refusal(&seen.log)),
                        (&unsealed, seen.unsealed),
                    ] {
                        counter.fetch_add(usize::from(yes), Ordering::Relaxed);
                    }
                    let mut found = disagreements(case, &prepared, &said, &seen, &[]);
                    found.extend(false_alarms(generated, &said, &seen));
                    if !found.is_empty() {
                        let tail: String = seen.log.lines().rev().take(4).collect::<Vec<_>>().join(" | ");
                        failures.lock().unwrap().push(format!(
                            "{}: {}\n    args {:?} env {:?}\n    files: {:?}\n    server: started {}, {:?}, storage {:?}; log tail: {tail}",
                            case.name,
                            found.join("; "),
                            prepared.args,
                            prepared.env,
                            prepared.texts,
                            seen.started,
                            seen.answers,
                            seen.storage
                        ));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    let [started, refused, unsealed] = [started, refused, unsealed].map(AtomicUsize::into_inner);
    say(format!(
        "checklist_generated: the server started {started} (unsealed {unsealed}), refused {refused}, of {count}"
    ));
    // A slice where the server never starts (or never refuses) compares nothing of one side.
    assert!(
        count < 8 || (started > 0 && refused > 0),
        "seed {seed:x}: started {started}, refused {refused} of {count}"
    );
    assert!(
        failures.is_empty(),
        "seed {seed:x}: {} of {count} generated cases (replay: HARDINIT_CHECKLIST_SEED={seed:x} HARDINIT_CHECKLIST_CASES={count}):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
