//! The text of a model spec: parsing (`FromStr`) and writing (`Display`) a [`ModelSpec`].
//!
//! ```text
//! spec      := linear | perceptron | mlp:H1,H2,…[:ACT] | relu-sum:H | sigmoid-sum:H | layers
//! layers    := token ( "," token )*
//! token     := KIND [ ":" ARGS ]          (ARGS may hold commas: see below)
//! ```
//! A layer list is cut at its commas; a piece that does not start with a letter (`16`), or whose
//! part before any `:` holds an `=` (`heads=4`), continues the token before it, so `gcn:16,16` is one
//! token with the arguments `16,16` and `transformer:layers=2,heads=4,dim=64` one with
//! `layers=2,heads=4,dim=64`. A layer with weights (`linear:N`) is followed by ReLU unless the next
//! token is an activation (`tanh`, `sigmoid`, `gelu`, `relu`, `identity`, …) or `none`; an activation
//! anywhere else is a layer of its own. Errors quote the token they are about.

use std::fmt;
use std::str::FromStr;

use super::layer::LayerSpec;
use super::ModelSpec;
use crate::layers::Activation;
use crate::NnError;

/// The grammar in short, for error messages and `--help`.
pub const GRAMMAR: &str = "linear, perceptron, mlp:H1,H2[:ACT], relu-sum:H, sigmoid-sum:H, or a list of layers such \
as linear:64,tanh,linear:32 (linear:N is followed by ReLU unless an activation or none follows it)";

/// Kinds that later issues build; the parser names them instead of calling them unknown.
const COMING: &[(&str, &str)] = &[
    ("conv", "convolution"),
    ("maxpool", "pooling"),
    ("avgpool", "pooling"),
    ("dropout", "dropout"),
    ("batchnorm", "batch normalization"),
    ("rnn", "recurrent"),
    ("gru", "recurrent"),
    ("lstm", "recurrent"),
    ("transformer", "transformer"),
    ("gcn", "graph convolution"),
];

/// One layer token as written: its kind, and what follows its first `:` with any continuation
/// pieces joined back by commas.
struct Token {
    text: String,
    kind: String,
    args: Option<String>,
}

/// Whether a comma-separated piece starts a new token (else it continues the one before it).
fn starts_token(piece: &str) -> bool {
    let head = piece.split(':').next().unwrap_or("");
    piece.starts_with(|c: char| c.is_ascii_alphabetic()) && !head.contains('=')
}

fn tokens(s: &str) -> Result<Vec<Token>, String> {
    let mut out: Vec<Token> = Vec::new();
    for piece in s.split(',').map(str::trim) {
        if piece.is_empty() {
            return Err("an empty layer (two commas in a row, or a comma at an end)".into());
        }
        if starts_token(piece) {
            let (kind, args) = match piece.split_once(':') {
                Some((k, a)) => (k.to_string(), Some(a.to_string())),
                None => (piece.to_string(), None),
            };
            out.push(Token { text: piece.to_string(), kind, args });
            continue;
        }
        match out.last_mut() {
            Some(Token { text, args: Some(args), .. }) => {
                *text += &format!(",{piece}");
                *args += &format!(",{piece}");
            }
            _ => return Err(format!("'{piece}' is not a layer (a layer starts with its kind, as in linear:{piece})")),
        }
    }
    Ok(out)
}

/// A positive whole number of units.
fn units(w: &str) -> Result<usize, String> {
    match w.trim().parse::<usize>() {
        Ok(0) => Err("a layer needs at least 1 unit, not 0".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("'{w}' is not a positive whole number of units")),
    }
}

/// An activation token (`linear` is the layer, never the identity here).
fn activation(kind: &str) -> Option<Activation> {
    (kind != "linear").then(|| kind.parse().ok()).flatten()
}

/// What one token of a layer list stands for.
enum Parsed {
    /// A layer.
    Layer(LayerSpec),
    /// `none`: no activation after the layer before.
    NoActivation,
}

/// The parser arm of each layer kind: one line per kind.
fn layer(t: &Token) -> Result<Parsed, String> {
    let bad = |problem: String| format!("'{}': {problem}", t.text);
    let layer = match (t.kind.as_str(), t.args.as_deref()) {
        ("linear", Some(n)) => LayerSpec::Linear { units: units(n).map_err(bad)? },
        ("linear", None) => return Err(bad("a linear layer needs its width, as in linear:32".into())),
        ("none", None) => return Ok(Parsed::NoActivation),
        (k, None) if activation(k).is_some() => LayerSpec::Activation(activation(k).expect("checked")),
        (k, Some(_)) if k == "none" || activation(k).is_some() => {
            return Err(bad(format!("the activation {k} takes no argument")))
        }
        (k @ ("mlp" | "relu-sum" | "sigmoid-sum" | "perceptron"), _) => {
            return Err(bad(format!("{k} is a whole model, not a layer of a list ({GRAMMAR})")))
        }
        (k, _) => {
            return Err(bad(match COMING.iter().find(|(c, _)| *c == k) {
                Some((_, what)) => format!("{what} layers ({k}) are not built yet"),
                None => format!("unknown layer kind '{k}' (expected {GRAMMAR})"),
            }))
        }
    };
    Ok(Parsed::Layer(layer))
}

fn layer_list(s: &str) -> Result<Vec<LayerSpec>, String> {
    let tokens = tokens(s)?;
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let l = match layer(&tokens[i])? {
            Parsed::Layer(l) => l,
            Parsed::NoActivation => {
                return Err(format!("'{}': none only follows a layer with weights, such as linear:N", tokens[i].text))
            }
        };
        i += 1;
        let takes = l.takes_activation();
        out.push(l);
        if !takes {
            continue;
        }
        match tokens.get(i).map(layer).transpose() {
            Ok(Some(Parsed::NoActivation)) => i += 1,
            Ok(Some(Parsed::Layer(a @ LayerSpec::Activation(_)))) => {
                out.push(a);
                i += 1;
            }
            // The next token is another layer, or wrong (its error comes on the next turn).
            _ => out.push(LayerSpec::Activation(Activation::Relu)),
        }
    }
    Ok(out)
}

impl FromStr for ModelSpec {
    type Err = NnError;
    fn from_str(s: &str) -> Result<Self, NnError> {
        let err = |problem: String| NnError::Spec { spec: s.to_string(), problem };
        let shorthand = |prefix: &str| s.strip_prefix(prefix);
        let spec = if s == "linear" {
            ModelSpec::Linear
        } else if s == "perceptron" {
            ModelSpec::Perceptron
        } else if let Some(h) = shorthand("relu-sum:") {
            ModelSpec::ReluSum { units: units(h).map_err(err)? }
        } else if let Some(h) = shorthand("sigmoid-sum:") {
            ModelSpec::SigmoidSum { units: units(h).map_err(err)? }
        } else if let Some(rest) = shorthand("mlp:") {
            let (hs, act) = match rest.split_once(':') {
                Some((hs, a)) => (hs, Some(a)),
                None => (rest, None),
            };
            let hidden = hs.split(',').map(units).collect::<Result<Vec<_>, _>>().map_err(err)?;
            let activation = match act {
                Some(a) => a.parse().map_err(err)?,
                None => Activation::Relu,
            };
            ModelSpec::Mlp { hidden, activation }
        } else {
            ModelSpec::Layers(layer_list(s).map_err(err)?)
        };
        Ok(spec)
    }
}

/// A layer list as tokens: an activation after a layer with weights is written only when it is not
/// the default ReLU (or when another activation follows, which would otherwise take its place),
/// and a missing one as `none`, so that parsing the text gives the same list back.
fn write_layers(layers: &[LayerSpec]) -> String {
    if layers.is_empty() {
        return "linear".into();
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < layers.len() {
        let l = &layers[i];
        out.push(l.token());
        i += 1;
        if !l.takes_activation() {
            continue;
        }
        match layers.get(i) {
            Some(LayerSpec::Activation(a)) => {
                let another_follows = matches!(layers.get(i + 1), Some(LayerSpec::Activation(_)));
                if *a != Activation::Relu || another_follows {
                    out.push(a.name().to_string());
                }
                i += 1;
            }
            _ => out.push("none".into()),
        }
    }
    out.join(",")
}

impl fmt::Display for ModelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelSpec::Linear => write!(f, "linear"),
            ModelSpec::Perceptron => write!(f, "perceptron"),
            ModelSpec::ReluSum { units } => write!(f, "relu-sum:{units}"),
            ModelSpec::SigmoidSum { units } => write!(f, "sigmoid-sum:{units}"),
            ModelSpec::Mlp { hidden, activation } => {
                let h: Vec<String> = hidden.iter().map(|h| h.to_string()).collect();
                write!(f, "mlp:{}:{activation}", h.join(","))
            }
            ModelSpec::Layers(layers) => f.write_str(&write_layers(layers)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers(s: &str) -> Vec<LayerSpec> {
        match s.parse::<ModelSpec>().unwrap() {
            ModelSpec::Layers(l) => l,
            other => panic!("{s} parsed as {other:?}"),
        }
    }

    #[test]
    fn continuation_pieces_join_the_token_before() {
        let kinds = |s: &str| -> Vec<(String, Option<String>)> {
            tokens(s).unwrap().into_iter().map(|t| (t.kind, t.args)).collect()
        };
        let t = |k: &str, a: Option<&str>| (k.to_string(), a.map(String::from));
        assert_eq!(kinds("gcn:16,16"), [t("gcn", Some("16,16"))]);
        assert_eq!(kinds("transformer:layers=2,heads=4,dim=64"), [t("transformer", Some("layers=2,heads=4,dim=64"))]);
        assert_eq!(
            kinds("conv:32x3/2+1,maxpool:2,conv:64x3,tanh,linear:128,dropout:0.2"),
            [
                t("conv", Some("32x3/2+1")),
                t("maxpool", Some("2")),
                t("conv", Some("64x3")),
                t("tanh", None),
                t("linear", Some("128")),
                t("dropout", Some("0.2"))
            ]
        );
        assert_eq!(kinds("gru:128x2"), [t("gru", Some("128x2"))]);
    }

    #[test]
    fn linear_layers_get_relu_unless_told_otherwise() {
        use LayerSpec::{Activation as A, Linear as L};
        assert_eq!(layers("linear:8"), [L { units: 8 }, A(Activation::Relu)]);
        assert_eq!(
            layers("linear:8,tanh,linear:4,none,sigmoid"),
            [L { units: 8 }, A(Activation::Tanh), L { units: 4 }, A(Activation::Sigmoid)]
        );
        assert_eq!(layers("linear:8,none,linear:4"), [L { units: 8 }, L { units: 4 }, A(Activation::Relu)]);
        assert_eq!(
            layers("gelu,linear:3,relu,tanh"),
            [A(Activation::Gelu), L { units: 3 }, A(Activation::Relu), A(Activation::Tanh)]
        );
    }

    #[test]
    fn bad_tokens_are_named() {
        let e = |s: &str| s.parse::<ModelSpec>().unwrap_err().to_string();
        for (spec, needles) in [
            ("conv:32x3,maxpool:2,linear:128", &["'conv:32x3'", "not built yet"][..]),
            ("linear:32,gru:128x2", &["'gru:128x2'", "recurrent", "not built yet"]),
            ("transformer:layers=2,heads=4,dim=64", &["'transformer:layers=2,heads=4,dim=64'", "not built yet"]),
            ("gcn:16,16", &["'gcn:16,16'", "graph"]),
            ("linear:32,lineer:4", &["'lineer:4'", "unknown layer kind 'lineer'"]),
            ("linear:32,linear:0", &["'linear:0'", "at least 1 unit"]),
            ("linear:32,linear:x", &["'linear:x'", "'x' is not a positive whole number"]),
            ("linear:32,,tanh", &["empty layer"]),
            ("linear:32,", &["empty layer"]),
            ("16,linear:3", &["'16' is not a layer"]),
            ("none,linear:3", &["'none'", "only follows"]),
            ("linear:3,tanh:2", &["'tanh:2'", "takes no argument"]),
            ("linear:3,mlp:4", &["'mlp:4'", "whole model"]),
            ("linear:3,linear", &["'linear'", "needs its width"]),
            ("conv", &["'conv'", "convolution"]),
        ] {
            let msg = e(spec);
            assert!(msg.contains(&format!("model '{spec}'")), "{msg}");
            for n in needles {
                assert!(msg.contains(n), "{spec}: expected {n} in {msg}");
            }
        }
    }

    #[test]
    fn layer_lists_round_trip_through_their_text() {
        for s in ["linear:8", "linear:8,tanh,linear:4,none", "gelu,linear:3,relu,tanh", "linear:5,identity,sigmoid"] {
            assert_eq!(s.parse::<ModelSpec>().unwrap().to_string(), s);
        }
        assert_eq!("linear:8,relu".parse::<ModelSpec>().unwrap().to_string(), "linear:8");
        assert_eq!("linear:8, tanh".parse::<ModelSpec>().unwrap().to_string(), "linear:8,tanh");
    }
}

#[cfg(test)]
mod round_trip {
    use proptest::prelude::*;

    use super::*;

    fn layer() -> impl Strategy<Value = LayerSpec> {
        let acts = [
            Activation::Relu,
            Activation::Sigmoid,
            Activation::Tanh,
            Activation::HardSigmoid,
            Activation::Softplus,
            Activation::Gelu,
            Activation::Identity,
        ];
        prop_oneof![
            (1usize..2000).prop_map(|units| LayerSpec::Linear { units }),
            proptest::sample::select(acts.to_vec()).prop_map(LayerSpec::Activation),
        ]
    }

    proptest! {
        /// Any list of layers, written and read back, is the same list (so config.json keeps it).
        #[test]
        fn any_layer_list_reads_back_as_written(layers in proptest::collection::vec(layer(), 1..8)) {
            let spec = ModelSpec::Layers(layers);
            let text = spec.to_string();
            prop_assert_eq!(text.parse::<ModelSpec>().unwrap(), spec, "{}", text);
        }
    }
}
