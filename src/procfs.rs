//! Reading /proc: our children, every process of the namespace, their names and states.

use std::fs;

/// The pids whose parent is `parent`, from /proc/<pid>/stat.
pub fn children_of(parent: i32) -> Vec<i32> {
    pids().into_iter().filter(|pid| stat_field(*pid, 1).and_then(|p| p.parse().ok()) == Some(parent)).collect()
}

/// Every pid in /proc except `own`.
pub fn all_except(own: i32) -> Vec<i32> {
    pids().into_iter().filter(|p| *p != own).collect()
}

fn pids() -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok()).collect()
}

/// The command name of a process (/proc/<pid>/comm).
pub fn command_of(pid: i32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|s| s.trim_end().to_string())
}

/// The processes `name` stands for, as pidof(8) finds them: the base name of argv[0] or the
/// command name (which the kernel cuts at 15 bytes) is `name`; zombies excluded.
pub fn pids_named(name: &str, own: i32) -> Vec<i32> {
    let comm_name: String = name.chars().take(15).collect();
    let mut found: Vec<i32> = all_except(own)
        .into_iter()
        .filter(|pid| {
            let argv0 = fs::read(format!("/proc/{pid}/cmdline")).ok().and_then(|c| {
                let first = c.split(|b| *b == 0).next()?.to_vec();
                String::from_utf8(first).ok()
            });
            let by_argv0 = argv0.as_deref().and_then(|a| a.rsplit('/').next()).is_some_and(|base| base == name);
            (by_argv0 || command_of(*pid).is_some_and(|c| c == comm_name)) && state_of(*pid).is_some_and(|s| s != 'Z')
        })
        .collect();
    found.sort_unstable_by(|a, b| b.cmp(a));
    found
}

/// Whether `ancestor` is `pid` or one of its ancestors (following parent pids up to the root).
pub fn descends_from(pid: i32, ancestor: i32) -> bool {
    let mut current = pid;
    // A parent chain is short; the bound only guards against a loop in a racing /proc.
    for _ in 0..4096 {
        if current == ancestor {
            return true;
        }
        match stat_field(current, 1).and_then(|p| p.parse::<i32>().ok()) {
            Some(parent) if parent > 0 && parent != current => current = parent,
            _ => return false,
        }
    }
    false
}

/// The state letter of /proc/<pid>/stat (`R`, `S`, `T` for stopped...), if the process exists.
pub fn state_of(pid: i32) -> Option<char> {
    stat_field(pid, 0)?.chars().next()
}

/// Field `index` of /proc/<pid>/stat counted after the command name (0: state, 1: parent pid).
fn stat_field(pid: i32, index: usize) -> Option<String> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    field_after_name(&stat, index).map(String::from)
}

/// The command name may itself contain spaces and parentheses: fields start after the last ')'.
fn field_after_name(stat: &str, index: usize) -> Option<&str> {
    stat[stat.rfind(')')? + 1..].split_whitespace().nth(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_pid_survives_hostile_command_names() {
        assert_eq!(field_after_name("42 (bao) S 1 42 42 0", 1), Some("1"));
        assert_eq!(field_after_name("42 (a) b) S 7 42", 1), Some("7"));
        assert_eq!(field_after_name("42 (a) b) S 7 42", 0), Some("S"));
        assert_eq!(field_after_name("42 (x", 1), None);
    }

    #[test]
    fn finds_our_own_child() {
        let mut child = std::process::Command::new("sleep").arg("5").spawn().unwrap();
        let found = children_of(std::process::id() as i32);
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(found.contains(&(child.id() as i32)), "{found:?}");
    }
}
