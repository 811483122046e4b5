//! /etc/passwd and /etc/group with the user spec: never a panic, errors on one line, and a
//! resolved identity is one the files name.
#![no_main]

use hardinit::harden::accounts::{parse_group, parse_passwd, resolve};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // One input holds both files and a spec: passwd \0 group \0 spec.
    let mut parts = data.splitn(3, |b| *b == 0);
    let (passwd, group, spec) = (parts.next().unwrap_or(b""), parts.next().unwrap_or(b""), parts.next());
    let users = match parse_passwd(passwd) {
        Ok(users) => users,
        Err(e) => return assert!(!e.contains('\n'), "multi-line error: {e:?}"),
    };
    let groups = match parse_group(group) {
        Ok(groups) => groups,
        Err(e) => return assert!(!e.contains('\n'), "multi-line error: {e:?}"),
    };
    let spec = spec.map(String::from_utf8_lossy);
    let specs = ["vault", "openbao", "100:1000", "root", "vault:vault", "4294967295"];
    for spec in spec.as_deref().into_iter().chain(specs) {
        match resolve(spec, &users, &groups) {
            Err(e) => assert!(!e.contains('\n'), "multi-line error: {e:?}"),
            Ok(identity) => {
                if let Some(name) = &identity.name {
                    assert!(
                        users.iter().any(|u| &u.name == name && u.uid == identity.uid),
                        "{spec}: {name} not in passwd"
                    );
                }
            }
        }
    }
});
