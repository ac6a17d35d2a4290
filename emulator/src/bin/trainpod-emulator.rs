//! Starts the emulator on a free loopback port, prints its base URL on one line, and stops when
//! stdin closes (so a test process that spawns it needs no signals).

use tokio::io::AsyncReadExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let emulator = trainpod_emulator::Emulator::start().await?;
    #[allow(clippy::print_stdout)]
    {
        println!("{}", emulator.base_url());
    }
    let mut sink = Vec::new();
    tokio::io::stdin().read_to_end(&mut sink).await?;
    emulator.stop();
    Ok(())
}
