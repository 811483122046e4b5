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

#[allow(dead_code)]
mod checklist_harness;
mod common;

#[allow(dead_code)]
#[path = "../src/harden/hcl.rs"]
mod hcl;
#[allow(dead_code)]
#[path = "../src/harden/server_flags.rs"]
mod server_flags;

use checklist_harness::*;
use common::runc::bao;
use common::*;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Duration;

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
    // A -config directory through a symlink and `..`: the server lists the directory the
    // kernel finds (deep/conf) and reads each name at the lexically cleaned path (conf/NAME).
    Case {
        name: "config-directory-through-a-symlink-and-dot-dot",
        server: "bao",
        files: &[("deep/conf/c.hcl", "{tls}{raft}"), ("conf/c.hcl", concat!(plain_listener!("tcp", ""), "{raft}"))],
        args: &["-config={dir}/lnk/../conf"],
        env: &[],
        dirs: &[
            ("deep", 0o755, false),
            ("deep/sub", 0o755, false),
            ("deep/conf", 0o755, false),
            ("conf", 0o755, false),
            ("data", 0o700, true),
        ],
        expect: &[("tls", "WARN")],
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
    // Relative to the working directory: hardinit's is the server's.
    Case {
        name: "raft-path-relative-the-server-creates",
        server: "bao",
        files: &[(
            "c.hcl",
            concat!(
                plain_listener!("tcp", ""),
                "storage \"raft\" {\n  path = \"./data/new/raft\"\n}\ncluster_addr = \"http://127.0.0.1:{c0}\"\n"
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
    // The server makes its audit log the `mode` option says (octal), after unsealing.
    Case {
        name: "audit-log-mode-others-can-write",
        server: "bao",
        files: &[(
            "c.hcl",
            "{tls}{raft}audit \"file\" \"file-audit/\" {\n  options {\n    file_path = \"{dir}/good/audit.log\"\n    mode = \"0666\"\n  }\n}\n",
        )],
        args: CONFIG,
        env: &[],
        dirs: OPEN_AND_GOOD,
        expect: &[("audit", "WARN")],
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
        name: "refused-raft-as-the-storage-and-the-ha-storage",
        server: "bao",
        files: &[("c.hcl", "{tls}{raft}ha_storage \"raft\" {\n  path = \"{dir}/data\"\n}\n")],
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
    ("config-directory-through-a-symlink-and-dot-dot", "lnk", "{dir}/deep/sub"),
];

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
                    let prepared = Prepared::new(case, LINKS);
                    let said = verdicts(&prepared);
                    let seen = run_bao(&prepared);
                    let mut found = disagreements(case, &prepared, &said, &seen, SUMMARIES);
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
