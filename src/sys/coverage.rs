//! The edge counters LLVM's SanitizerCoverage inserts when the tests are built for guided fuzzing
//! (scripts/fuzz.sh: `-Cpasses=sancov-module` with inline 8-bit counters, on the stable
//! toolchain): one byte per edge of the control-flow graph, incremented as the code runs. Each
//! instrumented module registers its counters at start-up through the callback below. In an
//! ordinary build nothing registers, and [`edges`] is 0.

use std::sync::Mutex;

/// Every registered counter range, as (start address, length).
static RANGES: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());

/// Called by each instrumented module's constructor with its counters.
#[unsafe(no_mangle)]
pub extern "C" fn __sanitizer_cov_8bit_counters_init(start: *mut u8, stop: *mut u8) {
    let length = (stop as usize).saturating_sub(start as usize);
    if let Ok(mut ranges) = RANGES.lock() {
        if length > 0 && !ranges.iter().any(|(s, _)| *s == start as usize) {
            ranges.push((start as usize, length));
        }
    }
}

fn ranges() -> Vec<(usize, usize)> {
    RANGES.lock().map(|r| r.clone()).unwrap_or_default()
}

/// How many edges are instrumented (0: not a fuzzing build).
pub fn edges() -> usize {
    ranges().iter().map(|(_, len)| len).sum()
}

/// Zeroes every counter, before one input runs.
pub fn reset() {
    for (start, length) in ranges() {
        // SAFETY: the range was registered by the instrumentation as this process's own counters,
        // which live for the whole process; writing zeros there is what the runtime may do.
        unsafe { std::ptr::write_bytes(start as *mut u8, 0, length) };
    }
}

/// The indices of the counters that are not zero, after one input ran.
pub fn hit() -> Vec<usize> {
    let mut hit = Vec::new();
    let mut base = 0;
    for (start, length) in ranges() {
        // SAFETY: as above; a read of bytes the instrumented code writes from this same thread.
        let counters = unsafe { std::slice::from_raw_parts(start as *const u8, length) };
        hit.extend(counters.iter().enumerate().filter(|(_, c)| **c != 0).map(|(i, _)| base + i));
        base += length;
    }
    hit
}
