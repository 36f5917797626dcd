//! Runs the lab before it is wired into the `ftheta` binary:
//! `cargo run --release -p ftheta-lab --example lab -- --out lab`.

use clap::Parser;

#[derive(Parser)]
#[command(name = "lab", about = "Run the ftheta lab and write an HTML report")]
struct Cli {
    #[command(flatten)]
    args: ftheta_lab::cli::Args,
}

fn main() -> anyhow::Result<()> {
    ftheta_lab::cli::run(&Cli::parse().args)?;
    Ok(())
}
