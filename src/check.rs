//! `hardinit check`: the hardening checklist as a report, one line per check or one JSON
//! document, and the start-up log's summary of the same findings.

use crate::harden::{Finding, Status};
use crate::log::{json_escape, one_line};
use crate::signals::Rewrites;
use crate::{info, warn};

/// `--rewrite`: a PASS unless a rewrite takes away the server's graceful stop or makes a signal
/// freeze or crash it.
pub fn signals_finding(rewrites: &Rewrites) -> Finding {
    const WHY: &str = "a container stop must reach the server as a request to stop cleanly";
    let dangers = rewrites.dangers();
    if dangers.is_empty() {
        Finding::new(
            "signals",
            Status::Pass,
            "every signal reaches the server as sent or as safely rewritten",
            WHY,
            "nothing to do",
        )
    } else {
        Finding::new(
            "signals",
            Status::Warn,
            dangers.join("; "),
            WHY,
            "remove the --rewrite (or HARDINIT_REWRITE entry) unless this is really wanted",
        )
    }
}

/// Prints the report on stdout; the exit status is 0 when nothing refuses (no FAIL; under
/// --strict no WARN either; --allow'ed findings excepted), 1 otherwise.
pub fn print_report(findings: &[Finding], json: bool, refused: bool) -> i32 {
    let ok = !refused;
    let text = if json { report_json(findings, ok) } else { report_text(findings) };
    print!("{text}");
    if ok { 0 } else { 1 }
}

/// One line per check: a summary or fix that names a path holding a newline stays on it.
fn report_text(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| {
            let (summary, fix) = (one_line(&f.summary), one_line(&f.fix));
            match f.status {
                Status::Pass | Status::Skip => format!("{} {}: {summary} (why: {})\n", f.status.label(), f.id, f.why),
                _ => format!("{} {}: {summary} (why: {}; fix: {fix})\n", f.status.label(), f.id, f.why),
            }
        })
        .collect()
}

/// The schema is documented in README.md ("hardinit check --json").
pub fn report_json(findings: &[Finding], ok: bool) -> String {
    let checks: Vec<String> = findings
        .iter()
        .map(|f| {
            format!(
                "{{\"id\":\"{}\",\"status\":\"{}\",\"summary\":\"{}\",\"why\":\"{}\",\"fix\":\"{}\"}}",
                json_escape(f.id),
                f.status.label(),
                json_escape(&f.summary),
                json_escape(f.why),
                json_escape(&f.fix)
            )
        })
        .collect();
    format!("{{\"hardinit\":\"{}\",\"ok\":{ok},\"checks\":[{}]}}\n", env!("CARGO_PKG_VERSION"), checks.join(","))
}

/// At start-up: one warning line per WARN finding not accepted by --allow, then one summary line. `unreported`: the
/// container's checklist for a one-off command, shown with -v only; a one-off command's summary
/// too, so that `docker run IMAGE version` prints what the server prints.
pub fn log_startup(findings: &[Finding], unreported: &[Finding], allowed: &[String]) {
    // An accepted finding was logged once already, as accepted.
    for f in findings.iter().filter(|f| f.status == Status::Warn && !allowed.iter().any(|id| id == f.id)) {
        warn!("{}: {}; fix: {}", f.id, f.summary, f.fix);
    }
    let summary: Vec<String> = findings.iter().map(|f| format!("{} {}", f.id, f.status.label())).collect();
    if unreported.is_empty() {
        info!("hardened: {}", summary.join(", "));
    } else {
        crate::debug!("hardened: {}", summary.join(", "));
    }
    for f in findings {
        crate::debug!("{} {}: {}", f.status.label(), f.id, f.summary);
    }
    for f in unreported {
        crate::debug!("{} {}: {} (a one-off command: not enforced)", f.status.label(), f.id, f.summary);
    }
}
