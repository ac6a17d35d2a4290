//! Starts the emulator on a free loopback port, prints its base URL on one line, and stops when
//! stdin closes, or on SIGTERM or SIGINT (so a test process that spawns it needs no signals).
//! Tests control it over HTTP under `/_emulator/` (faults and profiles, advance, logs, requests,
//! pods, vanish, runpodctl).
//!
//! Options:
//! - `--real-time`: the clock runs by itself.
//! - `--account ID:KEY[:PERMISSION]` (repeatable): adds the key `KEY` to the account `ID`
//!   (created with it), with the permission `all` (the default), `read_only` or `none`; the
//!   account `default` with the key `rpa_emulator_account_key` is always there.
//! - `--run-pods`: the local provider; each pod's start command runs as a local process group,
//!   with a `runpodctl` stand-in on its `PATH` (implies `--real-time`). With it: `--shell SH`,
//!   `--workspace-root DIR`, `--restart-delay-ms N`, `--max-restarts N`, `--stop-grace-ms N`,
//!   `--env NAME=VALUE` (repeatable).
//!
//! - `--hub-dir DIR`: also serves the models under `DIR` (`DIR/<org>/<name>/…`) as a Hugging
//!   Face Hub mirror on loopback, whose endpoint goes to stderr as `hub: URL`; the local
//!   provider's pods get it as `HF_ENDPOINT`.
//!
//! On stop every pod's process group is killed. A SIGKILL of this process cannot do that: close
//! its stdin or send SIGTERM instead.

use std::time::Duration;

use tokio::io::AsyncReadExt;
use trainpod_emulator::{AccountKey, Options, RunPods};

const USAGE: &str = "options: --real-time, --account ID:KEY[:all|read_only|none]..., --run-pods \
[--shell SH] [--workspace-root DIR] [--restart-delay-ms N] [--max-restarts N] [--stop-grace-ms N] \
[--env NAME=VALUE]..., --hub-dir DIR";

fn invalid(msg: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{msg}; {USAGE}"))
}

fn parse(args: impl IntoIterator<Item = String>) -> std::io::Result<Options> {
    let mut options = Options::default();
    let mut run = RunPods::default();
    let mut run_pods = false;
    let mut local_flag = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| invalid(format!("{name} needs a value")))
        };
        let number = |name: &str, v: String| {
            v.parse::<u64>()
                .map_err(|_| invalid(format!("{name}: {v:?} is not a whole number")))
        };
        match arg.as_str() {
            "--real-time" => options.real_time = true,
            "--run-pods" => run_pods = true,
            "--account" => {
                let v = value(&arg)?;
                let key = AccountKey::parse(&v).map_err(|e| invalid(format!("--account: {e}")))?;
                options.accounts.push(key);
            }
            "--hub-dir" => options.hub_dir = Some(value(&arg)?.into()),
            "--shell" => run.shell = value(&arg)?,
            "--workspace-root" => run.workspace_root = Some(value(&arg)?.into()),
            "--restart-delay-ms" => {
                run.restart_delay = Duration::from_millis(number(&arg, value(&arg)?)?);
            }
            "--stop-grace-ms" => {
                run.stop_grace = Duration::from_millis(number(&arg, value(&arg)?)?);
            }
            "--max-restarts" => {
                let n = number(&arg, value(&arg)?)?;
                run.max_restarts =
                    Some(u32::try_from(n).map_err(|_| invalid(format!("{arg}: too large")))?);
            }
            "--env" => {
                let v = value(&arg)?;
                let Some((name, val)) = v.split_once('=').filter(|(n, _)| !n.is_empty()) else {
                    return Err(invalid(format!("--env: {v:?} is not NAME=VALUE")));
                };
                run.extra_env.push((name.to_owned(), val.to_owned()));
            }
            other => return Err(invalid(format!("unknown argument {other:?}"))),
        }
        if !matches!(
            arg.as_str(),
            "--real-time" | "--run-pods" | "--account" | "--hub-dir"
        ) {
            local_flag = Some(arg);
        }
    }
    if let (false, Some(flag)) = (run_pods, local_flag) {
        return Err(invalid(format!("{flag} is valid only with --run-pods")));
    }
    options.run_pods = run_pods.then_some(run);
    Ok(options)
}

fn main() -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let served = runtime.block_on(serve());
    // Stdin is read on a blocking thread that returns only at the end of input: a shutdown that
    // waited for it would keep a process stopped by a signal alive while its stdin stays open.
    runtime.shutdown_background();
    served
}

async fn serve() -> std::io::Result<()> {
    let options = parse(std::env::args().skip(1))?;
    let emulator = trainpod_emulator::Emulator::start_with(options).await?;
    // Handlers first: a signal sent as soon as the URL is out must stop the pods, not kill this
    // process with its pods left running.
    use tokio::signal::unix::{SignalKind, signal};
    let (mut term, mut int) = (
        signal(SignalKind::terminate())?,
        signal(SignalKind::interrupt())?,
    );
    #[allow(clippy::print_stdout, clippy::print_stderr)]
    {
        if let Some(hub) = emulator.hub() {
            eprintln!("hub: {}", hub.endpoint());
        }
        println!("{}", emulator.base_url());
    }
    let stdin_closed = async {
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
