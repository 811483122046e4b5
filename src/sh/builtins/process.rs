//! `sleep N`, `kill [-SIGNAL | -s NAME] PID...`, `pidof NAME...`: what the preStop hook runs.

use super::Io;
use crate::signals;

/// The pids of the processes named `names`, newest first, as `$(pidof ...)` gives them.
pub fn pidof(names: &[String]) -> Vec<i32> {
    let own = crate::sys::process::getpid();
    // An empty name is no process's, as in busybox (a kernel thread's argv[0] is empty).
    let named = names.iter().filter(|n| !n.is_empty());
    let mut pids: Vec<i32> = named.flat_map(|n| crate::procfs::pids_named(n, own)).collect();
    pids.sort_unstable_by(|a, b| b.cmp(a));
    pids.dedup();
    pids
}

/// `pidof NAME...`, as busybox's: status 1 when none is found, without a name, or for an option
/// (it has none).
pub fn pidof_command(args: &[String], io: &mut Io) -> i32 {
    let names = match args.first().map(String::as_str) {
        Some("--") => &args[1..],
        _ => args,
    };
    if let Some(option) = names.iter().find(|a| a.starts_with('-') && a.len() > 1) {
        return io.fail("pidof", 1, format!("invalid option {option}"));
    }
    let pids = pidof(names);
    if pids.is_empty() {
        return 1;
    }
    let line: Vec<String> = pids.iter().map(i32::to_string).collect();
    match writeln!(io.out, "{}", line.join(" ")) {
        Ok(()) => 0,
        Err(e) => io.fail("pidof", 1, e),
    }
}

/// The longest sleep: a bound well past any hook's grace period, below what a Duration holds.
const MAX_SLEEP_SECONDS: f64 = 1e9;

/// One argument of busybox's sleep: digits with at most one `.`, then `s`, `m`, `h` or `d`.
fn sleep_seconds(text: &str) -> Option<f64> {
    let (number, unit) = match text.char_indices().last() {
        Some((at, 's')) => (&text[..at], 1.0),
        Some((at, 'm')) => (&text[..at], 60.0),
        Some((at, 'h')) => (&text[..at], 3600.0),
        Some((at, 'd')) => (&text[..at], 86_400.0),
        _ => (text, 1.0),
    };
    let valid = number.bytes().any(|b| b.is_ascii_digit())
        && number.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && number.bytes().filter(|b| *b == b'.').count() <= 1;
    let value = number.strip_suffix('.').unwrap_or(number);
    valid.then(|| value.parse::<f64>().ok()).flatten().map(|v| v * unit)
}

/// `sleep DURATION...`, as busybox's: the durations added up (`0.5`, `5s`, `1m`, `2h`, `1d`);
/// status 1 for a bad one.
pub fn sleep(args: &[String], io: &mut Io) -> i32 {
    if args.is_empty() {
        return io.fail("sleep", 1, "usage: sleep DURATION...");
    }
    let mut total = 0.0;
    let mut forever = false;
    for arg in args {
        // busybox reads its durations with strtod: `inf` and `infinity` are forever (the usual
        // keep-alive of a container).
        if matches!(arg.to_ascii_lowercase().as_str(), "inf" | "infinity") {
            forever = true;
            continue;
        }
        match sleep_seconds(arg) {
            Some(seconds) => total += seconds,
            None => return io.fail("sleep", 1, format!("invalid number '{arg}'")),
        }
    }
    // Every argument is read first (a bad one is status 1, as busybox's); more than 31 years
    // (`sleep 2147483647`, another keep-alive) is forever too, as it is to busybox.
    if forever || total > MAX_SLEEP_SECONDS {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(MAX_SLEEP_SECONDS as u64));
        }
    }
    std::thread::sleep(std::time::Duration::from_secs_f64(total));
    0
}

/// `kill PID...` (SIGTERM), `kill -SIGNAL PID...`, `kill -s SIGNAL PID...`: names with or
/// without SIG, in any case, or numbers, as busybox's kill (the charts' preStop hook is written
/// for busybox's shell: dash's own kill refuses `-SIGTERM`). Every error is status 1, as
/// busybox's. A process group or -1 (every process) is never signalled: status 1.
pub fn kill(args: &[String], io: &mut Io) -> i32 {
    let (signal_name, pids) = match args {
        [flag, name, rest @ ..] if flag == "-s" => (name.as_str(), rest),
        [flag, rest @ ..] if flag == "--" => ("TERM", rest),
        [flag, rest @ ..] if flag.starts_with('-') => (&flag[1..], rest),
        _ => ("TERM", args),
    };
    // busybox knows no RTMIN+N, and knows the old names IOT (ABRT), POLL (IO) and EXIT (0: is
    // the process there).
    let upper = signal_name.to_ascii_uppercase();
    let realtime = upper.contains("RTM");
    let alias = match upper.strip_prefix("SIG").unwrap_or(&upper) {
        "IOT" => Some("ABRT"),
        "POLL" => Some("IO"),
        "EXIT" => Some("0"),
        _ => None,
    };
    let Some(signal) = signals::parse(alias.unwrap_or(signal_name)).filter(|_| !realtime) else {
        return io.fail("kill", 1, format!("bad signal name '{signal_name}'"));
    };
    if pids.is_empty() {
        return io.fail("kill", 1, "you need to specify whom to kill");
    }
    let mut status = 0;
    for text in pids {
        // Digits after at most one space, as busybox reads a pid: `+1` and `  1` are no number to it.
        let text = text.strip_prefix(' ').unwrap_or(text);
        let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        match text.parse::<i32>() {
            Ok(pid) if pid > 0 && digits => {
                if let Err(e) = crate::sys::signal::kill(pid, signal) {
                    status = io.fail("kill", 1, format!("can't kill pid {pid}: {e}"));
                }
            }
            _ => status = io.fail("kill", 1, format!("{text}: not a process id (groups and -1 are not supported)")),
        }
    }
    status
}

#[cfg(test)]
mod tests {
    use super::super::testing::run_builtin;

    #[test]
    fn kill_signals_by_name_and_number_and_says_what_failed() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id().to_string();
        assert_eq!(run_builtin("kill", &["-SIGTERM", &pid], b""), (0, String::new(), String::new()));
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGTERM));
        let (status, _, err) = run_builtin("kill", &["-s", "TERM", "999999999"], b"");
        assert_eq!(status, 1);
        assert!(err.contains("can't kill pid 999999999"), "{err}");
        assert_eq!(run_builtin("kill", &["-BOGUS", "1"], b"").0, 1, "as busybox");
        assert_eq!(run_builtin("kill", &["-TERM"], b"").0, 1);
        for old_name in ["-IOT", "-POLL", "-EXIT", "-SIGIOT"] {
            let (status, _, err) = run_builtin("kill", &[old_name, "999999999"], b"");
            assert!(status == 1 && err.contains("can't kill pid"), "{old_name}: busybox's name: {err}");
        }
        assert_eq!(run_builtin("kill", &["-9", "-1"], b"").0, 1, "never every process");
    }

    #[test]
    fn pidof_finds_a_process_by_its_name() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        // Until the exec is done, the child still bears the test's name.
        let comm = format!("/proc/{}/comm", child.id());
        while std::fs::read_to_string(&comm).is_ok_and(|c| c.trim() != "sleep") {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let (status, out, _) = run_builtin("pidof", &["sleep"], b"");
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(status, 0);
        assert!(out.split_whitespace().any(|p| p == child.id().to_string()), "{out}");
        assert_eq!(run_builtin("pidof", &["no-such-program-here"], b"").0, 1);
        assert_eq!(run_builtin("pidof", &[], b"").0, 1, "as busybox");
        assert_eq!(run_builtin("pidof", &["-s", "sleep"], b"").0, 1, "busybox's pidof has no -s");
    }

    #[test]
    fn sleep_reads_durations_as_busybox_does() {
        for good in [&["0.01"][..], &["0s"], &["0m", "0.001s"], &["0."], &[".01"]] {
            assert_eq!(run_builtin("sleep", good, b"").0, 0, "{good:?}");
        }
        for bad in ["-1", "1e3", "1.2.3", "", "5x", "+0", "0x0", "s"] {
            assert_eq!(run_builtin("sleep", &[bad], b"").0, 1, "{bad:?}");
        }
        assert_eq!(run_builtin("sleep", &[], b"").0, 1);
    }
}
