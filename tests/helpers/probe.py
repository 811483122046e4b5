#!/usr/bin/env python3
"""Test probe run by hardinit as its server (or beside it) in the integration tests.

recv LOG [--send-to-init] SIG[xN]...  block every signal, write "ready" to LOG, then log each
                                     signal received (one number a line, dequeued one instance at a
                                     time with sigwaitinfo) until every expected one has arrived.
                                     --send-to-init: send each expected signal to PID 1 first.
sigqueue PID SIG COUNT               queue COUNT instances of SIG to PID with sigqueue(3),
                                     retrying on EAGAIN; prints how many retries it needed.
orphans N OUT [--setsid]             make N orphans (grandchildren whose parent exits), wait until
                                     they have all exited, and write how many were adopted by
                                     PID 1 and how many zombies are left in /proc.
count-sigint SECONDS OUT             write "ready" to OUT, count SIGINTs for SECONDS, append the count
                                     and whether our group was the terminal's foreground group.
pty READY -- CMD...                  run CMD as a session leader on a new pseudo-terminal (as
                                     `docker run -it` does), type Ctrl-C once READY says "ready",
                                     pass on CMD's exit status.
storm PID                            send SIGHUP, SIGCHLD and SIGTERM in a tight loop to PID's first
                                     child (an init under unshare) until PID is gone; print how many.
background OUT -- CMD...             as an interactive shell on a new pseudo-terminal, run CMD in a
                                     background process group (`CMD &`) and write whether the shell
                                     kept the terminal's foreground while CMD ran and after it ended.
"""
import fcntl
import pty
import termios
import ctypes
import os
import signal
import sys
import time


def parse_signal(text):
    name = text.upper()
    if name.isdigit():
        return int(name)
    if not name.startswith("SIG"):
        name = "SIG" + name
    if name.startswith("SIGRTMIN+"):
        return signal.SIGRTMIN + int(name[9:])
    return int(getattr(signal, name))


def recv(log_path, args):
    send_to_init = "--send-to-init" in args
    expected = []
    for spec in (a for a in args if a != "--send-to-init"):
        name, _, count = spec.partition("x")
        expected.append((parse_signal(name), int(count or 1)))
    waited = set(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP}
    signal.pthread_sigmask(signal.SIG_BLOCK, waited)
    remaining = {}
    for sig, count in expected:
        remaining[sig] = remaining.get(sig, 0) + count
    with open(log_path, "w", buffering=1) as log:
        log.write("ready\n")
        pending = [sig for sig, count in expected for _ in range(count)] if send_to_init else []
        while any(remaining.values()):
            if pending:
                os.kill(1, pending.pop(0))
            info = signal.sigwaitinfo(waited)
            log.write(f"{info.si_signo}\n")
            if remaining.get(info.si_signo, 0) > 0:
                remaining[info.si_signo] -= 1
    return 0


def sigqueue(pid, sig, count):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.sigqueue.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
    retries = 0
    sent = 0
    while sent < count:
        if libc.sigqueue(pid, sig, ctypes.c_void_p(sent)) == 0:
            sent += 1
            continue
        err = ctypes.get_errno()
        if err != 11:  # EAGAIN: the receiver's queue is full, it will drain
            print(f"sigqueue failed: errno {err}", file=sys.stderr)
            return 1
        retries += 1
        time.sleep(0.0005)
    print(f"sent={sent} retries={retries}")
    return 0


def zombies():
    count = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    count += 1
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return count


def orphans(n, out, setsid=False):
    adopted_r, adopted_w = os.pipe()
    for _ in range(n):
        middle = os.fork()
        if middle == 0:
            if setsid:
                os.setsid()
            middle_pid = os.getpid()
            if os.fork() == 0:
                # Wait until the middle process is gone, then say who adopted us.
                deadline = time.monotonic() + 5
                while os.getppid() == middle_pid and time.monotonic() < deadline:
                    time.sleep(0.005)
                os.write(adopted_w, b"1" if os.getppid() == 1 else b"0")
                os._exit(0)
            os._exit(0)
        os.waitpid(middle, 0)
    os.close(adopted_w)
    reports = b""
    while True:
        chunk = os.read(adopted_r, 65536)
        if not chunk:
            break
        reports += chunk
    # Every orphan has exited once the pipe is closed; give the reaper a moment to catch up.
    deadline = time.monotonic() + 10
    left = zombies()
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = zombies()
    with open(out, "w") as f:
        f.write(f"orphans={len(reports)} adopted={reports.count(b'1')} zombies={left}\n")
    return 0


def count_sigint(seconds, out):
    received = []
    signal.signal(signal.SIGINT, lambda *_: received.append(1))
    with open(out, "w", buffering=1) as f:
        f.write("ready\n")
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.02)
        f.write(count_sigint_report(received))
    return 0


def count_sigint_report(received):
    try:
        foreground = os.tcgetpgrp(0) == os.getpgrp()
    except OSError:
        foreground = False
    return f"SIGINT={len(received)} foreground={int(foreground)}\n"


def on_new_terminal(become):
    """Forks a session leader on a new pseudo-terminal that runs become() (which never returns);
    returns its pid and the terminal's master end."""
    master, slave = pty.openpty()
    pid = os.fork()
    if pid == 0:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        os.close(master)
        os.close(slave)
        become()
    os.close(slave)
    return pid, master


def drain_and_wait(pid, master):
    while True:
        try:
            if not os.read(master, 4096):
                break
        except OSError:  # EIO: every slave end closed
            break
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) & 0xFF


def pty_run(ready, command):
    pid, master = on_new_terminal(lambda: os.execvp(command[0], command))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with open(ready) as f:
                if f.read().startswith("ready"):
                    break
        except FileNotFoundError:
            pass
        time.sleep(0.02)
    os.write(master, b"\x03")
    return drain_and_wait(pid, master)


def background(out, command):
    def shell():
        child = os.fork()
        if child == 0:
            os.setpgid(0, 0)
            os.execvp(command[0], command)
        try:
            os.setpgid(child, child)
        except OSError:  # the child got there first
            pass
        time.sleep(0.5)
        during = os.tcgetpgrp(0) == os.getpgrp()
        os.waitpid(child, 0)
        after = os.tcgetpgrp(0) == os.getpgrp()
        with open(out, "w") as f:
            f.write(f"during={int(during)} after={int(after)}\n")
        os._exit(0)

    return drain_and_wait(*on_new_terminal(shell))


def storm(parent):
    sent = 0
    deadline = time.monotonic() + 20
    seen = False
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{parent}/task/{parent}/children") as f:
                children = f.read().split()
        except OSError:
            break
        # The init has ended (the parent then has no child, or is a zombie waiting for us).
        try:
            with open(f"/proc/{parent}/stat") as f:
                zombie = f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except (OSError, IndexError):
            break
        if zombie or (seen and not children):
            break
        seen = seen or bool(children)
        for child in children[:1]:
            for sig in (signal.SIGHUP, signal.SIGCHLD, signal.SIGTERM):
                try:
                    os.kill(int(child), sig)
                    sent += 1
                except ProcessLookupError:
                    pass
    print(sent)
    return 0


def main(argv):
    command, args = argv[1], argv[2:]
    if command == "recv":
        return recv(args[0], args[1:])
    if command == "sigqueue":
        return sigqueue(int(args[0]), parse_signal(args[1]), int(args[2]))
    if command == "orphans":
        return orphans(int(args[0]), args[1], "--setsid" in args[2:])
    if command == "count-sigint":
        return count_sigint(float(args[0]), args[1])
    if command == "pty":
        return pty_run(args[0], args[2:])
    if command == "storm":
        return storm(int(args[0]))
    if command == "background":
        return background(args[0], args[2:])
    print(f"unknown probe command {command}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
