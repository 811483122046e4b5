//! Shell history off for the server and what it starts, and a warning when exec sessions keep it.

use super::{Finding, Status};

/// Variables that turn history files off in the shells and interactive tools an operator may start
/// next to the server (`docker exec`, `kubectl exec`).
pub const HISTORY_OFF: [(&str, &str); 11] = [
    ("HISTFILE", "/dev/null"),
    ("HISTSIZE", "0"),
    ("HISTFILESIZE", "0"),
    ("SAVEHIST", "0"),
    ("LESSHISTFILE", "/dev/null"),
    ("PSQL_HISTORY", "/dev/null"),
    ("MYSQL_HISTFILE", "/dev/null"),
    ("SQLITE_HISTORY", "/dev/null"),
    ("REDISCLI_HISTFILE", "/dev/null"),
    ("NODE_REPL_HISTORY", ""),
    ("PYTHON_HISTORY", "/dev/null"),
];

pub(super) fn disable_shell_history(keep_env: bool) -> (Finding, Vec<(&'static str, &'static str)>) {
    const WHY: &str = "a history file keeps every command typed, tokens and unseal keys included";
    if keep_env {
        return (
            Finding::new(
                "history",
                Status::Warn,
                "--keep-env: the server's environment is passed unchanged",
                WHY,
                "drop --keep-env",
            ),
            Vec::new(),
        );
    }
    // hardinit's own environment is what exec sessions in the container get.
    let exec_sessions_safe = std::env::var("HISTFILE").is_ok_and(|v| v == "/dev/null");
    let finding = if exec_sessions_safe {
        Finding::new("history", Status::Pass, "history off for the server and for exec sessions", WHY, "nothing to do")
    } else {
        Finding::new(
            "history",
            Status::Warn,
            "history off for the server; `docker exec` / `kubectl exec` sessions still keep it (HISTFILE is not /dev/null in the container's environment)",
            WHY,
            "ENV HISTFILE=/dev/null in the image, or env HISTFILE=/dev/null in the pod spec",
        )
    };
    (finding, HISTORY_OFF.to_vec())
}
