//! Command-line arguments and their checks (a bad value is a clap error naming the flag, exit 2).

use std::path::PathBuf;

use clap::Args;
use ftheta_nn::{Loss, ModelSpec};
use ftheta_train::OptimizerKind;

/// Where the data comes from and which columns to use.
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// A CSV file, a folder of MNIST IDX files, or a built-in data set: deliveries, digits, iris,
    /// xor (compiled in, no files needed).
    #[arg(long, value_name = "SOURCE")]
    pub data: String,
    /// The column to predict.
    #[arg(long, value_name = "COL")]
    pub target: Option<String>,
    /// Feature columns to use (default: all but the target).
    #[arg(long, value_name = "A,B", value_delimiter = ',', conflicts_with = "drop")]
    pub features: Option<Vec<String>>,
    /// Columns to leave out.
    #[arg(long, value_name = "C", value_delimiter = ',')]
    pub drop: Vec<String>,
    /// Columns of labels, one-hot encoded (the first level is the baseline).
    #[arg(long, value_name = "COL", value_delimiter = ',')]
    pub categorical: Vec<String>,
}

/// `ftheta train`.
#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// A CSV file, a folder of MNIST IDX files, or a built-in data set: deliveries, digits, iris,
    /// xor (compiled in, no files needed). Required unless --resume.
    #[arg(long, value_name = "SOURCE", required_unless_present = "resume")]
    pub data: Option<String>,
    /// The column to predict.
    #[arg(long, value_name = "COL")]
    pub target: Option<String>,
    /// Feature columns to use (default: all but the target).
    #[arg(long, value_name = "A,B", value_delimiter = ',', conflicts_with = "drop")]
    pub features: Option<Vec<String>>,
    /// Columns to leave out.
    #[arg(long, value_name = "C", value_delimiter = ',')]
    pub drop: Vec<String>,
    /// Columns of labels, one-hot encoded (the first level is the baseline).
    #[arg(long, value_name = "COL", value_delimiter = ',')]
    pub categorical: Vec<String>,
    /// linear | perceptron | mlp:H1,H2[:ACT] | relu-sum:H | sigmoid-sum:H | a list of layers
    ///
    /// The model. Whole models:
    ///   linear              y = W·x + b
    ///   perceptron          a step of W·x + b, trained by the perceptron rule (two classes)
    ///   mlp:H1,H2[:ACT]     hidden layers of H1, H2, … units, ACT after each (default relu)
    ///   relu-sum:H          a sum of H ReLU pieces (one hidden layer)
    ///   sigmoid-sum:H       a sum of H sigmoids
    /// Or a comma-separated list of layers (for example linear:64,tanh,linear:32):
    ///   linear:N            a dense layer of N units, followed by ReLU unless the next token is
    ///                       an activation or none
    ///   ACT                 relu, sigmoid, tanh, gelu, softplus, hard-sigmoid or identity: after
    ///                       linear it replaces the ReLU; elsewhere it is a layer of its own
    ///   none                after linear: no activation
    /// The output layer for the data's classes or targets is added after the last layer. Coming in
    /// later versions: conv:OxK[/S][+P], maxpool:K, avgpool:K, dropout:P, batchnorm, rnn:N, gru:N[xL],
    /// lstm:N, transformer:layers=L,heads=H,dim=D, gcn:N,N. A bad token is named in the error.
    #[arg(long, value_name = "SPEC", default_value = "linear", value_parser = parse_spec, verbatim_doc_comment)]
    pub model: ModelSpec,
    /// mse | mae | huber | cross-entropy | bce (default: cross-entropy for classes, else mse).
    #[arg(long, value_parser = parse_loss)]
    pub loss: Option<Loss>,
    /// sgd | momentum | adam | adamw
    #[arg(long, default_value = "sgd", value_parser = parse_optimizer)]
    pub optimizer: OptimizerKind,
    /// Learning rate (default: 0.01 for sgd/momentum, lowered on regression data to half the stable
    /// limit 2/λ_max of the training features so that unscaled features train; 0.001 for
    /// adam/adamw; 1 for the perceptron).
    #[arg(long, value_name = "F", allow_negative_numbers = true, value_parser = parse_lr)]
    pub lr: Option<f64>,
    /// Samples per batch, or `full` for full-batch gradient descent.
    #[arg(long, value_name = "N|full", default_value = "32", value_parser = parse_batch)]
    pub batch_size: BatchSize,
    /// Passes over the training part (default 10).
    #[arg(long, value_name = "N", conflicts_with = "updates", value_parser = parse_positive)]
    pub epochs: Option<u64>,
    /// Parameter updates to make instead of epochs.
    #[arg(long, value_name = "N", value_parser = parse_positive)]
    pub updates: Option<u64>,
    /// Keep the training rows in order.
    #[arg(long)]
    pub no_shuffle: bool,
    /// Seed of initialization, split and shuffling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Train, validation and test fractions (MNIST: the test part is t10k).
    #[arg(long, value_name = "TRAIN,VAL,TEST", default_value = "0.8,0.1,0.1", value_parser = parse_split)]
    pub split: [f64; 3],
    /// Standardize features with the training rows' mean and deviation, and a regression target
    /// too (the model learns the standardized target; every reported number, eval and predict
    /// stay in the target's own units).
    #[arg(long)]
    pub standardize: bool,
    /// Start every weight at w and bias at b, e.g. w=1.0,b=15.0.
    #[arg(long, value_name = "w=W,b=B", value_parser = parse_init)]
    pub init: Option<[f64; 2]>,
    /// Evaluate every N updates instead of every epoch.
    #[arg(long, value_name = "N", value_parser = parse_positive)]
    pub eval_every: Option<u64>,
    /// Stop after N evaluations without a better validation loss.
    #[arg(long, value_name = "N", value_parser = parse_positive)]
    pub patience: Option<u64>,
    /// Clip the gradients' joint norm.
    #[arg(long, value_name = "F", value_parser = parse_lr)]
    pub max_grad_norm: Option<f64>,
    /// The run folder to write (config, history, best model, checkpoint).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print one JSON object with the results on stdout.
    #[arg(long)]
    pub json: bool,
    /// Continue the run in DIR from its checkpoint, with its own settings; with --epochs or
    /// --updates, to that new length (also after it finished).
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    pub resume: Option<PathBuf>,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
    /// Stop after N epochs as if interrupted (to test --resume).
    #[arg(long, hide = true)]
    pub interrupt_after: Option<u64>,
    /// The flags given on the command line (argument ids such as `lr`), set after parsing.
    #[arg(skip)]
    pub given: Vec<String>,
}

/// Samples per batch.
#[derive(Clone, Copy, Debug)]
pub struct BatchSize(pub Option<usize>);

fn parse_spec(s: &str) -> Result<ModelSpec, String> {
    s.parse::<ModelSpec>().map_err(|e| e.to_string())
}

fn parse_loss(s: &str) -> Result<Loss, String> {
    s.parse()
}

fn parse_optimizer(s: &str) -> Result<OptimizerKind, String> {
    s.parse()
}

fn parse_lr(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(_) => Err("must be a positive finite number".into()),
        Err(_) => Err("not a number".into()),
    }
}

fn parse_positive(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err("not a positive whole number".into()),
    }
}

fn parse_batch(s: &str) -> Result<BatchSize, String> {
    if s == "full" {
        return Ok(BatchSize(None));
    }
    parse_positive(s).map(|n| BatchSize(Some(n as usize))).map_err(|e| format!("{e} (or 'full')"))
}

/// `TRAIN,VAL,TEST` fractions: each in [0, 1], sum at most 1, train above 0.
pub fn parse_split(s: &str) -> Result<[f64; 3], String> {
    let parts: Vec<&str> = s.split(',').collect();
    let v: Vec<f64> = parts
        .iter()
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| "expected three fractions TRAIN,VAL,TEST such as 0.8,0.1,0.1".to_string())?;
    let [a, b, c] = v[..] else { return Err("expected three fractions TRAIN,VAL,TEST such as 0.8,0.1,0.1".into()) };
    if v.iter().any(|x| !(0.0..=1.0).contains(x)) {
        return Err("each fraction must lie in [0, 1]".into());
    }
    if a + b + c > 1.0 + 1e-9 {
        return Err(format!("the fractions add up to {}, more than 1", a + b + c));
    }
    if a <= 0.0 {
        return Err("the training fraction must be above 0".into());
    }
    Ok([a, b, c])
}

fn parse_init(s: &str) -> Result<[f64; 2], String> {
    let (mut w, mut b) = (None, None);
    for part in s.split(',') {
        let (k, v) = part.split_once('=').ok_or("expected w=W,b=B such as w=1.0,b=15.0")?;
        let v: f64 = v.trim().parse().map_err(|_| format!("'{v}' is not a number"))?;
        if !v.is_finite() {
            return Err(format!("'{v}' is not finite"));
        }
        match k.trim() {
            "w" => w = Some(v),
            "b" => b = Some(v),
            other => return Err(format!("unknown key '{other}' (expected w and b)")),
        }
    }
    Ok([w.unwrap_or(0.0), b.unwrap_or(0.0)])
}
