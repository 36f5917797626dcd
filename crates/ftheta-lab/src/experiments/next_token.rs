//! The language-model view: f_θ maps a context to a probability distribution over the next
//! token, and training minimizes the negative log-likelihood of the token that really came next.
//! On the built-in first names: a bigram by counting (the closed form), the same bigram by
//! gradient descent (which finds the counts again), and an MLP over the last three characters
//! (more context, lower validation loss). Both write names.

use anyhow::Result;
use ftheta_nn::Module;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use super::s;
use crate::lm::{self, Bigram, CurvePoint, MlpShape, MlpTraining};
use crate::names::{alphabet, context_of, Examples, Names, VOCAB};
use crate::palette;
use crate::plot::{self, Chart, Layer};
use crate::report::{Figure, Section, Table};
use crate::LabConfig;

/// The MLP's sizes: three characters of context, as in Bengio et al.'s word model with n = 4.
pub const MLP_SHAPE: MlpShape = MlpShape { context: 3, embed: 10, hidden: 128 };

/// The contexts whose next-character distributions are drawn: the start of a name, and two
/// beginnings where the letter before the last one matters ("em" → m is often doubled; "jo" is
/// followed by other letters than a lone "o").
pub const PROMPTS: [&str; 3] = ["", "em", "jo"];

/// Names sampled from each model.
const SAMPLES: usize = 10;
/// Sampled names are cut at this many letters (the longest name in the list has 11).
const MAX_LEN: usize = 20;
/// Adam's learning rate for the neural bigram.
const BIGRAM_LR: f64 = 0.5;

/// The uniform model's NLL, ln 27: the loss of knowing nothing.
pub fn uniform_nll() -> f64 {
    (VOCAB as f64).ln()
}

/// A prompt as the page shows it: the empty one is the start token.
fn shown(prompt: &str, context: usize) -> String {
    context_of(prompt, context).into_iter().map(crate::names::symbol).collect()
}

/// Ten names from `next`, and how many of them are training names.
fn samples(next: &dyn Fn(&[usize]) -> Vec<f64>, context: usize, train: &[&str], seed: u64) -> (Vec<String>, usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let names: Vec<String> = (0..SAMPLES).map(|_| lm::sample(next, context, MAX_LEN, &mut rng)).collect();
    let known = names.iter().filter(|n| train.contains(&n.as_str())).count();
    (names, known)
}

/// Runs the three models on the names.
pub fn run_next_token(cfg: &LabConfig) -> Result<Section> {
    let data = Names::load(cfg.seed)?;
    let (tr, va, te) = (data.pick(&data.split.train), data.pick(&data.split.validation), data.pick(&data.split.test));
    let ex1 = |n: &[&str]| Examples::new(n, 1);
    let (tr1, va1, te1) = (ex1(&tr), ex1(&va), ex1(&te));
    let c = MLP_SHAPE.context;
    let (tr3, va3, te3) = (Examples::new(&tr, c), Examples::new(&va, c), Examples::new(&te, c));

    // 1. Counting: the maximum-likelihood bigram, and add-one smoothing for unseen pairs.
    let ml = Bigram::count(&tr1, 0.0);
    let (ml_train, _) = ml.nll(&tr1);
    let (ml_val, ml_val_zeros) = ml.nll(&va1);
    let counted = Bigram::count(&tr1, 1.0);
    let (count_train, count_val) = (counted.nll(&tr1).0, counted.nll(&va1).0);

    // 2. The same bigram by gradient descent.
    let bigram_updates = cfg.pick(200, 100);
    let nb = lm::train_neural_bigram(&tr1, bigram_updates, BIGRAM_LR)?;
    let neural = Bigram::from_logits(&nb.w);
    let (nb_train, nb_val) = (neural.nll(&tr1).0, neural.nll(&va1).0);
    let max_dp = neural.p.iter().zip(&ml.p).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);

    // 3. The MLP.
    let training = MlpTraining {
        epochs: cfg.pick(10, 3),
        batch: cfg.pick(64, 128),
        lr: 0.01,
        eval_every: cfg.pick(150, 70),
        seed: cfg.seed,
    };
    let (mlp, curve) = lm::train_mlp(MLP_SHAPE, &training, &tr3, &va3)?;
    let last = *curve.last().expect("the curve has its start");
    let (mlp_train, mlp_val) = (last.train, last.validation);

    // Validation picks the model; the test set is scored once, for that model only.
    let candidates = [("counting bigram", count_val), ("neural bigram", nb_val), ("MLP", mlp_val)];
    let (chosen, _) = *candidates.iter().min_by(|a, b| a.1.total_cmp(&b.1)).expect("three models");
    let test = match chosen {
        "MLP" => mlp.nll(&te3),
        "neural bigram" => neural.nll(&te1).0,
        _ => counted.nll(&te1).0,
    };

    // Distributions for the figure, and samples.
    let dists: Vec<(String, String, Vec<f64>, Vec<f64>)> = PROMPTS
        .iter()
        .map(|p| {
            let b = counted.row(context_of(p, 1)[0]).to_vec();
            (shown(p, 1), shown(p, c), b, mlp.probs(&context_of(p, c)))
        })
        .collect();
    // One generator per model: with a shared stream the two would draw the same uniform numbers
    // and often write the same short names, which says nothing about either model.
    let (bigram_names, bigram_known) = samples(&|ctx| counted.row(ctx[0]).to_vec(), 1, &tr, cfg.seed + 1);
    let (mlp_names, mlp_known) = samples(&|ctx| mlp.probs(ctx), c, &tr, cfg.seed + 2);

    let figures = vec![
        distribution_figure(cfg, &dists)?,
        bigram_figure(cfg, &nb.curve, ml_train)?,
        mlp_figure(cfg, &curve, count_val)?,
    ];

    let u = uniform_nll();
    let f = |x: f64| if x.is_finite() { s(x) } else { "∞".into() };
    let test_cell = |name: &str| if name == chosen { s(test) } else { String::new() };
    let rows = vec![
        vec!["uniform (ln 27)".into(), "0".into(), s(u), s(u), String::new()],
        vec![
            "counting bigram, unsmoothed (maximum likelihood)".into(),
            "729".into(),
            s(ml_train),
            f(ml_val),
            String::new(),
        ],
        vec![
            "counting bigram, add-one".into(),
            "729".into(),
            s(count_train),
            s(count_val),
            test_cell("counting bigram"),
        ],
        vec!["neural bigram (one-hot · W)".into(), "729".into(), s(nb_train), s(nb_val), test_cell("neural bigram")],
        vec![
            format!("MLP, {c} characters of context"),
            mlp.num_parameters().to_string(),
            s(mlp_train),
            s(mlp_val),
            test_cell("MLP"),
        ],
    ];
    let sample_rows = (0..SAMPLES)
        .map(|i| {
            let mark = |n: &str| if tr.contains(&n) { "training name" } else { "new" }.to_string();
            vec![bigram_names[i].clone(), mark(&bigram_names[i]), mlp_names[i].clone(), mark(&mlp_names[i])]
        })
        .collect();

    let curve_json = |pts: &[CurvePoint]| -> Vec<Value> {
        pts.iter()
            .map(|p| json!({"updates": p.updates, "train_nll": p.train, "validation_nll": p.validation}))
            .collect()
    };
    let results = json!({
        "data": {
            "names": data.names.len(), "train_names": tr.len(), "validation_names": va.len(), "test_names": te.len(),
            "train_examples": tr1.len(), "validation_examples": va1.len(), "test_examples": te1.len(),
            "tokens": alphabet().iter().collect::<String>(), "vocabulary": VOCAB,
        },
        "uniform_nll": u,
        "counting_bigram": {
            "train_nll_unsmoothed": ml_train, "validation_nll_unsmoothed": ml_val.is_finite().then_some(ml_val),
            "validation_examples_with_probability_zero": ml_val_zeros,
            "smoothing": 1, "train_nll": count_train, "validation_nll": count_val,
        },
        "neural_bigram": {
            "init": "W = 0 (uniform)", "optimizer": "Adam, full batch", "learning_rate": BIGRAM_LR, "updates": bigram_updates,
            "train_nll": nb_train, "validation_nll": nb_val, "gap_to_counting_train_nll": nb_train - ml_train,
            "max_probability_difference_to_counting": max_dp,
            "curve": nb.curve.iter().enumerate().map(|(t, l)| json!({"updates": t, "train_nll": l})).collect::<Vec<_>>(),
        },
        "mlp": {
            "context": c, "embedding": "shared 27 × d table, looked up by index_select (= one-hot · C)",
            "embedding_dim": MLP_SHAPE.embed, "hidden": MLP_SHAPE.hidden, "activation": "tanh",
            "parameters": mlp.num_parameters(), "optimizer": "Adam", "learning_rate": training.lr,
            "last_epoch_learning_rate": training.lr / 10.0, "batch_size": training.batch, "epochs": training.epochs,
            "updates": last.updates, "seed": training.seed, "train_nll": mlp_train, "validation_nll": mlp_val,
            "curve": curve_json(&curve),
        },
        "chosen": chosen, "test_nll": test,
        "distributions": dists.iter().map(|(b, m, pb, pm)| json!({"bigram_context": b, "mlp_context": m, "bigram": pb, "mlp": pm})).collect::<Vec<_>>(),
        "samples": {
            "seeds": {"bigram": cfg.seed + 1, "mlp": cfg.seed + 2}, "max_length": MAX_LEN, "bigram_model": "counting bigram, add-one",
            "bigram": {"names": bigram_names, "in_training_list": bigram_known, "new": SAMPLES - bigram_known},
            "mlp": {"names": mlp_names, "in_training_list": mlp_known, "new": SAMPLES - mlp_known},
        },
    });

    let paragraphs = vec![
        format!(
            "A language model is f<sub>θ</sub>(context) = a probability distribution over the next token. Here the \
             tokens are the 26 letters and '.', which marks both the start and the end of a name; the data are {} \
             first names (1990 US Census), split by name into {} training, {} validation and {} test names. \
             Every character of a name and its end are predicted, {} predictions in the training names.",
            data.names.len(), tr.len(), va.len(), te.len(), tr1.len()
        ),
        format!(
            "The loss is the cross-entropy: the negative log-likelihood −ln P(true next token | context), averaged over \
             the predictions, in nats per character. A model that knows nothing gives every token 1/27 and scores \
             ln 27 = {}; a model that is always sure and right scores 0.",
            s(u)
        ),
        format!(
            "For the bigram (the context is the previous character only) the minimum has a closed form: count each \
             pair in the training names and divide by the row total. That maximum-likelihood table scores {} on the \
             training names, {}; adding one to every count keeps every pair possible ({} on validation).",
            s(ml_train),
            if ml_val_zeros > 0 {
                format!(
                    "but gives probability 0 to {ml_val_zeros} validation predictions whose pair never occurs in \
                     training, so its validation NLL is infinite"
                )
            } else {
                format!("and {} on validation, where by luck every pair also occurs in training", f(ml_val))
            },
            s(count_val)
        ),
        format!(
            "The same model as a network: logits = one-hot(previous) · W with a 27 × 27 W, softmax, cross-entropy, \
             {bigram_updates} full-batch Adam updates (η = {BIGRAM_LR}) from W = 0. Multiplying by a one-hot row picks a \
             row of W, so W is a table of log-counts learned instead of counted, and gradient descent ends {} nats \
             above the counting answer (training NLL {} against {}; no probability differs by more than {}). Its \
             validation NLL is {} (add-one counting: {}): a finite descent from W = 0 leaves the unseen pairs a small \
             probability, a smoothing of its own.",
            plot::sig(nb_train - ml_train, 2),
            plot::sig(nb_train, 6),
            plot::sig(ml_train, 6),
            plot::sig(max_dp, 2),
            s(nb_val),
            s(count_val)
        ),
        format!(
            "More context needs more than a table (27³ contexts of three characters, most never seen). Bengio et \
             al.'s (2003) MLP embeds each of the last {c} characters with one shared 27 × {} table C (one-hot · C, \
             computed as a row lookup), concatenates them, and maps them through {} tanh units to 27 logits: {} \
             parameters, {} epochs of Adam (η = {}, then {} for the last epoch) on mini-batches of {}. It reaches \
             <b>{}</b> on validation against the bigram's {}. Validation picks the {chosen}; its test NLL, computed once, \
             is <b>{}</b>.",
            MLP_SHAPE.embed, MLP_SHAPE.hidden, mlp.num_parameters(), training.epochs, training.lr, training.lr / 10.0,
            training.batch, s(mlp_val), s(count_val), s(test)
        ),
        format!(
            "Sampling turns a model into a writer: start from '.', draw the next character from f<sub>θ</sub>(context), \
             repeat until '.' comes out (seeds {} and {}). Of ten names, {} of the bigram's and {} of the MLP's are in the \
             training list; the rest are new.",
            cfg.seed + 1, cfg.seed + 2, bigram_known, mlp_known
        ),
    ];
    Ok(Section {
        name: "next_token",
        title: "9. Language models: the next character".into(),
        headline: format!(
            "validation NLL: uniform {}, bigram {}, MLP {} nats/char; test ({chosen}) {}",
            s(u),
            s(count_val),
            s(mlp_val),
            s(test)
        ),
        paragraphs,
        tables: vec![
            Table {
                header: ["model", "parameters", "training NLL", "validation NLL", "test NLL"]
                    .map(String::from)
                    .to_vec(),
                rows,
            },
            Table {
                header: ["counting bigram samples", "", "MLP samples", ""].map(String::from).to_vec(),
                rows: sample_rows,
            },
        ],
        figures,
        files: vec![],
        results,
    })
}

/// P(next | context) as bars, the bigram's beside the MLP's, one panel a context.
fn distribution_figure(cfg: &LabConfig, dists: &[(String, String, Vec<f64>, Vec<f64>)]) -> Result<Figure> {
    let cats: Vec<String> = alphabet().iter().map(|c| c.to_string()).collect();
    let panels: Vec<Chart> = dists
        .iter()
        .map(|(b, m, pb, pm)| {
            let hi = pb.iter().chain(pm).copied().fold(0.0, f64::max) * 1.15;
            let bars = |p: &[f64], dx: f64| p.iter().enumerate().map(|(i, &v)| (i as f64 + dx, v)).collect();
            let mut chart = Chart::new(
                format!("P(next character | \"{m}\"): the bigram sees only \"{b}\""),
                "next character ('.' ends the name)",
                "probability",
            )
            .x_range(-0.6, VOCAB as f64 - 0.4)
            .y_range(0.0, hi);
            chart.x_categories = Some(cats.clone());
            chart
                .with(Layer::Bars {
                    bars: bars(pb, -0.2),
                    half_width: 0.19,
                    color: palette::series(0),
                    label: Some(format!("counting bigram, P(· | \"{b}\")")),
                })
                .with(Layer::Bars {
                    bars: bars(pm, 0.2),
                    half_width: 0.19,
                    color: palette::series(1),
                    label: Some(format!("MLP, P(· | \"{m}\")")),
                })
        })
        .collect();
    plot::save(
        &cfg.out_dir,
        "next_token_distributions",
        "What each model predicts after a context: the bars of a model sum to 1 over the 27 tokens. The bigram \
         conditions on the last character only, the MLP on the last three ('.'-padded at the start of a name).",
        &panels,
        1,
        (1000, 340),
    )
}

/// The neural bigram's training NLL against the counting answer: on its own scale, and the gap
/// on a log scale, where "the same to 0.01 nats" can be read off.
fn bigram_figure(cfg: &LabConfig, curve: &[f64], counting_train: f64) -> Result<Figure> {
    let end = curve.len().saturating_sub(1) as f64;
    let pts: Vec<(f64, f64)> = curve.iter().enumerate().map(|(t, &l)| (t as f64, l)).collect();
    let nll = Chart::new("Neural bigram: training NLL", "updates (full batch)", "training NLL (nats/char)")
        .with(Layer::line(pts, palette::TRAIN, "one-hot · W, Adam"))
        .with(Layer::line(
            vec![(0.0, counting_train), (end, counting_train)],
            palette::OPTIMUM,
            format!("counting (closed form), {}", s(counting_train)),
        ));
    let gap: Vec<(f64, f64)> = curve.iter().enumerate().map(|(t, &l)| (t as f64, l - counting_train)).collect();
    let gap_chart =
        Chart::new("…its distance from the counting answer", "updates (full batch)", "NLL − counting NLL (nats)")
            .log_y()
            .with(Layer::line(vec![(0.0, 0.01), (end, 0.01)], palette::DATA, "0.01 nats"))
            .with(Layer::line(gap, palette::TRAIN, "one-hot · W, Adam"));
    plot::save(
        &cfg.out_dir,
        "next_token_bigram",
        "Gradient descent on the cross-entropy, from W = 0 (ln 27), ends on the counting model's training NLL \
         (black): the closed form and the descent find the same distribution.",
        &[nll, gap_chart],
        2,
        (600, 420),
    )
}

/// The MLP's NLL on all training and all validation examples during training.
fn mlp_figure(cfg: &LabConfig, curve: &[CurvePoint], bigram_val: f64) -> Result<Figure> {
    let pts = |f: fn(&CurvePoint) -> f64| curve.iter().map(|p| (p.updates as f64, f(p))).collect::<Vec<_>>();
    let end = curve.last().map_or(1.0, |p| p.updates as f64);
    let chart = Chart::new("MLP over 3 characters of context", "updates (mini-batches)", "NLL (nats/char)")
        .with(Layer::line(pts(|p| p.train), palette::TRAIN, "MLP, training"))
        .with(Layer::line(pts(|p| p.validation), palette::VALIDATION, "MLP, validation"))
        .with(Layer::line(
            vec![(0.0, bigram_val), (end, bigram_val)],
            palette::DATA,
            format!("counting bigram, validation {}", s(bigram_val)),
        ));
    plot::save(
        &cfg.out_dir,
        "next_token_mlp",
        &format!(
            "The MLP's NLL on all training and all validation names, measured during training. It passes the \
             bigram's validation NLL (grey) {}; the drop at the end is the last epoch's smaller learning rate.",
            match curve.iter().find(|p| p.validation < bigram_val) {
                Some(p) => format!("after {} updates", p.updates),
                None => "nowhere in this run".into(),
            }
        ),
        &[chart],
        1,
        (900, 460),
    )
}
