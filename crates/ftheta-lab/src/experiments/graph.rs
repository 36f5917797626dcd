//! The computation graph of one sample's loss, L = (w·x + b − t)², with every node's value and
//! gradient, from ftheta's `to_dot`. It is the picture a student draws by hand for
//! backpropagation: values flow forward, gradients flow back.

use std::process::Command;

use anyhow::Result;
use ftheta_core::{BackwardOptions, Tensor};
use serde_json::json;

use super::{s, START};
use crate::data::Deliveries;
use crate::report::{self, Section};
use crate::LabConfig;

/// Whether Graphviz's `dot` runs on this machine.
fn dot_available() -> bool {
    Command::new("dot").arg("-V").output().map(|o| o.status.success()).unwrap_or(false)
}

/// Builds the graph for the first training delivery at the lecture's start and writes it out.
pub fn run_graph(cfg: &LabConfig) -> Result<Section> {
    let d = Deliveries::load(cfg.seed)?;
    let row = d.split.train[0];
    let (x, t) = (d.values("distance", &[row])?[0], d.target(&[row])[0]);
    let xs = Tensor::scalar(x as f32).with_name("x");
    let ts = Tensor::scalar(t as f32).with_name("t");
    let w = Tensor::scalar(START.0 as f32).requires_grad().with_name("w");
    let b = Tensor::scalar(START.1 as f32).requires_grad().with_name("b");
    let wx = (&w * &xs).with_name("w·x");
    let y = (&wx + &b).with_name("y");
    let r = (&y - &ts).with_name("y − t");
    let l = r.pow(2.0).with_name("L");
    l.backward_with(None, BackwardOptions { retain_graph: true, retain_grads: true })?;
    let dot = l.to_dot();
    report::write_atomic(&cfg.out_dir.join("graph.dot"), dot.as_bytes())?;

    let (gw, gb) =
        (w.grad().map(|g| g.item() as f64).unwrap_or(f64::NAN), b.grad().map(|g| g.item() as f64).unwrap_or(f64::NAN));
    let yv = y.item() as f64;
    // By hand: ∂L/∂w = 2(y − t)·x, ∂L/∂b = 2(y − t).
    let (hw, hb) = (2.0 * (yv - t) * x, 2.0 * (yv - t));
    let rendered = dot_available() && {
        let svg = cfg.out_dir.join("graph.svg");
        let tmp = report::temp_path(&svg);
        let ok = Command::new("dot")
            .arg("-Tsvg")
            .arg(cfg.out_dir.join("graph.dot"))
            .arg("-o")
            .arg(&tmp)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        ok && report::commit_temp(&tmp, &svg).is_ok()
    };
    let mut paragraphs = vec![format!(
        "One training delivery, x = {} miles, t = {} minutes, at the lecture's start w = {}, b = {}: y = w·x + b = {} and \
         L = (y − t)² = {}. Backward gives ∂L/∂w = {} and ∂L/∂b = {}; by hand, 2(y − t)·x = {} and 2(y − t) = {}.",
        s(x), s(t), START.0, START.1, s(yv), s(l.item() as f64), s(gw), s(gb), s(hw), s(hb)
    )];
    if rendered {
        paragraphs.push("<a href=\"graph.svg\"><img src=\"graph.svg\" alt=\"computation graph\" style=\"max-width:100%\"></a> (source: <a href=\"graph.dot\">graph.dot</a>)".into());
    } else {
        paragraphs.push(
            "Graphviz's <code>dot</code> was not found, so the graph is kept as <a href=\"graph.dot\">graph.dot</a>. \
             Render it with <code>dot -Tsvg graph.dot -o graph.svg</code> (Graphviz: <code>apt install graphviz</code>, \
             <code>brew install graphviz</code>), or paste the file into any Graphviz viewer."
                .into(),
        );
    }
    let results = json!({
        "sample": {"row": row, "x": x, "t": t}, "w": START.0, "b": START.1, "y": yv, "loss": l.item(),
        "grad_w": gw, "grad_b": gb, "grad_w_by_hand": hw, "grad_b_by_hand": hb,
        "dot_file": "graph.dot", "svg_rendered": rendered,
    });
    Ok(Section {
        name: "graph",
        title: "8. The computation graph".into(),
        headline: format!(
            "∂L/∂w = {}, ∂L/∂b = {} (by hand {} and {}){}",
            s(gw),
            s(gb),
            s(hw),
            s(hb),
            if rendered { "" } else { "; graph.dot kept (no dot)" }
        ),
        paragraphs,
        tables: vec![],
        figures: vec![],
        files: vec!["graph.dot".into()],
        results,
    })
}
