//! Tokens walkthrough: issue a pod's tokens, verify them as the app's routes would, redeem a
//! single-use dataset token in the embedded SQLite store, and watch forged, misused and expired
//! tokens being refused with their error codes.
//!
//! Run: `cargo run -q -p trainpod-examples --bin tokens`. Uses `TRAINPOD_SIGNING_KEYS` when set,
//! otherwise a fresh key ring.

#![allow(clippy::print_stdout)]

use std::sync::Arc;
use trainpod::clock::ManualClock;
use trainpod::store;
use trainpod::token::{Expect, IssueRequest, KeyRing, Purpose, Tokens, generate_secret};

type Outcome = Result<String, String>;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(0) => std::process::ExitCode::SUCCESS,
        Ok(failures) => {
            println!("\n{failures} check(s) did not behave as expected");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            println!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> trainpod::Result<usize> {
    let spec = std::env::var("TRAINPOD_SIGNING_KEYS")
        .unwrap_or_else(|_| format!("k1:active:{}", generate_secret()));
    let keys = KeyRing::parse(&spec)?;
    let clock = Arc::new(ManualClock::new(now()));
    let tokens = Tokens::builder()
        .keys(keys)
        .audience("https://app.example.com")
        .clock(clock.clone())
        .build()?;
    println!(
        "trainpod {} — signing with key {:?}\n",
        trainpod::VERSION,
        tokens.keys().active().kid()
    );

    let dataset = tokens.issue(
        &IssueRequest::new(Purpose::DatasetRead, "user-1", "job-1")
            .dataset("ds-42")
            .once(true),
    )?;
    let mut metrics_req = IssueRequest::new(Purpose::MetricsWrite, "user-1", "job-1");
    metrics_req.epoch = Some(1);
    let metrics = tokens.issue(&metrics_req)?;
    println!(
        "issued dataset.read  {}  (single use, expires in {} s)",
        short(dataset.token.expose()),
        dataset.claims.exp - dataset.claims.iat
    );
    println!(
        "issued metrics.write {}  (attempt 1, expires in {} s)\n",
        short(metrics.token.expose()),
        metrics.claims.exp - metrics.claims.iat
    );

    let dir = std::env::temp_dir().join(format!("trainpod-quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| {
        trainpod::Error::invalid_input("cannot create a temporary directory").with_source(e)
    })?;
    let store = store::open(&format!("sqlite://{}/ledger.db", dir.display())).await?;
    let ds_route = Expect::purpose(Purpose::DatasetRead)
        .job("job-1")
        .dataset("ds-42");
    let metrics_route = Expect::purpose(Purpose::MetricsWrite).job("job-1");

    let mut failures = 0;
    let mut check = |what: &str, got: Outcome, want_ok: bool| {
        let (mark, detail) = match (&got, want_ok) {
            (Ok(d), true) | (Err(d), false) => ("ok  ", d.clone()),
            (Ok(d), false) | (Err(d), true) => {
                failures += 1;
                ("FAIL", d.clone())
            }
        };
        println!("[{mark}] {what:<48} {detail}");
    };
    let outcome = |r: trainpod::Result<trainpod::token::Claims>| -> Outcome {
        r.map(|c| format!("accepted: job {} user {}", c.job, c.sub))
            .map_err(|e| format!("refused: {}", e.code()))
    };

    check(
        "dataset route, dataset token",
        outcome(
            tokens
                .verify_and_redeem(dataset.token.expose(), &ds_route, &*store)
                .await,
        ),
        true,
    );
    check(
        "dataset route, same token again",
        outcome(
            tokens
                .verify_and_redeem(dataset.token.expose(), &ds_route, &*store)
                .await,
        ),
        false,
    );
    check(
        "metrics route, metrics token",
        outcome(tokens.verify(metrics.token.expose(), &metrics_route)),
        true,
    );
    check(
        "metrics route, tampered metrics token",
        outcome(tokens.verify(&tamper(metrics.token.expose()), &metrics_route)),
        false,
    );
    check(
        "dataset route, metrics token",
        outcome(tokens.verify(metrics.token.expose(), &ds_route)),
        false,
    );
    check(
        "metrics route, token of another job",
        outcome(tokens.verify(
            metrics.token.expose(),
            &Expect::purpose(Purpose::MetricsWrite).job("job-2"),
        )),
        false,
    );
    clock.advance(2 * 86_400);
    check(
        "metrics route, two days later",
        outcome(tokens.verify(metrics.token.expose(), &metrics_route)),
        false,
    );

    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "\nstore: {} · tokens are bearer credentials: only their first characters are shown",
        store.backend()
    );
    Ok(failures)
}

/// Change one character of the signature, as a forger would.
fn tamper(token: &str) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    let i = chars.len() - 10;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

fn short(token: &str) -> String {
    format!("{}…", &token[..token.len().min(16)])
}

fn now() -> u64 {
    use trainpod::clock::{Clock, SystemClock};
    SystemClock.now_unix_secs()
}
