//! Core dumps off: RLIMIT_CORE soft = hard, coredump_filter 0, hardinit itself not dumpable.

use super::{Finding, Mode, Status};
use crate::error::Fatal;
use crate::sys::privilege::{self as sys, Limit, Resource};

/// How /proc/sys/kernel/core_pattern hands core dumps over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoreMode {
    File,
    Pipe,
    Socket,
    Unknown,
}

pub fn core_mode(pattern: Option<&str>) -> CoreMode {
    match pattern.map(str::trim_start) {
        Some(p) if p.starts_with('|') => CoreMode::Pipe,
        Some(p) if p.starts_with('@') => CoreMode::Socket,
        Some(_) => CoreMode::File,
        None => CoreMode::Unknown,
    }
}

/// RLIMIT_CORE soft = hard (0, or 1 where the kernel ignores 0: a piped core_pattern, or one we
/// could not read), coredump_filter 0 (survives fork and execve), hardinit itself not dumpable.
pub(super) fn disable_core_dumps(mode: Mode) -> Result<Finding, Fatal> {
    const WHY: &str = "a core dump writes the server's memory, keys and tokens included, to disk or to the host";
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").ok();
    let core = core_mode(pattern.as_deref());
    let n = if matches!(core, CoreMode::File | CoreMode::Socket) { 0 } else { 1 };
    let limit = Limit { soft: n, hard: n };
    if mode == Mode::Apply {
        sys::set_rlimit(Resource::Core, limit).map_err(|e| Fatal::system("setting RLIMIT_CORE", e))?;
        std::fs::write("/proc/self/coredump_filter", "0").map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Fatal::new(
                crate::error::ExitCode::System,
                "writing /proc/self/coredump_filter: /proc is not mounted; fix: mount proc in the container (every runtime does by default)",
            ),
            _ => Fatal::system("writing /proc/self/coredump_filter", e),
        })?;
        sys::set_not_dumpable().map_err(|e| Fatal::system("PR_SET_DUMPABLE", e))?;
        let read = sys::rlimit(Resource::Core).map_err(|e| Fatal::system("reading RLIMIT_CORE", e))?;
        let filter = std::fs::read_to_string("/proc/self/coredump_filter").unwrap_or_default();
        if read != limit || u64::from_str_radix(filter.trim(), 16) != Ok(0) {
            let summary = format!(
                "RLIMIT_CORE reads {}/{} and coredump_filter {:?} after setting them",
                read.soft,
                read.hard,
                filter.trim()
            );
            return Ok(Finding::new(
                "core-dumps",
                Status::Fail,
                summary,
                WHY,
                "report this: the kernel did not keep the limits",
            ));
        }
    }
    let verb = if mode == Mode::Apply { "set" } else { "would set" };
    Ok(match core {
        CoreMode::Socket => Finding::new(
            "core-dumps",
            Status::Warn,
            format!(
                "core_pattern sends dumps to a socket, which ignores every limit; {verb} RLIMIT_CORE {n} and coredump_filter 0 (registers only)"
            ),
            WHY,
            "on the host: point kernel.core_pattern at a file or at systemd-coredump with storage off",
        ),
        _ => Finding::new(
            "core-dumps",
            Status::Pass,
            format!("{verb} RLIMIT_CORE {n} (soft and hard, {core:?} mode) and coredump_filter 0"),
            WHY,
            "nothing to do",
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_pattern_modes() {
        assert_eq!(core_mode(Some("|/usr/lib/systemd/systemd-coredump %P")), CoreMode::Pipe);
        assert_eq!(core_mode(Some("@/run/core.sock")), CoreMode::Socket);
        assert_eq!(core_mode(Some("core")), CoreMode::File);
        assert_eq!(core_mode(None), CoreMode::Unknown);
    }
}
