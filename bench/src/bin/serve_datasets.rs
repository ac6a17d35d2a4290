//! Serve the datasets under ROOT with the Rust dataset server on 127.0.0.1:PORT and print one
//! JSON line: the URL of DATASET, a token for it (one hour) and its sha256. The subject of
//! `bench/serve.sh`. Usage: serve_datasets ROOT DATASET [PORT]

use std::process::ExitCode;
use std::sync::Arc;
use trainpod::staging::{AppStaging, server};
use trainpod::token::{KeyRing, Tokens, generate_secret};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(root), Some(dataset)) = (args.first(), args.get(1)) else {
        eprintln!("usage: serve_datasets ROOT DATASET [PORT]");
        return ExitCode::FAILURE;
    };
    let port = args.get(2).map_or("0", String::as_str);
    match run(root, dataset, port) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn run(root: &str, dataset: &str, port: &str) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Runtime::new()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")))?;
    let base = format!("http://{}", listener.local_addr()?);
    let keys = KeyRing::parse(&format!("k1:active:{}", generate_secret()))?;
    let tokens = Tokens::builder().keys(keys).audience(&base).build()?;
    let staging = AppStaging::new(root, tokens)?;
    let dl = runtime.block_on(staging.signed_download_url(
        &base,
        "bench-job",
        "bench-user",
        dataset,
        Some(3600),
    ))?;
    let line = serde_json::json!({"url": dl.url, "token": dl.token.expose(), "sha256": dl.sha256});
    #[allow(clippy::print_stdout)]
    {
        println!("{line}");
    }
    let app = server::router(Arc::new(staging));
    runtime.block_on(async move { axum::serve(listener, app).await })?;
    Ok(())
}
