//! What commands print: one JSON document with `--json` (core's serde types, as the bindings
//! expose them), else text for a person.

use std::io::Write;

use serde::Serialize;
use serde_json::{Value, json};
use trainpod::Error;
use trainpod::dataset::DatasetReport;
use trainpod::jobs::ReconcileAction;
use trainpod::script::RenderedScript;
use trainpod::sdk::{JobStatus, KeyCheck, Plan};

/// `print!` to stdout, which a closed pipe (`trainpod render JOB | head`) ends quietly with
/// 141, as SIGPIPE would, instead of a panic.
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::write_out(format_args!($($arg)*)) };
}

/// `println!` to stdout, as [`out!`].
macro_rules! outln {
    () => { $crate::output::write_out(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::write_out(format_args!("{}\n", format_args!($($arg)*))) };
}

pub(crate) use {out, outln};

/// Writes to stdout; a reader gone ends the process (see [`out!`]).
pub fn write_out(args: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args)
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(141);
    }
}

/// One JSON document on its own line.
pub fn json<T: Serialize>(value: &T) {
    let text = serde_json::to_string(value).unwrap_or_else(|e| {
        json!({"error": {"code": "INTERNAL", "message": format!("cannot encode: {e}")}}).to_string()
    });
    line(&text);
}

/// A line of text, flushed at once (a reader may wait for it).
pub fn line(text: &str) {
    outln!("{text}");
    // A follower reads each line as it comes: a pipe would otherwise hold it.
    let _ = std::io::stdout().flush();
}

/// An error: `{"error": {...}}` on stdout with `--json`, a line on stderr otherwise.
pub fn error(err: &Error, as_json: bool, exit_code: u8) {
    if as_json {
        json(&json!({"error": {
            "code": err.code(),
            "message": err.message(),
            "retryable": err.kind().is_retryable(),
            "exit_code": exit_code,
        }}));
    } else {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("error: {} [{}]", err.message(), err.code());
        }
    }
}

/// A duration as a person reads it: minutes under two hours, then hours.
fn span(secs: u64) -> String {
    if secs < 7200 {
        format!("{} min", (secs / 60).max(1))
    } else {
        format!("{:.1} h", secs as f64 / 3600.0)
    }
}

pub fn plan(plan: &Plan) {
    let e = &plan.estimate;
    outln!("job {} planned (not deployed)", plan.job_id);
    outln!(
        "  gpu       {} x{} at ${:.2}/h{}",
        plan.gpu.gpu_id,
        plan.gpu.count,
        plan.gpu.price_per_hour,
        plan.gpu
            .availability
            .as_ref()
            .map_or(String::new(), |a| format!(" ({a})"))
    );
    outln!(
        "  memory    {:.1} GB needed of {} GB",
        plan.memory.needed_gb,
        plan.gpu.memory_gb
    );
    outln!(
        "  model     {} ({} B parameters), {}",
        plan.spec.model,
        plan.params_b,
        trainpod::sdk::estimate::method_name(plan.spec.method)
    );
    outln!(
        "  dataset   {} bytes, sha256 {}",
        plan.dataset.bytes,
        plan.dataset.sha256
    );
    outln!(
        "  deadline  {} (what the ${:.2} budget buys)",
        span(plan.deadline_secs),
        plan.spec.budget_usd
    );
    outln!("  {:<18} {:<16} {}", "phase", "seconds", "usd");
    for l in &e.lines {
        outln!(
            "  {:<18} {:>7.0}-{:<7.0}s ${:>8.4}-{:<8.4}",
            l.phase,
            l.seconds_low,
            l.seconds_high,
            l.usd_low,
            l.usd_high
        );
    }
    outln!(
        "  {:<18} {:>7.0}-{:<7.0}s ${:>8.4}-{:<8.4}",
        "total",
        e.seconds_low,
        e.seconds_high,
        e.usd_low,
        e.usd_high
    );
    for f in &plan.fallbacks {
        outln!(
            "  fallback  {} x{} at ${:.2}/h",
            f.gpu_id,
            f.count,
            f.price_per_hour
        );
    }
    for w in &plan.warnings {
        outln!("  warning: {w}");
    }
    outln!("deploy it with: trainpod deploy {}", plan.job_id);
}

/// `step 3/30`, or `-` before the pod reported any.
fn steps(s: &JobStatus) -> String {
    match (s.step, s.total_steps) {
        (Some(a), Some(b)) => format!("{a}/{b}"),
        (Some(a), None) => a.to_string(),
        _ => "-".into(),
    }
}

pub fn status(s: &JobStatus) {
    outln!("job {}  attempt {}  {}", s.job_id, s.attempt, s.state);
    let row = |name: &str, value: String| outln!("  {name:<10}{value}");
    if !s.stage.is_empty() {
        row("stage", s.stage.clone());
    }
    row("pod", s.pod_id.clone().unwrap_or_else(|| "-".into()));
    row(
        "progress",
        format!("{:.0}%  step {}", s.progress * 100.0, steps(s)),
    );
    if let Some(loss) = s.loss {
        row("loss", format!("{loss:.4}"));
    }
    if let Some(eta) = s.eta_secs {
        row("eta", format!("{eta} s"));
    }
    let estimate = s.estimate_usd.map_or(String::new(), |(lo, hi)| {
        format!(" (estimate ${lo:.4}-${hi:.4})")
    });
    row(
        "cost",
        format!(
            "${:.4} of ${:.2} at ${:.2}/h{estimate}",
            s.cost_usd, s.budget_usd, s.price_per_hour
        ),
    );
    if let Some(billed) = s.billed_usd {
        row("billed", format!("${billed:.4}"));
    }
    if !s.reason.is_empty() {
        row("reason", s.reason.clone());
    }
    if !s.cause.is_empty() {
        row("cause", s.cause.clone());
    }
    if let Some(code) = s.exit_code {
        row("exit code", code.to_string());
    }
    if !s.log_tail.is_empty() {
        outln!("  log tail:");
        for line in s.log_tail.lines() {
            outln!("    {line}");
        }
    }
}

/// One line of a status change, for a log or a pipe.
pub fn status_line(s: &JobStatus) -> String {
    let loss = s.loss.map_or("-".into(), |l| format!("{l:.3}"));
    let eta = s.eta_secs.map_or("-".into(), |t| format!("{t}s"));
    format!(
        "{:<12} {:>3.0}%  step {:<9} loss {loss:<7} eta {eta:<6} ${:.4}",
        s.state.as_str(),
        s.progress * 100.0,
        steps(s),
        s.cost_usd
    )
}

/// A progress bar of `width` cells.
pub fn bar(progress: f64, width: usize) -> String {
    let filled = ((progress.clamp(0.0, 1.0) * width as f64).round() as usize).min(width);
    format!("[{}{}]", "#".repeat(filled), "-".repeat(width - filled))
}

pub fn key_check(check: &KeyCheck) {
    if check.can_run_jobs {
        outln!(
            "the RunPod key can run jobs ({})",
            json!(check.access).as_str().unwrap_or("?")
        );
    } else {
        outln!("the RunPod key cannot run jobs: {}", check.problem);
    }
    let available: Vec<_> = check.gpus.iter().filter(|g| g.available).collect();
    if let Some(g) = available.first() {
        outln!(
            "  cheapest available GPU: {} ({} GB) at ${:.2}/h",
            g.gpu_id,
            g.memory_gb,
            g.secure_price.or(g.community_price).unwrap_or(0.0)
        );
    }
    if !check.gpus.is_empty() {
        outln!(
            "  {} GPU types seen, {} available now",
            check.gpus.len(),
            available.len()
        );
    }
}

pub fn inspect(path: &str, r: &DatasetReport) {
    // The names JSON gives them.
    let name = |v: Value| v.as_str().unwrap_or("?").to_owned();
    let format = r.format.map_or("unknown".to_owned(), |f| name(json!(f)));
    let container = name(json!(r.container));
    let verdict = if r.is_valid() { "ok" } else { "refused" };
    outln!("{path}: {verdict}");
    outln!("  format    {format} ({container})");
    outln!("  rows      {} valid, {} refused", r.rows, r.error_count);
    outln!("  bytes     {}", r.bytes);
    outln!("  sha256    {}", r.sha256);
    outln!("  longest   {} bytes", r.longest_row_bytes);
    for e in &r.errors {
        outln!("  {}", serde_json::to_string(e).unwrap_or_default());
    }
}

pub fn rendered(script: &RenderedScript) {
    outln!("# start command: {}", script.start_command);
    outln!("# env: {}", script.env.join(" "));
    outln!(
        "# bundle: {} bytes, sha256 {} (credentials shown as {})",
        script.bytes,
        script.sha256,
        trainpod::script::REDACTED
    );
    for f in &script.files {
        outln!("\n# ---- {} (mode {:o}) ----", f.name, f.mode);
        out!("{}", f.text);
        if !f.text.ends_with('\n') {
            outln!();
        }
    }
}

/// A reconcile action as JSON: the fields the bindings give it.
pub fn action_json(a: &ReconcileAction) -> Value {
    json!({
        "pod_id": a.pod_id,
        "job_id": a.job_id,
        "reason": a.reason,
        "job_state": a.job_state,
        "error": a.error.as_ref().map(|e| json!({"code": e.code, "message": e.message})),
    })
}

pub fn actions(actions: &[ReconcileAction]) {
    if actions.is_empty() {
        outln!("nothing to do: every pod belongs to a live job");
    }
    for a in actions {
        let job = a.job_id.as_deref().unwrap_or("-");
        let pod = a.pod_id.as_deref().unwrap_or("-");
        let state = a.job_state.map_or("-".into(), |s| s.to_string());
        let error = a.error.as_ref().map_or(String::new(), |e| {
            format!("  error: {} [{}]", e.message, e.code)
        });
        outln!("{:<22} job {job}  pod {pod}  -> {state}{error}", a.reason);
    }
}
