//! `hardinit-lint`: hardinit's checklist on Kubernetes manifests, before deploy. Reads every
//! document of a YAML stream (`helm template ... | hardinit-lint -`), finds the Vault and
//! OpenBao server and agent containers, reads the server's configuration from the ConfigMap it
//! mounts with hardinit's own reader, and reports what the manifest decides.
//!
//! A binary of its own so that the PID 1 carries no YAML parser.

mod manifest;
mod report;
mod rules;
mod yaml;

use clap::{Arg, ArgAction, Command};
use hardinit::harden::Status;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;

/// A manifest larger than this is refused (helm's output for both charts is under 100 KiB).
const MAX_INPUT: u64 = 64 * 1024 * 1024;

/// EX_DATAERR: the manifest cannot be read.
const EXIT_UNREADABLE: i32 = 65;
/// EX_USAGE.
const EXIT_USAGE: i32 = 64;

fn command() -> Command {
    Command::new("hardinit-lint")
        .version(env!("CARGO_PKG_VERSION"))
        .about("hardinit's checklist on Kubernetes manifests: the Vault and OpenBao containers, their configuration and their pods; exit 0 when nothing fails, 1 otherwise, 65 for a manifest that cannot be read")
        .arg(Arg::new("manifest").value_name("FILE").required(true).help("A YAML file of one or more documents, or - for standard input (helm template ... | hardinit-lint -)"))
        .arg(Arg::new("format").long("format").value_name("FORMAT").value_parser(["text", "json", "sarif"]).default_value("text").help("text (one line per check), json (hardinit check --json's schema, with file, document and line), or sarif (SARIF 2.1.0)"))
        .arg(Arg::new("strict").long("strict").action(ArgAction::SetTrue).help("Every WARN fails too (exit 1)"))
        .arg(Arg::new("allow").long("allow").value_name("ID").action(ArgAction::Append).value_delimiter(',').help("Accept the finding ID whatever its status; repeatable"))
        .arg(Arg::new("name").long("name").value_name("PATH").help("The file name reports give the manifest (default: FILE, or stdin for -)"))
}

fn read(path: &str) -> Result<String, String> {
    let mut bytes = Vec::new();
    let reader: Box<dyn Read> = if path == "-" {
        Box::new(std::io::stdin())
    } else {
        // Without blocking: opening a FIFO for reading would wait for a writer.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| format!("{path}: {e}"))?;
        if !file.metadata().map_err(|e| format!("{path}: {e}"))?.is_file() {
            return Err(format!("{path}: not a regular file"));
        }
        Box::new(file)
    };
    reader.take(MAX_INPUT + 1).read_to_end(&mut bytes).map_err(|e| format!("{path}: {e}"))?;
    if bytes.len() as u64 > MAX_INPUT {
        return Err(format!("{path}: larger than {MAX_INPUT} bytes"));
    }
    String::from_utf8(bytes).map_err(|e| format!("{path}: not UTF-8 (byte {})", e.utf8_error().valid_up_to()))
}

fn run() -> i32 {
    let matches = match command().try_get_matches() {
        Ok(m) => m,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let path = matches.get_one::<String>("manifest").cloned().unwrap_or_default();
    let name = matches
        .get_one::<String>("name")
        .cloned()
        .unwrap_or_else(|| if path == "-" { "stdin".into() } else { path.clone() });
    let allowed: Vec<String> = matches.get_many::<String>("allow").into_iter().flatten().cloned().collect();
    let strict = matches.get_flag("strict");
    let format = matches.get_one::<String>("format").map_or("text", String::as_str);
    let documents = match read(&path).and_then(|text| yaml::documents(&text).map_err(|e| format!("{name}:{e}"))) {
        Ok(documents) => documents,
        Err(e) => {
            eprintln!("hardinit-lint: {e}");
            return EXIT_UNREADABLE;
        }
    };
    let cluster = rules::Cluster { objects: manifest::objects(&documents) };
    let workloads = manifest::workloads(&cluster.objects);
    let findings = rules::lint(&cluster, &workloads);
    if findings.is_empty() {
        eprintln!("hardinit-lint: {name}: no Vault or OpenBao server or agent container");
    }
    let refuses = |l: &rules::Located| {
        !allowed.iter().any(|a| a == l.finding.id)
            && (l.finding.status == Status::Fail || (strict && l.finding.status == Status::Warn))
    };
    let ok = !findings.iter().any(refuses);
    let out = match format {
        "json" => report::json(&findings, &name, ok),
        "sarif" => report::sarif(&findings, &name, &allowed),
        _ => report::text(&findings, &name),
    };
    print!("{out}");
    if ok { 0 } else { 1 }
}

fn main() {
    std::process::exit(run());
}
