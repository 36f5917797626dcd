//! The `ftheta` command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// ftheta: find a function f_θ from data. Train models, run the lab, see every idea.
#[derive(Parser, Debug)]
#[command(name = "ftheta", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the computation graph of a tiny model's loss (y = w·x + b) as Graphviz dot.
    Graph,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Some(Command::Graph) => {
            use ftheta::prelude::*;
            let x = Tensor::scalar(2.0).with_name("x");
            let t = Tensor::scalar(5.0).with_name("t");
            let w = Tensor::scalar(1.0).requires_grad().with_name("w");
            let b = Tensor::scalar(0.5).requires_grad().with_name("b");
            let loss = (&(&(&w * &x) + &b) - &t).pow(2.0).with_name("loss");
            loss.backward_with(None, BackwardOptions { retain_graph: true, retain_grads: true })?;
            print!("{}", loss.to_dot());
            Ok(())
        }
        None => {
            use clap::CommandFactory;
            Cli::command().print_help()?;
            println!();
            Ok(())
        }
    }
}
