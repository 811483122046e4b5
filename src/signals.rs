//! Which signals hardinit forwards, their names, and the `--rewrite` table. Pure logic.

use crate::sys::signal::{MAX_SIGNAL, SigSet};

/// Names as `kill -l` prints them, index = signal number.
const NAMES: [&str; 32] = [
    "", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM",
    "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH",
    "IO", "PWR", "SYS",
];

/// SIGRTMIN as C programs and `kill -l` see it: the C libraries keep 32 and 33 (musl also 34) for
/// themselves. 32..=33 can still be named by number.
pub const RTMIN: i32 = 34;

/// Signals the kernel raises in the faulting thread itself: forwarding them makes no sense and
/// blocking them turns a fault into an immediate kill.
const SYNCHRONOUS: [i32; 6] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGFPE, libc::SIGILL, libc::SIGTRAP, libc::SIGSYS];

/// What a container stop or a Ctrl-C sends: a rewrite must leave each of them a way to stop.
const STOP_REQUESTS: [i32; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT];

/// The signals on which Vault and OpenBao shut down cleanly: both servers' MakeShutdownCh
/// (command/commands.go) waits for SIGINT and SIGTERM; SIGHUP reloads and SIGUSR2 logs the
/// goroutines (MakeSighupCh, MakeSigUSR2Ch); the Go runtime ignores most of the others.
const SHUTDOWN: [i32; 2] = [libc::SIGTERM, libc::SIGINT];

/// The signals on which a Go program ends with a stack dump and status 2, as after a crash
/// (os/signal: SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGSTKFLT, SIGSYS; the fault signals sent by
/// kill(2) too), since neither server catches them.
const CRASHING: [i32; 9] = [
    libc::SIGQUIT,
    libc::SIGILL,
    libc::SIGTRAP,
    libc::SIGABRT,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGSEGV,
    libc::SIGSTKFLT,
    libc::SIGSYS,
];

/// The signals whose default action stops a process: the server freezes.
const FREEZING: [i32; 4] = [libc::SIGSTOP, libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU];

/// Whether hardinit passes `signal` on to the server. SIGCHLD is ours (it drives reaping);
/// SIGKILL and SIGSTOP cannot be caught.
pub fn is_forwarded(signal: i32) -> bool {
    (1..=MAX_SIGNAL).contains(&signal)
        && ![libc::SIGKILL, libc::SIGSTOP, libc::SIGCHLD].contains(&signal)
        && !SYNCHRONOUS.contains(&signal)
}

pub fn is_realtime(signal: i32) -> bool {
    (32..=MAX_SIGNAL).contains(&signal)
}

/// The set hardinit blocks and waits for: every forwarded signal plus SIGCHLD.
pub fn waited_set() -> SigSet {
    let mut set = SigSet::empty();
    for signal in (1..=MAX_SIGNAL).filter(|s| is_forwarded(*s) || *s == libc::SIGCHLD) {
        set.add(signal);
    }
    set
}

/// `SIGTERM`, `RTMIN+2`, ...
pub fn name(signal: i32) -> String {
    match signal {
        1..=31 => format!("SIG{}", NAMES[signal as usize]),
        RTMIN..=MAX_SIGNAL => format!("SIGRTMIN+{}", signal - RTMIN),
        _ => format!("signal {signal}"),
    }
}

/// Parses `TERM`, `SIGTERM`, `sigterm`, `15`, `RTMIN+3`, `SIGRTMAX-1`; 0 is accepted (it means
/// "drop" as a rewrite target).
pub fn parse(text: &str) -> Option<i32> {
    if let Ok(n) = text.parse::<i32>() {
        return (0..=MAX_SIGNAL).contains(&n).then_some(n);
    }
    let upper = text.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    // `RTMIN+3`, `RTMAX-1`: digits only after the sign (no `+-5`), no overflow.
    let offset = |rest: &str, sign: char| -> Option<i32> {
        if rest.is_empty() {
            return Some(0);
        }
        let digits = rest.strip_prefix(sign)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse::<i32>().ok()
    };
    let signal = if let Some(rest) = bare.strip_prefix("RTMIN") {
        RTMIN.checked_add(offset(rest, '+')?)?
    } else if let Some(rest) = bare.strip_prefix("RTMAX") {
        MAX_SIGNAL.checked_sub(offset(rest, '-')?)?
    } else {
        NAMES.iter().position(|n| !n.is_empty() && *n == bare)? as i32
    };
    (1..=MAX_SIGNAL).contains(&signal).then_some(signal)
}

/// What a received signal becomes: `--rewrite SRC:DST` entries; DST 0 drops the signal.
#[derive(Clone, Debug, Default)]
pub struct Rewrites {
    entries: Vec<(i32, i32)>,
}

impl Rewrites {
    /// Parses one `SRC:DST`.
    pub fn add(&mut self, spec: &str) -> Result<(), String> {
        let (src, dst) = spec
            .split_once(':')
            .ok_or_else(|| format!("--rewrite {spec:?}: expected SRC:DST, e.g. TERM:QUIT or WINCH:0"))?;
        let src =
            parse(src).filter(|s| *s != 0).ok_or_else(|| format!("--rewrite {spec:?}: unknown signal {src:?}"))?;
        let dst = parse(dst).ok_or_else(|| format!("--rewrite {spec:?}: unknown signal {dst:?}"))?;
        if !is_forwarded(src) {
            return Err(format!("--rewrite {spec:?}: {} is never forwarded, so it cannot be rewritten", name(src)));
        }
        self.entries.retain(|(s, _)| *s != src);
        self.entries.push((src, dst));
        Ok(())
    }

    /// What each rewrite that takes something away from the server gives up, one line each.
    pub fn dangers(&self) -> Vec<String> {
        let mut dangers = Vec::new();
        for &(src, dst) in self.entries.iter().filter(|(src, dst)| src != dst) {
            let (from, to) = (name(src), name(dst));
            let given_up = if dst == 0 && STOP_REQUESTS.contains(&src) {
                format!(
                    "{from} is dropped: the server is never asked to stop and only SIGKILL ends it, at the end of the grace period"
                )
            } else if dst == libc::SIGKILL {
                format!(
                    "{from} becomes SIGKILL: the server ends without a graceful shutdown (requests cut, raft not left cleanly)"
                )
            } else if FREEZING.contains(&dst) {
                format!("{from} becomes {to}: the server freezes and answers nothing until a SIGCONT")
            } else if CRASHING.contains(&dst) {
                format!("{from} becomes {to}: the server dies as if it had crashed, without a graceful shutdown")
            } else if STOP_REQUESTS.contains(&src) && !SHUTDOWN.contains(&dst) && dst != 0 {
                let effect = match dst {
                    libc::SIGHUP => " (SIGHUP makes it reload its configuration)",
                    libc::SIGUSR2 => " (SIGUSR2 makes it log its goroutines)",
                    _ => "",
                };
                format!(
                    "{from} becomes {to}, which does not stop the server{effect}: Vault and OpenBao shut down on SIGTERM and SIGINT only, so a container stop ends it by SIGKILL"
                )
            } else {
                continue;
            };
            dangers.push(given_up);
        }
        dangers
    }

    /// The signal to send for a received `signal`, or `None` to drop it.
    pub fn apply(&self, signal: i32) -> Option<i32> {
        let target = self.entries.iter().find(|(s, _)| *s == signal).map_or(signal, |(_, d)| *d);
        (target != 0).then_some(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_to_their_numbers() {
        for signal in 1..=MAX_SIGNAL {
            if signal == 32 || signal == 33 {
                continue;
            }
            assert_eq!(parse(&name(signal)), Some(signal), "{}", name(signal));
        }
        assert_eq!(parse("term"), Some(15));
        assert_eq!(parse("HUP"), Some(1));
        assert_eq!(parse("RTMAX-1"), Some(63));
        assert_eq!(parse("SIGRTMAX"), Some(64));
        assert_eq!(parse("0"), Some(0));
        assert_eq!(parse("65"), None);
        assert_eq!(parse("RTMIN-1"), None);
        assert_eq!(parse("RTMIN+31"), None);
        assert_eq!(parse("NOPE"), None);
        assert_eq!(parse(""), None);
        for hostile in
            ["RTMIN\u{e9}", "RTMIN+-5", "RTMIN+", "RTMAX-+1", "RTMIN+99999999999", "RTMIN+2147483647", "\u{e9}"]
        {
            assert_eq!(parse(hostile), None, "{hostile:?}");
        }
    }

    #[test]
    fn forwarded_set_excludes_chld_uncatchable_and_fault_signals() {
        for s in [
            libc::SIGCHLD,
            libc::SIGKILL,
            libc::SIGSTOP,
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGFPE,
            libc::SIGILL,
            libc::SIGTRAP,
            libc::SIGSYS,
        ] {
            assert!(!is_forwarded(s), "{}", name(s));
        }
        for s in [1, 2, 3, 10, 12, 15, 18, 20, 28, 34, 64] {
            assert!(is_forwarded(s), "{}", name(s));
        }
        let waited = waited_set();
        assert!(waited.contains(libc::SIGCHLD) && waited.contains(libc::SIGTERM) && !waited.contains(libc::SIGSEGV));
    }

    #[test]
    fn rewrites_map_drop_and_reject() {
        let mut r = Rewrites::default();
        r.add("TERM:QUIT").unwrap();
        r.add("WINCH:0").unwrap();
        r.add("SIGUSR1:RTMIN+1").unwrap();
        assert_eq!(r.apply(libc::SIGTERM), Some(libc::SIGQUIT));
        assert_eq!(r.apply(libc::SIGWINCH), None);
        assert_eq!(r.apply(libc::SIGUSR1), Some(RTMIN + 1));
        assert_eq!(r.apply(libc::SIGHUP), Some(libc::SIGHUP));
        r.add("TERM:INT").unwrap();
        assert_eq!(r.apply(libc::SIGTERM), Some(libc::SIGINT), "a later rewrite of the same source wins");
        assert!(r.add("TERM").is_err());
        assert!(r.add("CHLD:TERM").is_err());
        r.add("QUIT:KILL").unwrap();
        assert_eq!(r.apply(libc::SIGQUIT), Some(libc::SIGKILL));
        assert!(r.add("TERM:BOGUS").is_err());
        assert!(r.add("0:TERM").is_err());
    }

    #[test]
    fn rewrites_that_give_something_up_are_named() {
        let mut safe = Rewrites::default();
        for spec in ["TERM:INT", "WINCH:0", "USR1:HUP", "INT:TERM", "QUIT:TERM", "TERM:TERM", "HUP:USR2"] {
            safe.add(spec).unwrap();
        }
        assert_eq!(safe.dangers(), Vec::<String>::new());
        for (spec, words) in [
            ("TERM:0", "SIGTERM is dropped"),
            ("INT:0", "SIGINT is dropped"),
            ("TERM:KILL", "SIGTERM becomes SIGKILL"),
            ("HUP:STOP", "SIGHUP becomes SIGSTOP: the server freezes"),
            ("TERM:SEGV", "SIGTERM becomes SIGSEGV: the server dies as if it had crashed"),
            ("USR1:ABRT", "as if it had crashed"),
            ("TERM:QUIT", "SIGTERM becomes SIGQUIT: the server dies as if it had crashed"),
            ("TERM:WINCH", "SIGTERM becomes SIGWINCH, which does not stop the server:"),
            ("TERM:HUP", "does not stop the server (SIGHUP makes it reload its configuration)"),
            ("TERM:USR1", "SIGTERM becomes SIGUSR1, which does not stop the server"),
            ("TERM:USR2", "(SIGUSR2 makes it log its goroutines)"),
            ("INT:RTMIN+1", "SIGINT becomes SIGRTMIN+1, which does not stop the server"),
            ("QUIT:CONT", "SIGQUIT becomes SIGCONT, which does not stop the server"),
        ] {
            let mut r = Rewrites::default();
            r.add(spec).unwrap();
            let dangers = r.dangers();
            assert_eq!(dangers.len(), 1, "{spec}");
            assert!(dangers[0].contains(words), "{spec}: {dangers:?}");
        }
    }
}
