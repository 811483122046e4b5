//! The checklist's decisions over a parsed configuration and the server's flags. Two halves:
//! - raw bytes as a configuration and as a command line: never a panic, findings on one line;
//! - configurations built from the input whose truth is known by construction: a listener the
//!   server serves as TCP (its `type`, else its label, lower-cased) with TLS disabled on an
//!   address others can reach is never a PASS of `tls`.
#![no_main]

use hardinit::harden::server_config::parse_all;
use hardinit::harden::server_flags::{OPENBAO, ServerCommand};
use hardinit::harden::{Status, checklist};
use libfuzzer_sys::fuzz_target;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

const LABELS: [&str; 6] = ["tcp", "TCP", "Tcp", "unix", "tCp", "uNiX"];
const TYPES: [Option<&str>; 5] = [None, Some("tcp"), Some("TCP"), Some("unix"), Some("Tcp")];
const ADDRESSES: [(&str, bool); 5] = [
    ("0.0.0.0:8200", true),
    ("127.0.0.1:8200", false),
    ("[::]:8200", true),
    ("10.0.0.1:8200", true),
    ("[::1]:8200", false),
];
/// `tls_disable` as written, and whether the server reads it as true.
const TLS_DISABLE: [(Option<&str>, bool); 7] = [
    (None, false),
    (Some("true"), true),
    (Some("1"), true),
    (Some("\"true\""), true),
    (Some("false"), false),
    (Some("\"1\""), true),
    (Some("0"), false),
];

struct Listener {
    label: &'static str,
    kind: Option<&'static str>,
    address: &'static str,
    tls_disable: Option<&'static str>,
}

impl Listener {
    fn from(bytes: &[u8]) -> (Listener, bool) {
        let pick = |i: usize, n: usize| usize::from(bytes.get(i).copied().unwrap_or(0)) % n;
        let (address, others_reach) = ADDRESSES[pick(2, ADDRESSES.len())];
        let (tls_disable, disabled) = TLS_DISABLE[pick(3, TLS_DISABLE.len())];
        let listener =
            Listener { label: LABELS[pick(0, LABELS.len())], kind: TYPES[pick(1, TYPES.len())], address, tls_disable };
        let served_as_tcp = listener.kind.unwrap_or(listener.label).eq_ignore_ascii_case("tcp");
        (listener, served_as_tcp && disabled && others_reach)
    }

    fn hcl(&self) -> String {
        let mut body = format!("  address = \"{}\"\n", self.address);
        if let Some(kind) = self.kind {
            body += &format!("  type = \"{kind}\"\n");
        }
        if let Some(value) = self.tls_disable {
            body += &format!("  tls_disable = {value}\n");
        }
        format!("listener \"{}\" {{\n{body}}}\n", self.label)
    }

    fn json(&self) -> String {
        let mut body = format!("\"address\": \"{}\"", self.address);
        if let Some(kind) = self.kind {
            body += &format!(", \"type\": \"{kind}\"");
        }
        if let Some(value) = self.tls_disable {
            body += &format!(", \"tls_disable\": {value}");
        }
        format!("{{\"{}\": {{{body}}}}}", self.label)
    }
}

fn tls_status(text: &str, name: &str) -> Option<Status> {
    let files = parse_all(vec![(name.into(), text.as_bytes().to_vec())]).ok()?;
    let findings = checklist::configuration(&files, &ServerCommand::default(), &OPENBAO, &|_| None);
    for finding in &findings {
        assert!(!finding.summary.contains('\n'), "multi-line finding: {:?}", finding.summary);
    }
    findings.iter().find(|f| f.id == "tls").map(|f| f.status)
}

fuzz_target!(|data: &[u8]| {
    // Raw: the input as a configuration, and as a server command line.
    let _ = tls_status(&String::from_utf8_lossy(data), "/c/raw.hcl");
    let mut args = vec![OsString::from("server")];
    args.extend(data.split(|b| *b == 0).map(|a| OsString::from_vec(a.to_vec())));
    let _ = ServerCommand::parse(&OPENBAO, &args, &|_| None);

    // Built: up to three listeners, four bytes each, in HCL or JSON.
    let Some((&form, rest)) = data.split_first() else { return };
    let built: Vec<(Listener, bool)> = rest.chunks(4).take(3).map(Listener::from).collect();
    if built.is_empty() {
        return;
    }
    let clear_text_reachable = built.iter().any(|(_, bad)| *bad);
    let (text, name) = if form % 2 == 0 {
        (built.iter().map(|(l, _)| l.hcl()).collect::<String>(), "/c/built.hcl")
    } else {
        let listeners: Vec<String> = built.iter().map(|(l, _)| l.json()).collect();
        (format!("{{\"listener\": [{}]}}", listeners.join(", ")), "/c/built.json")
    };
    let status = tls_status(&text, name);
    if clear_text_reachable {
        assert_ne!(status, Some(Status::Pass), "PASS tls for a clear-text TCP listener others reach:\n{text}");
    }
});
