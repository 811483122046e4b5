//! Reading /proc: which processes are our children.

use std::fs;

/// The pids whose parent is `parent`, from /proc/<pid>/stat (field 4, after the command name,
/// which may itself contain spaces and parentheses: parse from the last ')').
pub fn children_of(parent: i32) -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/stat")).ok().and_then(|s| parent_in_stat(&s)) == Some(parent)
        })
        .collect()
}

/// Every pid in /proc except `own`.
pub fn all_except(own: i32) -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok()).filter(|p| *p != own).collect()
}

/// The command name of a process (/proc/<pid>/comm).
pub fn command_of(pid: i32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|s| s.trim_end().to_string())
}

/// The state letter of /proc/<pid>/stat (`R`, `S`, `T` for stopped...), if the process exists.
pub fn state_of(pid: i32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].split_whitespace().next()?.chars().next()
}

fn parent_in_stat(stat: &str) -> Option<i32> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_pid_survives_hostile_command_names() {
        assert_eq!(parent_in_stat("42 (bao) S 1 42 42 0"), Some(1));
        assert_eq!(parent_in_stat("42 (a) b) S 7 42"), Some(7));
        assert_eq!(parent_in_stat("42 (x"), None);
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
