//! POSIX extended regular expressions by the C library's regcomp(3) and regexec(3): musl's in the
//! static binary (TRE: leftmost-longest, as POSIX and busybox's sed and grep match; a pattern
//! without back-references runs its parallel matcher, which never backtracks), the host's in unit
//! tests. Which patterns may reach it is decided above, in src/sh/builtins/ere.rs.

use std::ffi::CStr;
use std::io;
use std::ops::Range;

/// A compiled pattern, freed on drop. Boxed: the C library keeps pointers into it, so it stays
/// where regcomp put it.
pub struct Regex(Box<libc::regex_t>);

impl Regex {
    /// regcomp(REG_EXTENDED); without `spans`, REG_NOSUB too (grep asks only whether a line
    /// matches, and the matcher then tracks no positions). The error is regerror's one-line text.
    pub fn compile(pattern: &CStr, spans: bool) -> Result<Regex, String> {
        let flags = libc::REG_EXTENDED | if spans { 0 } else { libc::REG_NOSUB };
        // SAFETY: regex_t is plain data that regcomp initialises; zeroed is a valid start.
        let mut raw: Box<libc::regex_t> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: `pattern` is NUL-terminated and `raw` points to room for one regex_t.
        let rc = unsafe { libc::regcomp(&mut *raw, pattern.as_ptr(), flags) };
        if rc != 0 {
            let mut text = [0u8; 128];
            // SAFETY: regerror writes at most `text.len()` bytes, NUL included, and reads only
            // the error code (the regex_t of a failed regcomp holds nothing to free).
            unsafe { libc::regerror(rc, &*raw, text.as_mut_ptr().cast(), text.len()) };
            let text = CStr::from_bytes_until_nul(&text).map_or("invalid", |t| t.to_str().unwrap_or("invalid"));
            return Err(text.to_string());
        }
        Ok(Regex(raw))
    }

    /// regexec: the first match in `text` from byte `from` on (at most its length),
    /// leftmost-longest; fills `spans` with the whole match and then each group, as offsets in
    /// `text` (None: the group took no part). Past the start, `^` does not match where the
    /// search begins (REG_NOTBOL): the text before it is the same line.
    pub fn find(&self, text: &CStr, from: usize, spans: &mut [Option<Range<usize>>]) -> io::Result<bool> {
        let length = text.to_bytes().len();
        assert!(from <= length, "a search starts inside its text");
        let mut matches = vec![libc::regmatch_t { rm_so: -1, rm_eo: -1 }; spans.len()];
        let flags = if from > 0 { libc::REG_NOTBOL } else { 0 };
        // SAFETY: the regex was compiled by regcomp; `from` is at most the text's length, so the
        // pointer is inside it or at its NUL, and the rest up to the NUL is a C string;
        // `matches` has room for exactly the count passed.
        let rc =
            unsafe { libc::regexec(&*self.0, text.as_ptr().add(from), matches.len(), matches.as_mut_ptr(), flags) };
        match rc {
            0 => {}
            libc::REG_NOMATCH => return Ok(false),
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::OutOfMemory,
                    "the regular expression matcher ran out of memory",
                ));
            }
        }
        for (span, m) in spans.iter_mut().zip(&matches) {
            *span = (m.rm_so >= 0).then(|| from + m.rm_so as usize..from + m.rm_eo as usize);
        }
        Ok(true)
    }
}

impl Drop for Regex {
    fn drop(&mut self) {
        // SAFETY: compiled by regcomp (a failed compile never builds a Regex); freed once.
        unsafe { libc::regfree(&mut *self.0) };
    }
}
