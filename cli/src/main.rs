//! `trainpod`: fine-tuning jobs on RunPod (or on this machine's local provider) from a
//! terminal. It parses, calls core's SDK and prints: every check and rule is core's.

mod commands;
mod doctor;
mod exit;
mod follow;
mod local;
mod output;
mod settings;
mod spec;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use settings::SettingsArgs;
use spec::SpecArgs;

const AFTER_HELP: &str = "\
Settings: a flag, else its environment variable, else the config file (--config, else
$TRAINPOD_CONFIG, else ~/.config/trainpod/config.toml). The secrets are read from the
environment or the config file only, never from flags: RUNPOD_API_KEY, TRAINPOD_SIGNING_KEYS.

Examples:
  trainpod keys new                          # a signing key ring: export TRAINPOD_SIGNING_KEYS=...
  trainpod check-key                         # what RUNPOD_API_KEY may do, and GPU prices
  trainpod inspect data.jsonl                # rows, format, size and sha256 of a dataset
  trainpod plan --model Qwen/Qwen2.5-0.5B --dataset-url https://example.com/data.jsonl \\
      --dataset-file data.jsonl --budget 5
  trainpod deploy JOB --follow               # deploy the plan, then a live progress bar
  trainpod status JOB --json                 # one JSON document
  trainpod local                             # the local provider: pods run on this machine

See docs/cli.md for every command.
";

#[derive(Parser, Debug)]
#[command(
    name = "trainpod",
    version,
    about = "Fine-tune a model on a rented RunPod GPU, and never pay for a pod that is not training.",
    after_help = format!("{AFTER_HELP}\n{}", exit::TABLE),
    propagate_version = true
)]
struct Cli {
    /// Print JSON (one document; JSON lines for `follow` and `logs`) instead of text
    #[arg(long, global = true)]
    json: bool,
    #[command(flatten)]
    settings: SettingsArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Signing keys: the ring pods' tokens are signed with
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Check the RunPod key (RUNPOD_API_KEY): valid, what it may do, the GPUs it sees
    #[command(
        after_help = "Examples:\n  RUNPOD_API_KEY=rpa_... trainpod check-key\n  \
                            trainpod check-key --json | jq .gpus[0]\n\nExits 4 when the key \
                            cannot run jobs."
    )]
    CheckKey,
    /// Check a dataset file (JSONL, JSON, Parquet...): its rows, format, size and sha256
    #[command(after_help = "Examples:\n  trainpod inspect data.jsonl\n  \
                            trainpod inspect data.jsonl --json | jq .sha256\n\nExits 3 when \
                            rows are refused.")]
    Inspect {
        /// The dataset file
        dataset: PathBuf,
        /// Row errors listed, at most
        #[arg(long, default_value_t = 20)]
        max_errors: usize,
    },
    /// Plan a job: every check before money is spent, and its cost estimate. Nothing runs
    #[command(
        after_help = "Examples:\n  trainpod plan --model Qwen/Qwen2.5-0.5B \\\n      \
                            --dataset-url https://example.com/chat.jsonl --dataset-file chat.jsonl \\\n      \
                            --budget 5 --hp max_steps=200\n  \
                            trainpod plan --spec job.json --budget 2 --json"
    )]
    Plan(SpecArgs),
    /// Deploy a planned job (by id), or plan and deploy one from flags
    #[command(
        after_help = "Examples:\n  trainpod deploy JOB                  # the plan `trainpod plan` stored\n  \
                            trainpod deploy --spec job.json --follow\n  \
                            trainpod deploy --model Qwen/Qwen2.5-0.5B --dataset-url URL \\\n      \
                            --dataset-file data.jsonl --budget 5"
    )]
    Deploy {
        /// The id of a job `trainpod plan` planned
        job: Option<String>,
        /// Follow the job to its end after deploying (exit 7 unless it succeeds)
        #[arg(long)]
        follow: bool,
        #[command(flatten)]
        spec: SpecArgs,
    },
    /// A job's status: state, progress, loss, cost, and why it failed
    #[command(
        after_help = "Examples:\n  trainpod status JOB\n  trainpod status JOB --json | jq .state"
    )]
    Status {
        /// The job id
        job: String,
    },
    /// Follow a job to its end: a live progress bar (JSON lines with --json)
    #[command(after_help = "Examples:\n  trainpod follow JOB\n  \
                            trainpod follow JOB --json | jq -c 'select(.kind == \"status\")'\n\n\
                            Exits 0 when the job succeeds, 7 when it ends otherwise.")]
    Follow {
        /// The job id
        job: String,
    },
    /// The pod's log (container and system lines)
    #[command(
        after_help = "Examples:\n  trainpod logs JOB --tail 100\n  trainpod logs JOB --follow"
    )]
    Logs {
        /// The job id
        job: String,
        /// Lines from the end to start with
        #[arg(long, value_name = "N")]
        tail: Option<u32>,
        /// Keep printing lines as they come, until the pod ends or Ctrl-C
        #[arg(long, short)]
        follow: bool,
    },
    /// Cancel a job: its pod is terminated and billing stops
    #[command(after_help = "Examples:\n  trainpod cancel JOB")]
    Cancel {
        /// The job id
        job: String,
    },
    /// Start a new attempt of an ended job (a new pod)
    #[command(after_help = "Examples:\n  trainpod retry JOB --follow")]
    Retry {
        /// The job id
        job: String,
        /// Follow the new attempt to its end
        #[arg(long)]
        follow: bool,
    },
    /// One reconcile pass: end every pod nobody should pay for (run it from cron)
    #[command(after_help = "Examples:\n  trainpod reconcile\n  \
                            */5 * * * * trainpod reconcile --json >> reconcile.log")]
    Reconcile,
    /// The pod script of a planned job, with every credential redacted
    #[command(
        after_help = "Examples:\n  trainpod render JOB | less\n  trainpod render JOB --json | jq -r '.files[0].text'"
    )]
    Render {
        /// The job id
        job: String,
    },
    /// Check this setup: config, signing keys, store, the local provider or a RunPod key
    #[command(
        after_help = "Examples:\n  trainpod doctor\n  trainpod doctor --runpod\n\n\
                            Without a RunPod key it checks the local setup; with --runpod a \
                            missing or refused key fails (exit 4)."
    )]
    Doctor {
        /// Require a RunPod key that can run jobs, and show the cheapest GPU it can rent
        #[arg(long)]
        runpod: bool,
    },
    /// Start the local provider: RunPod's API on loopback, each pod a local process group
    #[command(
        after_help = "Prints its base URL on the first line of stdout; point commands at \
                            it with --local-url URL or TRAINPOD_LOCAL_URL. Stops when stdin \
                            closes (unless --ignore-stdin), on Ctrl-C or SIGTERM, killing every \
                            pod's processes.\n\nExamples:\n  trainpod local\n  \
                            trainpod local --ignore-stdin --workspace-root /tmp/pods --env HF_HUB_OFFLINE=1 &"
    )]
    Local(local::LocalArgs),
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// Print a new key ring (`k1:active:<secret>`); with --rotate, the ring in
    /// TRAINPOD_SIGNING_KEYS with a new active key and the old ones kept for verifying
    #[command(
        after_help = "Examples:\n  export TRAINPOD_SIGNING_KEYS=$(trainpod keys new)\n  \
                            trainpod keys new --rotate\n\nThe ring is a secret: keep it out of \
                            shell history and logs."
    )]
    New {
        /// Add a new active key to the current ring, the others kept for verifying
        #[arg(long)]
        rotate: bool,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return exit::exit(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: cannot start: {e}");
            }
            return exit::exit(exit::INTERNAL);
        }
    };
    let json = cli.json;
    let code = match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(err) => {
            let code = exit::code(err.kind());
            output::error(&err, json, code);
            code
        }
    };
    // `local` reads stdin on a blocking thread that returns only at the end of input: a
    // shutdown that waited for it would keep a process stopped by a signal alive.
    runtime.shutdown_background();
    exit::exit(code)
}
