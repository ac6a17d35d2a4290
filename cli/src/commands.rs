//! Each command: read its arguments, call the SDK, print. Returns the exit code.

use std::time::Duration;

use serde_json::json;
use trainpod::dataset::{InspectOptions, inspect};
use trainpod::sdk::{Trainpod, check_runpod_key};
use trainpod::token::{KeyRing, generate_secret};
use trainpod::{Error, ErrorKind, Result};

use crate::settings::{Settings, invalid};
use crate::{Cli, Command, KeysCommand, exit, follow, output};

/// How long `logs` (without `--follow`) waits for another line before it stops: the stream
/// stays open while the pod lives.
const LOGS_QUIET: Duration = Duration::from_secs(2);

pub async fn run(cli: Cli) -> Result<u8> {
    let json = cli.json;
    if let Command::Local(args) = &cli.command {
        crate::local::serve(args).await?;
        return Ok(exit::OK);
    }
    if let Command::Keys(KeysCommand::New { rotate }) = &cli.command {
        return keys_new(*rotate, json);
    }
    if let Command::Inspect {
        dataset,
        max_errors,
    } = &cli.command
    {
        return inspect_dataset(dataset, *max_errors, json);
    }
    let settings = Settings::resolve(&cli.settings)?;
    match cli.command {
        Command::CheckKey => check_key(&settings, json).await,
        Command::Doctor { runpod } => crate::doctor::run(&settings, runpod, json).await,
        command => {
            let tp = settings.sdk().await?;
            if let (None, Some(job)) = (&settings.app_url, job_of(&command)) {
                // No app receives the pod's events: they are in its log, read now so the status
                // is current (`follow` reads it on every poll). Best effort: the store's status
                // still answers when RunPod is out of reach.
                let _ = tp.pull_log_events(job).await;
            }
            with_sdk(command, &tp, json).await
        }
    }
}

/// The job a command reads the status of.
fn job_of(command: &Command) -> Option<&str> {
    match command {
        Command::Status { job } | Command::Cancel { job } => Some(job),
        _ => None,
    }
}

/// The commands that need the SDK.
async fn with_sdk(command: Command, tp: &Trainpod, json: bool) -> Result<u8> {
    match command {
        Command::Plan(spec) => {
            let plan = tp.plan(&spec.job_spec()?).await?;
            print(json, &plan, output::plan);
        }
        Command::Deploy { job, follow, spec } => {
            let plan = match (job, spec.any()) {
                (Some(job), false) => tp.stored_plan(&job).await?,
                (None, true) => tp.plan(&spec.job_spec()?).await?,
                (Some(_), true) => {
                    return Err(invalid(
                        "give a planned job's id or a job spec (flags, --spec), not both".into(),
                    ));
                }
                (None, false) => {
                    return Err(invalid(
                        "deploy what? give the id `trainpod plan` printed, or a job spec \
                         (--model, --dataset-url, --budget, or --spec FILE)"
                            .into(),
                    ));
                }
            };
            let status = tp.deploy(&plan).await?;
            if follow {
                return follow::run(tp, &status.job_id, json).await;
            }
            print(json, &status, |s| {
                output::status(s);
                output::line(&format!("follow it with: trainpod follow {}", s.job_id));
            });
        }
        Command::Status { job } => print(json, &tp.status(&job).await?, output::status),
        Command::Follow { job } => return follow::run(tp, &job, json).await,
        Command::Logs { job, tail, follow } => logs(tp, &job, tail, follow, json).await?,
        Command::Cancel { job } => print(json, &tp.cancel(&job).await?, output::status),
        Command::Retry { job, follow } => {
            let status = tp.retry(&job).await?;
            if follow {
                return follow::run(tp, &status.job_id, json).await;
            }
            print(json, &status, output::status);
        }
        Command::Reconcile => {
            let actions = tp.reconcile().await?;
            if json {
                let all: Vec<_> = actions.iter().map(output::action_json).collect();
                output::json(&all);
            } else {
                output::actions(&actions);
            }
        }
        Command::Render { job } => {
            let plan = tp.stored_plan(&job).await?;
            print(json, &tp.render_script(&plan).await?, output::rendered);
        }
        Command::Keys(_)
        | Command::Inspect { .. }
        | Command::Local(_)
        | Command::CheckKey
        | Command::Doctor { .. } => {
            return Err(Error::new(ErrorKind::Internal, "dispatched above"));
        }
    }
    Ok(exit::OK)
}

/// `value` as JSON, or through `human`.
fn print<T: serde::Serialize>(json: bool, value: &T, human: impl FnOnce(&T)) {
    if json {
        output::json(value);
    } else {
        human(value);
    }
}

fn keys_new(rotate: bool, json: bool) -> Result<u8> {
    let ring = if rotate {
        rotated(&std::env::var(trainpod::sdk::SIGNING_KEYS_ENV).unwrap_or_default())?
    } else {
        format!("k1:active:{}", generate_secret())
    };
    // What it printed must be what the SDK reads.
    KeyRing::parse(&ring)?;
    if json {
        output::json(&json!({ "signing_keys": ring }));
    } else {
        output::line(&ring);
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "a secret: set it as TRAINPOD_SIGNING_KEYS (or `signing_keys` in the config \
                 file) wherever jobs are planned and followed, and keep it out of logs"
            );
        }
    }
    Ok(exit::OK)
}

/// `current` with its active key moved to `verify` and a new active key added.
fn rotated(current: &str) -> Result<String> {
    if current.trim().is_empty() {
        return Err(invalid(
            "--rotate rotates the ring in TRAINPOD_SIGNING_KEYS, which is not set".into(),
        ));
    }
    let ring = KeyRing::parse(current)?;
    let mut entries: Vec<String> = Vec::new();
    for entry in current
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|e| !e.is_empty())
    {
        // parse() accepted it: kid:status:secret.
        let mut parts = entry.splitn(3, ':');
        let (kid, status, secret) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        let status = if status == "active" { "verify" } else { status };
        entries.push(format!("{kid}:{status}:{secret}"));
    }
    let kid = (1..)
        .map(|n| format!("k{n}"))
        .find(|k| ring.get(k).is_none())
        .unwrap_or_else(|| "k-new".into());
    entries.push(format!("{kid}:active:{}", generate_secret()));
    Ok(entries.join(","))
}

fn inspect_dataset(path: &std::path::Path, max_errors: usize, json: bool) -> Result<u8> {
    let report = inspect(path, &InspectOptions { max_errors })?;
    print(json, &report, |r| {
        output::inspect(&path.display().to_string(), r)
    });
    Ok(if report.is_valid() {
        exit::OK
    } else {
        exit::INVALID_INPUT
    })
}

async fn check_key(settings: &Settings, json: bool) -> Result<u8> {
    let key = settings.api_key().ok_or_else(|| {
        Error::new(
            ErrorKind::AuthInvalid,
            "no RunPod API key to check: set RUNPOD_API_KEY (or `runpod_api_key` in the config \
             file)",
        )
    })?;
    let base = settings
        .local_url
        .as_deref()
        .or(settings.runpod_url.as_deref());
    let check = check_runpod_key(key, base).await?;
    print(json, &check, output::key_check);
    Ok(if check.can_run_jobs {
        exit::OK
    } else {
        exit::AUTH
    })
}

async fn logs(tp: &Trainpod, job: &str, tail: Option<u32>, follow: bool, json: bool) -> Result<()> {
    let mut stream = tp.logs(job, tail).await?;
    loop {
        let next = if follow {
            stream.next().await?
        } else {
            match tokio::time::timeout(LOGS_QUIET, stream.next()).await {
                Ok(next) => next?,
                Err(_) => None,
            }
        };
        let Some(event) = next else {
            return Ok(());
        };
        if json {
            output::json(&event);
        } else {
            output::line(&event.line);
        }
    }
}
