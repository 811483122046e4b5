//! The supervisor loop: wait for a signal, forward it or reap; when the server has ended, give the
//! leftovers their grace, then leave with the server's status. Single-threaded, no timer: an idle
//! hardinit sleeps in sigwaitinfo until the kernel has something for it.

use crate::cli::ForwardTo;
use crate::error::{ExitCode, Fatal};
use crate::signals::{self, Rewrites};
use crate::spawn::Session;
use crate::sys::process::{self, Ended};
use crate::sys::signal::{self, SigInfo, SigSet};
use crate::{debug, info, procfs, warn};
use std::time::{Duration, Instant};

pub struct Supervisor<'a> {
    pub server: i32,
    pub forward_to: ForwardTo,
    pub rewrites: &'a Rewrites,
    pub grace: Duration,
    pub session: Session,
    /// PID 1 of a PID namespace: `kill(-1)` reaches exactly the namespace. Otherwise we are a
    /// subreaper and signal only our own children.
    pub is_namespace_init: bool,
}

/// How long a real-time signal is retried while the server's signal queue is full.
const QUEUE_RETRY_FOR: Duration = Duration::from_secs(5);

impl Supervisor<'_> {
    /// Runs until the server has ended and every other child is gone. Returns the server's end.
    pub fn run(&self) -> Result<Ended, Fatal> {
        let waited = signals::waited_set();
        let ended = loop {
            let info = wait(&waited, None)?.ok_or_else(|| {
                Fatal::new(ExitCode::Internal, "sigwaitinfo returned without a signal")
            })?;
            if info.signal == libc::SIGCHLD {
                if let Some(ended) = self.reap_all() {
                    break ended;
                }
            } else {
                self.forward(&info);
            }
        };
        match ended {
            Ended::Exited(code) => debug!("server (pid {}) exited with status {code}", self.server),
            Ended::Killed(sig) => debug!(
                "server (pid {}) was killed by {}",
                self.server,
                signals::name(sig)
            ),
        }
        self.drain(&waited)?;
        Ok(ended)
    }

    /// waitpid(-1, WNOHANG) until nothing is left to collect (SIGCHLD coalesces: one signal may
    /// stand for many children). Returns the server's end if it was among them.
    fn reap_all(&self) -> Option<Ended> {
        let mut server_end = None;
        while let Ok(Some((pid, ended))) = process::reap_any(false) {
            if pid == self.server {
                server_end = Some(ended);
            } else {
                debug!("reaped pid {pid} ({ended})");
            }
        }
        server_end
    }

    fn forward(&self, info: &SigInfo) {
        let name = signals::name(info.signal);
        // On hangup the terminal itself signals the session leader and the foreground group, which
        // is the server's: passing ours on would deliver it twice (dumb-init #136).
        if self.session == Session::Terminal
            && info.code == libc::SI_KERNEL
            && [libc::SIGHUP, libc::SIGCONT].contains(&info.signal)
        {
            debug!("{name} from the terminal already reached the server's group; not forwarded");
            return;
        }
        let Some(target) = self.rewrites.apply(info.signal) else {
            debug!("{name} dropped (--rewrite)");
            return;
        };
        let result = match self.forward_to {
            ForwardTo::Server if signals::is_realtime(target) => {
                queue_with_retry(self.server, target, info.value)
            }
            ForwardTo::Server => signal::kill(self.server, target),
            ForwardTo::Group => signal::kill(-self.server, target),
        };
        match result {
            Ok(()) => debug!(
                "forwarded {name} (from pid {} uid {}) as {} to {}",
                info.sender_pid,
                info.sender_uid,
                signals::name(target),
                self.server
            ),
            Err(e) => warn!(
                "could not forward {} to the server (pid {}): {e}",
                signals::name(target),
                self.server
            ),
        }
    }

    /// After the server has ended: SIGTERM whatever is left, wait up to the grace period while
    /// reaping, then SIGKILL the rest and reap until no child is left.
    fn drain(&self, waited: &SigSet) -> Result<(), Fatal> {
        if !self.children_remain() {
            return Ok(());
        }
        info!(
            "server ended with processes left; sending SIGTERM, SIGKILL after {:?}",
            self.grace
        );
        let mut terminated = self.signal_leftovers(libc::SIGTERM, &[]);
        let deadline = Instant::now() + self.grace;
        while self.children_remain() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match wait(waited, Some(left))? {
                Some(info) if info.signal == libc::SIGCHLD => {
                    self.reap_all();
                    // A subreaper adopts grandchildren as their parents die: they get SIGTERM too.
                    if !self.is_namespace_init {
                        terminated.extend(self.signal_leftovers(libc::SIGTERM, &terminated));
                    }
                }
                Some(info) => debug!(
                    "{} ignored: the server has ended",
                    signals::name(info.signal)
                ),
                None => {}
            }
        }
        if self.children_remain() {
            warn!(
                "processes still running after the {:?} grace period; sending SIGKILL",
                self.grace
            );
        }
        while self.children_remain() {
            // Repeated: a subreaper adopts the orphans of each process it kills.
            self.signal_leftovers(libc::SIGKILL, &[]);
            if let Ok(Some((pid, ended))) = process::reap_any(true) {
                debug!("reaped pid {pid} ({ended})");
            }
        }
        Ok(())
    }

    /// Whether we still have a child, reaping any that has already ended.
    fn children_remain(&self) -> bool {
        loop {
            match process::reap_any(false) {
                Ok(Some((pid, ended))) => debug!("reaped pid {pid} ({ended})"),
                Ok(None) => return true,
                Err(_) => return false,
            }
        }
    }

    /// Sends `sig` to every leftover process (not already in `skip`); returns whom it signalled.
    fn signal_leftovers(&self, sig: i32, skip: &[i32]) -> Vec<i32> {
        if self.is_namespace_init {
            // ESRCH only means everything ended meanwhile.
            if let Err(e) = signal::kill(-1, sig) {
                debug!("kill(-1, {}): {e}", signals::name(sig));
            }
            return Vec::new();
        }
        let mut signalled = Vec::new();
        for pid in procfs::children_of(process::getpid())
            .into_iter()
            .filter(|p| !skip.contains(p))
        {
            match signal::kill(pid, sig) {
                Ok(()) => signalled.push(pid),
                Err(e) => debug!("kill({pid}, {}): {e}", signals::name(sig)),
            }
        }
        signalled
    }
}

fn wait(set: &SigSet, timeout: Option<Duration>) -> Result<Option<SigInfo>, Fatal> {
    signal::wait_for_signal(set, timeout).map_err(|e| Fatal::system("waiting for signals", e))
}

/// Real-time signals are queued one entry per instance. When the server's queue is full the kernel
/// refuses with EAGAIN; waiting a moment lets the server drain it, so no instance is lost.
fn queue_with_retry(pid: i32, sig: i32, value: usize) -> std::io::Result<()> {
    let give_up = Instant::now() + QUEUE_RETRY_FOR;
    loop {
        match signal::queue_signal(pid, sig, value) {
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) && Instant::now() < give_up => {
                std::thread::sleep(Duration::from_micros(200))
            }
            other => return other,
        }
    }
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ended::Exited(code) => write!(f, "exited with status {code}"),
            Ended::Killed(sig) => write!(f, "killed by {}", signals::name(*sig)),
        }
    }
}
