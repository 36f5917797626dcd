//! The `ftheta` command line.

mod args;
mod solve;
mod train;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// ftheta: find a function f_θ from data. Train models, run the lab, see every idea.
#[derive(Parser, Debug)]
#[command(name = "ftheta", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the lecture's experiments on built-in data and write an HTML report (lab/index.html).
    Lab(ftheta_lab::cli::Args),
    /// Print the computation graph of a tiny model's loss (y = w·x + b) as Graphviz dot.
    Graph,
    /// Train a model on data; write a run folder with --out.
    #[command(after_help = "Ctrl-C stops after the update under way, saves a checkpoint in the run folder, prints \
the command that resumes it and exits with code 130 (a second Ctrl-C exits at once).\n\
Exit codes: 0 done, 1 failed while training (diverged, run folder not writable), 2 bad input or flags, \
130 interrupted.")]
    Train(Box<args::TrainArgs>),
    /// Score a run's best model: by default on its own test rows, which training never saw.
    Eval {
        /// The run folder.
        #[arg(long, value_name = "DIR")]
        run: PathBuf,
        /// A CSV file, an MNIST folder (its test part) or a built-in name (default: the run's own
        /// data).
        #[arg(long, value_name = "SOURCE")]
        data: Option<String>,
        /// Which rows: train, validation or test (the run's own split, made again from its seed),
        /// or all (default: test on the run's own data, all on other data).
        #[arg(long, value_name = "PART", value_parser = parse_part)]
        part: Option<ftheta_train::Part>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Predict with a run's best model, one CSV line per row.
    Predict {
        /// The run folder.
        #[arg(long, value_name = "DIR")]
        run: PathBuf,
        /// A CSV file, an MNIST folder (its test part) or a built-in name.
        #[arg(long, value_name = "SOURCE")]
        data: String,
        /// Write the predictions here instead of stdout.
        #[arg(long, value_name = "FILE.csv")]
        out: Option<PathBuf>,
        /// For classes: also write each class's probability (columns p_CLASS).
        #[arg(long)]
        proba: bool,
    },
    /// Serve the dashboard: runs with live curves, and a gradient-descent playground.
    #[command(after_help = "Pages: / (runs), /run?id=ID, /playground. It serves only files inside the runs folder \
and its own embedded assets, and by default listens on this machine only (127.0.0.1).")]
    Serve {
        /// The folder whose run folders (each with a config.json) are listed; it may not exist yet.
        #[arg(long, value_name = "DIR", default_value = "runs")]
        runs: PathBuf,
        /// The port; 0 picks a free one.
        #[arg(long, value_name = "N", default_value_t = 6006)]
        port: u16,
        /// The address to listen on; 0.0.0.0 opens it to other machines.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
        host: std::net::IpAddr,
    },
    /// Fit y = w·x + b by least squares in closed form.
    Solve {
        #[command(flatten)]
        data: args::DataArgs,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

fn parse_part(s: &str) -> Result<ftheta_train::Part, String> {
    s.parse()
}

fn main() -> ExitCode {
    // A bug must not dump a backtrace on the user: print the message and exit 101.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal error: {info}");
    }));
    let parsed = Cli::command().try_get_matches().and_then(|m| {
        let mut cli = Cli::from_arg_matches(&m)?;
        if let (Some(Command::Train(a)), Some(t)) = (&mut cli.command, m.subcommand_matches("train")) {
            // Which flags the user typed (not defaults): a resumed run refuses those it cannot honour.
            let cmd = Cli::command();
            let flags = cmd.find_subcommand("train").into_iter().flat_map(|c| c.get_arguments());
            a.given = flags
                .map(|arg| arg.get_id().as_str().to_string())
                .filter(|id| t.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
                .collect();
        }
        Ok(cli)
    });
    let cli = match parsed {
        Ok(c) => c,
        Err(e) => {
            if !e.use_stderr() {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            eprintln!("{}", short_clap_error(&e.render().to_string()));
            return ExitCode::from(2);
        }
    };
    let json = wants_json(&cli);
    match std::panic::catch_unwind(|| run(cli)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            let code = exit_code(&e);
            if json {
                // A script reading stdout gets an object it can parse, with the same exit code.
                println!("{}", serde_json::json!({ "error": message(&e), "exit_code": code }));
            }
            if code == train::EXIT_INTERRUPTED {
                eprintln!("{}", message(&e));
            } else {
                eprintln!("error: {}", message(&e));
            }
            ExitCode::from(code)
        }
        Err(_) => ExitCode::from(101),
    }
}

/// clap's error cut short: the first paragraph names the flag and the problem, and a `tip:` line
/// (clap's "a similar argument exists: '--epochs'") is kept; the usage boilerplate goes.
fn short_clap_error(text: &str) -> String {
    let mut paragraphs = text.split("\n\n");
    let mut out = paragraphs.next().unwrap_or(text).trim_end().to_string();
    for p in paragraphs {
        for line in p.lines().filter(|l| l.trim_start().starts_with("tip:")) {
            out.push('\n');
            out += line;
        }
    }
    out
}

/// Whether the command was asked for JSON on stdout (`--json`).
fn wants_json(cli: &Cli) -> bool {
    match &cli.command {
        Some(Command::Train(a)) => a.json,
        Some(Command::Eval { json, .. } | Command::Solve { json, .. }) => *json,
        _ => false,
    }
}

/// The error and its causes joined by `: ` (as `{:#}`), leaving out a cause that its parent's
/// message already contains.
fn message(e: &anyhow::Error) -> String {
    ftheta_train::chain_text(e.as_ref())
}

/// 1 when training failed while running (divergence, a run folder that cannot be written), 130
/// when Ctrl-C stopped it (after saving a checkpoint), 2 for bad input or flags.
fn exit_code(e: &anyhow::Error) -> u8 {
    use ftheta_train::TrainError;
    let train_errors = || e.chain().filter_map(|c| c.downcast_ref::<TrainError>()).map(TrainError::root);
    if train_errors().any(|t| matches!(t, TrainError::Interrupted { .. })) {
        return train::EXIT_INTERRUPTED;
    }
    let running = train_errors().any(|t| matches!(t, TrainError::Diverged { .. } | TrainError::Io { .. }));
    if running {
        1
    } else {
        2
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
        Some(Command::Lab(a)) => ftheta_lab::cli::run(&a).map(|_| ()),
        Some(Command::Train(a)) => train::train(&a),
        Some(Command::Eval { run, data, part, json }) => train::eval(&run, data.as_deref(), part, json),
        Some(Command::Predict { run, data, out, proba }) => train::predict(&run, &data, out.as_ref(), proba),
        Some(Command::Solve { data, json }) => solve::solve(&data, json),
        Some(Command::Serve { runs, port, host }) => {
            let addr = std::net::SocketAddr::new(host, port);
            Ok(ftheta_serve::serve(&runs, addr, |at| {
                let url = match at.ip() {
                    ip if ip.is_unspecified() => {
                        format!("http://{}:{}/ (all addresses)", std::net::Ipv4Addr::LOCALHOST, at.port())
                    }
                    _ => format!("http://{at}/"),
                };
                let note = if runs.is_dir() { "" } else { "; it does not exist yet" };
                println!("ftheta serve: {url} (runs from {}{note})", runs.display());
            })?)
        }
        None => {
            Cli::command().print_help()?;
            println!();
            Ok(())
        }
    }
}
