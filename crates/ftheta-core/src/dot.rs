//! `to_dot`: the computation graph as Graphviz, the picture a student draws by hand. Each node
//! shows its name or op, its shape and, for small tensors, its value and gradient.

use std::collections::HashSet;
use std::fmt::Write;

use crate::{Float, Tensor};

/// Tensors with at most this many elements show their values in the graph.
const SHOW_VALUES_UP_TO: usize = 6;

fn values<T: Float>(t: &Tensor<T>) -> String {
    let v: Vec<String> = t.to_vec().iter().map(|x| format!("{:.4}", x.as_f64())).collect();
    if v.len() == 1 {
        v[0].clone()
    } else {
        format!("[{}]", v.join(", "))
    }
}

impl<T: Float> Tensor<T> {
    /// The graph that computed this tensor, in Graphviz's dot language (render with
    /// `dot -Tsvg graph.dot -o graph.svg`). Gradients appear for leaves after `backward`, and
    /// for every node when backward ran with `retain_grads` (and `retain_graph`, so the graph is
    /// still there to draw).
    pub fn to_dot(&self) -> String {
        let mut out = String::from(
            "digraph ftheta {\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=11];\n",
        );
        let mut seen = HashSet::new();
        let mut stack = vec![self.clone()];
        while let Some(t) = stack.pop() {
            if !seen.insert(t.id()) {
                continue;
            }
            let mut label = String::new();
            let op = t.op_name();
            let title = match t.name() {
                Some(n) if t.is_leaf() => n,
                Some(n) => format!("{n} = {}", op.trim_end_matches("Backward").to_lowercase()),
                None if t.is_leaf() => (if t.tracks_grad() { "parameter" } else { "data" }).to_string(),
                None => op.trim_end_matches("Backward").to_lowercase(),
            };
            let _ = write!(label, "{title}\\nshape {:?}", t.shape());
            if t.numel() <= SHOW_VALUES_UP_TO {
                let _ = write!(label, "\\nvalue {}", values(&t));
                if let Some(g) = t.grad() {
                    let _ = write!(label, "\\ngrad {}", values(&g));
                }
            }
            let color = if !t.is_leaf() {
                "#dbe9f6"
            } else if t.tracks_grad() {
                "#fde2c8"
            } else {
                "#eeeeee"
            };
            let _ = writeln!(out, "  n{} [label=\"{}\", fillcolor=\"{color}\"];", t.id(), label.replace('"', "'"));
            if let Some(op) = t.0.op.borrow().as_ref() {
                op.for_each_input(|x| {
                    let _ = writeln!(out, "  n{} -> n{};", x.id(), t.id());
                    stack.push(x.clone());
                });
            }
        }
        out.push_str("}\n");
        out
    }
}
