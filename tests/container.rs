//! hardinit as PID 1 of real runc containers, with the real OpenBao server.

mod common;

use common::runc::Container;
use common::*;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

#[test]
fn openbao_under_hardinit_reloads_on_sighup_and_stops_cleanly_on_sigterm() {
    if !privileged(true) {
        return;
    }
    let listen = format!("-dev-listen-address=127.0.0.1:{}", free_port());
    let mut running = Container::new(
        "bao",
        &["/usr/local/bin/hardinit", "--", "/bin/bao", "server", "-dev", "-dev-no-store-token", &listen],
    )
    .start();
    running.wait_for_output("post-unseal setup complete", LONG);
    let server = running.server_pid();
    assert_eq!(status_field(&server.to_string(), "Name").as_deref(), Some("bao"));
    running.kill("HUP");
    running.wait_for_output("OpenBao reload triggered", LONG);
    running.kill("TERM");
    assert_eq!(running.wait(LONG), 0, "stderr: {}", running.stderr());
    assert!(
        running.stdout().contains("OpenBao shutdown triggered")
            || running.stderr().contains("OpenBao shutdown triggered")
    );
}

#[test]
fn hardinit_in_a_container_reaps_and_passes_the_exit_status_through() {
    if !privileged(true) {
        return;
    }
    let script =
        "for i in 1 2 3 4 5 6 7 8 9 10; do (sleep 0.1 &) ; done; sleep 1; ls /proc | grep -c '^[0-9]' ; exit 42";
    let mut running = Container::new("status", &["/usr/local/bin/hardinit", "--", "/bin/sh", "-c", script]).start();
    assert_eq!(running.wait(LONG), 42, "stderr: {}", running.stderr());
    // Only hardinit and the shell (and its ls/grep) were left: the ten orphans were reaped.
    let count: i32 = running.stdout().trim().parse().unwrap();
    assert!(count <= 4, "{count} processes left in /proc: {}", running.stdout());
}
