//! The checklist against the real OpenBao server: for a corpus of configurations, command lines
//! and environments, `hardinit check` (the static binary) says what it says, and the real `bao`
//! is started with the same files, flags and variables, as the server's user, in a PID namespace
//! of its own, on free ports of 127.0.0.1. What the server does is observed, not assumed: which
//! listener answers in clear text (a plain HTTP request gets Go's "Client sent an HTTP request to
//! an HTTPS server" from a TLS listener), which directory its raft storage wrote, whether it
//! printed a dev root token, and which token its transit seal sent to a stand-in transit server.
//! A PASS the server contradicts fails the suite; so does a case that does not get the verdict
//! the server's behaviour calls for.
//!
//! Also: the server flag table hardinit parses command lines with is the one `bao server -h`
//! prints, flag by flag and kind by kind.

mod common;

#[allow(dead_code)]
#[path = "../src/harden/hcl.rs"]
mod hcl;
#[allow(dead_code)]
#[path = "../src/harden/server_flags.rs"]
mod server_flags;

use common::runc::bao;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The server's user, as [`TEST_USER`].
const SERVER_UID: u32 = 4242;

/// A directory made before the start: its name in the case's folder, its mode, and whether the
/// server's user owns it (else root does).
type Dir = (&'static str, u32, bool);

struct Case {
    name: &'static str,
    /// The server binary's file name: `bao`, or a copy of it under another name (hardinit tells
    /// the flavours apart by the name).
    server: &'static str,
    /// Files of the case's folder: `{dir}` is the folder, `{p1}` `{p2}` listener ports, `{c0}`
    /// `{c1}` `{c2}` cluster ports, `{transit}` the stand-in transit server's port.
    files: &'static [(&'static str, &'static str)],
    /// The arguments after `server`.
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    dirs: &'static [Dir],
    /// The verdicts the server's behaviour calls for.
    expect: &'static [(&'static str, &'static str)],
}

const RAFT: &str = "storage \"raft\" {\n  path = \"{dir}/data\"\n}\ncluster_addr = \"http://127.0.0.1:{c0}\"\napi_addr = \"http://127.0.0.1:{p1}\"\n";
const CONFIG: &[&str] = &["-config={dir}/c.hcl"];
const DATA: &[Dir] = &[("data", 0o700, true)];

/// A transit seal of the stand-in transit server over TLS, configured by BAO_SEAL_TYPE and the
/// seal's variables alone, skipping verification.
const SEAL_FROM_THE_ENVIRONMENT: &[(&str, &str)] = &[
    ("BAO_SEAL_TYPE", "transit"),
    ("VAULT_SKIP_VERIFY", "true"),
    ("VAULT_TRANSIT_SEAL_ADDR", "https://127.0.0.1:{transit_tls}"),
    ("VAULT_TRANSIT_SEAL_TOKEN", "s.from-the-environment"),
    ("VAULT_TRANSIT_SEAL_KEY_NAME", "k"),
    ("VAULT_TRANSIT_SEAL_MOUNT_PATH", "transit/"),
    ("VAULT_TRANSIT_SEAL_DISABLE_RENEWAL", "true"),
];

/// A directory the server's user could share with anyone: root's, mode 0777.
const OPEN_AND_GOOD: &[Dir] = &[("open", 0o777, false), ("good", 0o700, true), ("data", 0o700, true)];

/// A listener on `{p1}` in clear text, labelled `label`, with `extra` settings.
macro_rules! plain_listener {
    ($label:literal, $extra:literal) => {
        concat!(
            "listener \"",
            $label,
            "\" {\n  address = \"127.0.0.1:{p1}\"\n  cluster_address = \"127.0.0.1:{c1}\"\n  tls_disable = 1\n",
            $extra,
            "}\n"
        )
    };
}

/// `{tls}`: a TLS listener on `{p1}`.
const TLS_LISTENER: &str = "listener \"tcp\" {\n  address = \"127.0.0.1:{p1}\"\n  cluster_address = \"127.0.0.1:{c1}\"\n  tls_cert_file = \"{dir}/cert.pem\"\n  tls_key_file = \"{dir}/key.pem\"\n}\n";

/// `{transit}` in a seal stanza: the stand-in transit server.
const TRANSIT: &str = "  address = \"http://127.0.0.1:{transit}\"\n  key_name = \"k\"\n  mount_path = \"transit/\"\n  disable_renewal = \"true\"\n";

/// `{transit_tls}` in a seal stanza: the stand-in transit server over TLS, with a self-signed
/// certificate the seal is given no CA for.
const TRANSIT_TLS: &str = "  address = \"https://127.0.0.1:{transit_tls}\"\n  key_name = \"k\"\n  mount_path = \"transit/\"\n  disable_renewal = \"true\"\n  token = \"s.over-tls\"\n";

const CASES: &[Case] = &[
    // Item 1: labels lower-cased, `type` over the label, JSON, several listeners and files.
    Case {
        name: "listener-label-upper-case",
        server: "bao",
        files: &[("c.hcl", concat!(plain_listener!("TCP", ""), "{raft}"))],
        args: CONFIG,
        env: &[],
        dirs: DATA,
        expect: &[("tls", "WARN")],
    },
    Case {
        name: "listener-label-mixed-case-json",
        server: "bao",
        files: &[(
            "c.json",
            r#"{"listener": {"Tcp": {"address": "127.0.0.1:{p1}", "cluster_address": "127.0.0.1:{c1}", "tls_disable": true}}, "storage": {"raft": {"path": "{dir}/data"}}, "cluster_addr": "http://127.0.0.1:{c0}", "api_addr": "http://127.0.0.1:{p1}"}"#,
        )],
        args: &["-config={dir}/c.json"],
        env: &[],
        dirs: DATA,
        expect: &[("tls", "WARN")],
    },
    Case {
        name: "listener-type-tcp-under-a-unix-label",
        server: "bao",
        files: &[("c.hcl", concat!(plain_listener!("unix", "  type = \"tcp\"\n"), "{raft}"))],
        args: CONFIG,
        env: &[],
        dirs: DATA,
        expect: &[("tls", "WARN")],
    },
    Case {
        name: "listener-type-unix-under-a-tcp-label",
        server: "bao",
        files: &[(
            "c.hcl",
            "listener \"tcp\" {\n  type = \"unix\"\n  address = \"{dir}/home/bao.sock\"\n  tls_disable = 1\n}\n{tls}{raft}",
        )],
        args: CONFIG,
        env: &[],
        dirs: DATA,
        expect: &[("tls", "PASS")],
    },
    Case {
        name: "tls-on",
        server: "bao",
        files: &[("c.hcl", "{tls}{raft}")],
        args: CONFIG,
        env: &[],
        dirs: DATA,
        expect: &[("tls", "PASS"), ("root-token", "PASS"), ("metrics", "PASS"), ("raw-storage", "PASS")],
    },
    Case {
        name: "two-listeners-one-in-clear-text",
        server: "bao",
        files: &[(
            "c.hcl",
            "{tls}listener \"Tcp\" {\n  address = \"127.0.0.1:{p2}\"\n  cluster_address = \"127.0.0.1:{c2}\"\n  tls_disable = \"true\"\n}\n{raft}",
        )],
        args: CONFIG,
        env: &[],
        dirs: DATA,
        expect: &[("tls", "WARN")],
    },
    Case {
        name: "two-files-the-second-in-clear-text",
        server: "bao",
        files: &[
            ("a.hcl", "{tls}{raft}"),
            (
                "b.json",
                r#"{"listener": [{"TCP": {"address": "127.0.0.1:{p2}", "cluster_address": "127.0.0.1:{c2}", "tls_disable": 1}}]}"#,
            ),
        ],
        args: &["-config={dir}/a.hcl", "-config", "{dir}/b.json"],
        env: &[],
        dirs: DATA,
        expect: &[("tls", "WARN")],
    },
    Case {
        name: "profiling-and-in-flight-requests-without-a-token",
        server: "bao",
        files: &[(
            "c.hcl",
            concat!(
                plain_listener!(
                    "tcp",
                    "  profiling {\n    unauthenticated_pprof_access = true\n  }\n  inflight_requests_logging {\n    unauthenticated_in_flight_requests_access = true\n  }\n"
                ),
                "{raft}"
            ),
        )],
        args: CONFIG,
        env: &[],
        dirs: DATA,
        expect: &[("metrics", "WARN")],
    },
    Case {
        name: "refused-tls-disable-as-a-list",
        server: "bao",
        files: &[("c.hcl", concat!(plain_listener!("tcp", "  tls_disable = [true]\n"), "{raft}"))],
        args: CONFIG,
        env: &[],
        dirs: DATA,
        expect: &[("tls", "FAIL")],
    },
    // A file of a -config directory, named after it: read with the directory, at its place.
    Case {
        name: "file-of-a-listed-directory-read-with-it",
        server: "bao",
        files: &[
            ("d/a.hcl", "{tls}cluster_addr = \"http://127.0.0.1:{c0}\"\napi_addr = \"http://127.0.0.1:{p1}\"\n"),
            ("d/z.hcl", "storage \"raft\" {\n  path = \"{dir}/good\"\n}\n"),
            ("b.hcl", "storage \"raft\" {\n  path = \"{dir}/open\"\n}\n"),
        ],
        args: &["-config={dir}/d", "-config={dir}/b.hcl", "-config={dir}/d/z.hcl"],
        env: &[],
        dirs: &[("d", 0o755, false), ("open", 0o777, false), ("good", 0o700, true), ("data", 0o700, true)],
        expect: &[("storage", "WARN")],
    },
    // Item 2: the server's own flags.
    Case {
        name: "disable-redirects-before-config",
        server: "bao",
        files: &[("c.hcl", concat!(plain_listener!("tcp", ""), "{raft}"))],
        args: &["-disable-redirects", "-config={dir}/c.hcl"],
        env: &[],
        dirs: DATA,
        expect: &[("tls", "WARN")],
    },
    Case {
        name: "output-curl-string-before-config",
        server: "bao",
        files: &[("c.hcl", concat!(plain_listener!("tcp", ""), "{raft}"))],
        args: &["-output-curl-string", "-config", "{dir}/c.hcl"],
        env: &[],
        dirs: DATA,
        expect: &[("tls", "WARN")],
    },
    Case {
        name: "output-policy-before-config",
        server: "bao",
        files: &[("c.hcl", concat!(plain_listener!("tcp", ""), "{raft}"))],
        args: &["-output-policy", "-config={dir}/c.hcl"],
        env: &[],
        dirs: DATA,
        expect: &[("tls", "WARN")],
    },
    Case {
        name: "boolean-flag-with-its-value",
        server: "bao",
        files: &[("c.hcl", concat!(plain_listener!("tcp", ""), "{raft}"))],
        args: &["--output-policy=true", "-dev-no-store-token=1", "-config={dir}/c.hcl"],
        env: &[],
        dirs: DATA,
        expect: &[("tls", "WARN"), ("root-token", "PASS")],
    },
    Case {
        name: "disable-redirects-then-dev",
        server: "bao",
        files: &[],
        args: &["-disable-redirects", "-dev", "-dev-listen-address=127.0.0.1:{p1}"],
        env: &[],
        dirs: &[],
        expect: &[("root-token", "WARN"), ("tls", "WARN")],
    },
    Case {
        name: "dev-ha-then-dev-false",
        server: "bao",
        files: &[],
        args: &["-dev-ha", "-dev=false", "-dev-listen-address", "127.0.0.1:{p1}"],
        env: &[],
        dirs: &[],
        expect: &[("root-token", "WARN"), ("tls", "WARN")],
    },
    Case {
        name: "dev-listen-address-from-the-environment",
        server: "bao",
        files: &[],
        args: &["-dev"],
        env: &[("VAULT_DEV_LISTEN_ADDRESS", "127.0.0.1:{p1}")],
        dirs: &[],
        // The dev listener serves its metrics without a token, and sys/raw.
        expect: &[("root-token", "WARN"), ("tls", "WARN"), ("metrics", "WARN"), ("raw-storage", "WARN")],
    },
    // OpenBao copied under Vault's name binds where BAO_DEV_LISTEN_ADDRESS says.
    Case {
        name: "dev-listen-address-from-bao-dev-listen-address-of-a-copy-named-vault",
        server: "vault",
        files: &[],
        args: &["-dev"],
        env: &[("BAO_DEV_LISTEN_ADDRESS", "127.0.0.1:{p1}")],
        dirs: &[],
        expect: &[("root-token", "WARN"), ("tls", "WARN"), ("metrics", "WARN"), ("raw-storage", "WARN")],
    },
    Case {
        name: "dev-tls",
        server: "bao",
        files: &[],
        args: &["-dev-tls", "-dev-tls-cert-dir={dir}/home", "-dev-listen-address=127.0.0.1:{p1}"],
        env: &[],
        dirs: &[],
        expect: &[("root-token", "WARN"), ("tls", "PASS")],
    },
    Case {
        name: "recovery-mode-serves-sys-raw",
        server: "bao",
        files: &[("c.hcl", concat!(plain_listener!("tcp", ""), "{raft}"))],
        args: &["-recovery", "-config={dir}/c.hcl"],
        env: &[],
        dirs: DATA,
        expect: &[("raw-storage", "WARN")],
    },
    Case {
        name: "unknown-flag",
        server: "bao",
        files: &[("c.hcl", concat!(plain_listener!("tcp", ""), "{raft}"))],
        args: &["-no-such-flag", "-config={dir}/c.hcl"],
        env: &[],
        dirs: DATA,
        expect: &[("root-token", "FAIL"), ("tls", "FAIL")],
    },
    Case {
        name: "vault-only-flag",
        server: "bao",
        files: &[("c.hcl", concat!(plain_listener!("tcp", ""), "{raft}"))],
        args: &["-experiment", "-dev", "-config={dir}/c.hcl"],
        env: &[],
        dirs: DATA,
        expect: &[("root-token", "FAIL"), ("tls", "FAIL")],
    },
    Case {
        name: "configuration-from-the-environment",
        server: "bao",
        files: &[("c.hcl", concat!(plain_listener!("tcp", ""), "{raft}"))],
        args: &[],
        env: &[("BAO_CONFIG_PATH", "{dir}/c.hcl")],
        dirs: DATA,
        expect: &[("tls", "WARN")],
    },
    // Item 3: the storage directory the server really uses.
    Case {
        name: "storage-label-upper-case",
        server: "bao",
        files: &[(
            "c.hcl",
            concat!(
                plain_listener!("tcp", ""),
                "storage \"Raft\" {\n  path = \"{dir}/open\"\n}\ncluster_addr = \"http://127.0.0.1:{c0}\"\n"
            ),
        )],
        args: CONFIG,
        env: &[],
        dirs: OPEN_AND_GOOD,
        expect: &[("storage", "WARN")],
    },
    Case {
        name: "storage-label-upper-case-json",
        server: "bao",
        files: &[(
            "c.json",
            r#"{"storage": {"RAFT": {"path": "{dir}/open"}}, "listener": {"tcp": {"address": "127.0.0.1:{p1}", "cluster_address": "127.0.0.1:{c1}", "tls_disable": 1}}, "cluster_addr": "http://127.0.0.1:{c0}", "api_addr": "http://127.0.0.1:{p1}"}"#,
        )],
        args: &["-config={dir}/c.json"],
        env: &[],
        dirs: OPEN_AND_GOOD,
        expect: &[("storage", "WARN")],
    },
    Case {
        name: "storage-as-backend",
        server: "bao",
        files: &[(
            "c.hcl",
            concat!(
                plain_listener!("tcp", ""),
                "backend \"raft\" {\n  path = \"{dir}/open\"\n}\ncluster_addr = \"http://127.0.0.1:{c0}\"\n"
            ),
        )],
        args: CONFIG,
        env: &[],
        dirs: OPEN_AND_GOOD,
        expect: &[("storage", "WARN")],
    },
    Case {
        name: "raft-path-from-bao-raft-path",
        server: "bao",
        files: &[(
            "c.hcl",
            concat!(
                plain_listener!("tcp", ""),
                "storage \"raft\" {\n  path = \"{dir}/good\"\n}\ncluster_addr = \"http://127.0.0.1:{c0}\"\n"
            ),
        )],
        args: CONFIG,
        env: &[("BAO_RAFT_PATH", "{dir}/open")],
        dirs: OPEN_AND_GOOD,
        expect: &[("storage", "WARN")],
    },
    // OpenBao copied (not linked) under Vault's name is judged as Vault, which never reads
    // BAO_RAFT_PATH: raft wrote in the open directory while the check said PASS.
    Case {
        name: "raft-path-from-bao-raft-path-of-a-copy-named-vault",
        server: "vault",
        files: &[(
            "c.hcl",
            concat!(
                plain_listener!("tcp", ""),
                "storage \"raft\" {\n  path = \"{dir}/good\"\n}\ncluster_addr = \"http://127.0.0.1:{c0}\"\n"
            ),
        )],
        args: CONFIG,
        env: &[("BAO_RAFT_PATH", "{dir}/open")],
        dirs: OPEN_AND_GOOD,
        expect: &[("storage", "WARN")],
    },
    Case {
        name: "raft-path-from-vault-raft-path",
        server: "bao",
        files: &[(
            "c.hcl",
            concat!(
                plain_listener!("tcp", ""),
                "storage \"raft\" {\n  path = \"{dir}/good\"\n}\ncluster_addr = \"http://127.0.0.1:{c0}\"\n"
            ),
        )],
        args: CONFIG,
        env: &[("VAULT_RAFT_PATH", "{dir}/open")],
        dirs: OPEN_AND_GOOD,
        expect: &[("storage", "WARN")],
    },
    Case {
        name: "raft-path-in-a-directory-every-user-can-write",
        server: "bao",
        files: &[(
            "c.hcl",
            concat!(
                plain_listener!("tcp", ""),
                "storage \"raft\" {\n  path = \"{dir}/open/data\"\n}\ncluster_addr = \"http://127.0.0.1:{c0}\"\n"
            ),
        )],
        args: CONFIG,
        env: &[],
        dirs: &[("open", 0o777, false), ("open/data", 0o700, true)],
        expect: &[("storage", "WARN")],
    },
    // Raft makes a missing path itself (0700, the server's): not a warning where it will be the
    // server's alone.
    Case {
        name: "raft-path-the-server-creates",
        server: "bao",
        files: &[(
            "c.hcl",
            concat!(
                plain_listener!("tcp", ""),
                "storage \"raft\" {\n  path = \"{dir}/data/new/raft\"\n}\ncluster_addr = \"http://127.0.0.1:{c0}\"\n"
            ),
        )],
        args: CONFIG,
        env: &[],
        dirs: DATA,
        expect: &[("storage", "PASS")],
    },
    Case {
        name: "raft-path-of-the-last-file",
        server: "bao",
        files: &[
            (
                "a.hcl",
                concat!(
                    plain_listener!("tcp", ""),
                    "storage \"raft\" {\n  path = \"{dir}/good\"\n}\ncluster_addr = \"http://127.0.0.1:{c0}\"\n"
                ),
            ),
            ("b.hcl", "storage \"raft\" {\n  path = \"{dir}/open\"\n}\n"),
        ],
        args: &["-config={dir}/a.hcl", "-config={dir}/b.hcl"],
        env: &[],
        dirs: OPEN_AND_GOOD,
        expect: &[("storage", "WARN")],
    },
    Case {
        name: "raft-as-the-ha-storage",
        server: "bao",
        files: &[(
            "c.hcl",
            concat!(
                plain_listener!("tcp", ""),
                "storage \"inmem\" {}\nha_storage \"raft\" {\n  path = \"{dir}/open\"\n}\ncluster_addr = \"http://127.0.0.1:{c0}\"\napi_addr = \"http://127.0.0.1:{p1}\"\n"
            ),
        )],
        args: CONFIG,
        env: &[],
        dirs: OPEN_AND_GOOD,
        expect: &[("storage", "WARN")],
    },
    // Item 7: seals, kms stanzas included; references are not secrets.
    Case {
        name: "kms-transit-token-in-clear-text",
        server: "bao",
        files: &[("c.hcl", "{tls}{raft}kms \"transit\" {\n{transit}  token = \"s.clear-text-token\"\n}\n")],
        args: CONFIG,
        env: &[],
        dirs: DATA,
        expect: &[("seal-credentials", "WARN")],
    },
    Case {
        name: "seal-transit-token-label-case",
        server: "bao",
        files: &[("c.hcl", "{tls}{raft}seal \"Transit\" {\n{transit}  token = \"s.another-clear-token\"\n}\n")],
        args: CONFIG,
        env: &[],
        dirs: DATA,
        expect: &[("seal-credentials", "WARN")],
    },
    Case {
        name: "seal-transit-token-from-env-reference",
        server: "bao",
        files: &[("c.hcl", "{tls}{raft}seal \"transit\" {\n{transit}  token = \"env://MYTOK\"\n}\n")],
        args: CONFIG,
        env: &[("MYTOK", "e5b1c9-from-env")],
        dirs: DATA,
        expect: &[("seal-credentials", "PASS")],
    },
    Case {
        name: "seal-transit-token-from-file-reference",
        server: "bao",
        files: &[
            ("c.hcl", "{tls}{raft}seal \"transit\" {\n{transit}  token = \"file://{dir}/token\"\n}\n"),
            ("token", "f3a7d2-from-file"),
        ],
        args: CONFIG,
        env: &[],
        dirs: DATA,
        expect: &[("seal-credentials", "PASS")],
    },
    Case {
        name: "transit-seal-skips-verification-by-its-environment",
        server: "bao",
        files: &[("c.hcl", "{tls}{raft}seal \"transit\" {\n{transit_tls}}\n")],
        args: CONFIG,
        env: &[("VAULT_SKIP_VERIFY", "true")],
        dirs: DATA,
        expect: &[("tls-verify", "WARN")],
    },
    Case {
        name: "transit-seal-label-lower-cased-as-go-does",
        server: "bao",
        files: &[("c.hcl", "{tls}{raft}seal \"TRANS\u{130}T\" {\n{transit_tls}}\n")],
        args: CONFIG,
        env: &[("VAULT_SKIP_VERIFY", "true")],
        dirs: DATA,
        expect: &[("tls-verify", "WARN")],
    },
    Case {
        name: "transit-seal-from-the-environment-alone",
        server: "bao",
        files: &[("c.hcl", "{tls}{raft}")],
        args: CONFIG,
        env: SEAL_FROM_THE_ENVIRONMENT,
        dirs: DATA,
        expect: &[("tls-verify", "WARN")],
    },
    Case {
        name: "transit-seal-with-a-server-name-of-its-own-still-skips-verification",
        server: "bao",
        files: &[("c.hcl", "{tls}{raft}seal \"transit\" {\n{transit_tls}  tls_server_name = \"localhost\"\n}\n")],
        args: CONFIG,
        env: &[("VAULT_SKIP_VERIFY", "true")],
        dirs: DATA,
        expect: &[("tls-verify", "WARN")],
    },
    Case {
        name: "transit-seal-verifies-by-default",
        server: "bao",
        files: &[("c.hcl", "{tls}{raft}seal \"transit\" {\n{transit_tls}}\n")],
        args: CONFIG,
        env: &[],
        dirs: DATA,
        expect: &[("tls-verify", "PASS")],
    },
    Case {
        name: "seal-transit-token-from-its-variable",
        server: "bao",
        files: &[("c.hcl", "{tls}{raft}seal \"transit\" {\n{transit}}\n")],
        args: CONFIG,
        env: &[("VAULT_TRANSIT_SEAL_TOKEN", "a9c4e8-from-variable")],
        dirs: DATA,
        expect: &[("seal-credentials", "PASS")],
    },
    // OpenBao copied (not linked) under Vault's name reads the BAO_X variables Vault never reads:
    // each of them judged for it too.
    Case {
        name: "transit-seal-skips-verification-by-bao-skip-verify-of-a-copy-named-vault",
        server: "vault",
        files: &[("c.hcl", "{tls}{raft}seal \"transit\" {\n{transit_tls}}\n")],
        args: CONFIG,
        env: &[("BAO_SKIP_VERIFY", "true")],
        dirs: DATA,
        expect: &[("tls-verify", "WARN")],
    },
    Case {
        name: "transit-seal-from-bao-seal-type-of-a-copy-named-vault",
        server: "vault",
        files: &[("c.hcl", "{tls}{raft}")],
        args: CONFIG,
        env: SEAL_FROM_THE_ENVIRONMENT,
        dirs: DATA,
        expect: &[("tls-verify", "WARN")],
    },
    // pkcs11's `token` is a label; BAO_SEAL_TYPE makes the stanza a transit seal, whose token
    // is the secret it sends.
    Case {
        name: "seal-type-from-bao-seal-type-of-a-copy-named-vault",
        server: "vault",
        files: &[("c.hcl", "{tls}{raft}seal \"pkcs11\" {\n{transit}  token = \"s.clear-under-a-pkcs11-label\"\n}\n")],
        args: CONFIG,
        env: &[("BAO_SEAL_TYPE", "transit")],
        dirs: DATA,
        expect: &[("seal-credentials", "WARN")],
    },
    // The configuration BAO_CONFIG_PATH adds (a listener in clear text) is read by such a copy
    // alone: hardinit cannot tell which server it is, and refuses.
    Case {
        name: "configuration-from-bao-config-path-of-a-copy-named-vault",
        server: "vault",
        files: &[
            ("c.hcl", "{tls}{raft}"),
            (
                "p.hcl",
                "listener \"tcp\" {\n  address = \"127.0.0.1:{p2}\"\n  cluster_address = \"127.0.0.1:{c2}\"\n  tls_disable = 1\n}\n",
            ),
        ],
        args: CONFIG,
        env: &[("BAO_CONFIG_PATH", "{dir}/p.hcl")],
        dirs: DATA,
        expect: &[("root-token", "FAIL"), ("tls", "FAIL")],
    },
    // Raft joins its files to the path with Go's filepath.Join, which cleans `lnk/..` away
    // lexically: the kernel would follow lnk first.
    Case {
        name: "raft-path-cleaned-lexically-into-an-open-directory",
        server: "bao",
        files: &[(
            "c.hcl",
            concat!(
                plain_listener!("tcp", ""),
                "storage \"raft\" {\n  path = \"{dir}/lnk/../open\"\n}\ncluster_addr = \"http://127.0.0.1:{c0}\"\n"
            ),
        )],
        args: CONFIG,
        env: &[],
        dirs: &[("deep", 0o755, false), ("deep/sub", 0o755, false), ("deep/open", 0o700, true), ("open", 0o777, false)],
        expect: &[("storage", "WARN")],
    },
    Case {
        name: "raft-path-cleaned-lexically-into-the-servers-directory",
        server: "bao",
        files: &[(
            "c.hcl",
            concat!(
                plain_listener!("tcp", ""),
                "storage \"raft\" {\n  path = \"{dir}/lnk/../good\"\n}\ncluster_addr = \"http://127.0.0.1:{c0}\"\n"
            ),
        )],
        args: CONFIG,
        env: &[],
        dirs: &[("deep", 0o755, false), ("deep/sub", 0o755, false), ("deep/good", 0o777, false), ("good", 0o700, true)],
        expect: &[("storage", "PASS")],
    },
    // OpenBao 2.x enables the audit devices the configuration declares.
    Case {
        name: "audit-device-of-the-configuration-in-an-open-directory",
        server: "bao",
        files: &[(
            "c.hcl",
            "{tls}{raft}audit \"file\" \"file-audit/\" {\n  options {\n    file_path = \"{dir}/open/audit.log\"\n  }\n}\n",
        )],
        args: CONFIG,
        env: &[],
        dirs: OPEN_AND_GOOD,
        expect: &[("audit", "WARN")],
    },
    Case {
        name: "audit-device-of-the-configuration-in-the-servers-directory",
        server: "bao",
        files: &[(
            "c.hcl",
            "{tls}{raft}audit \"file\" \"file-audit/\" {\n  options {\n    file_path = \"{dir}/good/audit.log\"\n  }\n}\n",
        )],
        args: CONFIG,
        env: &[],
        dirs: OPEN_AND_GOOD,
        expect: &[("audit", "PASS")],
    },
    // What the server refuses to start with is a FAIL, never a PASS.
    Case {
        name: "refused-tls-min-version-upper-case",
        server: "bao",
        files: &[(
            "c.hcl",
            "listener \"tcp\" {\n  address = \"127.0.0.1:{p1}\"\n  cluster_address = \"127.0.0.1:{c1}\"\n  tls_cert_file = \"{dir}/cert.pem\"\n  tls_key_file = \"{dir}/key.pem\"\n  tls_min_version = \"TLS10\"\n}\n{raft}",
        )],
        args: CONFIG,
        env: &[],
        dirs: DATA,
        expect: &[("tls", "FAIL")],
    },
    Case {
        name: "refused-tls-min-version-heredoc",
        server: "bao",
        files: &[(
            "c.hcl",
            "listener \"tcp\" {\n  address = \"127.0.0.1:{p1}\"\n  cluster_address = \"127.0.0.1:{c1}\"\n  tls_cert_file = \"{dir}/cert.pem\"\n  tls_key_file = \"{dir}/key.pem\"\n  tls_min_version = <<EOT\ntls10\nEOT\n}\n{raft}",
        )],
        args: CONFIG,
        env: &[],
        dirs: DATA,
        expect: &[("tls", "FAIL")],
    },
    Case {
        name: "refused-third-hsm-stanza",
        server: "bao",
        files: &[(
            "c.hcl",
            "{tls}{raft}hsm \"pkcs11\" {\n  disabled = \"true\"\n}\nhsm \"pkcs11\" {\n  disabled = \"true\"\n}\nhsm \"pkcs11\" {\n  disabled = \"true\"\n}\n",
        )],
        args: CONFIG,
        env: &[],
        dirs: DATA,
        expect: &[("tls", "FAIL"), ("seal-credentials", "FAIL")],
    },
    Case {
        name: "refused-disable-mlock-false",
        server: "bao",
        files: &[("c.hcl", "{tls}{raft}disable_mlock = false\n")],
        args: CONFIG,
        env: &[],
        dirs: DATA,
        expect: &[("tls", "FAIL"), ("storage", "FAIL")],
    },
    Case {
        name: "refused-file-storage",
        server: "bao",
        files: &[("c.hcl", "{tls}storage \"file\" {\n  path = \"{dir}/data\"\n}\n")],
        args: CONFIG,
        env: &[],
        dirs: DATA,
        expect: &[("tls", "FAIL"), ("storage", "FAIL")],
    },
    // A plugin directory anyone but root can write runs their code as the server.
    Case {
        name: "plugin-directory-the-servers-user-can-write",
        server: "bao",
        files: &[("c.hcl", "{tls}{raft}plugin_directory = \"{dir}/good\"\n")],
        args: CONFIG,
        env: &[],
        dirs: OPEN_AND_GOOD,
        expect: &[("plugin-directory", "WARN")],
    },
    Case {
        name: "plugin-directory-of-root-alone",
        server: "bao",
        files: &[("c.hcl", "{tls}{raft}plugin_directory = \"{dir}/plugins\"\n")],
        args: CONFIG,
        env: &[],
        dirs: &[("plugins", 0o755, false), ("data", 0o700, true)],
        expect: &[("plugin-directory", "PASS")],
    },
    // A listener's labelled telemetry block is a nested object the server ignores;
    // disallow_metrics refuses sys/metrics, token or not. Observed unsealed.
    Case {
        name: "metrics-opened-by-a-labelled-telemetry-block-are-not",
        server: "bao",
        files: &[(
            "c.hcl",
            concat!(
                plain_listener!("tcp", "  telemetry \"x\" {\n    unauthenticated_metrics_access = true\n  }\n"),
                "{raft}"
            ),
        )],
        args: CONFIG,
        env: &[],
        dirs: DATA,
        expect: &[("metrics", "PASS")],
    },
    Case {
        name: "metrics-opened-and-disallowed",
        server: "bao",
        files: &[(
            "c.hcl",
            concat!(
                plain_listener!(
                    "tcp",
                    "  telemetry {\n    unauthenticated_metrics_access = true\n    disallow_metrics = true\n  }\n"
                ),
                "{raft}"
            ),
        )],
        args: CONFIG,
        env: &[],
        dirs: DATA,
        expect: &[("metrics", "PASS")],
    },
    Case {
        name: "metrics-opened",
        server: "bao",
        files: &[(
            "c.hcl",
            concat!(
                plain_listener!("tcp", "  telemetry {\n    unauthenticated_metrics_access = true\n  }\n"),
                "{raft}"
            ),
        )],
        args: CONFIG,
        env: &[],
        dirs: DATA,
        expect: &[("metrics", "WARN")],
    },
    // Three test-cluster nodes serve TLS on P, P+1 and P+2; the second and third serve metrics
    // and profiles without a token.
    Case {
        name: "dev-three-node",
        server: "bao",
        files: &[],
        args: &["-dev-three-node", "-dev-listen-address=127.0.0.1:{p1}"],
        env: &[],
        dirs: &[],
        expect: &[("tls", "PASS"), ("metrics", "WARN"), ("root-token", "WARN")],
    },
    Case {
        name: "dev-skip-init",
        server: "bao",
        files: &[],
        args: &["-dev", "-dev-skip-init", "-dev-listen-address=127.0.0.1:{p1}"],
        env: &[],
        dirs: &[],
        expect: &[("tls", "WARN"), ("root-token", "WARN")],
    },
    // An empty address is no address: the dev listener binds 127.0.0.1:8200.
    Case {
        name: "dev-listen-address-empty",
        server: "bao",
        files: &[],
        args: &["-dev", "-dev-listen-address="],
        env: &[("BAO_DEV_LISTEN_ADDRESS", "127.0.0.1:{p2}")],
        dirs: &[],
        expect: &[("tls", "WARN"), ("root-token", "WARN")],
    },
];

/// What a check's summary must say (and must not) for a case, beside its verdict: the place
/// the server really serves, what it really does.
const SUMMARIES: &[(&str, &str, &str, &str)] = &[
    ("dev-three-node", "metrics", "127.0.0.1:{p2} and 127.0.0.1:{p3}", "127.0.0.1:{p1} "),
    ("dev-skip-init", "root-token", "-dev-skip-init", "printed at start"),
    ("dev-listen-address-empty", "tls", "dev mode serves 127.0.0.1:8200 ", "serves  ("),
];

/// Links made before the start, by case: the link's name in the case's folder and its target.
const LINKS: &[(&str, &str, &str)] = &[
    ("raft-path-cleaned-lexically-into-an-open-directory", "lnk", "{dir}/deep/sub"),
    ("raft-path-cleaned-lexically-into-the-servers-directory", "lnk", "{dir}/deep/sub"),
];

/// A case made concrete: its folder, ports and texts.
struct Prepared {
    dir: Scratch,
    ports: BTreeMap<&'static str, u16>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// The configuration files' texts as written, to look for a secret the server used.
    texts: Vec<String>,
    /// The server binary, as the case names it.
    server: PathBuf,
}

impl Prepared {
    fn fill(&self, text: &str) -> String {
        let text = text
            .replace("{tls}", TLS_LISTENER)
            .replace("{raft}", RAFT)
            .replace("{transit}", TRANSIT)
            .replace("{transit_tls}", TRANSIT_TLS);
        self.fill_value(&text)
    }

    /// `{dir}` and the ports only: in a variable, `{transit_tls}` is the TLS stand-in's port.
    fn fill_value(&self, text: &str) -> String {
        let mut text = text.replace("{dir}", self.dir.0.to_str().unwrap());
        for (name, port) in &self.ports {
            text = text.replace(&format!("{{{name}}}"), &port.to_string());
        }
        text
    }

    fn new(case: &Case) -> Prepared {
        let scratch = Scratch::new(&format!("bao-{}", case.name));
        let ports = ["p1", "p2", "p3", "c0", "c1", "c2", "transit", "transit_tls"]
            .into_iter()
            .map(|n| (n, free_port()))
            .collect();
        let server = if case.server == "bao" { bao() } else { scratch.path(&format!("bin/{}", case.server)) };
        let mut prepared =
            Prepared { dir: scratch, ports, args: Vec::new(), env: Vec::new(), texts: Vec::new(), server };
        if case.name == "dev-three-node" {
            // The nodes take P, P+1 and P+2.
            let first = loop {
                let (first, _) = free_port_pair();
                if TcpListener::bind(("127.0.0.1", first + 2)).is_ok() {
                    break first;
                }
            };
            prepared.ports.extend([("p1", first), ("p2", first + 1), ("p3", first + 2)]);
        }
        if case.name == "dev-listen-address-empty" {
            prepared.ports.insert("p1", 8200);
        }
        let dir = prepared.dir.0.clone();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        if case.server != "bao" {
            std::fs::create_dir(dir.join("bin")).unwrap();
            install(&bao(), &prepared.server, 0o755);
        }
        self_signed(&dir.join("cert.pem"), &dir.join("key.pem"), "localhost", "IP:127.0.0.1");
        for (name, mode, server_owns) in case.dirs.iter().chain(&[("home", 0o700, true)]) {
            let path = dir.join(name);
            std::fs::create_dir(&path).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(*mode)).unwrap();
            if *server_owns {
                std::os::unix::fs::chown(&path, Some(SERVER_UID), Some(SERVER_UID)).unwrap();
            }
        }
        for (_, link, target) in LINKS.iter().filter(|(name, _, _)| *name == case.name) {
            std::os::unix::fs::symlink(prepared.fill(target), dir.join(link)).unwrap();
        }
        for (name, text) in case.files {
            let text = prepared.fill(text);
            std::fs::write(dir.join(name), &text).unwrap();
            if name.ends_with(".hcl") || name.ends_with(".json") {
                prepared.texts.push(text);
            }
        }
        prepared.args = case.args.iter().map(|a| prepared.fill(a)).collect();
        prepared.env = case.env.iter().map(|(k, v)| (k.to_string(), prepared.fill_value(v))).collect();
        prepared
    }

    fn port(&self, name: &str) -> u16 {
        self.ports[name]
    }
}

/// What `hardinit --strict check --json -- bao server ...` says, check by check.
fn verdicts(prepared: &Prepared) -> BTreeMap<String, (String, String)> {
    let out = command(hardinit())
        .args(["--strict", "check", "--json", "--"])
        .arg(&prepared.server)
        .arg("server")
        .args(&prepared.args)
        .envs(prepared.env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("check --json: {e}: {}", String::from_utf8_lossy(&out.stdout)));
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let text = |field: &str| c[field].as_str().unwrap_or_default().to_string();
            (text("id"), (text("status"), text("summary")))
        })
        .collect()
}

/// A stand-in transit server: it records the token of every request and refuses it (403), so
/// that the server's seal, configured, stops the start at once.
struct TransitStandIn {
    tokens: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TransitStandIn {
    fn start(port: u16) -> TransitStandIn {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let tokens = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, stopped) = (tokens.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                stream.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let request = String::from_utf8_lossy(&request).into_owned();
                for line in request.lines() {
                    if let Some((name, value)) = line.split_once(':') {
                        if name.eq_ignore_ascii_case("x-vault-token") {
                            seen.lock().unwrap().push(value.trim().to_string());
                        }
                    }
                }
                let body = "{\"errors\":[\"permission denied\"]}";
                let _ = write!(
                    stream,
                    "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        TransitStandIn { tokens, stop, thread: Some(thread) }
    }

    fn tokens(&self) -> Vec<String> {
        self.tokens.lock().unwrap().clone()
    }
}

impl Drop for TransitStandIn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The stand-in transit server over TLS (Python's ssl: the suite has no TLS library), with the
/// case's self-signed certificate, started only for a case that names it.
struct TlsStandIn {
    child: Option<std::process::Child>,
    tokens: PathBuf,
}

const TLS_STANDIN: &str = r#"
import http.server, ssl, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self):
        with open(sys.argv[4], "a") as seen:
            seen.write((self.headers.get("X-Vault-Token") or "") + "\n")
        self.send_response(403)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
    do_GET = do_PUT = do_POST = answer
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[2], sys.argv[3])
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"#;

impl TlsStandIn {
    fn start(prepared: &Prepared) -> TlsStandIn {
        let tokens = prepared.dir.path("tls-standin.tokens");
        let named = |t: &String| t.contains("https://127.0.0.1:");
        if !prepared.texts.iter().any(named) && !prepared.env.iter().any(|(_, v)| named(v)) {
            return TlsStandIn { child: None, tokens };
        }
        let port = prepared.port("transit_tls");
        let child = Command::new(PYTHON)
            .args(["-c", TLS_STANDIN, &port.to_string()])
            .arg(prepared.dir.path("cert.pem"))
            .arg(prepared.dir.path("key.pem"))
            .arg(&tokens)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let up = wait_until(Duration::from_secs(10), || TcpStream::connect(("127.0.0.1", port)).ok());
        assert!(up.is_some(), "the TLS stand-in did not listen");
        TlsStandIn { child: Some(child), tokens }
    }

    fn tokens(&self) -> Vec<String> {
        std::fs::read_to_string(&self.tokens).unwrap_or_default().lines().map(str::to_string).collect()
    }
}

impl Drop for TlsStandIn {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// How a port answers a plain HTTP request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    ClearText,
    Tls,
    Closed,
    Other,
}

fn probe(port: u16) -> Answer {
    let Ok(mut stream) = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2)) else {
        return Answer::Closed;
    };
    stream.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let _ = stream.write_all(b"GET /v1/sys/health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    let mut answer = Vec::new();
    let _ = stream.take(4096).read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    if answer.contains("Client sent an HTTP request to an HTTPS server") {
        Answer::Tls
    } else if answer.starts_with("HTTP/1.") {
        Answer::ClearText
    } else {
        Answer::Other
    }
}

/// What the real server did with the case.
#[derive(Debug)]
struct Observed {
    started: bool,
    /// Each listener port's answer.
    answers: Vec<(u16, Answer)>,
    /// The case's directories where raft wrote its database.
    storage: Vec<PathBuf>,
    root_token: bool,
    /// The tokens the transit seal sent.
    seal_tokens: Vec<String>,
    /// The tokens it sent over TLS to a server whose certificate it had no CA for.
    unverified_tokens: Vec<String>,
    /// The listener ports that served their metrics, profiles or in-flight requests to a request
    /// without a token.
    open_metrics: Vec<u16>,
    /// The listener ports that serve sys/raw.
    raw_endpoint: Vec<u16>,
    /// The audit logs the server wrote, of the case's directories.
    audit_logs: Vec<PathBuf>,
    log: String,
}

/// The HTTP status `port` answers a request for `path` with (curl: the suite has no TLS
/// library), over TLS when it speaks TLS, with `token` when given.
fn status_of(port: u16, answer: Answer, path: &str, token: Option<&str>) -> String {
    let scheme = if answer == Answer::Tls { "https" } else { "http" };
    let mut curl = Command::new("curl");
    curl.args(["-sk", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}"]);
    if let Some(token) = token {
        curl.args(["-H", &format!("X-Vault-Token: {token}")]);
    }
    let out = curl.arg(format!("{scheme}://127.0.0.1:{port}{path}")).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether what the case is about shows only on an unsealed server: a declared audit device, a
/// listener's telemetry.
fn needs_unseal(prepared: &Prepared) -> bool {
    !prepared.args.iter().any(|a| a.starts_with("-dev"))
        && prepared.texts.iter().any(|t| t.contains("audit \"") || t.contains("telemetry"))
}

/// `PUT path` with a JSON body, the answer's JSON (curl: the suite has no TLS library).
fn put(port: u16, answer: Answer, path: &str, body: &str) -> Value {
    let scheme = if answer == Answer::Tls { "https" } else { "http" };
    let out = Command::new("curl")
        .args(["-sk", "--max-time", "20", "-X", "PUT", "-d", body])
        .arg(format!("{scheme}://127.0.0.1:{port}{path}"))
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn initialise_and_unseal(port: u16, answer: Answer) {
    let init = put(port, answer, "/v1/sys/init", r#"{"secret_shares": 1, "secret_threshold": 1}"#);
    let Some(key) = init["keys_base64"][0].as_str() else { return };
    put(port, answer, "/v1/sys/unseal", &format!(r#"{{"key": "{key}"}}"#));
    wait_until(Duration::from_secs(15), || (status_of(port, answer, "/v1/sys/health", None) == "200").then_some(()));
}

/// Whether `port` serves sys/raw: it lists storage to the dev root token, or (recovery mode, no
/// token to be had) it asks for a token there while the rest of the API is gone.
fn serves_sys_raw(port: u16, answer: Answer, root_token: Option<&str>) -> bool {
    match root_token {
        Some(token) => status_of(port, answer, "/v1/sys/raw/core?list=true", Some(token)) == "200",
        None => {
            status_of(port, answer, "/v1/sys/raw/core", None) == "403"
                && status_of(port, answer, "/v1/sys/health", None) == "404"
        }
    }
}

fn run_bao(prepared: &Prepared) -> Observed {
    let dir = &prepared.dir.0;
    let standin = TransitStandIn::start(prepared.port("transit"));
    let tls_standin = TlsStandIn::start(prepared);
    let log_path = dir.join("bao.log");
    let log = std::fs::File::create(&log_path).unwrap();
    // As the server's user, in a PID namespace of its own that dies with it.
    let mut child = Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child", "setpriv"])
        .args([format!("--reuid={SERVER_UID}"), format!("--regid={SERVER_UID}"), "--clear-groups".into(), "--".into()])
        .arg(&prepared.server)
        .arg("server")
        .args(&prepared.args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", dir.join("home"))
        .envs(prepared.env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut started = false;
    while Instant::now() < deadline {
        if std::fs::read_to_string(&log_path).unwrap_or_default().contains("==> OpenBao server started!") {
            started = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Dev mode prints its root token once it has started.
    if started && prepared.args.iter().any(|a| a.starts_with("-dev")) {
        wait_until(Duration::from_secs(5), || {
            std::fs::read_to_string(&log_path).unwrap_or_default().contains("Root Token:").then_some(())
        });
    }
    let answers: Vec<(u16, Answer)> = if started {
        ["p1", "p2", "p3"].iter().map(|p| (prepared.port(p), probe(prepared.port(p)))).collect()
    } else {
        Vec::new()
    };
    let answering = || answers.iter().filter(|(_, answer)| matches!(answer, Answer::ClearText | Answer::Tls));
    // What the server does only once unsealed (the audit devices of its configuration, the
    // metrics of a listener): initialised with one key share and unsealed, then observed.
    if started && needs_unseal(prepared) {
        if let Some((port, answer)) = answering().next() {
            initialise_and_unseal(*port, *answer);
        }
    }
    // Metrics, profiles or in-flight requests served without a token.
    let opened = |port: u16, answer: Answer| {
        // Prometheus's format needs a retention time configured (400 without): JSON's too.
        ["/v1/sys/metrics?format=prometheus", "/v1/sys/metrics", "/v1/sys/pprof/cmdline", "/v1/sys/in-flight-req"]
            .iter()
            .any(|path| status_of(port, answer, path, None) == "200")
    };
    let open_metrics = answering().filter(|(port, answer)| opened(*port, *answer)).map(|(port, _)| *port).collect();
    let printed = std::fs::read_to_string(&log_path).unwrap_or_default();
    let root_token = printed.lines().find_map(|l| l.trim().strip_prefix("Root Token: ")).map(str::trim);
    let raw_endpoint = answering()
        .filter(|(port, answer)| serves_sys_raw(*port, *answer, root_token))
        .map(|(port, _)| *port)
        .collect();
    // The namespace's init is bao itself (setpriv's change of user cleared unshare's
    // --kill-child): killing it ends the namespace.
    if let Some(init) = children_of(child.id() as i32).first() {
        let _ = Command::new("kill").args(["-KILL", &init.to_string()]).status();
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let audit_logs = ["open", "good", "deep/open", "data"]
        .iter()
        .map(|d| dir.join(d).join("audit.log"))
        .filter(|log| log.exists())
        .collect();
    let storage = ["data", "good", "open", "open/data", "data/new/raft", "deep/open", "deep/good"]
        .iter()
        .map(|d| dir.join(d))
        .filter(|d| d.join("vault.db").exists() || d.join("raft").exists())
        .collect();
    Observed {
        started,
        answers,
        storage,
        root_token: log.contains("Root Token:"),
        seal_tokens: standin.tokens(),
        unverified_tokens: tls_standin.tokens(),
        open_metrics,
        raw_endpoint,
        audit_logs,
        log,
    }
}

/// A directory only the server's user can use: its own, closed to others, in directories no
/// other user can move it out of (none writable by every user without the sticky bit).
fn servers_alone(dir: &Path) -> bool {
    let replaceable = dir
        .ancestors()
        .skip(1)
        .any(|up| std::fs::metadata(up).is_ok_and(|m| m.mode() & 0o002 != 0 && m.mode() & libc::S_ISVTX == 0));
    !replaceable && std::fs::metadata(dir).is_ok_and(|m| m.uid() == SERVER_UID && m.mode() & 0o077 == 0)
}

/// The server's behaviour against the verdicts: every contradicted PASS, every missed verdict.
fn disagreements(
    case: &Case,
    prepared: &Prepared,
    said: &BTreeMap<String, (String, String)>,
    seen: &Observed,
) -> Vec<String> {
    let mut out = Vec::new();
    let status = |id: &str| said.get(id).map_or("absent", |(s, _)| s.as_str());
    let passes = |id: &str| status(id) == "PASS";
    let clear: Vec<u16> = seen.answers.iter().filter(|(_, a)| *a == Answer::ClearText).map(|(p, _)| *p).collect();
    if passes("tls") && !clear.is_empty() {
        out.push(format!("PASS tls, but the server answers in clear text on 127.0.0.1:{clear:?}"));
    }
    for used in seen.storage.iter().filter(|d| !servers_alone(d)) {
        if passes("storage") {
            out.push(format!("PASS storage, but the server keeps its data in {} (not its alone)", used.display()));
        }
    }
    if passes("tls-verify") && !seen.unverified_tokens.is_empty() {
        out.push("PASS tls-verify, but the seal talked to a TLS server it could not have verified".into());
    }
    if passes("metrics") && !seen.open_metrics.is_empty() {
        out.push(format!(
            "PASS metrics, but 127.0.0.1:{:?} served metrics, profiles or in-flight requests without a token",
            seen.open_metrics
        ));
    }
    for written in seen.audit_logs.iter().filter(|log| !log.parent().is_some_and(servers_alone)) {
        if passes("audit") {
            out.push(format!("PASS audit, but the server writes its audit log {} (not its alone)", written.display()));
        }
    }
    if !seen.started && status_of_refusal(&seen.log) {
        for (id, (verdict, _)) in said {
            if verdict == "PASS" && CONFIGURATION_CHECKS.contains(&id.as_str()) {
                out.push(format!("PASS {id}, but the server refused the configuration"));
            }
        }
    }
    if passes("raw-storage") && !seen.raw_endpoint.is_empty() {
        out.push(format!("PASS raw-storage, but 127.0.0.1:{:?} serves sys/raw", seen.raw_endpoint));
    }
    if passes("root-token") && seen.root_token {
        out.push("PASS root-token, but the server printed a root token".into());
    }
    for token in seen.seal_tokens.iter().filter(|t| !t.is_empty()) {
        if passes("seal-credentials") && prepared.texts.iter().any(|t| t.contains(token.as_str())) {
            out.push(format!("PASS seal-credentials, but the seal sent {token:?}, written in the configuration"));
        }
    }
    for (_, id, says, never) in SUMMARIES.iter().filter(|(name, ..)| *name == case.name) {
        let summary = said.get(*id).map_or("", |(_, s)| s.as_str());
        let (says, never) = (prepared.fill_value(says), prepared.fill_value(never));
        if !summary.contains(&says) || summary.contains(&never) {
            out.push(format!("{id} says {summary:?}, where it should say {says:?} and not {never:?}"));
        }
    }
    for (id, want) in case.expect {
        if status(id) != *want {
            out.push(format!("{id}: {} where {want} is due ({})", status(id), said.get(*id).map_or("", |(_, s)| s)));
        }
    }
    out
}

/// The checks that read the configuration: none of them passes one the server refuses.
const CONFIGURATION_CHECKS: &[&str] =
    &["tls", "tls-verify", "seal-credentials", "raw-storage", "metrics", "storage", "audit", "plugin-directory"];

/// Whether the server's log says it refused its configuration (or a listener, or its storage).
fn status_of_refusal(log: &str) -> bool {
    ["error loading configuration", "Error initializing listener", "unknown storage type", "Error parsing listener"]
        .iter()
        .any(|said| log.contains(said))
}

/// What each case's server is expected to have shown, so that a case that no longer exercises
/// what it is about (the server failed early, say) fails rather than agrees vacuously.
fn evidence_missing(case: &Case, seen: &Observed) -> Option<String> {
    let wanted = |id: &str| case.expect.iter().any(|(i, _)| *i == id);
    let name = case.name;
    if name.starts_with("unknown") || name.starts_with("vault-only") {
        return (seen.started || !seen.log.contains("flag provided but not defined"))
            .then(|| "the server should refuse the flag".to_string());
    }
    if name.starts_with("refused") {
        return (seen.started || !status_of_refusal(&seen.log))
            .then(|| "the server should refuse the configuration".to_string());
    }
    if wanted("audit") {
        return seen.audit_logs.is_empty().then(|| "the server wrote no audit log".to_string());
    }
    if wanted("tls-verify") {
        let talked = !seen.unverified_tokens.is_empty();
        return match case.expect.contains(&("tls-verify", "WARN")) {
            true => (!talked).then(|| "the seal did not skip verification".to_string()),
            false => {
                (talked || !seen.log.contains("certificate")).then(|| "the seal did not refuse the certificate".into())
            }
        };
    }
    if wanted("seal-credentials") {
        return seen.seal_tokens.is_empty().then(|| "the transit seal sent no request".to_string());
    }
    if wanted("storage") {
        return seen.storage.is_empty().then(|| "raft wrote nowhere".to_string());
    }
    if !seen.started {
        return Some("the server did not start".into());
    }
    // -dev-skip-init leaves the server uninitialised: no root token to print.
    let initialised = !case.args.contains(&"-dev-skip-init");
    if case.expect.contains(&("root-token", "WARN")) && initialised && !seen.root_token {
        return Some("dev mode printed no root token".into());
    }
    if case.expect.contains(&("metrics", "WARN")) && seen.open_metrics.is_empty() {
        return Some("every listener's metrics needed a token".into());
    }
    if case.expect.contains(&("raw-storage", "WARN")) && seen.raw_endpoint.is_empty() {
        return Some("no listener served sys/raw".into());
    }
    if wanted("tls") && seen.answers.iter().all(|(_, a)| *a == Answer::Closed) {
        return Some("no listener answered".into());
    }
    None
}

#[test]
fn no_pass_of_the_checklist_is_contradicted_by_the_real_server() {
    if !privileged(false) {
        return;
    }
    let failures = Mutex::new(Vec::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                while let Some(case) = CASES.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let prepared = Prepared::new(case);
                    let said = verdicts(&prepared);
                    let seen = run_bao(&prepared);
                    let mut found = disagreements(case, &prepared, &said, &seen);
                    found.extend(evidence_missing(case, &seen));
                    if !found.is_empty() {
                        let tail: String = seen.log.lines().rev().take(6).collect::<Vec<_>>().join(" | ");
                        failures.lock().unwrap().push(format!(
                            "{}: {}\n    files: {:?}\n    server: started {}, {:?}, storage {:?}, seal tokens {:?}; log tail: {tail}",
                            case.name,
                            found.join("; "),
                            prepared.texts,
                            seen.started,
                            seen.answers,
                            seen.storage,
                            seen.seal_tokens
                        ));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{} of {} cases:\n{}", failures.len(), CASES.len(), failures.join("\n"));
}

#[test]
fn the_flag_table_is_the_servers_own() {
    let out = Command::new(bao()).args(["server", "-h"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    // `  -name` for a boolean, `  -name=<kind>` for any other.
    let shown: Vec<(String, server_flags::Kind)> = help
        .lines()
        .filter_map(|line| {
            let flag = line.strip_prefix("  -")?;
            if flag.starts_with(' ') || flag.contains(' ') {
                return None;
            }
            Some(match flag.split_once('=') {
                Some((name, _)) => (name.to_string(), server_flags::Kind::Value),
                None => (flag.to_string(), server_flags::Kind::Bool),
            })
        })
        .collect();
    assert!(shown.len() > 30, "too few flags in `bao server -h`:\n{help}");
    for (name, kind) in &shown {
        let known = server_flags::OPENBAO.flag(name);
        assert_eq!(known.map(|f| f.kind), Some(*kind), "-{name} as `bao server -h` shows it");
    }
    // The table's flags the help hides are still the server's: it accepts them all, stopping
    // once its configuration is verified (-test-verify-only).
    let dir = Scratch::new("bao-flags");
    let port = free_port();
    let config = format!(
        "storage \"inmem\" {{}}\nlistener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_disable = 1\n}}\n"
    );
    std::fs::write(dir.path("c.hcl"), config).unwrap();
    let mut args =
        vec!["server".to_string(), "-test-verify-only".into(), format!("-config={}", dir.path("c.hcl").display())];
    for flag in server_flags::OPENBAO.all().filter(|f| !shown.iter().any(|(n, _)| n == f.name)) {
        args.push(match flag.kind {
            server_flags::Kind::Bool => format!("-{}=false", flag.name),
            server_flags::Kind::Value => format!("-{}=1", flag.name),
        });
    }
    args.push("-test-verify-only".into());
    let mut verify = Command::new(bao());
    verify.args(&args).env_clear().env("HOME", &dir.0);
    let out = run(verify, Duration::from_secs(60));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !said.contains("flag provided but not defined"), "{args:?}: {said}");
    // And one it does not have is refused as the table refuses it.
    let out = Command::new(bao()).args(["server", "-no-such-flag"]).env_clear().output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && said.contains("flag provided but not defined: -no-such-flag"), "{said}");
}
