//! The playground: the loss landscape of `time = w·x + b` on the deliveries table, and gradient
//! descent over it with the learning rate, batch size and number of updates a student picks.
//!
//! The landscape comes from the lab's [`LineProblem`] (the loss in closed form from five moments,
//! so a 200×200 grid costs nothing); the descent is the lab's own [`LineDescent`]: mini-batches
//! reshuffled each epoch by the data crate's seeded loader, gradients by ftheta's autograd, so the
//! same seed draws the same batches here as in the lab and in `ftheta train`. Every request is bounded
//! ([`MAX_UPDATES`] updates of at most every training row), so none can hold the server.

use std::collections::HashMap;

use ftheta_lab::experiments::{frame, LineProblem, START};
use ftheta_lab::fit::{LineBatches, LineDescent};
use serde_json::{json, Value};

use crate::error::ApiError;

/// Most updates one request may ask for.
pub const MAX_UPDATES: usize = 10_000;
/// Grid points per axis, at least and at most.
pub const GRID: (usize, usize) = (10, 200);
/// Largest learning rate accepted (far past divergence for either feature).
pub const MAX_LR: f64 = 100.0;
/// Largest |w| or |b| accepted as a start.
pub const MAX_START: f64 = 1e6;
/// A loss this many times the start's means the run diverged.
const BLOWUP: f64 = 1e10;

/// The deliveries line problem with the raw distance and with it standardized.
pub struct Problems {
    raw: LineProblem,
    standardized: LineProblem,
    mean: f64,
    std: f64,
}

impl Problems {
    /// The lab's training rows (seed 42).
    pub fn load() -> Result<Self, String> {
        Ok(Problems::new(LineProblem::deliveries(42, None).map_err(|e| format!("{e:#}"))?))
    }

    /// The playground over `raw` (the distance feature as it is, never empty) and its
    /// standardized twin.
    fn new(raw: LineProblem) -> Self {
        let (standardized, mean, std) = raw.standardized();
        Problems { raw, standardized, mean, std }
    }

    fn pick(&self, standardize: bool) -> &LineProblem {
        if standardize {
            &self.standardized
        } else {
            &self.raw
        }
    }

    /// The lecture's start, (w, b) = (1, 15) on the raw feature, as the same line in the chosen
    /// coordinates: w·x + b = w·(σz + μ) + b = (wσ)·z + (b + wμ).
    fn start(&self, standardize: bool) -> (f64, f64) {
        if standardize {
            (START.0 * self.std, START.1 + START.0 * self.mean)
        } else {
            START
        }
    }
}

/// Query parameters, each parsed with a message naming it and its range.
struct Params<'a>(&'a HashMap<String, String>);

impl Params<'_> {
    fn allow(&self, known: &[&str]) -> Result<(), ApiError> {
        match self.0.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(ApiError::bad_request(format!("unknown parameter '{k}' (expected {})", known.join(", ")))),
            None => Ok(()),
        }
    }

    fn number(&self, name: &str, default: f64, ok: impl Fn(f64) -> bool, range: &str) -> Result<f64, ApiError> {
        let Some(text) = self.0.get(name) else { return Ok(default) };
        match text.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && ok(v) => Ok(v),
            _ => Err(ApiError::bad_request(format!("{name}={text}: must be {range}"))),
        }
    }

    fn count(&self, name: &str, default: usize, (lo, hi): (usize, usize)) -> Result<usize, ApiError> {
        let Some(text) = self.0.get(name) else { return Ok(default) };
        match text.trim().parse::<usize>() {
            Ok(v) if (lo..=hi).contains(&v) => Ok(v),
            _ => Err(ApiError::bad_request(format!("{name}={text}: must be a whole number from {lo} to {hi}"))),
        }
    }

    fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.0.get(name).map(|s| s.trim()) {
            None | Some("0" | "false" | "") => Ok(false),
            Some("1" | "true") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!("{name}={other}: must be 0 or 1"))),
        }
    }
}

/// `GET /api/playground/landscape`: L(w, b) on a grid framing the start and the optimum.
pub fn landscape(p: &Problems, query: &HashMap<String, String>) -> Result<Value, ApiError> {
    let q = Params(query);
    q.allow(&["standardize", "grid"])?;
    let standardize = q.flag("standardize")?;
    let n = q.count("grid", 100, GRID)?;
    let problem = p.pick(standardize);
    let start = p.start(standardize);
    let opt = problem.optimum();
    let (wr, br) = frame(start, opt, 1.3);
    let (ws, bs, z) = problem.grid(wr, br, n);
    let (lambda_max, _) = problem.eigenvalues();
    Ok(json!({
        "feature": if standardize { "standardized distance" } else { "distance (miles)" },
        "standardize": standardize,
        "n_rows": problem.x.len(),
        "w_range": [wr.0, wr.1], "b_range": [br.0, br.1],
        "ws": ws, "bs": bs, "loss": z,
        "optimum": {"w": opt.0, "b": opt.1, "loss": problem.loss(opt.0, opt.1)},
        "start": {"w": start.0, "b": start.1},
        "stable_lr": 2.0 / lambda_max,
        "mean": p.mean, "std": p.std,
    }))
}

/// A checked `GET /api/playground/run` request.
pub struct Descent {
    w: f64,
    b: f64,
    lr: f64,
    /// `None`: every training row (full-batch gradient descent).
    batch: Option<usize>,
    updates: usize,
    standardize: bool,
    seed: u64,
}

impl Descent {
    /// Checks every parameter against its bounds.
    pub fn parse(p: &Problems, query: &HashMap<String, String>) -> Result<Descent, ApiError> {
        let q = Params(query);
        q.allow(&["w", "b", "lr", "batch", "updates", "standardize", "seed"])?;
        let standardize = q.flag("standardize")?;
        let start = p.start(standardize);
        let within = |v: f64| v.abs() <= MAX_START;
        let rows = p.pick(standardize).x.len();
        let batch = match query.get("batch").map(|s| s.trim()) {
            None | Some("full" | "") => None,
            Some(text) => match text.parse::<usize>() {
                Ok(b) if (1..=rows).contains(&b) => Some(b).filter(|&b| b < rows),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "batch={text}: must be 'full' or a whole number from 1 to {rows}"
                    )))
                }
            },
        };
        Ok(Descent {
            w: q.number("w", start.0, within, "a number with magnitude at most 1e6")?,
            b: q.number("b", start.1, within, "a number with magnitude at most 1e6")?,
            lr: q.number("lr", 0.04, |v| v > 0.0 && v <= MAX_LR, "a number above 0 and at most 100")?,
            batch,
            updates: q.count("updates", 200, (1, MAX_UPDATES))?,
            standardize,
            seed: q.count("seed", 42, (0, usize::MAX))? as u64,
        })
    }

    /// Runs the descent and describes it.
    pub fn run(&self, p: &Problems) -> Value {
        let problem = p.pick(self.standardize);
        let (n, bs) = (problem.x.len(), self.batch.unwrap_or(problem.x.len()));
        let batches = match self.batch {
            None => LineBatches::Full,
            Some(size) => LineBatches::Shuffled { size, seed: self.seed },
        };
        let mut descent = LineDescent::new(&problem.x, &problem.y, (self.w, self.b), self.lr, batches)
            .expect("the built-in training rows are not empty and the batch size was checked");
        let mut path = vec![[self.w, self.b]];
        let mut losses = vec![problem.loss(self.w, self.b)];
        let mut diverged_at = None;
        for t in 1..=self.updates {
            descent.step();
            let (wv, bv) = descent.theta();
            let l = problem.loss(wv, bv);
            path.push([wv, bv]);
            losses.push(l);
            if !l.is_finite() || l > BLOWUP * losses[0] {
                diverged_at = Some(t);
                break;
            }
        }
        let updates = path.len() - 1;
        let stable = 2.0 / problem.eigenvalues().0;
        let opt = problem.optimum();
        let l_star = problem.loss(opt.0, opt.1);
        let message = match diverged_at {
            Some(t) if self.lr > stable => format!(
                "diverged at update {t}: η = {} is above 2/λ_max = {stable:.4}, so every step overshoots the valley \
                 by more than it gains",
                self.lr
            ),
            Some(t) => format!(
                "diverged at update {t} (η = {}, 2/λ_max = {stable:.4}: small batches' noisy gradients can diverge \
                 below the full-batch limit)",
                self.lr
            ),
            None => format!(
                "{updates} updates; loss {:.4} (the optimum is {l_star:.4} at w = {:.4}, b = {:.4})",
                losses[updates], opt.0, opt.1
            ),
        };
        json!({
            "path": path, "loss": losses, "updates": updates, "batch_size": bs,
            "epochs": (updates * bs) as f64 / n as f64,
            "diverged": diverged_at.is_some(), "diverged_at": diverged_at,
            "stable_lr": stable, "message": message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn full_batch_descent_below_the_limit_goes_downhill_and_above_it_diverges() {
        let p = Problems::load().unwrap();
        let good = Descent::parse(&p, &query(&[("lr", "0.04"), ("updates", "300")])).unwrap().run(&p);
        let loss: Vec<f64> = serde_json::from_value(good["loss"].clone()).unwrap();
        assert_eq!(loss.len(), 301);
        // Below 1/λ_max every full-batch step lowers the loss.
        assert!(loss.windows(2).all(|w| w[1] <= w[0] + 1e-9), "{:?}", &loss[..5]);
        assert_eq!(good["diverged"], false);
        let stable = good["stable_lr"].as_f64().unwrap();
        let bad =
            Descent::parse(&p, &query(&[("lr", &(1.2 * stable).to_string()), ("updates", "5000")])).unwrap().run(&p);
        assert_eq!(bad["diverged"], true, "{}", bad["message"]);
        assert!(bad["message"].as_str().unwrap().starts_with("diverged at update"));
        assert!(bad["updates"].as_u64().unwrap() < 5000);
    }

    #[test]
    fn mini_batches_cover_an_epoch_and_standardizing_speeds_descent_up() {
        let p = Problems::load().unwrap();
        let rows = p.raw.x.len();
        let r = Descent::parse(&p, &query(&[("batch", "32"), ("updates", &rows.div_ceil(32).to_string())]))
            .unwrap()
            .run(&p);
        assert!((r["epochs"].as_f64().unwrap() - rows.div_ceil(32) as f64 * 32.0 / rows as f64).abs() < 1e-12);
        let land = landscape(&p, &query(&[("standardize", "1")])).unwrap();
        let l_star = land["optimum"]["loss"].as_f64().unwrap();
        let s = Descent::parse(&p, &query(&[("standardize", "1"), ("lr", "0.5"), ("updates", "30")])).unwrap().run(&p);
        let last = s["loss"].as_array().unwrap().last().unwrap().as_f64().unwrap();
        assert!(last < l_star * 1.0001, "{last} vs {l_star}");
    }

    #[test]
    fn out_of_range_values_are_refused_by_name() {
        let p = Problems::load().unwrap();
        for (k, v) in
            [("updates", "1000000"), ("updates", "0"), ("lr", "-1"), ("lr", "nan"), ("batch", "0"), ("w", "1e9")]
        {
            let e = Descent::parse(&p, &query(&[(k, v)])).err().unwrap();
            assert_eq!(e.status, 400);
            assert!(e.message.starts_with(&format!("{k}={v}")), "{}", e.message);
        }
        let e = landscape(&p, &query(&[("grid", "5000")])).err().unwrap();
        assert!(e.message.contains("grid=5000"), "{}", e.message);
        assert!(landscape(&p, &query(&[("color", "red")]))
            .err()
            .unwrap()
            .message
            .contains("unknown parameter 'color'"));
    }

    #[test]
    fn the_playground_draws_the_labs_batches_for_the_same_seed() {
        // The lab's batch-size experiment (quick: 1,000 training rows, 2 epochs) and the
        // playground over the same rows, from the same start with the same rate and seed.
        let dir = std::env::temp_dir().join(format!("ftheta-serve-batches-{}", std::process::id()));
        let mut cfg = ftheta_lab::LabConfig::quick(&dir);
        cfg.batch_sizes = Some(vec![32, 5]);
        std::fs::create_dir_all(&dir).unwrap();
        let lab = ftheta_lab::experiments::batch_size::run_batch_size(&cfg).unwrap().results;
        std::fs::remove_dir_all(&dir).ok();
        let p = Problems::new(LineProblem::load(&cfg).unwrap());
        let lr = lab["learning_rate"].as_f64().unwrap().to_string();
        for batch in [32, 5] {
            let runs = lab["runs"].as_array().unwrap();
            let run = runs.iter().find(|r| r["batch_size"] == batch && r["shuffled"] == true).unwrap();
            let updates = run["updates"].as_u64().unwrap().to_string();
            let q = query(&[("standardize", "1"), ("lr", &lr), ("batch", &batch.to_string()), ("updates", &updates)]);
            let seed = cfg.seed.to_string();
            let mut q = q;
            q.insert("seed".into(), seed);
            let play = Descent::parse(&p, &q).unwrap().run(&p);
            let end = play["path"].as_array().unwrap().last().unwrap().clone();
            // Bit for bit: the same batches in the same order.
            assert_eq!(
                (end[0].as_f64().unwrap(), end[1].as_f64().unwrap()),
                (run["final_w"].as_f64().unwrap(), run["final_b"].as_f64().unwrap()),
                "B = {batch}"
            );
            // Another seed draws other batches and ends elsewhere.
            q.insert("seed".into(), (cfg.seed + 1).to_string());
            let other = Descent::parse(&p, &q).unwrap().run(&p);
            assert_ne!(other["path"].as_array().unwrap().last().unwrap(), &end, "B = {batch}");
        }
    }
}
