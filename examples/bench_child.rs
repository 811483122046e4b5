//! The child every init supervises in scripts/bench.py: the same program under each init, so the
//! figures differ only by the init. Not part of hardinit.
//!
//!   bench_child sleep                   wait for SIGTERM (default action)
//!   bench_child latency                 print CLOCK_MONOTONIC ns for each SIGUSR1, one line each
//!   bench_child count N                 count SIGRTMIN+1 until N arrived or 3 s pass without one;
//!                                       print "COUNT LAST_NS"
//!   bench_child orphans N               leave N short-lived orphans (children that exit after
//!                                       their parent), print the start ns, then wait for SIGTERM
//!   bench_child leftover                start a grandchild that ignores SIGTERM, then wait for it
// A test program, not part of hardinit: it calls libc itself, as the programs it stands in for do.
#![allow(unsafe_code)]

use std::io::Write;

fn now_ns() -> u128 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

fn block(signals: &[i32]) -> libc::sigset_t {
    // SAFETY: plain sigset manipulation on a local set, then blocking it for this thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in signals {
            libc::sigaddset(&mut set, *s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

fn wait(set: &libc::sigset_t, timeout_ms: Option<u64>) -> Option<i32> {
    // SAFETY: `set` is a valid, blocked sigset; info is a valid buffer.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let got = match timeout_ms {
            None => libc::sigwaitinfo(set, &mut info),
            Some(ms) => {
                let ts = libc::timespec { tv_sec: (ms / 1000) as _, tv_nsec: ((ms % 1000) * 1_000_000) as _ };
                libc::sigtimedwait(set, &mut info, &ts)
            }
        };
        (got > 0).then_some(got)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = &mut std::io::stdout();
    match args.get(1).map(String::as_str) {
        Some("sleep") => {
            let set = block(&[libc::SIGTERM]);
            wait(&set, None);
        }
        Some("latency") => {
            let set = block(&[libc::SIGUSR1, libc::SIGTERM]);
            writeln!(out, "ready").unwrap();
            out.flush().unwrap();
            while wait(&set, None) == Some(libc::SIGUSR1) {
                writeln!(out, "{}", now_ns()).unwrap();
                out.flush().unwrap();
            }
        }
        Some("count") => {
            let expected: u64 = args[2].parse().unwrap();
            let rt = libc::SIGRTMIN() + 1;
            let set = block(&[rt]);
            writeln!(out, "ready").unwrap();
            out.flush().unwrap();
            let (mut count, mut last) = (0u64, 0u128);
            while count < expected && wait(&set, Some(3000)).is_some() {
                count += 1;
                last = now_ns();
            }
            writeln!(out, "{count} {last}").unwrap();
        }
        Some("orphans") => {
            let n: u32 = args[2].parse().unwrap();
            let set = block(&[libc::SIGTERM]);
            writeln!(out, "{}", now_ns()).unwrap();
            out.flush().unwrap();
            for _ in 0..n {
                // SAFETY: fork in a single-threaded program; the children only call _exit/usleep.
                unsafe {
                    let child = libc::fork();
                    if child == 0 {
                        if libc::fork() == 0 {
                            libc::usleep(1000);
                            libc::_exit(0);
                        }
                        libc::_exit(0);
                    }
                    libc::waitpid(child, std::ptr::null_mut(), 0);
                }
            }
            writeln!(out, "forked").unwrap();
            out.flush().unwrap();
            wait(&set, None);
        }
        Some("leftover") => {
            // SAFETY: fork in a single-threaded program; the grandchild only ignores and pauses.
            unsafe {
                if libc::fork() == 0 {
                    libc::signal(libc::SIGTERM, libc::SIG_IGN);
                    loop {
                        libc::pause();
                    }
                }
            }
            writeln!(out, "ready").unwrap();
            out.flush().unwrap();
            let set = block(&[libc::SIGTERM]);
            wait(&set, None);
        }
        _ => {
            eprintln!("usage: bench_child sleep|latency|count N|orphans N|leftover");
            std::process::exit(2);
        }
    }
}
