//! Starts the emulator on a free loopback port, prints its base URL on one line, and stops when
//! stdin closes (so a test process that spawns it needs no signals). `--real-time` runs its clock
//! by itself. Tests control it over HTTP under `/_emulator/` (faults, advance, logs, requests).

use tokio::io::AsyncReadExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let mut options = trainpod_emulator::Options::default();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--real-time" => options.real_time = true,
            other => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("unknown argument {other:?}; the only option is --real-time"),
                ));
            }
        }
    }
    let emulator = trainpod_emulator::Emulator::start_with(options).await?;
    #[allow(clippy::print_stdout)]
    {
        println!("{}", emulator.base_url());
    }
    let mut sink = Vec::new();
    tokio::io::stdin().read_to_end(&mut sink).await?;
    emulator.stop();
    Ok(())
}
