//! The three outputs: lines as `hardinit check` prints them, its JSON document with the place
//! of each finding added, and SARIF 2.1.0 for code scanning (a result per WARN and FAIL).

use super::rules::Located;
use hardinit::harden::Status;
use hardinit::log::{json_escape, one_line};

pub fn text(findings: &[Located], file: &str) -> String {
    findings
        .iter()
        .map(|l| {
            let f = &l.finding;
            let (summary, fix) = (one_line(&f.summary), one_line(&f.fix));
            let place = format!("{file}:{}: document {}, {}", l.line, l.document, l.object);
            match f.status {
                Status::Pass | Status::Skip => {
                    format!("{place}: {} {}: {summary} (why: {})\n", f.status.label(), f.id, f.why)
                }
                _ => format!(
                    "{place}: {} {}: {summary} (why: {}; fix: {fix}; source: {})\n",
                    f.status.label(),
                    f.id,
                    f.why,
                    l.source
                ),
            }
        })
        .collect()
}

/// `hardinit check --json`'s schema, each check with its file, document, line, object and
/// source added.
pub fn json(findings: &[Located], file: &str, ok: bool) -> String {
    let checks: Vec<String> = findings
        .iter()
        .map(|l| {
            let f = &l.finding;
            format!(
                "{{\"id\":\"{}\",\"status\":\"{}\",\"summary\":\"{}\",\"why\":\"{}\",\"fix\":\"{}\",\"file\":\"{}\",\"document\":{},\"line\":{},\"object\":\"{}\",\"source\":\"{}\"}}",
                json_escape(f.id),
                f.status.label(),
                json_escape(&f.summary),
                json_escape(f.why),
                json_escape(&f.fix),
                json_escape(file),
                l.document,
                l.line,
                json_escape(&l.object),
                json_escape(l.source)
            )
        })
        .collect();
    format!("{{\"hardinit\":\"{}\",\"ok\":{ok},\"checks\":[{}]}}\n", env!("CARGO_PKG_VERSION"), checks.join(","))
}

/// A percent-encoded relative URI for a file name (SARIF's artifactLocation.uri).
fn uri(file: &str) -> String {
    let mut out = String::new();
    for b in file.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn sarif(findings: &[Located], file: &str, allowed: &[String]) -> String {
    let mut rules: Vec<&Located> = Vec::new();
    for l in findings {
        if !rules.iter().any(|r| r.finding.id == l.finding.id) {
            rules.push(l);
        }
    }
    let rule_text: Vec<String> = rules
        .iter()
        .map(|l| {
            format!(
                "{{\"id\":\"{}\",\"shortDescription\":{{\"text\":\"{}\"}},\"help\":{{\"text\":\"{}\"}}}}",
                json_escape(l.finding.id),
                json_escape(l.finding.why),
                json_escape(l.source)
            )
        })
        .collect();
    let results: Vec<String> = findings
        .iter()
        .filter(|l| matches!(l.finding.status, Status::Warn | Status::Fail))
        .map(|l| {
            let f = &l.finding;
            let index = rules.iter().position(|r| r.finding.id == f.id).unwrap_or(0);
            let level = if f.status == Status::Fail { "error" } else { "warning" };
            let suppressed = if allowed.iter().any(|a| a == f.id) {
                format!(",\"suppressions\":[{{\"kind\":\"external\",\"justification\":\"--allow {}\"}}]", json_escape(f.id))
            } else {
                String::new()
            };
            format!(
                "{{\"ruleId\":\"{}\",\"ruleIndex\":{index},\"level\":\"{level}\",\"message\":{{\"text\":\"{}; fix: {}\"}},\"locations\":[{{\"physicalLocation\":{{\"artifactLocation\":{{\"uri\":\"{}\"}},\"region\":{{\"startLine\":{}}}}},\"logicalLocations\":[{{\"fullyQualifiedName\":\"{}\"}}]}}],\"properties\":{{\"document\":{}}}{suppressed}}}",
                json_escape(f.id),
                json_escape(&f.summary),
                json_escape(&f.fix),
                json_escape(&uri(file)),
                l.line.max(1),
                json_escape(&l.object),
                l.document
            )
        })
        .collect();
    format!(
        "{{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\",\"version\":\"2.1.0\",\"runs\":[{{\"tool\":{{\"driver\":{{\"name\":\"hardinit-lint\",\"version\":\"{}\",\"rules\":[{}]}}}},\"results\":[{}]}}]}}\n",
        env!("CARGO_PKG_VERSION"),
        rule_text.join(","),
        results.join(",")
    )
}
