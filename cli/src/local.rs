//! `trainpod local`: the local provider (RunPod's REST v2 API on loopback, each pod's start
//! command run as a local process group), the same server the `trainpod-emulator` binary
//! starts, with the same flags (and `--no-pods` for the plain emulator, which is the emulator
//! binary's default). Its first line on stdout is the base URL; it stops when stdin closes
//! (unless `--ignore-stdin`), or on SIGTERM or SIGINT, and every pod's process group is killed
//! then.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use tokio::io::AsyncReadExt;
use trainpod::Result;
use trainpod_emulator::{AccountKey, Options, RunPods};

use crate::settings::invalid;

#[derive(Args, Debug)]
pub struct LocalArgs {
    /// Serve the RunPod API only, as the plain emulator: pods are recorded, never run, and the
    /// clock stands still unless --real-time
    #[arg(long, conflicts_with = "run_pods")]
    pub no_pods: bool,
    /// Run each pod as a local process group (the default; for the emulator's command line)
    #[arg(long)]
    pub run_pods: bool,
    /// With --no-pods: the clock runs by itself
    #[arg(long)]
    pub real_time: bool,
    /// Add the key KEY to the account ID, with the permission all (default), read_only or none
    /// (repeat); the account `default` with the key rpa_emulator_account_key is always there
    #[arg(long = "account", value_name = "ID:KEY[:PERMISSION]")]
    pub accounts: Vec<String>,
    /// The shell a pod's start command runs in
    #[arg(long, value_name = "SH")]
    pub shell: Option<String>,
    /// Where each pod's workspace goes [default: a temporary directory]
    #[arg(long, value_name = "DIR")]
    pub workspace_root: Option<PathBuf>,
    /// How long RunPod waits before it restarts an exited container, ms
    #[arg(long, value_name = "MS")]
    pub restart_delay_ms: Option<u64>,
    /// Restarts of an exited container before it is left stopped [default: unlimited]
    #[arg(long, value_name = "N")]
    pub max_restarts: Option<u32>,
    /// How long a stopped pod's processes get between SIGTERM and SIGKILL, ms
    #[arg(long, value_name = "MS")]
    pub stop_grace_ms: Option<u64>,
    /// An environment variable every pod gets, NAME=VALUE (repeat)
    #[arg(long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// Keep serving when stdin closes (stop with Ctrl-C or SIGTERM): for `trainpod local &`
    #[arg(long)]
    pub ignore_stdin: bool,
}

impl LocalArgs {
    fn options(&self) -> Result<Options> {
        let mut options = Options {
            real_time: self.real_time,
            ..Options::default()
        };
        for spec in &self.accounts {
            let key = AccountKey::parse(spec).map_err(|e| invalid(format!("--account: {e}")))?;
            options.accounts.push(key);
        }
        let pod_flags = self.shell.is_some()
            || self.workspace_root.is_some()
            || self.restart_delay_ms.is_some()
            || self.max_restarts.is_some()
            || self.stop_grace_ms.is_some()
            || !self.env.is_empty();
        if self.no_pods {
            if pod_flags {
                return Err(invalid(
                    "--shell, --workspace-root, --restart-delay-ms, --max-restarts, \
                     --stop-grace-ms and --env are for pods that run: drop --no-pods"
                        .into(),
                ));
            }
            return Ok(options);
        }
        let mut run = RunPods::default();
        if let Some(shell) = &self.shell {
            run.shell = shell.clone();
        }
        run.workspace_root = self.workspace_root.clone();
        if let Some(ms) = self.restart_delay_ms {
            run.restart_delay = Duration::from_millis(ms);
        }
        if let Some(ms) = self.stop_grace_ms {
            run.stop_grace = Duration::from_millis(ms);
        }
        run.max_restarts = self.max_restarts;
        for given in &self.env {
            let Some((name, value)) = given.split_once('=').filter(|(n, _)| !n.is_empty()) else {
                return Err(invalid(format!("--env {given:?} is not NAME=VALUE")));
            };
            run.extra_env.push((name.to_owned(), value.to_owned()));
        }
        options.run_pods = Some(run);
        Ok(options)
    }
}

#[allow(clippy::print_stderr)]
fn hint(url: &str, pods: bool, ignore_stdin: bool) {
    let what = if pods {
        "the local provider (pods run on this machine)"
    } else {
        "the RunPod emulator (pods are not run)"
    };
    let stop = if ignore_stdin { "" } else { " or Ctrl-D" };
    eprintln!(
        "trainpod local: {what} at {url}\n  in another terminal: export TRAINPOD_LOCAL_URL={url}\n  \
         stop it with Ctrl-C{stop}"
    );
}

/// Serves until stdin closes or a signal comes.
pub async fn serve(args: &LocalArgs) -> Result<()> {
    let options = args.options()?;
    let pods = options.run_pods.is_some();
    let io = |what: &'static str| move |e: std::io::Error| invalid(format!("{what}: {e}"));
    let emulator = trainpod_emulator::Emulator::start_with(options)
        .await
        .map_err(io("cannot start the local provider"))?;
    // Handlers first: a signal sent as soon as the URL is out must stop the pods, not kill this
    // process with its pods left running.
    use tokio::signal::unix::{SignalKind, signal};
    let (mut term, mut int) = (
        signal(SignalKind::terminate()).map_err(io("signal"))?,
        signal(SignalKind::interrupt()).map_err(io("signal"))?,
    );
    let url = emulator.base_url();
    crate::output::line(&url);
    // For a person at a terminal; a harness (stdin a pipe) reads the URL line only.
    if std::io::stdin().is_terminal() {
        hint(&url, pods, args.ignore_stdin);
    }
    let stdin_closed = async {
        if args.ignore_stdin {
            return std::future::pending().await;
        }
        let mut sink = [0u8; 4096];
        let mut stdin = tokio::io::stdin();
        while matches!(stdin.read(&mut sink).await, Ok(n) if n > 0) {}
    };
    tokio::select! {
        () = stdin_closed => {}
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    emulator.stop();
    Ok(())
}
