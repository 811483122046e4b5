//! One line per event on stderr, prefixed `hardinit:`, or one JSON object per line with the keys
//! Vault's own JSON logs use (`@level`, `@message`, `@module`, `@timestamp`), so that one log
//! pipeline reads both.

#[path = "civil_date.rs"]
mod civil_date;

use civil_date::civil_from_days;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error = 0,
    Warn = 1,
    Info = 2,
    Debug = 3,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
}

static MAX_LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);
static JSON: AtomicBool = AtomicBool::new(false);

pub fn configure(max_level: Level, json: bool) {
    MAX_LEVEL.store(max_level as u8, Ordering::Relaxed);
    JSON.store(json, Ordering::Relaxed);
}

pub fn enabled(level: Level) -> bool {
    level as u8 <= MAX_LEVEL.load(Ordering::Relaxed)
}

pub fn emit(level: Level, message: std::fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let line = if JSON.load(Ordering::Relaxed) {
        format!(
            "{{\"@level\":\"{}\",\"@message\":\"{}\",\"@module\":\"hardinit\",\"@timestamp\":\"{}\"}}\n",
            level.name(),
            json_escape(&message.to_string()),
            rfc3339_utc(SystemTime::now())
        )
    } else {
        let message = message.to_string();
        let message = one_line(&message);
        match level {
            Level::Error => format!("hardinit: error: {message}\n"),
            Level::Warn => format!("hardinit: warning: {message}\n"),
            _ => format!("hardinit: {message}\n"),
        }
    };
    // A failed write to stderr cannot be reported anywhere else; the supervisor goes on.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

// The level is checked before the arguments are evaluated: a disabled debug line costs nothing on
// the forwarding path (no signal name formatted for it).
#[macro_export]
macro_rules! error { ($($t:tt)*) => { if $crate::log::enabled($crate::log::Level::Error) { $crate::log::emit($crate::log::Level::Error, format_args!($($t)*)) } } }
#[macro_export]
macro_rules! warn { ($($t:tt)*) => { if $crate::log::enabled($crate::log::Level::Warn) { $crate::log::emit($crate::log::Level::Warn, format_args!($($t)*)) } } }
#[macro_export]
macro_rules! info { ($($t:tt)*) => { if $crate::log::enabled($crate::log::Level::Info) { $crate::log::emit($crate::log::Level::Info, format_args!($($t)*)) } } }
#[macro_export]
macro_rules! debug { ($($t:tt)*) => { if $crate::log::enabled($crate::log::Level::Debug) { $crate::log::emit($crate::log::Level::Debug, format_args!($($t)*)) } } }

/// `text` with its control characters escaped (`\n`, `\u{1b}`): one event stays one line, and
/// a path or value from outside (a newline in the server's path) cannot forge a line of its own
/// or drive the terminal.
pub fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

pub fn json_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// `2026-11-25T15:25:19.123456Z`, the precision Vault's hclog writes.
pub fn rfc3339_utc(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_rfc3339_utc_with_microseconds() {
        assert_eq!(rfc3339_utc(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        let t = UNIX_EPOCH + Duration::new(1_795_620_319, 123_456_789);
        assert_eq!(rfc3339_utc(t), "2026-11-25T15:25:19.123456Z");
        // A leap day.
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339_utc(t), "2000-02-29T00:00:00.000000Z");
    }

    #[test]
    fn text_lines_escape_control_characters() {
        assert_eq!(one_line("/tmp/a\nb\r\t\u{1b}[2J\u{85}"), "/tmp/a\\nb\\r\\t\\u{1b}[2J\\u{85}");
        assert!(matches!(one_line("plain \\n é"), std::borrow::Cow::Borrowed("plain \\n é")));
    }

    #[test]
    fn json_escape_keeps_one_line() {
        assert_eq!(json_escape("a\"b\\c\nd\u{1}"), "a\\\"b\\\\c\\nd\\u0001");
    }
}
