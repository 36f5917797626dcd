//! Character-level language models of the names: f_θ(context) is a probability distribution over
//! the 27 next tokens. A bigram by counting (closed form) and by gradient descent (one-hot · W,
//! softmax, cross-entropy), and Bengio et al.'s (2003) MLP over the last three characters. Each
//! is scored by the mean negative log-likelihood of the true next token, in nats per character.

use anyhow::Result;
use ftheta_core::{manual_seed, no_grad, Tensor};
use ftheta_nn::optim::Optimizer;
use ftheta_nn::{loss, Activation, Adam, Linear, Module};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::names::{symbol, Examples, VOCAB};

/// A bigram as a table: `p[prev · 27 + next]` = P(next | prev).
#[derive(Clone, Debug)]
pub struct Bigram {
    /// Row-major 27 × 27; each row sums to 1.
    pub p: Vec<f64>,
}

impl Bigram {
    /// Counts of each (previous, next) pair in `ex` (a context of 1), plus `alpha` for every pair.
    /// `alpha = 0` is the maximum-likelihood answer: the relative frequencies. `alpha = 1` (add-one,
    /// Laplace) keeps a pair never seen in training from getting probability 0, which would make
    /// one unseen pair in validation an infinite loss.
    pub fn count(ex: &Examples, alpha: f64) -> Bigram {
        let mut c = pair_counts(ex, alpha);
        for row in c.chunks_mut(VOCAB) {
            let total: f64 = row.iter().sum();
            // A token never seen as a context (impossible with alpha > 0) gets the uniform row.
            row.iter_mut().for_each(|v| *v = if total > 0.0 { *v / total } else { 1.0 / VOCAB as f64 });
        }
        Bigram { p: c }
    }

    /// The softmax of each row of `w` (27 × 27 logits).
    pub fn from_logits(w: &Tensor) -> Bigram {
        Bigram { p: no_grad(|| w.softmax(1).to_vec_f64()) }
    }

    /// P(· | prev).
    pub fn row(&self, prev: usize) -> &[f64] {
        &self.p[prev * VOCAB..(prev + 1) * VOCAB]
    }

    /// Mean −ln P(next | prev) over `ex` (infinite when a pair has probability 0), and how many
    /// examples had probability 0.
    pub fn nll(&self, ex: &Examples) -> (f64, usize) {
        let mut total = 0.0;
        let mut zeros = 0;
        for (&prev, &next) in ex.inputs.iter().zip(&ex.targets) {
            let p = self.p[prev * VOCAB + next];
            zeros += (p == 0.0) as usize;
            total -= p.ln();
        }
        (total / ex.len().max(1) as f64, zeros)
    }
}

/// How often each (previous, next) pair occurs in `ex` (a context of 1), plus `alpha`, row-major
/// 27 × 27.
fn pair_counts(ex: &Examples, alpha: f64) -> Vec<f64> {
    assert_eq!(ex.context, 1, "a bigram's context is one token");
    let mut c = vec![alpha; VOCAB * VOCAB];
    for (&prev, &next) in ex.inputs.iter().zip(&ex.targets) {
        c[prev * VOCAB + next] += 1.0;
    }
    c
}

/// `[N, 27]` rows of zeros with a 1 at each token.
pub fn one_hot(tokens: &[usize]) -> Tensor {
    let mut v = vec![0.0f32; tokens.len() * VOCAB];
    for (i, &t) in tokens.iter().enumerate() {
        v[i * VOCAB + t] = 1.0;
    }
    Tensor::from_vec(v, &[tokens.len(), VOCAB])
}

/// Token ids as the `[N]` float tensor that cross-entropy takes.
pub fn targets(tokens: &[usize]) -> Tensor {
    Tensor::from_vec(tokens.iter().map(|&t| t as f32).collect(), &[tokens.len()])
}

/// The neural bigram after training: its weights and the training NLL before each update.
pub struct NeuralBigram {
    /// `[27, 27]`: row `prev` holds the logits of the next token.
    pub w: Tensor,
    /// Training NLL before update t (the last entry: after the last update), evaluated in f64.
    pub curve: Vec<f64>,
}

/// Mean NLL of logits `w` (27 × 27, row-major) on the data whose pair counts are `counts`, in f64.
/// From the 729 counts rather than the ~29,000 rows, and with every term in f64: the curve must
/// show gaps to the counting answer below 10⁻⁴ nats, where the training loss's per-row f32
/// terms would start to blur it.
fn nll_of_logits(w: &[f64], counts: &[f64]) -> f64 {
    let mut total = 0.0;
    for (z, c) in w.chunks(VOCAB).zip(counts.chunks(VOCAB)) {
        let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        total += z.iter().zip(c).map(|(zi, ci)| ci * (lse - zi)).sum::<f64>();
    }
    total / counts.iter().sum::<f64>().max(1.0)
}

/// Trains logits = one-hot(prev) · W by full-batch Adam on the cross-entropy, from W = 0 (every
/// row uniform, so the curve starts at ln 27). The one-hot product picks row `prev` of W, so W is
/// a table of logits, the same shape of answer as the counts, found by descent instead of counting.
pub fn train_neural_bigram(train: &Examples, updates: usize, lr: f64) -> Result<NeuralBigram> {
    let x = one_hot(&train.inputs);
    let y = targets(&train.targets);
    let counts = pair_counts(train, 0.0);
    let w = Tensor::zeros(&[VOCAB, VOCAB]).requires_grad();
    let mut opt = Adam::new(vec![w.clone()], lr)?;
    let mut curve = Vec::with_capacity(updates + 1);
    for _ in 0..updates {
        curve.push(nll_of_logits(&w.to_vec_f64(), &counts));
        opt.zero_grad();
        loss::cross_entropy(&x.matmul(&w), &y).backward();
        opt.step();
    }
    curve.push(nll_of_logits(&w.to_vec_f64(), &counts));
    Ok(NeuralBigram { w, curve })
}

/// The MLP's sizes.
#[derive(Clone, Copy, Debug)]
pub struct MlpShape {
    /// Tokens of context.
    pub context: usize,
    /// Dimensions of a token's embedding.
    pub embed: usize,
    /// tanh units in the hidden layer.
    pub hidden: usize,
}

/// Bengio et al.'s MLP: each context token's embedding (one shared 27 × d table C, so a letter
/// means the same wherever it stands in the context), concatenated, a tanh layer, 27 logits.
pub struct Mlp {
    /// The shared embedding table C, `[27, d]`.
    pub embedding: Tensor,
    /// Concatenated embeddings → hidden.
    pub hidden: Linear,
    /// Hidden → logits.
    pub out: Linear,
    /// Its sizes.
    pub shape: MlpShape,
}

impl Mlp {
    /// A new MLP: C from N(0, 1), the layers with PyTorch's default initialization.
    pub fn new(shape: MlpShape) -> Mlp {
        Mlp {
            embedding: Tensor::randn(&[VOCAB, shape.embed]).requires_grad(),
            hidden: Linear::new(shape.context * shape.embed, shape.hidden),
            out: Linear::new(shape.hidden, VOCAB),
            shape,
        }
    }

    /// The logits `[N, 27]` of `n` contexts given as token ids, `context` an example.
    /// one-hot(t) · C is row t of C, so the lookup is `index_select` on C's rows: the same
    /// product and gradient without multiplying by 26 zeros per token.
    pub fn logits(&self, ids: &[usize]) -> Tensor {
        let n = ids.len() / self.shape.context.max(1);
        let e = self.embedding.index_select(0, ids).reshape(&[n, self.shape.context * self.shape.embed]);
        self.out.forward(&Activation::Tanh.apply(&self.hidden.forward(&e)))
    }

    /// P(· | context) for one context.
    pub fn probs(&self, ids: &[usize]) -> Vec<f64> {
        no_grad(|| self.logits(ids).softmax(1).to_vec_f64())
    }

    /// Mean NLL over `ex`, in chunks so a large set never builds one huge activation.
    pub fn nll(&self, ex: &Examples) -> f64 {
        let chunk = 8192;
        let mut total = 0.0;
        no_grad(|| {
            for start in (0..ex.len()).step_by(chunk) {
                let end = (start + chunk).min(ex.len());
                let ids = &ex.inputs[start * ex.context..end * ex.context];
                let l = loss::cross_entropy(&self.logits(ids), &targets(&ex.targets[start..end]));
                total += l.item() as f64 * (end - start) as f64;
            }
        });
        total / ex.len().max(1) as f64
    }
}

impl Module for Mlp {
    /// `x`: `[N, context]` token ids (as floats, like cross-entropy's targets).
    fn forward(&self, x: &Tensor) -> Tensor {
        let ids: Vec<usize> = x.to_vec().iter().map(|&v| v as usize).collect();
        self.logits(&ids)
    }

    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        f(&ftheta_nn::module::join_name(prefix, "embedding"), &self.embedding);
        self.hidden.visit_parameters(&ftheta_nn::module::join_name(prefix, "hidden"), f);
        self.out.visit_parameters(&ftheta_nn::module::join_name(prefix, "out"), f);
    }
}

/// How the MLP is trained.
#[derive(Clone, Copy, Debug)]
pub struct MlpTraining {
    /// Passes over the training examples.
    pub epochs: usize,
    /// Examples a mini-batch.
    pub batch: usize,
    /// Adam's learning rate; divided by 10 for the last epoch, where the noise of the
    /// mini-batches would otherwise keep θ bouncing around the minimum.
    pub lr: f64,
    /// Training and validation NLL are measured every this many updates (and after 10, 25 and
    /// 50, where the curve falls fastest).
    pub eval_every: usize,
    /// Seeds the initialization and the order of every epoch.
    pub seed: u64,
}

/// One point of a training curve.
#[derive(Clone, Copy, Debug)]
pub struct CurvePoint {
    /// Updates done.
    pub updates: usize,
    /// NLL on all training examples.
    pub train: f64,
    /// NLL on all validation examples.
    pub validation: f64,
}

/// Trains a new MLP by mini-batch Adam and returns it with its curve.
pub fn train_mlp(shape: MlpShape, t: &MlpTraining, train: &Examples, val: &Examples) -> Result<(Mlp, Vec<CurvePoint>)> {
    manual_seed(t.seed);
    let mlp = Mlp::new(shape);
    let mut opt = Adam::new(mlp.parameters(), t.lr)?;
    let mut rng = ChaCha8Rng::seed_from_u64(t.seed ^ 0x0bad_5eed);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let point = |m: &Mlp, updates| CurvePoint { updates, train: m.nll(train), validation: m.nll(val) };
    let mut curve = vec![point(&mlp, 0)];
    let mut updates = 0;
    for epoch in 0..t.epochs {
        if epoch + 1 == t.epochs && t.epochs > 1 {
            opt.set_lr(t.lr / 10.0);
        }
        order.shuffle(&mut rng);
        for batch in order.chunks(t.batch.max(1)) {
            let ids: Vec<usize> = batch.iter().flat_map(|&i| train.input(i).iter().copied()).collect();
            let y: Vec<usize> = batch.iter().map(|&i| train.targets[i]).collect();
            opt.zero_grad();
            loss::cross_entropy(&mlp.logits(&ids), &targets(&y)).backward();
            opt.step();
            updates += 1;
            if updates % t.eval_every.max(1) == 0 || [10, 25, 50].contains(&updates) {
                curve.push(point(&mlp, updates));
            }
        }
    }
    if curve.last().is_some_and(|p| p.updates != updates) {
        curve.push(point(&mlp, updates));
    }
    Ok((mlp, curve))
}

/// Draws one token from `p` (which sums to 1).
fn draw(p: &[f64], rng: &mut ChaCha8Rng) -> usize {
    let u: f64 = rng.random();
    let mut acc = 0.0;
    for (t, &pt) in p.iter().enumerate() {
        acc += pt;
        if u < acc {
            return t;
        }
    }
    // Rounding left u just above the total: the last token with any probability.
    p.iter().rposition(|&pt| pt > 0.0).unwrap_or(0)
}

/// Writes a name one token at a time from `next(context)` = P(· | last `context` tokens), from
/// the start '.' until the model emits '.' again or `max_len` letters are written.
pub fn sample(next: &dyn Fn(&[usize]) -> Vec<f64>, context: usize, max_len: usize, rng: &mut ChaCha8Rng) -> String {
    let mut window = vec![0usize; context];
    let mut name = String::new();
    while name.len() < max_len {
        let t = draw(&next(&window), rng);
        if t == 0 {
            break;
        }
        name.push(symbol(t));
        window.rotate_left(1);
        window[context - 1] = t;
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting_gives_relative_frequencies_and_smoothing_adds_one() {
        let ex = Examples::new(&["ab", "a"], 1);
        // Pairs: .a a b b . | .a a .
        let ml = Bigram::count(&ex, 0.0);
        assert_eq!(ml.row(0)[1], 1.0);
        assert_eq!((ml.row(1)[2], ml.row(1)[0]), (0.5, 0.5));
        let (nll, zeros) = ml.nll(&ex);
        assert!((nll - 2.0 * 2f64.ln() / 5.0).abs() < 1e-12 && zeros == 0);
        let add1 = Bigram::count(&ex, 1.0);
        assert!((add1.row(1)[2] - 2.0 / 29.0).abs() < 1e-12);
        for t in 0..VOCAB {
            assert!((add1.row(t).iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        assert!(ml.nll(&Examples::new(&["z"], 1)).0.is_infinite());
    }

    #[test]
    fn an_embedding_lookup_is_the_one_hot_product() {
        manual_seed(1);
        let c = Tensor::randn(&[VOCAB, 4]);
        let ids = [0, 5, 26, 5];
        let (a, b) = (one_hot(&ids).matmul(&c).to_vec(), c.index_select(0, &ids).to_vec());
        assert_eq!(a, b);
    }

    #[test]
    fn sampling_follows_the_distribution_and_stops_at_the_end_token() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        // After '.', always 'b'; after 'b', always '.'.
        let next = |ctx: &[usize]| -> Vec<f64> {
            let mut p = vec![0.0; VOCAB];
            p[if ctx[0] == 0 { 2 } else { 0 }] = 1.0;
            p
        };
        assert_eq!(sample(&next, 1, 20, &mut rng), "b");
        let never_ends = |_: &[usize]| -> Vec<f64> { (0..VOCAB).map(|t| if t == 1 { 1.0 } else { 0.0 }).collect() };
        assert_eq!(sample(&never_ends, 2, 5, &mut rng), "aaaaa");
    }
}
