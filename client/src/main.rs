//! `keyrate-client`: the reference client. `--help` lists every flag.

use std::process::ExitCode;

use clap::Parser;
use keyrate_client::{Options, TokioSleeper, run};

#[tokio::main]
async fn main() -> ExitCode {
    let options = Options::parse();
    let mut out = std::io::stdout();
    match run(&options, &TokioSleeper::new(), &mut out).await {
        Ok(report) if report.tally.too_many == 0 => ExitCode::SUCCESS,
        Ok(report) => {
            let n = report.tally.too_many;
            eprintln!("error: {n} request(s) were refused with 429: the pacing failed");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
