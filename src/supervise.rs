//! The supervisor loop: wait for a signal, forward it or reap; when the server has ended, give the
//! leftovers their grace, then leave with the server's status. Single-threaded, no timer: an idle
//! hardinit sleeps in sigwaitinfo until the kernel has something for it.
//!
//! Signals go through a backlog, in the order received. The kernel limits pending real-time
//! signals per user (RLIMIT_SIGPENDING), and hardinit and the server usually share a user: a
//! sender that keeps hardinit's own queue full would otherwise leave no room to forward into the
//! server's. Taking every signal off the kernel's queue into the backlog frees that room; the
//! backlog is retried every millisecond while it is not empty, and only then.

use crate::cli::ForwardTo;
use crate::error::Fatal;
use crate::signals::{self, Rewrites};
use crate::spawn::Session;
use crate::sys::process::{self, Ended};
use crate::sys::signal::{self, SigInfo, SigSet};
use crate::{debug, info, procfs, warn};
use std::collections::VecDeque;
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
    /// Our own pid, to recognise signals we caused ourselves.
    pub own_pid: i32,
}

/// How often a backlog is retried while the server's signal queue is full.
const RETRY_EVERY: Duration = Duration::from_millis(1);
/// Past this many waiting signals (a server that never takes its signals), new ones are dropped
/// with a warning rather than growing hardinit's memory without bound.
const BACKLOG_LIMIT: usize = 65_536;

/// What became of one attempt to forward a signal.
enum Delivery {
    /// Sent, dropped on purpose, or failed for good (logged): take it off the backlog.
    Done,
    /// The server's queue is full (EAGAIN): keep it and try again.
    Retry,
}

impl Supervisor<'_> {
    /// Runs until the server has ended and every other child is gone. Returns the server's end.
    pub fn run(&self) -> Result<Ended, Fatal> {
        let waited = signals::waited_set();
        let mut backlog = VecDeque::new();
        let ended = loop {
            let timeout = if backlog.is_empty() { None } else { Some(RETRY_EVERY) };
            match wait(&waited, timeout)? {
                Some(info) if info.signal == libc::SIGCHLD => {
                    if let Some(ended) = self.reap_all() {
                        break ended;
                    }
                }
                Some(info) if backlog.len() >= BACKLOG_LIMIT => {
                    warn!("{} signals wait for the server; {} dropped", backlog.len(), signals::name(info.signal))
                }
                Some(info) => backlog.push_back(info),
                None => {}
            }
            while let Some(info) = backlog.front() {
                match self.forward(info) {
                    Delivery::Done => backlog.pop_front(),
                    Delivery::Retry => break,
                };
            }
        };
        if !backlog.is_empty() {
            warn!("the server ended with {} signals not yet delivered", backlog.len());
        }
        debug!("server (pid {}) {ended}", self.server);
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

    fn forward(&self, info: &SigInfo) -> Delivery {
        // A signal hardinit caused itself (SIGPIPE from a log write to a closed stderr) is not the
        // server's business, and forwarding or logging it would cause the next one: drop it
        // silently (dumb-init #136 is the same trap).
        if info.code == libc::SI_USER && info.sender_pid == self.own_pid {
            return Delivery::Done;
        }
        let name = signals::name(info.signal);
        // On hangup the terminal itself signals the session leader and the foreground group, which
        // is the server's: passing ours on would deliver it twice (dumb-init #136).
        if self.session == Session::Terminal
            && info.code == libc::SI_KERNEL
            && [libc::SIGHUP, libc::SIGCONT].contains(&info.signal)
        {
            debug!("{name} from the terminal already reached the server's group; not forwarded");
            return Delivery::Done;
        }
        let Some(target) = self.rewrites.apply(info.signal) else {
            debug!("{name} dropped (--rewrite)");
            return Delivery::Done;
        };
        // kill(2) cannot fail for lack of room: for a real-time signal it would set the pending bit
        // without queueing an instance, silently merging it with the next one. rt_sigqueueinfo
        // says EAGAIN instead. A process group has no such call: there, kill(2) it is.
        let result = match self.forward_to {
            ForwardTo::Server if signals::is_realtime(target) => signal::queue_signal(self.server, target, info.value),
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
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => return Delivery::Retry,
            Err(e) => warn!("could not forward {} to the server (pid {}): {e}", signals::name(target), self.server),
        }
        Delivery::Done
    }

    /// After the server has ended: SIGTERM whatever is left, wait up to the grace period while
    /// reaping, then SIGKILL the rest and reap until no child is left.
    fn drain(&self, waited: &SigSet) -> Result<(), Fatal> {
        if !self.children_remain() {
            return Ok(());
        }
        info!("server ended with processes left; sending SIGTERM, SIGKILL after {:?}", self.grace);
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
                Some(info) => debug!("{} ignored: the server has ended", signals::name(info.signal)),
                None => {}
            }
        }
        if self.children_remain() {
            warn!("processes still running after the {:?} grace period; sending SIGKILL", self.grace);
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
        for pid in procfs::children_of(process::getpid()).into_iter().filter(|p| !skip.contains(p)) {
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

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ended::Exited(code) => write!(f, "exited with status {code}"),
            Ended::Killed(sig) => write!(f, "killed by {}", signals::name(*sig)),
        }
    }
}
