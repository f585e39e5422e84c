//! The devnet's processes: every part of the network (node, oracles, fleet, storage
//! providers) runs as its own `depin` process, as it would on separate machines, with its
//! log in `DIR/logs/<name>.log` and its stdout in `DIR/logs/<name>.out`. One-shot commands (onboarding, `storage put`) run the
//! same binary and return its JSON output. Each process is a `depin_procs::Process`, the
//! harness the integration tests use too.

use anyhow::{bail, Context, Result};
use depin_procs::Process;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Longest wait for a started service to listen.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest wait for a service to stop after SIGINT before it is killed.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// The devnet's long-running processes, stopped (SIGINT, then SIGKILL after
/// [`STOP_TIMEOUT`]) in reverse start order when dropped.
pub struct Procs {
    exe: PathBuf,
    logs: PathBuf,
    password: String,
    running: Vec<Process>,
}

impl Procs {
    /// Processes of this executable, logging under `logs`; children read wallets with
    /// `password`.
    ///
    /// Errors: the executable's path is unknown, or `logs` cannot be created.
    pub fn new(logs: &Path, password: &str) -> Result<Procs> {
        std::fs::create_dir_all(logs).with_context(|| format!("creating {}", logs.display()))?;
        Ok(Procs {
            exe: std::env::current_exe().context("locating the depin executable")?,
            logs: logs.to_path_buf(),
            password: password.to_string(),
            running: Vec::new(),
        })
    }

    fn command(&self, args: &[String]) -> Command {
        let mut c = Command::new(&self.exe);
        c.args(args)
            .env("DEPIN_WALLET_PASSWORD", &self.password)
            .env("DEPIN_LOG_FILTER", "info");
        c
    }

    fn log_path(&self, name: &str) -> PathBuf {
        self.logs.join(format!("{name}.log"))
    }

    fn stdout_path(&self, name: &str) -> PathBuf {
        self.logs.join(format!("{name}.out"))
    }

    /// What process `name` printed on stdout (its JSON result, once it has exited).
    ///
    /// Errors: the output is not JSON.
    pub fn output_json(&self, name: &str) -> Result<serde_json::Value> {
        let text = std::fs::read_to_string(self.stdout_path(name))?;
        serde_json::from_str(&text)
            .with_context(|| format!("the {name} printed no JSON result{}", self.tail(name)))
    }

    /// Starts `depin ARGS` as `name` and, with `port`, waits until it listens there.
    ///
    /// Errors: the port is taken before the start, the process exits or does not listen
    /// within [`START_TIMEOUT`] (the error carries its log's last lines).
    pub fn start(&mut self, name: &str, args: &[String], port: Option<u16>) -> Result<()> {
        if let Some(port) = port {
            depin_procs::ensure_port_free(name, port)?;
        }
        let out = std::fs::File::create(self.stdout_path(name))?;
        let mut command = self.command(args);
        command.stdout(out);
        let mut process = Process::spawn(name, command, Some(&self.log_path(name)))?;
        let listening = port.map_or(Ok(()), |p| process.wait_listening(p, START_TIMEOUT));
        self.running.push(process);
        Ok(listening?)
    }

    fn process(&mut self, name: &str) -> Result<&mut Process> {
        match self.running.iter_mut().find(|p| p.name() == name) {
            Some(process) => Ok(process),
            None => bail!("no process named {name}"),
        }
    }

    /// Errors when process `name` has exited.
    pub fn check_alive(&mut self, name: &str) -> Result<()> {
        Ok(self.process(name)?.check_alive()?)
    }

    /// Whether process `name` has exited (and with what).
    pub fn exited(&mut self, name: &str) -> Option<std::process::ExitStatus> {
        self.process(name).ok()?.exited()
    }

    /// The last lines of `name`'s log, formatted for an error message.
    pub fn tail(&self, name: &str) -> String {
        self.running
            .iter()
            .find(|p| p.name() == name)
            .map(Process::log_tail)
            .unwrap_or_default()
    }

    /// Runs `depin ARGS` to completion and parses its stdout as JSON.
    ///
    /// Errors: the command fails (its stderr is in the error) or prints no JSON.
    pub async fn run_json(&self, args: Vec<String>) -> Result<serde_json::Value> {
        let mut cmd = self.command(&args);
        let out = tokio::task::spawn_blocking(move || cmd.output()).await??;
        if !out.status.success() {
            bail!(
                "depin {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        serde_json::from_slice(&out.stdout)
            .with_context(|| format!("depin {} printed no JSON", args.join(" ")))
    }

    /// Stops every process, newest first: SIGINT (each stops gracefully: the node after the
    /// block in progress), SIGKILL after [`STOP_TIMEOUT`].
    pub fn stop_all(&mut self) {
        for process in &self.running {
            process.interrupt();
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        while let Some(process) = self.running.pop() {
            process.stop_by(deadline);
        }
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        self.stop_all();
    }
}
