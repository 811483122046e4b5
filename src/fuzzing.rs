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

/// Coverage-guided fuzzing on the stable toolchain (scripts/fuzz.sh builds these tests with
/// SanitizerCoverage's inline 8-bit counters, see `sys::coverage`): an input that reaches an edge
/// no earlier input reached joins the corpus, and new inputs are mutations of the corpus. Each
/// target must not panic, hang (1 s for one input) or grow without bound, and its errors stay on
/// one line. Seeds and every input that ever found a bug live in fuzz/corpus/TARGET/.
mod guided {
    use super::XorShift;
    use crate::sys::coverage;
    use std::collections::HashSet;
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    type Target = fn(&[u8]) -> Result<(), String>;

    fn corpus_dir(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(name)
    }

    fn hash(bytes: &[u8]) -> u64 {
        use std::hash::Hasher;
        let mut h = std::hash::DefaultHasher::new();
        h.write(bytes);
        h.finish()
    }

    /// Byte-level mutations, splices of two corpus entries, and the target's own words.
    fn mutate(rng: &mut XorShift, corpus: &[Vec<u8>], words: &[&str]) -> Vec<u8> {
        let mut data = corpus[rng.below(corpus.len())].clone();
        for _ in 0..=rng.below(4) {
            let at = if data.is_empty() { 0 } else { rng.below(data.len() + 1) };
            match rng.below(6) {
                0 if at < data.len() => data[at] ^= 1 << rng.below(8),
                1 if at < data.len() => data[at] = rng.next() as u8,
                2 if at < data.len() => {
                    let end = (at + 1 + rng.below(8)).min(data.len());
                    data.drain(at..end);
                }
                3 => {
                    let word = words[rng.below(words.len())].as_bytes();
                    data.splice(at..at, word.iter().copied());
                }
                4 => {
                    let other = &corpus[rng.below(corpus.len())];
                    let from = rng.below(other.len() + 1);
                    let piece = &other[from..(from + rng.below(16)).min(other.len())];
                    data.splice(at..at, piece.iter().copied());
                }
                _ => data.insert(at, rng.next() as u8),
            }
        }
        data.truncate(64 * 1024);
        data
    }

    /// Runs `target` on `input`; the edges it reached.
    fn execute(name: &str, target: Target, input: &[u8]) -> Vec<usize> {
        coverage::reset();
        let started = Instant::now();
        let result = std::panic::catch_unwind(|| target(input));
        let elapsed = started.elapsed();
        let crash = |why: String| {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/crashes");
            let _ = std::fs::create_dir_all(&dir);
            let file = dir.join(format!("{name}-{:016x}", hash(input)));
            let _ = std::fs::write(&file, input);
            panic!("{name}: {why}; input saved in {}", file.display());
        };
        match result {
            Err(_) => crash("panicked".into()),
            Ok(Err(e)) if e.contains('\n') => crash(format!("a multi-line error {e:?}")),
            _ if elapsed > Duration::from_secs(1) => crash(format!("one input took {elapsed:?}")),
            _ => {}
        }
        coverage::hit()
    }

    fn fuzz(name: &str, target: Target, words: &[&str]) {
        let seconds: u64 = std::env::var("HARDINIT_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);
        assert!(coverage::edges() > 0, "not built for guided fuzzing: run scripts/fuzz.sh");
        let dir = corpus_dir(name);
        std::fs::create_dir_all(&dir).unwrap();
        let mut corpus: Vec<Vec<u8>> =
            std::fs::read_dir(&dir).unwrap().flatten().filter_map(|e| std::fs::read(e.path()).ok()).collect();
        corpus.extend(fixture_seeds(name));
        if corpus.is_empty() {
            corpus.push(Vec::new());
        }
        let mut seen: HashSet<usize> = HashSet::new();
        for input in &corpus {
            seen.extend(execute(name, target, input));
        }
        let seeds = corpus.len();
        let mut rng = XorShift(hash(name.as_bytes()) | 1);
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut runs = 0u64;
        while Instant::now() < deadline {
            let input = mutate(&mut rng, &corpus, words);
            let hit = execute(name, target, &input);
            runs += 1;
            let before = seen.len();
            seen.extend(hit);
            if seen.len() > before {
                let _ = std::fs::write(dir.join(format!("{:016x}", hash(&input))), &input);
                corpus.push(input);
            }
        }
        let peak = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.to_string()))
            .unwrap_or_default();
        eprintln!(
            "fuzz {name}: {runs} runs in {seconds} s, {} edges of {} reached, corpus {seeds} -> {}, {peak}",
            seen.len(),
            coverage::edges(),
            corpus.len()
        );
        assert!(corpus.len() < 100_000, "the corpus grows without bound");
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    /// The project's fixtures as seeds, read where they are rather than copied: the charts'
    /// configurations for the config reader, their and the injector's scripts for sh.
    fn fixture_seeds(name: &str) -> Vec<Vec<u8>> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut files = Vec::new();
        for chart in ["vault-helm", "openbao-helm"] {
            for mode in std::fs::read_dir(root.join("charts").join(chart)).into_iter().flatten().flatten() {
                files.push(mode.path());
            }
        }
        files.extend(std::fs::read_dir(root.join("injector")).into_iter().flatten().flatten().map(|e| e.path()));
        let mut seeds = Vec::new();
        for path in files {
            match name {
                "config" => seeds.extend(std::fs::read(path.join("config.hcl"))),
                "sh" => {
                    let jsons: Vec<PathBuf> = if path.is_dir() {
                        ["args.json", "prestop.json", "readiness.json"].iter().map(|f| path.join(f)).collect()
                    } else {
                        vec![path]
                    };
                    for json in jsons {
                        let Ok(text) = std::fs::read_to_string(&json) else { continue };
                        let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
                        let strings =
                            value.as_array().cloned().or_else(|| value["args"].as_array().cloned()).unwrap_or_default();
                        let scripts = strings.iter().filter_map(|s| s.as_str()).filter(|s| s.len() > 20);
                        seeds.extend(scripts.map(|s| s.as_bytes().to_vec()));
                    }
                }
                _ => {}
            }
        }
        seeds
    }

    #[test]
    #[ignore = "coverage-guided: run by scripts/fuzz.sh"]
    fn config_reader() {
        fuzz(
            "config",
            |b| {
                crate::harden::hcl::parse(b).map(drop).map_err(|e| e.to_string())?;
                let files = crate::harden::server_config::parse_all(vec![("/c/server.hcl".into(), b.to_vec())])
                    .map_err(|e| e.message)?;
                crate::harden::server_config::mlock_setting(&files, None).map(drop).map_err(|e| e.message)?;
                let _ = crate::harden::server_config::listener_tls_files(&files);
                Ok(())
            },
            &[
                "listener",
                "\"tcp\"",
                "{",
                "}",
                "[",
                "]",
                "=",
                ":",
                ",",
                "\"",
                "<<EOF\n",
                "\nEOF\n",
                "disable_mlock",
                "true",
                "0x1F",
                "${",
                "#",
                "//",
                "/*",
                "*/",
            ],
        );
    }

    #[test]
    #[ignore = "coverage-guided: run by scripts/fuzz.sh"]
    fn passwd_and_group() {
        fuzz(
            "accounts",
            |b| {
                let users = crate::harden::accounts::parse_passwd(b)?;
                let groups = crate::harden::accounts::parse_group(b)?;
                for spec in ["vault", "100:1000", "root", "vault:vault"] {
                    let _ = crate::harden::accounts::resolve(spec, &users, &groups);
                }
                Ok(())
            },
            &[":", "\n", "x", "0", "4294967295", "vault", "+", "-", ","],
        );
    }

    #[test]
    #[ignore = "coverage-guided: run by scripts/fuzz.sh"]
    fn command_line() {
        fuzz(
            "command-line",
            |b| {
                let mut args = vec![std::ffi::OsString::from("hardinit")];
                args.extend(text(b).split('\0').map(std::ffi::OsString::from));
                crate::cli::parse(args).map(drop).map_err(|e| e.message)
            },
            &[
                "\0--user\0",
                "\0--rewrite\0",
                "TERM:QUIT",
                "RTMIN+3",
                "\0--grace\0",
                "5s",
                "\0--umask\0",
                "\0check\0",
                "\0--\0",
                ":",
                "4294967295",
                "\0--reload-on-change\0",
                "\0--term-delay\0",
            ],
        );
    }

    #[test]
    #[ignore = "coverage-guided: run by scripts/fuzz.sh"]
    fn entrypoint_rewriting() {
        fuzz(
            "entrypoint",
            |b| {
                let text = text(b);
                let args: Vec<std::ffi::OsString> = text.split('\0').map(std::ffi::OsString::from).collect();
                let env = |name: &str| (name.ends_with("ADDRESS")).then(|| "0.0.0.0:8200".to_string());
                for flavour in [crate::entrypoint::Flavour::Vault, crate::entrypoint::Flavour::OpenBao] {
                    let _ = crate::entrypoint::rewrite(flavour, &args, &env);
                }
                let _ = crate::entrypoint::substitute_host(&text, "10.0.0.1");
                Ok(())
            },
            &["server", "-dev", "version", "\0", "-", "kv", "http://", ":8200", "vault"],
        );
    }

    #[test]
    #[ignore = "coverage-guided: run by scripts/fuzz.sh"]
    fn sh_parser() {
        fuzz(
            "sh",
            |b| crate::sh::check_script(&text(b)),
            &[
                "if ",
                "then ",
                "fi",
                "while ",
                "do ",
                "done",
                "$(pidof vault)",
                "$((n+1))",
                "${X?}",
                "'",
                "\"",
                "\\",
                "&&",
                "||",
                "|",
                ";",
                "\n",
                ">&2",
                "2>&1",
                "> f",
                "[ ",
                " ]",
                "!",
            ],
        );
    }
}
