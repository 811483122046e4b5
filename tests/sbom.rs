//! What the image says it holds: the crates `cargo auditable` embeds in hardinit (.dep-v0), and
//! the CycloneDX SBOM scripts/assemble-rootfs.sh writes, each read back and held against an
//! independent source (cargo tree, Cargo.lock, the crates' manifests, the server's own bytes).

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

/// `(name, version)` of every crate the release binary links: cargo's own answer, normal
/// dependencies for the image's target (no dev- or build-dependency).
fn linked_crates() -> BTreeSet<(String, String)> {
    let out = Command::new("cargo")
        .args(["tree", "--locked", "--offline", "-e", "normal", "--target", "x86_64-unknown-linux-musl"])
        .args(["--prefix", "none", "--format", "{p}"])
        .current_dir(repo())
        .output()
        .expect("cargo tree");
    assert!(out.status.success(), "cargo tree: {}", String::from_utf8_lossy(&out.stderr));
    let crates: BTreeSet<(String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            Some((words.next()?.to_string(), words.next()?.strip_prefix('v')?.to_string()))
        })
        .collect();
    assert!(crates.iter().any(|(name, _)| name == "libc") && crates.len() >= 4, "{crates:?}");
    crates
}

/// `(name, version) -> checksum` of Cargo.lock's packages.
fn cargo_lock() -> Vec<((String, String), Option<String>)> {
    let lock = std::fs::read_to_string(repo().join("Cargo.lock")).unwrap();
    lock.split("[[package]]")
        .skip(1)
        .map(|entry| {
            let field = |key: &str| {
                entry
                    .lines()
                    .find_map(|l| l.strip_prefix(key)?.strip_prefix(" = \"")?.strip_suffix('"'))
                    .map(String::from)
            };
            ((field("name").unwrap(), field("version").unwrap()), field("checksum"))
        })
        .collect()
}

/// The embedded dependency list, as objcopy(1) finds the section and zlib inflates it.
fn dep_v0(binary: &Path) -> Value {
    let dir = Scratch::new("dep-v0");
    let out = Command::new("objcopy")
        .arg(format!("--dump-section=.dep-v0={}", dir.path("dep-v0.z").display()))
        .arg(binary)
        .arg(dir.path("copy"))
        .output()
        .expect("objcopy");
    assert!(
        out.status.success(),
        "{} has no .dep-v0 section: {}",
        binary.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("python3")
        .args(["-c", "import sys, zlib; sys.stdout.write(zlib.decompress(open(sys.argv[1], 'rb').read()).decode())"])
        .arg(dir.path("dep-v0.z"))
        .output()
        .expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_static_binary_embeds_every_crate_it_links_as_cargo_auditable_lists_them() {
    let audit = dep_v0(&static_hardinit());
    assert_eq!(audit["format"], 1, "{audit}");
    let packages = audit["packages"].as_array().unwrap();
    let embedded: BTreeSet<(String, String)> = packages
        .iter()
        .filter(|p| p.get("kind").is_none_or(|k| k == "runtime"))
        .map(|p| (p["name"].as_str().unwrap().to_string(), p["version"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(embedded, linked_crates(), "the .dep-v0 list against `cargo tree -e normal`");
    let lock: BTreeSet<(String, String)> = cargo_lock().into_iter().map(|(key, _)| key).collect();
    for package in packages {
        let key = (package["name"].as_str().unwrap().to_string(), package["version"].as_str().unwrap().to_string());
        assert!(lock.contains(&key), "{key:?} is not in Cargo.lock");
        let root = package["root"] == true;
        assert_eq!(package["source"], if root { "local" } else { "crates.io" }, "{package}");
        assert_eq!(root, key.0 == "hardinit", "{package}");
    }
    // A dev-dependency (serde_json: the tests' JSON) is not in the binary, nor in its list.
    assert!(!embedded.iter().any(|(name, _)| name == "serde_json"), "{embedded:?}");
}

/// The licence a crate's manifest declares, as cargo extracted it for the build (under
/// CARGO_HOME/registry/src; scripts/sbom.py reads the .crate archive instead).
fn extracted_crate_licence(name: &str, version: &str) -> String {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(&std::env::var_os("HOME").unwrap()).join(".cargo"));
    let sources = cargo_home.join("registry/src");
    for index in std::fs::read_dir(&sources).unwrap() {
        let manifest = index.unwrap().path().join(format!("{name}-{version}/Cargo.toml"));
        if let Ok(text) = std::fs::read_to_string(&manifest) {
            return text
                .lines()
                .find_map(|l| l.strip_prefix("license = \"")?.strip_suffix('"'))
                .unwrap_or_else(|| panic!("no license in {}", manifest.display()))
                .to_string();
        }
    }
    panic!("{name}-{version} is not extracted under {}", sources.display())
}

/// `(module path, version)` of the server's `dep` lines (with their `=>` replacements), found
/// by the sentinels that runtime/debug puts around the module information, not by the ELF
/// section scripts/sbom.py reads.
fn go_modules_by_sentinels(binary: &Path) -> BTreeSet<(String, String)> {
    const START: &[u8] = b"\x30\x77\xaf\x0c\x92\x74\x08\x02\x41\xe1\xc1\x07\xe6\xd6\x18\xe6";
    const END: &[u8] = b"\xf9\x32\x43\x31\x86\x18\x20\x72\x00\x82\x42\x10\x41\x16\xd8\xf2";
    let bytes = std::fs::read(binary).unwrap();
    let start = bytes.windows(16).position(|w| w == START).expect("Go module information") + 16;
    let end = start + bytes[start..].windows(16).position(|w| w == END).unwrap();
    let text = String::from_utf8_lossy(&bytes[start..end]).into_owned();
    let mut modules: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["dep", path, version, ..] => modules.push((path.to_string(), version.to_string())),
            ["=>", path, version, ..] => *modules.last_mut().unwrap() = (path.to_string(), version.to_string()),
            _ => {}
        }
    }
    modules.into_iter().collect()
}

fn assemble(flavour: &str, dest: &Path, hardinit: &Path) -> std::process::Output {
    Command::new("bash")
        .arg(repo().join("scripts/assemble-rootfs.sh"))
        .args([flavour, dest.to_str().unwrap(), hardinit.to_str().unwrap(), common::runc::bao().to_str().unwrap()])
        .output()
        .unwrap()
}

/// Whether python's cyclonedx-python-lib finds the document valid CycloneDX 1.5 (strict: no
/// field the schema does not define): None, or the validator's complaint.
fn cyclonedx_1_5_errors(document: &str) -> Option<String> {
    let mut validator = Command::new("python3")
        .args([
            "-c",
            "import sys\nfrom cyclonedx.validation.json import JsonStrictValidator\nfrom cyclonedx.schema import SchemaVersion\nerror = JsonStrictValidator(SchemaVersion.V1_5).validate_str(sys.stdin.read())\nprint(error or '', end='')",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::Write;
    validator.stdin.take().unwrap().write_all(document.as_bytes()).unwrap();
    let out = validator.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the validator itself failed (cyclonedx-python-lib: scripts/setup.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    (!said.is_empty()).then_some(said)
}

fn property<'a>(component: &'a Value, name: &str) -> &'a str {
    component["properties"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == name))
        .and_then(|p| p["value"].as_str())
        .unwrap_or_else(|| panic!("no property {name} in {component}"))
}

#[test]
fn the_image_sbom_is_valid_cyclonedx_1_5_and_lists_what_went_in() {
    if !privileged(false) {
        return;
    }
    let dir = Scratch::new("sbom");
    let root = dir.path("openbao");
    let out = assemble("openbao", &root, &static_hardinit());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(root.join("usr/share/doc/hardinit/sbom.cdx.json")).unwrap();
    assert_eq!(std::fs::read_to_string(dir.path("openbao.sbom.cdx.json")).unwrap(), text, "the copy beside the tree");
    assert_eq!(cyclonedx_1_5_errors(&text), None);
    let sbom: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(sbom["specVersion"], "1.5");
    assert!(sbom["serialNumber"].as_str().unwrap().starts_with("urn:uuid:"), "{}", sbom["serialNumber"]);
    let commit_time = git(&["log", "-1", "--format=%cd", "--date=format-local:%Y-%m-%dT%H:%M:%SZ"]);
    assert_eq!(sbom["metadata"]["timestamp"], commit_time, "SOURCE_DATE_EPOCH, the commit's time");
    let components = sbom["components"].as_array().unwrap();
    let named = |name: &str| components.iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no {name}"));

    // hardinit: what it says of itself, its bytes, and every crate it links.
    let hardinit = named("hardinit");
    let version = Command::new(static_hardinit()).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    assert_eq!(hardinit["version"], env!("CARGO_PKG_VERSION"));
    assert!(version.contains(&format!("(commit {}, ", property(hardinit, "hardinit:commit"))), "{version}");
    assert!(property(hardinit, "hardinit:commit").starts_with(&git(&["rev-parse", "HEAD"])), "{hardinit}");
    assert!(version.ends_with(&format!("built {})", property(hardinit, "hardinit:built"))), "{version}");
    assert_eq!(property(hardinit, "hardinit:target"), "x86_64-unknown-linux-musl");
    assert_eq!(hardinit["hashes"][0]["content"], sha256_hex(&static_hardinit()));
    let crates = hardinit["components"].as_array().unwrap();
    let listed: BTreeSet<(String, String)> = crates
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_string(), c["version"].as_str().unwrap().to_string()))
        .collect();
    let mut linked = linked_crates();
    linked.retain(|(name, _)| name != "hardinit");
    assert_eq!(listed, linked);
    let lock = cargo_lock();
    for krate in crates {
        let key = (krate["name"].as_str().unwrap().to_string(), krate["version"].as_str().unwrap().to_string());
        assert_eq!(krate["purl"], format!("pkg:cargo/{}@{}", key.0, key.1));
        let checksum = lock.iter().find(|(k, _)| *k == key).and_then(|(_, c)| c.clone()).unwrap();
        assert_eq!(krate["hashes"][0]["content"], checksum, "{krate}");
        let licence = extracted_crate_licence(&key.0, &key.1);
        assert_eq!(krate["licenses"][0]["expression"].as_str(), Some(licence.replace('/', " OR ").as_str()), "{krate}");
    }

    // The server: the version it reports, its bytes, its Go modules.
    let server = named("openbao");
    let bao = common::runc::bao();
    let reported = String::from_utf8(Command::new(&bao).arg("version").output().unwrap().stdout).unwrap();
    assert!(reported.starts_with(&format!("OpenBao v{} (", server["version"].as_str().unwrap())), "{reported}");
    assert_eq!(server["hashes"][0]["content"], sha256_hex(&bao));
    let modules: BTreeSet<(String, String)> = server["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["name"] != "stdlib")
        .map(|m| (m["name"].as_str().unwrap().to_string(), m["version"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(modules, go_modules_by_sentinels(&bao));
    assert!(modules.len() > 100 && modules.iter().any(|(path, _)| path == "github.com/hashicorp/hcl"), "{modules:?}");

    // The CA bundle: its bytes and where it came from.
    let ca = named("ca-certificates.crt");
    assert_eq!(ca["hashes"][0]["content"], sha256_hex(Path::new("/etc/ssl/certs/ca-certificates.crt")));
    assert_eq!(property(ca, "hardinit:source"), "/etc/ssl/certs/ca-certificates.crt");

    // Every dependency names a component of the document.
    let mut refs = BTreeSet::new();
    let mut stack: Vec<&Value> = components.iter().chain([&sbom["metadata"]["component"]]).collect();
    while let Some(c) = stack.pop() {
        refs.insert(c["bom-ref"].as_str().unwrap().to_string());
        stack.extend(c["components"].as_array().into_iter().flatten());
    }
    for dependency in sbom["dependencies"].as_array().unwrap() {
        for name in std::iter::once(&dependency["ref"]).chain(dependency["dependsOn"].as_array().unwrap()) {
            assert!(refs.contains(name.as_str().unwrap()), "{name} is no component's bom-ref");
        }
    }
}

fn git(args: &[&str]) -> String {
    let out = Command::new("git").args(args).current_dir(repo()).env("TZ", "UTC").output().expect("git");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn the_schema_check_rejects_what_cyclonedx_1_5_does_not_allow() {
    let valid = r#"{"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": [{"type": "application", "name": "hardinit", "hashes": [{"alg": "SHA-256", "content": "06a5bf78d4cb89088946ff70fb24a14702e66fdb659957597829d36e7490d5da"}]}]}"#;
    assert_eq!(cyclonedx_1_5_errors(valid), None);
    for broken in [
        valid.replace(r#""type": "application""#, r#""type": "program""#),
        valid.replace("06a5bf78", "not-hex-"),
        valid.replace(r#""name": "hardinit""#, r#""name": "hardinit", "commit": "06a5bf78""#),
    ] {
        assert!(cyclonedx_1_5_errors(&broken).is_some(), "accepted: {broken}");
    }
}

#[test]
fn the_assembly_refuses_a_hardinit_without_its_dependency_list() {
    if !privileged(false) {
        return;
    }
    let dir = Scratch::new("sbom-refuse");
    let stripped = dir.path("hardinit");
    let out =
        Command::new("objcopy").arg("--remove-section=.dep-v0").arg(static_hardinit()).arg(&stripped).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = assemble("openbao", &dir.path("openbao"), &stripped);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("has no .dep-v0 section"), "{stderr}");
}

#[test]
fn the_assembly_refuses_a_server_of_another_version_than_the_image_says() {
    if !privileged(false) {
        return;
    }
    let dir = Scratch::new("sbom-version");
    let out = Command::new("bash")
        .arg(repo().join("scripts/assemble-rootfs.sh"))
        .args(["openbao", dir.path("openbao").to_str().unwrap(), static_hardinit().to_str().unwrap()])
        .arg(common::runc::bao())
        .env("HARDINIT_EXPECT_SERVER_VERSION", "2.7.3")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("the server binary is openbao 2.7.2, not 2.7.3"), "{stderr}");
}
