//! `sleep N`, `kill [-SIGNAL | -s NAME] PID...`, `pidof NAME...`: what the preStop hook runs.

use super::Io;
use crate::signals;

/// The pids of the processes named `names`, newest first, as `$(pidof ...)` gives them.
pub fn pidof(names: &[String]) -> Vec<i32> {
    let own = crate::sys::process::getpid();
    let mut pids: Vec<i32> = names.iter().flat_map(|n| crate::procfs::pids_named(n, own)).collect();
    pids.sort_unstable_by(|a, b| b.cmp(a));
    pids.dedup();
    pids
}

pub fn pidof_command(args: &[String], io: &mut Io) -> i32 {
    if args.is_empty() || args.iter().any(|a| a.starts_with('-')) {
        return io.fail("pidof", 2, "usage: pidof NAME... (no option)");
    }
    let pids = pidof(args);
    if pids.is_empty() {
        return 1;
    }
    let line: Vec<String> = pids.iter().map(i32::to_string).collect();
    match writeln!(io.out, "{}", line.join(" ")) {
        Ok(()) => 0,
        Err(e) => io.fail("pidof", 1, e),
    }
}

/// `sleep SECONDS` with an optional fraction (`0.5`), as busybox's; at most a day.
pub fn sleep(args: &[String], io: &mut Io) -> i32 {
    let [seconds] = args else { return io.fail("sleep", 2, "usage: sleep SECONDS") };
    let valid = !seconds.is_empty()
        && seconds.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && seconds.bytes().filter(|b| *b == b'.').count() <= 1;
    match seconds.parse::<f64>() {
        Ok(s) if valid && s <= 86_400.0 => {
            std::thread::sleep(std::time::Duration::from_secs_f64(s));
            0
        }
        _ => io.fail("sleep", 2, format!("{seconds:?}: expected seconds, at most 86400")),
    }
}

/// `kill PID...` (SIGTERM), `kill -SIGNAL PID...`, `kill -s SIGNAL PID...`: names with or
/// without SIG, or numbers. Status 1 when a pid could not be signalled, as kill(1).
pub fn kill(args: &[String], io: &mut Io) -> i32 {
    let (signal_name, pids) = match args {
        [flag, name, rest @ ..] if flag == "-s" => (name.as_str(), rest),
        [flag, rest @ ..] if flag.starts_with('-') && flag != "--" => (&flag[1..], rest),
        _ => ("TERM", args),
    };
    let Some(signal) = signals::parse(signal_name) else {
        return io.fail("kill", 2, format!("{signal_name}: unknown signal"));
    };
    if pids.is_empty() {
        return io.fail("kill", 2, "usage: kill [-SIGNAL | -s SIGNAL] PID...");
    }
    let mut status = 0;
    for text in pids {
        match text.parse::<i32>() {
            Ok(pid) if pid > 0 => {
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
        assert_eq!(run_builtin("kill", &["-BOGUS", "1"], b"").0, 2);
        assert_eq!(run_builtin("kill", &["-TERM"], b"").0, 2);
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
    }

    #[test]
    fn sleep_takes_seconds_and_fractions_only() {
        assert_eq!(run_builtin("sleep", &["0.01"], b"").0, 0);
        for bad in ["-1", "1e3", "1.2.3", "", "99999999", "5s"] {
            assert_eq!(run_builtin("sleep", &[bad], b"").0, 2, "{bad:?}");
        }
    }
}
