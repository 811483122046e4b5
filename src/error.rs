//! The one error type: every failure of hardinit itself ends here, with its documented exit code.

use std::fmt;

/// Exit codes of hardinit's own failures. The server's own status passes through unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    /// 64 (EX_USAGE): bad flags or arguments.
    Usage = 64,
    /// 70 (EX_SOFTWARE): a bug in hardinit.
    Internal = 70,
    /// 71 (EX_OSERR): a system call failed that should not have.
    System = 71,
    /// 78 (EX_CONFIG): a hardening rule refused to start the server.
    #[allow(dead_code)] // Reserved: the hardening rules return it.
    Refused = 78,
    /// 126: the server exists but cannot be executed.
    NotExecutable = 126,
    /// 127: the server was not found.
    NotFound = 127,
}

/// A failure that stops hardinit: one line of text (what failed, why, the fix) and an exit code.
#[derive(Debug)]
pub struct Fatal {
    pub code: ExitCode,
    pub message: String,
}

impl Fatal {
    pub fn new(code: ExitCode, message: impl Into<String>) -> Fatal {
        Fatal { code, message: message.into() }
    }

    pub fn usage(message: impl Into<String>) -> Fatal {
        Fatal::new(ExitCode::Usage, message)
    }

    /// A system call failed: `what` names the action, `err` the kernel's reason.
    pub fn system(what: &str, err: std::io::Error) -> Fatal {
        Fatal::new(ExitCode::System, format!("{what}: {err}"))
    }
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
