//! The supervisor loop: wait for a signal, forward it or reap; when the server has ended, give the
//! leftovers their grace, then leave with the server's status. Single-threaded, no timer: an idle
//! hardinit sleeps in sigwaitinfo until the kernel has something for it.
//!
//! Standard signals are forwarded at once: kill(2) never has to wait for them. Real-time signals
//! that find the server's queue full wait in a backlog, one queue per signal number: order is
//! owed per number only, so a number the server never takes cannot hold back another, and never
//! a SIGTERM. The kernel limits pending real-time signals per user (RLIMIT_SIGPENDING), and
//! hardinit and the server usually share a user: taking every signal off the kernel's queue into
//! the backlog frees that room. The backlog is retried every millisecond while it is not empty,
//! and only then; a signal that cannot be delivered for [`GIVE_UP_AFTER`] is dropped with a warning.

use crate::cli::ForwardTo;
use crate::error::Fatal;
use crate::reload::Reloader;
use crate::signals::{self, Rewrites};
use crate::spawn::Session;
use crate::sys::process::{self, Ended};
use crate::sys::signal::{self, SigInfo, SigSet};
use crate::{debug, info, procfs, warn};
use std::collections::{BTreeMap, VecDeque};
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
    /// `--term-delay`: how long a SIGTERM waits before it is forwarded.
    pub term_delay: Duration,
    /// What a queued signal names as its sender: hardinit, as the server's user.
    pub sender: signal::Sender,
}

/// How often a backlog is retried while the server's signal queue is full.
const RETRY_EVERY: Duration = Duration::from_millis(1);
/// How long the oldest waiting instance of one signal number may wait before that number's
/// backlog is dropped: the server is not taking it (blocked, with a full queue).
const GIVE_UP_AFTER: Duration = Duration::from_secs(5);
/// Past this many waiting real-time signals, new ones are dropped with a warning rather than
/// growing hardinit's memory without bound.
const BACKLOG_LIMIT: usize = 65_536;
/// After SIGKILL, how long hardinit waits for leftovers to die before it leaves without them.
const KILL_WAIT: Duration = Duration::from_secs(2);

/// What became of one attempt to forward a signal.
enum Delivery {
    /// Sent, dropped on purpose, or failed for good (logged): take it off the backlog.
    Done,
    /// The server's queue is full (EAGAIN): keep it and try again.
    Retry,
}

/// Real-time signals waiting for room in the server's queue: a FIFO per signal number.
#[derive(Default)]
struct Backlog {
    queues: BTreeMap<i32, (VecDeque<SigInfo>, Instant)>,
    total: usize,
    overflowing: bool,
}

impl Backlog {
    fn is_empty(&self) -> bool {
        self.total == 0
    }

    fn holds(&self, signal: i32) -> bool {
        self.queues.get(&signal).is_some_and(|(q, _)| !q.is_empty())
    }

    fn push(&mut self, info: SigInfo) {
        if self.total >= BACKLOG_LIMIT {
            if !self.overflowing {
                warn!("{} signals wait for the server; new ones are dropped until it takes some", self.total);
            }
            self.overflowing = true;
            return;
        }
        self.queues.entry(info.signal).or_insert_with(|| (VecDeque::new(), Instant::now())).0.push_back(info);
        self.total += 1;
    }

    /// Forwards what it can, oldest first within each signal number.
    fn retry(&mut self, supervisor: &Supervisor<'_>) {
        for (signal, (queue, since)) in self.queues.iter_mut() {
            while let Some(info) = queue.front() {
                match supervisor.forward(info) {
                    Delivery::Done => {
                        queue.pop_front();
                        self.total -= 1;
                        *since = Instant::now();
                    }
                    Delivery::Retry if since.elapsed() >= GIVE_UP_AFTER => {
                        warn!(
                            "the server has not taken {} for {GIVE_UP_AFTER:?} (blocked, with its queue full): {} waiting dropped",
                            signals::name(*signal),
                            queue.len()
                        );
                        self.total -= queue.len();
                        queue.clear();
                    }
                    Delivery::Retry => break,
                }
            }
        }
        self.queues.retain(|_, (q, _)| !q.is_empty());
        if self.total == 0 {
            self.overflowing = false;
        }
    }
}

/// Signals that end the server: after one is forwarded, a stopped server is continued so that it
/// can act on it (systemd does the same).
const TERMINATING: [i32; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT];

impl Supervisor<'_> {
    /// Runs until the server has ended and every other child is gone (or cannot be). Returns the
    /// server's end.
    pub fn run(&self, mut reloader: Option<Reloader>) -> Result<Ended, Fatal> {
        let waited = signals::waited_set();
        let mut backlog = Backlog::default();
        // A SIGTERM held back by --term-delay, and when it is due.
        let mut delayed: Option<(SigInfo, Instant)> = None;
        // Only the first SIGTERM is held back: once one has been, every later one means now.
        let mut term_held_once = false;
        let ended = loop {
            // No timer unless something is waiting: an idle hardinit never wakes up.
            let timeout = [
                (!backlog.is_empty()).then_some(RETRY_EVERY),
                reloader.as_ref().and_then(Reloader::time_left),
                delayed.map(|(_, due)| due.saturating_duration_since(Instant::now())),
            ]
            .into_iter()
            .flatten()
            .min();
            match wait(&waited, timeout)? {
                Some(info) if info.signal == libc::SIGCHLD => {
                    if let Some(ended) = self.reap_all() {
                        break ended;
                    }
                }
                Some(info) if reloader.is_some() && Reloader::is_notification(&info) => {
                    reloader.as_mut().map(Reloader::on_notification);
                }
                Some(info)
                    if info.signal == libc::SIGTERM
                        && !self.term_delay.is_zero()
                        && !term_held_once
                        && !self.is_own(&info) =>
                {
                    term_held_once = true;
                    info!(
                        "SIGTERM: the server keeps serving for {:?} before it gets it (--term-delay)",
                        self.term_delay
                    );
                    delayed = Some((info, Instant::now() + self.term_delay));
                }
                // A second SIGTERM, or a SIGINT, means now.
                Some(info) if delayed.is_some() && [libc::SIGTERM, libc::SIGINT].contains(&info.signal) => {
                    info!("{} during --term-delay: forwarding SIGTERM now", signals::name(info.signal));
                    if let Some((term, _)) = delayed.take() {
                        self.deliver(term, &mut backlog);
                    }
                    if info.signal == libc::SIGINT {
                        self.deliver(info, &mut backlog);
                    }
                }
                Some(info) => self.deliver(info, &mut backlog),
                None => {}
            }
            if delayed.is_some_and(|(_, due)| Instant::now() >= due) {
                if let Some((term, _)) = delayed.take() {
                    debug!("--term-delay over: forwarding SIGTERM");
                    self.deliver(term, &mut backlog);
                }
            }
            if let Some(reloader) = reloader.as_mut() {
                let changed = reloader.settle();
                if !changed.is_empty() {
                    self.reload(&changed);
                }
            }
            if !backlog.is_empty() {
                backlog.retry(self);
            }
        };
        if !backlog.is_empty() {
            warn!("the server ended with {} signals not yet delivered", backlog.total);
        }
        // A kill the server did not choose (SIGKILL by the OOM killer, say) is worth a line.
        match ended {
            Ended::Killed(_) => info!("server (pid {}) {ended}", self.server),
            Ended::Exited(_) => debug!("server (pid {}) {ended}", self.server),
        }
        self.drain(&waited)?;
        Ok(ended)
    }

    /// Forwards `info`, or queues it behind those of its number already waiting.
    fn deliver(&self, info: SigInfo, backlog: &mut Backlog) {
        // Order within one signal number: behind those already waiting.
        if backlog.holds(info.signal) {
            backlog.push(info);
        } else if let Delivery::Retry = self.forward(&info) {
            backlog.push(info);
        }
    }

    /// Whom kill(2) addresses for the server: the process, or its group (--forward-to group).
    fn kill_target(&self) -> i32 {
        if self.forward_to == ForwardTo::Group { -self.server } else { self.server }
    }

    /// A signal hardinit sent itself.
    fn is_own(&self, info: &SigInfo) -> bool {
        info.code == libc::SI_USER && info.sender_pid == self.own_pid
    }

    /// --reload-on-change: `changed` files have new content; SIGHUP makes the server read them.
    fn reload(&self, changed: &[std::path::PathBuf]) {
        let shown: Vec<String> = changed.iter().map(|p| p.display().to_string()).collect();
        match signal::kill(self.kill_target(), libc::SIGHUP) {
            Ok(()) => info!("{} changed: sent SIGHUP to the server (--reload-on-change)", shown.join(", ")),
            Err(e) => warn!("{} changed, but SIGHUP to the server failed: {e}", shown.join(", ")),
        }
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
        if self.is_own(info) {
            return Delivery::Done;
        }
        let name = || signals::name(info.signal);
        // On hangup the terminal itself signals the session leader and the foreground group, which
        // is the server's: passing ours on would deliver it twice (dumb-init #136).
        if self.session == Session::Terminal
            && info.code == libc::SI_KERNEL
            && [libc::SIGHUP, libc::SIGCONT].contains(&info.signal)
        {
            debug!("{} from the terminal already reached the server's group; not forwarded", name());
            return Delivery::Done;
        }
        let Some(target) = self.rewrites.apply(info.signal) else {
            debug!("{} dropped (--rewrite)", name());
            return Delivery::Done;
        };
        // kill(2) cannot fail for lack of room: for a real-time signal it would set the pending bit
        // without queueing an instance, silently merging it with the next one. rt_sigqueueinfo
        // says EAGAIN instead. A process group has no such call: there, kill(2) it is.
        let result = match self.forward_to {
            ForwardTo::Server if signals::is_realtime(target) => {
                signal::queue_signal(self.server, target, info.value, self.sender)
            }
            _ => signal::kill(self.kill_target(), target),
        };
        match result {
            Ok(()) => {
                debug!(
                    "forwarded {} (from pid {} uid {}) as {} to {}",
                    name(),
                    info.sender_pid,
                    info.sender_uid,
                    signals::name(target),
                    self.server
                );
                if TERMINATING.contains(&target) {
                    self.continue_if_stopped();
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => return Delivery::Retry,
            Err(e) => warn!("could not forward {} to the server (pid {}): {e}", signals::name(target), self.server),
        }
        Delivery::Done
    }

    /// A stopped server cannot act on the signal it was just sent: continue it.
    fn continue_if_stopped(&self) {
        if matches!(procfs::state_of(self.server), Some('T' | 't')) {
            match signal::kill(self.kill_target(), libc::SIGCONT) {
                Ok(()) => info!("the server was stopped: sent SIGCONT so that it can act on the signal"),
                Err(e) => warn!("the server is stopped and SIGCONT failed: {e}"),
            }
        }
    }

    /// After the server has ended: SIGTERM (and SIGCONT) whatever is left, wait up to the grace period while
    /// reaping (a SIGTERM or SIGINT ends the wait early: `docker stop` means now), then SIGKILL.
    /// What cannot be killed (another user's process, as a `docker exec` as root leaves) is
    /// logged and left: as a namespace's init, the kernel ends it when hardinit exits.
    fn drain(&self, waited: &SigSet) -> Result<(), Fatal> {
        if !self.children_remain() {
            return Ok(());
        }
        info!("server ended with processes left; sending SIGTERM, SIGKILL after {:?}", self.grace);
        let mut terminated = self.terminate_leftovers(&[]);
        let deadline = Instant::now().checked_add(self.grace).unwrap_or_else(Instant::now);
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
                        terminated.extend(self.terminate_leftovers(&terminated));
                    }
                }
                Some(info) if TERMINATING.contains(&info.signal) => {
                    info!("{} during the grace period: ending it now", signals::name(info.signal));
                    break;
                }
                Some(info) => debug!("{} ignored: the server has ended", signals::name(info.signal)),
                None => {}
            }
        }
        if !self.children_remain() {
            return Ok(());
        }
        warn!("processes still running after the grace period; sending SIGKILL");
        let deadline = Instant::now() + KILL_WAIT;
        loop {
            // Repeated: a subreaper adopts the orphans of each process it kills.
            let (_, refused) = self.signal_leftovers(libc::SIGKILL, &[]);
            let left = self.leftovers();
            let unkillable = !self.is_namespace_init && !left.is_empty() && left.iter().all(|p| refused.contains(p));
            if left.is_empty() || !self.children_remain() {
                return Ok(());
            }
            if unkillable || Instant::now() >= deadline {
                let shown: Vec<String> =
                    left.iter().map(|p| format!("{p} ({})", procfs::command_of(*p).unwrap_or_default())).collect();
                let fate = if self.is_namespace_init {
                    "the kernel ends them when hardinit exits"
                } else {
                    "they stay with the parent reaper"
                };
                warn!("cannot end processes of another user: {}; leaving them: {fate}", shown.join(", "));
                return Ok(());
            }
            if let Some(info) = wait(waited, Some(Duration::from_millis(50)))? {
                if info.signal == libc::SIGCHLD {
                    self.reap_all();
                }
            }
        }
    }

    /// The processes left besides hardinit: the whole namespace as its init, our children as a
    /// subreaper.
    fn leftovers(&self) -> Vec<i32> {
        if self.is_namespace_init { procfs::all_except(self.own_pid) } else { procfs::children_of(self.own_pid) }
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

    /// SIGTERM, then SIGCONT, to every leftover process not in `skip`: a stopped process acts on
    /// its SIGTERM only once continued, and would otherwise sit out the whole grace period until
    /// the SIGKILL (systemd sends the same pair). Returns whom it signalled, as a subreaper.
    fn terminate_leftovers(&self, skip: &[i32]) -> Vec<i32> {
        let (terminated, _) = self.signal_leftovers(libc::SIGTERM, skip);
        if self.is_namespace_init {
            self.signal_leftovers(libc::SIGCONT, &[]);
        }
        for pid in &terminated {
            if let Err(e) = signal::kill(*pid, libc::SIGCONT) {
                debug!("kill({pid}, SIGCONT): {e}");
            }
        }
        terminated
    }

    /// Sends `sig` to every leftover process (not already in `skip`); returns whom it
    /// signalled and who refused (EPERM), as a subreaper. As a namespace's init, kill(-1).
    fn signal_leftovers(&self, sig: i32, skip: &[i32]) -> (Vec<i32>, Vec<i32>) {
        if self.is_namespace_init {
            // ESRCH only means everything ended meanwhile; EPERM that nothing could be signalled.
            if let Err(e) = signal::kill(-1, sig) {
                debug!("kill(-1, {}): {e}", signals::name(sig));
            }
            return (Vec::new(), Vec::new());
        }
        let (mut signalled, mut refused) = (Vec::new(), Vec::new());
        for pid in procfs::children_of(self.own_pid).into_iter().filter(|p| !skip.contains(p)) {
            match signal::kill(pid, sig) {
                Ok(()) => signalled.push(pid),
                Err(e) => {
                    debug!("kill({pid}, {}): {e}", signals::name(sig));
                    if e.raw_os_error() == Some(libc::EPERM) {
                        refused.push(pid);
                    }
                }
            }
        }
        (signalled, refused)
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
