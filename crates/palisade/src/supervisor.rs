//! The app's process: start it on its private port, watch it, forward signals, and make sure
//! neither side ever runs without the other.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use palisade_proxy::app::AppTarget;
use palisade_proxy::inflight::Inflight;

/// How often the supervisor looks at the child, readiness and shutdown.
const TICK: Duration = Duration::from_millis(20);
/// Connect timeout of one readiness probe.
const PROBE_TIMEOUT: Duration = Duration::from_millis(200);

/// The signal that started a shutdown (0: none yet). Set by the signal watcher, read by the
/// supervisor loop.
#[derive(Debug, Default, Clone)]
pub struct ShutdownFlag(Arc<AtomicI32>);

impl ShutdownFlag {
    /// Records `signal` as the reason to shut down (the first one wins).
    pub fn trigger(&self, signal: i32) {
        let _ = self
            .0
            .compare_exchange(0, signal, Ordering::AcqRel, Ordering::Acquire);
    }

    /// The signal, once shutdown started.
    pub fn signal(&self) -> Option<i32> {
        match self.0.load(Ordering::Acquire) {
            0 => None,
            s => Some(s),
        }
    }
}

/// A free port on the loopback interface for the app (bound and released; the app binds it next).
pub fn free_loopback_port() -> std::io::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Starts `command` through `sh -c` in its own process group with `PORT` set to the app port,
/// inheriting stdout and stderr. If palisade dies, the kernel sends the app SIGTERM.
pub fn spawn_app(command: &str, app_port: u16) -> std::io::Result<Child> {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(exec_form(command))
        .env("PORT", app_port.to_string())
        .env_remove("PALISADE_PUBLIC_PORT")
        .process_group(0);
    set_parent_death_signal(&mut cmd);
    cmd.spawn()
}

/// Prefixes a simple command with `exec`, so the app replaces the shell: it is then palisade's
/// direct child, receives signals itself, its exit status is palisade's, and the parent-death
/// signal reaches it. Compound commands (`a; b`, pipes, subshells) are left to the shell.
pub fn exec_form(command: &str) -> String {
    let t = command.trim_start();
    let first = t.split_whitespace().next().unwrap_or("");
    let compound = t.contains(['(', ')', ';', '&', '|', '\n', '`']);
    if compound || first == "exec" || first.contains('=') || first.is_empty() {
        command.to_string()
    } else {
        format!("exec {t}")
    }
}

/// Asks the kernel to send SIGTERM to the child when the thread that spawned it (the supervisor
/// thread, which lives as long as palisade) goes away — the only way to keep "palisade died ⇒ the
/// app stops" true even for SIGKILL.
#[allow(unsafe_code)]
fn set_parent_death_signal(cmd: &mut Command) {
    // SAFETY: the closure runs in the forked child before exec and only makes the
    // async-signal-safe `prctl` system call; it touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Sends `signal` to the app's whole process group (the shell and everything it started).
pub fn signal_group(child: &Child, signal: Signal) {
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = killpg(Pid::from_raw(pid), signal);
    }
}

/// The exit code palisade should use for an app exit status (128 + signal for a signal death).
pub fn exit_code_of(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(c), _) => u8::try_from(c & 0xff).unwrap_or(1),
        (None, Some(sig)) => u8::try_from((128 + sig) & 0xff).unwrap_or(1),
        _ => 1,
    }
}

/// Probes the app's port on IPv4 then IPv6 loopback; returns the address that accepted.
pub fn probe(port: u16) -> Option<SocketAddr> {
    for host in ["127.0.0.1", "[::1]"] {
        let Ok(addr) = format!("{host}:{port}").parse::<SocketAddr>() else {
            continue;
        };
        if TcpStream::connect_timeout(&addr, PROBE_TIMEOUT).is_ok() {
            return Some(addr);
        }
    }
    None
}

/// What ended the supervision.
#[derive(Debug)]
pub enum Ending {
    /// The app exited on its own (not during a shutdown).
    AppExited(ExitStatus),
    /// The app never accepted connections within the boot timeout.
    BootTimeout,
    /// A signal asked palisade to stop; carries the app's exit status when it exited in time.
    Shutdown(Option<ExitStatus>),
}

/// Watches the child until something ends the run. Opens the readiness latch when the app
/// accepts connections; on shutdown forwards the signal to the app's group, waits for in-flight
/// requests and the app (up to `drain`), then kills what is left.
pub fn supervise(
    mut child: Child,
    app_port: u16,
    app: &AppTarget,
    boot_timeout: Duration,
    shutdown: &ShutdownFlag,
    inflight: &Inflight,
    drain: Duration,
) -> Ending {
    let boot_started = Instant::now();
    loop {
        if let Some(sig) = shutdown.signal() {
            let signal = Signal::try_from(sig).unwrap_or(Signal::SIGTERM);
            tracing::info!(signal = %signal, inflight = inflight.current(), "shutting down: no new connections; forwarding the signal to the app and draining");
            signal_group(&child, signal);
            let deadline = Instant::now() + drain;
            let mut app_status = None;
            while Instant::now() < deadline {
                if app_status.is_none() {
                    app_status = child.try_wait().ok().flatten();
                }
                if app_status.is_some() && inflight.current() == 0 {
                    break;
                }
                std::thread::sleep(TICK);
            }
            if app_status.is_none() {
                tracing::warn!(
                    "the app did not exit within the drain timeout; sending SIGKILL to its process group"
                );
                signal_group(&child, Signal::SIGKILL);
                app_status = child.wait().ok();
            }
            if inflight.current() > 0 {
                tracing::warn!(
                    inflight = inflight.current(),
                    "drain timeout reached with requests still in flight"
                );
            }
            return Ending::Shutdown(app_status);
        }
        match child.try_wait() {
            Ok(Some(status)) => return Ending::AppExited(status),
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, "cannot observe the app process");
                signal_group(&child, Signal::SIGKILL);
                return Ending::AppExited(ExitStatus::from_raw(1 << 8));
            }
        }
        if !app.is_ready() {
            if let Some(addr) = probe(app_port) {
                app.mark_ready(addr);
                tracing::info!(
                    app = %addr,
                    boot_ms = boot_started.elapsed().as_millis() as u64,
                    "the app accepts connections; serving"
                );
            } else if boot_started.elapsed() > boot_timeout {
                signal_group(&child, Signal::SIGTERM);
                std::thread::sleep(Duration::from_millis(500));
                signal_group(&child, Signal::SIGKILL);
                let _ = child.wait();
                return Ending::BootTimeout;
            }
        }
        std::thread::sleep(TICK);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_commands_are_execed() {
        assert_eq!(exec_form("python3 app.py"), "exec python3 app.py");
        assert_eq!(exec_form("exec puma"), "exec puma");
        assert_eq!(
            exec_form("sleep 1; python3 app.py"),
            "sleep 1; python3 app.py"
        );
        assert_eq!(exec_form("PORT=1 python3 app.py"), "PORT=1 python3 app.py");
        assert_eq!(exec_form("a | b"), "a | b");
    }
}
