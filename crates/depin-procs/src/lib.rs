//! The one process harness of depin: a network of `depin` processes (node, oracles, agents,
//! validators) as `depin devnet`, the benches and the binary's integration tests run it.
//!
//! A [`Process`] is one started child: awaited until it listens ([`Process::wait_listening`]),
//! interrupted (SIGINT: a node finishes the block in progress) and stopped
//! ([`Process::stop`]), or SIGKILLed. Dropped, it is SIGKILLed and reaped, so a failing caller
//! leaves no process behind holding ports, memory and cores.

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Pause between readiness and exit polls.
pub const POLL: Duration = Duration::from_millis(20);
/// Lines of a failed process's log shown in its error.
pub const LOG_TAIL_LINES: usize = 20;

/// Why a process could not be started or did not come up.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    /// The executable could not be started.
    #[error("starting the {name}: {source}")]
    Spawn {
        /// The process's name.
        name: String,
        /// Why.
        source: std::io::Error,
    },
    /// Something listens on the port before the process starts.
    #[error("port {port} for the {name} is in use: stop what runs there or pick another port")]
    PortInUse {
        /// The process's name.
        name: String,
        /// The port.
        port: u16,
    },
    /// The process exited while it was awaited.
    #[error("the {name} exited ({status}){log_tail}")]
    Exited {
        /// The process's name.
        name: String,
        /// Its exit status.
        status: ExitStatus,
        /// The last lines of its log, if it has one.
        log_tail: String,
    },
    /// The process did not listen in time.
    #[error("the {name} did not listen on port {port} within {timeout_ms} ms{log_tail}")]
    NotListening {
        /// The process's name.
        name: String,
        /// The port.
        port: u16,
        /// How long it was awaited, ms.
        timeout_ms: u128,
        /// The last lines of its log, if it has one.
        log_tail: String,
    },
}

/// Errors unless `port` on loopback is free (for a process about to listen there).
///
/// Errors: [`ProcError::PortInUse`].
pub fn ensure_port_free(name: &str, port: u16) -> Result<(), ProcError> {
    match std::net::TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => Ok(()),
        Err(_) => Err(ProcError::PortInUse {
            name: name.to_string(),
            port,
        }),
    }
}

/// One started process: SIGKILLed and reaped when dropped.
#[derive(Debug)]
pub struct Process {
    name: String,
    child: Child,
    log: Option<PathBuf>,
}

impl Process {
    /// Starts `command` as `name` (its stdin closed), its stderr logged to `log` if given.
    ///
    /// Errors: [`ProcError::Spawn`] (the log file cannot be created, or the executable run).
    pub fn spawn(
        name: &str,
        mut command: Command,
        log: Option<&Path>,
    ) -> Result<Process, ProcError> {
        let spawn_error = |source| ProcError::Spawn {
            name: name.to_string(),
            source,
        };
        command.stdin(Stdio::null());
        if let Some(path) = log {
            command.stderr(std::fs::File::create(path).map_err(spawn_error)?);
        }
        let child = command.spawn().map_err(spawn_error)?;
        Ok(Process {
            name: name.to_string(),
            child,
            log: log.map(Path::to_path_buf),
        })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Waits until something listens on loopback `port`.
    ///
    /// Errors: [`ProcError::Exited`] if the process exits first, [`ProcError::NotListening`]
    /// after `timeout` (the process is left running; drop it to kill it).
    pub fn wait_listening(&mut self, port: u16, timeout: Duration) -> Result<(), ProcError> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(());
            }
            self.check_alive()?;
            std::thread::sleep(POLL);
        }
        Err(ProcError::NotListening {
            name: self.name.clone(),
            port,
            timeout_ms: timeout.as_millis(),
            log_tail: self.log_tail(),
        })
    }

    /// Errors when the process has exited.
    ///
    /// Errors: [`ProcError::Exited`].
    pub fn check_alive(&mut self) -> Result<(), ProcError> {
        match self.child.try_wait() {
            Ok(Some(status)) => Err(ProcError::Exited {
                name: self.name.clone(),
                status,
                log_tail: self.log_tail(),
            }),
            _ => Ok(()),
        }
    }

    /// Whether it has exited, and how.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Sends SIGINT (a node finishes its block in progress, then exits).
    pub fn interrupt(&self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status();
    }

    /// Waits until it has exited or `deadline` has passed, then SIGKILLs and reaps it.
    pub fn stop_by(mut self, deadline: Instant) {
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(POLL);
        }
        // Drop kills and reaps.
    }

    /// SIGINT, then SIGKILL once `grace` has passed without an exit.
    pub fn stop(self, grace: Duration) {
        self.interrupt();
        self.stop_by(Instant::now() + grace);
    }

    /// The last [`LOG_TAIL_LINES`] lines of its log, formatted for an error message (empty
    /// without a log).
    pub fn log_tail(&self) -> String {
        let Some(path) = &self.log else {
            return String::new();
        };
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(LOG_TAIL_LINES);
        format!(
            "; last lines of {}:\n{}",
            path.display(),
            lines[from..].join("\n")
        )
    }
}

impl Deref for Process {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.child
    }
}

impl DerefMut for Process {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str) -> Command {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        command
    }

    #[test]
    fn a_process_that_exits_before_listening_is_reported_with_its_log() {
        let dir = std::env::temp_dir().join(format!("depin-procs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("early.log");
        let mut process =
            Process::spawn("early", shell("echo going away >&2; exit 3"), Some(&log)).unwrap();
        let err = process
            .wait_listening(1, Duration::from_secs(10))
            .unwrap_err();
        let ProcError::Exited {
            name,
            status,
            log_tail,
        } = err
        else {
            panic!("{err}");
        };
        assert_eq!((name.as_str(), status.code()), ("early", Some(3)));
        assert!(log_tail.ends_with("going away"), "{log_tail}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_process_that_never_listens_times_out_and_is_killed_on_drop() {
        let mut process = Process::spawn("sleeper", shell("exec sleep 30"), None).unwrap();
        let err = process
            .wait_listening(1, Duration::from_millis(100))
            .unwrap_err();
        assert!(
            matches!(err, ProcError::NotListening { port: 1, .. }),
            "{err}"
        );
        let pid = process.id();
        drop(process);
        let alive = Command::new("kill")
            .args(["-0", &pid.to_string()])
            .status()
            .unwrap();
        assert!(!alive.success(), "the dropped process is gone");
    }

    #[test]
    fn a_listening_process_is_awaited_until_it_listens() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut process = Process::spawn("waiter", shell("exec sleep 30"), None).unwrap();
        process
            .wait_listening(port, Duration::from_secs(5))
            .unwrap();
        assert!(ensure_port_free("other", port).is_err());
    }

    // Whether SIGINT stops a child depends on what it inherits (a shell started in the
    // background ignores SIGINT and cannot trap it), so these tests do not rely on it.
    #[test]
    fn a_process_that_ignores_sigint_is_killed_once_the_grace_has_passed() {
        let ignoring = shell("trap '' INT; while :; do sleep 0.05; done");
        let process = Process::spawn("stubborn", ignoring, None).unwrap();
        let pid = process.id();
        let started = Instant::now();
        process.stop(Duration::from_millis(300));
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "the grace was given"
        );
        let alive = Command::new("kill")
            .args(["-0", &pid.to_string()])
            .status()
            .unwrap();
        assert!(!alive.success(), "killed after the grace");
    }

    #[test]
    fn a_process_that_has_exited_is_stopped_without_waiting_for_the_grace() {
        let mut process = Process::spawn("done", shell("exit 0"), None).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while process.exited().is_none() && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
        let started = Instant::now();
        process.stop(Duration::from_secs(10));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
