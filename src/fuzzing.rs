//! Test support: a small deterministic generator of hostile input, for the parsers that read what
//! an image author or a command line controls. None of them may panic, and their errors stay on
//! one line.

pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// `seed` with up to eight bytes replaced, removed or inserted from `alphabet`.
    pub fn mutate(&mut self, seed: &[u8], alphabet: &[u8]) -> Vec<u8> {
        let mut data = seed.to_vec();
        for _ in 0..=self.below(8) {
            let at = if data.is_empty() { 0 } else { self.below(data.len() + 1) };
            match self.below(3) {
                0 if at < data.len() => data[at] = alphabet[self.below(alphabet.len())],
                1 if at < data.len() => {
                    data.remove(at);
                }
                _ => data.insert(at, alphabet[self.below(alphabet.len())]),
            }
        }
        data
    }

    /// Up to `max` bytes from `alphabet`.
    pub fn bytes(&mut self, alphabet: &[u8], max: usize) -> Vec<u8> {
        (0..self.below(max)).map(|_| alphabet[self.below(alphabet.len())]).collect()
    }
}

mod parsers {
    use super::XorShift;
    use crate::harden::accounts::{parse_group, parse_passwd};
    use crate::harden::hcl;

    const SEEDS: [&[u8]; 4] = [
        include_bytes!("../tests/fixtures/charts/vault-helm/ha-raft/config.hcl"),
        b"{\"disable_mlock\": true, \"listener\": [{\"tcp\": {\"address\": \"[::]:8200\"}}]}",
        b"root:x:0:0:root:/root:/bin/sh\nvault:x:100:1000:Vault:/home/vault:/sbin/nologin\n",
        b"root:x:0:\nvault:x:1000:vault,ops\n",
    ];
    const ALPHABET: &[u8] = b"{}[]()\"'\\:=,#/*<-$%\n\r\t 0123456789abcxyzEOF\x00\xff\xc3\xa9";

    #[test]
    fn config_passwd_and_group_parsers_never_panic_and_errors_stay_one_line() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for round in 0..20_000 {
            let input = if round % 4 == 0 {
                rng.bytes(ALPHABET, 200)
            } else {
                let seed = SEEDS[rng.below(SEEDS.len())];
                rng.mutate(seed, ALPHABET)
            };
            let errors = [
                hcl::parse(&input).err().map(|e| e.to_string()),
                parse_passwd(&input).err(),
                parse_group(&input).err(),
            ];
            for e in errors.into_iter().flatten() {
                assert!(!e.contains('\n'), "{:?} gave a multi-line error {e:?}", String::from_utf8_lossy(&input));
            }
        }
    }
}

mod command_line {
    use super::XorShift;
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;

    const WORDS: [&str; 16] = [
        "--rewrite",
        "--grace",
        "--user",
        "--umask",
        "--memory-guard",
        "--entrypoint",
        "--forward-to",
        "check",
        "--json",
        "--",
        "TERM:QUIT",
        "RTMIN+3:0",
        "5s",
        "vault",
        "-v",
        "server",
    ];
    const ALPHABET: &[u8] = b"-:+,=0123456789RTMINAXsmhvault \xc3\xa9\xff";

    #[test]
    fn argument_parsing_never_panics_and_errors_stay_one_line() {
        let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
        for _ in 0..5_000 {
            let mut args = vec![OsString::from("hardinit")];
            for _ in 0..rng.below(6) {
                let arg = if rng.below(2) == 0 {
                    OsString::from(WORDS[rng.below(WORDS.len())])
                } else {
                    let word = WORDS[rng.below(WORDS.len())].as_bytes();
                    OsString::from_vec(rng.mutate(word, ALPHABET))
                };
                args.push(arg);
            }
            if let Err(e) = crate::cli::parse(args.clone()) {
                assert!(!e.message.contains('\n'), "{args:?}: {:?}", e.message);
            }
        }
    }
}

mod shell {
    use super::XorShift;

    /// Every script the charts and the injector run.
    fn seeds() -> Vec<String> {
        let mut seeds = Vec::new();
        for json in [
            include_str!("../tests/fixtures/charts/vault-helm/ha-raft-zones/args.json"),
            include_str!("../tests/fixtures/charts/vault-helm/ha-raft/args.json"),
            include_str!("../tests/fixtures/charts/openbao-helm/standalone/args.json"),
            include_str!("../tests/fixtures/charts/vault-helm/helm-test.json"),
            include_str!("../tests/fixtures/charts/vault-helm/ha/prestop.json"),
            include_str!("../tests/fixtures/charts/vault-helm/ha/readiness.json"),
        ] {
            let list: Vec<String> = serde_json::from_str(json).unwrap();
            seeds.push(list.last().unwrap().clone());
        }
        seeds.push("echo ${VAULT_CONFIG?} | base64 -d > /home/vault/config.json && vault agent -config=/home/vault/config.json".into());
        seeds.push("n=$(( (n + 1) * -2 % 7 ))".into());
        seeds
    }

    const ALPHABET: &[u8] = b"$(){}[]|&;<>!'\"`\\#=*?~ \n\t-+%/0123456789abnxEOFifthendo\xc3\xa9";

    /// `HARDINIT_FUZZ_ROUNDS` makes the run longer (the closing notes quote such a run).
    fn rounds() -> usize {
        std::env::var("HARDINIT_FUZZ_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(20_000)
    }

    #[test]
    fn the_sh_lexer_and_parser_never_panic_and_refusals_stay_one_line() {
        let seeds = seeds();
        let mut rng = XorShift(0xd1b5_4a32_d192_ed03);
        for round in 0..rounds() {
            let bytes = if round % 5 == 0 {
                rng.bytes(ALPHABET, 120)
            } else {
                let seed = rng.below(seeds.len());
                rng.mutate(seeds[seed].as_bytes(), ALPHABET)
            };
            let script = String::from_utf8_lossy(&bytes);
            if let Err(refusal) = crate::sh::check_script(&script) {
                assert!(!refusal.contains('\n'), "{script:?}: {refusal:?}");
            }
        }
        // Depth: nesting that a recursive parser would follow to a stack overflow.
        for deep in [
            "if true; then ".repeat(5_000),
            "while true; do ".repeat(5_000),
            format!("echo $(({}1{}))", "(".repeat(100_000), ")".repeat(100_000)),
            "! ".repeat(100_000),
        ] {
            assert!(crate::sh::check_script(&deep).is_err(), "{}", &deep[..40]);
        }
    }
}
