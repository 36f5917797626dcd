//! Graphs for node classification: a node table (one row a node: its name, features and label) and
//! an edge list (`source,target`, optional `weight`), read with errors that name the file and line.
//!
//! Rules, decided once and checked here so that a model never sees a silently different graph:
//!
//! - **Naming nodes.** The node table's column `node`, `id` or `name` (the first of these that it
//!   has, or the one [`NodeOptions::id_column`] names) holds each node's name, and the edge list
//!   refers to nodes by those names (compared as text: `7` and `07` differ). A table without such a
//!   column numbers its rows from 0, and the edge list refers to them by these indices. A name
//!   given twice is an error. An edge naming a node that the table does not have is an error.
//! - **Undirected.** `a,b` and `b,a` are the same edge (graph convolution needs a symmetric
//!   adjacency). Giving an edge twice, in either direction, is an error naming both lines; to count
//!   an edge more than once, give it a weight.
//! - **Self-loops.** `a,a` is allowed once; its weight becomes that node's self-connection, which
//!   graph convolution's `A + I` otherwise sets to 1 (PyTorch Geometric's `add_remaining_self_loops`).
//!   A self-loop given twice is an error (which of its weights would count?).
//! - **Weights.** Without a `weight` column every edge weighs 1. A weight must be a finite number
//!   above 0: a negative weight would make a node's degree, and so `D^-½`, meaningless, and a zero
//!   weight is no edge. Other columns of the edge list are ignored.
//! - **Features.** Every column of the node table but the name, the target and the labelled-mask
//!   columns is a feature (the CSV reader's rules: numbers, or one-hot categorical columns). A table
//!   with none gets one-hot identity features, one column per node, as Kipf & Welling give the
//!   featureless karate club.
//!
//! The karate club ([`karate`]) is compiled in.

use std::collections::HashMap;
use std::path::Path;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::csv::{line_of, parse_csv, records, CsvOptions, Table};
use crate::error::{DataError, Result};
use crate::io::{display_name, read_bytes};

/// The columns that name nodes when [`NodeOptions::id_column`] is not given, in order of preference.
pub const ID_COLUMNS: &[&str] = &["node", "id", "name"];

/// How to read a node table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeOptions {
    /// Feature and target columns, as for any CSV table (the name and mask columns are left out of
    /// the features by themselves).
    pub csv: CsvOptions,
    /// The column of node names; `None`: the first of [`ID_COLUMNS`] present, else row numbers.
    pub id_column: Option<String>,
    /// A column that marks the nodes whose labels training may see (`1`/`0` or `true`/`false`).
    pub labeled_column: Option<String>,
}

/// The nodes of a graph: names, and the table of their features and labels (row `i` is node `i`).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeTable {
    /// Each node's name: from the name column, or its row number from 0.
    pub names: Vec<String>,
    /// Whether the names came from a column (else edges refer to nodes by row number).
    pub named: bool,
    /// Features (one-hot identity when the file has none) and the target, one row a node.
    pub table: Table,
    /// From the labelled-mask column: whether each node's label may be seen in training.
    pub labeled: Option<Vec<bool>>,
    /// The file the table came from, for messages.
    pub file: String,
}

impl NodeTable {
    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are no nodes (never, for a table that was read: an empty file is an error).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The node called `name` (or, for a table without a name column, with that row number).
    pub fn index_of(&self, name: &str) -> Option<usize> {
        if self.named {
            self.names.iter().position(|n| n == name)
        } else {
            name.parse::<usize>().ok().filter(|&i| i < self.len())
        }
    }
}

/// Reads the node table at `path`.
pub fn read_node_table(path: impl AsRef<Path>, options: &NodeOptions) -> Result<NodeTable> {
    let path = path.as_ref();
    parse_node_table(&display_name(path), &read_bytes(path)?, options)
}

/// Parses a node table already in memory; `file` names it in messages.
pub fn parse_node_table(file: &str, bytes: &[u8], options: &NodeOptions) -> Result<NodeTable> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(DataError::Empty { file: file.into() });
    }
    let (columns, rows) = records(file, bytes, &CsvOptions::default())?;
    let find = |name: &str, role: &'static str| {
        columns.iter().position(|c| c == name).ok_or_else(|| DataError::UnknownColumn {
            file: file.into(),
            column: name.into(),
            role,
            available: columns.clone(),
        })
    };
    let id = match &options.id_column {
        Some(c) => Some(find(c, "node names")?),
        None => ID_COLUMNS.iter().find_map(|c| columns.iter().position(|n| n == c)),
    };
    let mask = options.labeled_column.as_deref().map(|c| find(c, "labeled")).transpose()?;
    let mut names = Vec::with_capacity(rows.len());
    let mut seen: HashMap<&str, u64> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        let Some(j) = id else {
            names.push(i.to_string());
            continue;
        };
        let (name, line) = (&r[j], line_of(r));
        if name.is_empty() {
            return Err(DataError::MissingValue { file: file.into(), line, column: columns[j].clone() });
        }
        if let Some(&first) = seen.get(name) {
            return Err(DataError::DuplicateNode { file: file.into(), line, node: name.into(), first_line: first });
        }
        seen.insert(name, line);
        names.push(name.to_string());
    }
    let labeled = match mask {
        None => None,
        Some(j) => Some(rows.iter().map(|r| flag(file, &columns[j], r, j)).collect::<Result<Vec<_>>>()?),
    };
    let mut csv = options.csv.clone();
    csv.drop.extend(id.into_iter().chain(mask).map(|j| columns[j].clone()));
    let left = columns.iter().filter(|c| csv.target.as_ref() != Some(*c) && !csv.drop.contains(c)).count();
    if csv.features.is_none() && left == 0 {
        // No feature columns: ask for none (identity features below) rather than be refused.
        csv.features = Some(Vec::new());
    }
    let mut table = parse_csv(file, bytes, &csv)?;
    if table.n_features() == 0 {
        let n = names.len();
        table.feature_names = names.iter().map(|n| format!("node={n}")).collect();
        table.features = (0..n * n).map(|k| if k / n == k % n { 1.0 } else { 0.0 }).collect();
    }
    Ok(NodeTable { names, named: id.is_some(), table, labeled, file: file.into() })
}

/// A cell of the labelled-mask column: `1`/`true`/`yes` or `0`/`false`/`no`.
fn flag(file: &str, column: &str, r: &::csv::StringRecord, j: usize) -> Result<bool> {
    match r[j].to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" => Ok(true),
        "0" | "false" | "no" => Ok(false),
        other => Err(DataError::Format {
            file: file.into(),
            line: line_of(r),
            message: format!("column {column}: '{other}' is not 1/0, true/false or yes/no"),
        }),
    }
}

/// An undirected graph over the nodes of a [`NodeTable`]: each edge once, as given.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    /// The number of nodes (isolated ones included).
    pub n_nodes: usize,
    /// `(a, b, weight)` for each edge (or self-loop, `a == b`) in the file's order.
    pub edges: Vec<(usize, usize, f64)>,
    /// Whether the edge list had a `weight` column.
    pub weighted: bool,
}

impl Graph {
    /// The number of edges between two different nodes.
    pub fn n_edges(&self) -> usize {
        self.edges.iter().filter(|(a, b, _)| a != b).count()
    }

    /// The adjacency `A` as `(row, column, weight)` entries: both directions of every edge, and
    /// each self-loop once. Its row sums are the weighted degrees.
    pub fn adjacency(&self) -> Vec<(usize, usize, f64)> {
        let mut out = Vec::with_capacity(2 * self.edges.len());
        for &(a, b, w) in &self.edges {
            out.push((a, b, w));
            if a != b {
                out.push((b, a, w));
            }
        }
        out
    }

    /// How many neighbours each node has (self-loops not counted).
    pub fn degrees(&self) -> Vec<usize> {
        let mut d = vec![0; self.n_nodes];
        for &(a, b, _) in self.edges.iter().filter(|(a, b, _)| a != b) {
            d[a] += 1;
            d[b] += 1;
        }
        d
    }
}

/// Reads the edge list at `path` over the nodes of `nodes`.
pub fn read_edge_list(path: impl AsRef<Path>, nodes: &NodeTable) -> Result<Graph> {
    let path = path.as_ref();
    parse_edge_list(&display_name(path), &read_bytes(path)?, nodes)
}

/// Parses an edge list already in memory; `file` names it in messages.
pub fn parse_edge_list(file: &str, bytes: &[u8], nodes: &NodeTable) -> Result<Graph> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(DataError::Empty { file: file.into() });
    }
    let (columns, rows) = records(file, bytes, &CsvOptions::default())?;
    let col = |name: &str| columns.iter().position(|c| c == name);
    let (Some(s), Some(t)) = (col("source"), col("target")) else {
        return Err(DataError::Format {
            file: file.into(),
            line: 1,
            message: format!(
                "an edge list needs columns source and target (and optionally weight); the header has {}",
                columns.join(", ")
            ),
        });
    };
    let w = col("weight");
    let index: HashMap<&str, usize> = nodes.names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    let node = |r: &::csv::StringRecord, j: usize| -> Result<usize> {
        let cell = &r[j];
        let found = if nodes.named { index.get(cell).copied() } else { nodes.index_of(cell) };
        found.ok_or_else(|| DataError::UnknownNode {
            file: file.into(),
            line: line_of(r),
            column: columns[j].clone(),
            node: cell.into(),
            nodes: if nodes.named {
                format!("{} has no such node (its column of names has {} nodes)", nodes.file, nodes.len())
            } else {
                format!(
                    "{} has no such node (it has no node/id/name column, so nodes are its row numbers 0 to {})",
                    nodes.file,
                    nodes.len() - 1
                )
            },
        })
    };
    let mut first: HashMap<(usize, usize), u64> = HashMap::with_capacity(rows.len());
    let mut edges = Vec::with_capacity(rows.len());
    for r in &rows {
        let (a, b, line) = (node(r, s)?, node(r, t)?, line_of(r));
        let weight = match w {
            None => 1.0,
            Some(j) => weight(file, r, j)?,
        };
        let key = (a.min(b), a.max(b));
        if let Some(&first_line) = first.get(&key) {
            let (sa, sb) = (nodes.names[a].clone(), nodes.names[b].clone());
            return Err(if a == b {
                DataError::SelfLoopTwice { file: file.into(), line, node: sa, first_line }
            } else {
                DataError::DuplicateEdge { file: file.into(), line, from: sa, to: sb, first_line }
            });
        }
        first.insert(key, line);
        edges.push((a, b, weight));
    }
    Ok(Graph { n_nodes: nodes.len(), edges, weighted: w.is_some() })
}

fn weight(file: &str, r: &::csv::StringRecord, j: usize) -> Result<f64> {
    match r[j].parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(DataError::Format {
            file: file.into(),
            line: line_of(r),
            message: format!("column weight: '{}' is not a number above 0 (an edge's weight must be)", &r[j]),
        }),
    }
}

/// The nodes whose labels training sees and those it does not (the semi-supervised split).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSplit {
    /// Nodes whose labels training uses, ascending.
    pub labeled: Vec<usize>,
    /// The others, on which the model is scored, ascending.
    pub unlabeled: Vec<usize>,
}

impl NodeSplit {
    /// The split a mask gives (`true`: labelled).
    pub fn from_mask(mask: &[bool]) -> NodeSplit {
        let (labeled, unlabeled) = (0..mask.len()).partition(|&i| mask[i]);
        NodeSplit { labeled, unlabeled }
    }

    /// `k` nodes of each class, drawn with `seed` (the paper's setting: a few labels per class).
    /// Every class must keep at least one node unlabelled, so that it is scored.
    pub fn per_class(classes: &[usize], k: usize, seed: u64) -> Result<NodeSplit> {
        let n_classes = classes.iter().max().map_or(0, |&c| c + 1);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut mask = vec![false; classes.len()];
        for c in 0..n_classes {
            let mut members: Vec<usize> = (0..classes.len()).filter(|&i| classes[i] == c).collect();
            if members.is_empty() {
                continue;
            }
            if k >= members.len() {
                return Err(DataError::Shape(format!(
                    "class {c} has {} node(s); {k} labelled per class would leave none of them to score",
                    members.len()
                )));
            }
            members.shuffle(&mut rng);
            members[..k].iter().for_each(|&i| mask[i] = true);
        }
        Ok(NodeSplit::from_mask(&mask))
    }
}

/// The shipped karate club's node table (`data/karate_nodes.csv`).
pub const KARATE_NODES_CSV: &[u8] = include_bytes!("../../../data/karate_nodes.csv");
/// The shipped karate club's edge list (`data/karate_edges.csv`).
pub const KARATE_EDGES_CSV: &[u8] = include_bytes!("../../../data/karate_edges.csv");

/// Zachary's karate club (1977), compiled in: 34 members named `1` to `34` as in the paper (member
/// 1 is the instructor, "Mr. Hi", member 34 the administrator), 78 friendships weighted by the
/// number of contexts in which the two met, and the target `club`, the side each member joined
/// after the split (`Mr. Hi` or `Officer`). No features: each member is a one-hot identity row.
/// Source and licence: `data/README.md`.
pub fn karate() -> Result<(NodeTable, Graph)> {
    let options = NodeOptions { csv: CsvOptions::default().target("club").classification(true), ..Default::default() };
    let nodes = parse_node_table("karate_nodes.csv", KARATE_NODES_CSV, &options)?;
    let graph = parse_edge_list("karate_edges.csv", KARATE_EDGES_CSV, &nodes)?;
    Ok((nodes, graph))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_karate_club_has_34_members_78_friendships_and_two_sides() {
        let (nodes, g) = karate().unwrap();
        assert_eq!((nodes.len(), g.n_nodes, g.n_edges()), (34, 34, 78));
        assert_eq!(nodes.table.class_names.as_deref(), Some(&["Mr. Hi".to_string(), "Officer".to_string()][..]));
        let classes = nodes.table.class_indices().unwrap();
        assert_eq!(classes.iter().filter(|&&c| c == 0).count(), 17);
        assert_eq!((classes[0], classes[33]), (0, 1), "the instructor and the administrator lead the two sides");
        assert_eq!(nodes.table.n_features(), 34);
        assert_eq!(nodes.table.row(2).unwrap().iter().sum::<f64>(), 1.0);
        assert_eq!(nodes.table.row(2).unwrap()[2], 1.0);
        let d = g.degrees();
        assert_eq!((d[0], d[33], d.iter().sum::<usize>()), (16, 17, 156));
        assert!(g.weighted && g.adjacency().len() == 156);
    }

    #[test]
    fn per_class_labels_take_k_of_each_class_and_repeat_with_the_seed() {
        let classes = [0, 0, 0, 1, 1, 1, 1, 2, 2];
        let s = NodeSplit::per_class(&classes, 1, 7).unwrap();
        assert_eq!(s.labeled.len(), 3);
        let mut seen: Vec<usize> = s.labeled.iter().map(|&i| classes[i]).collect();
        seen.sort();
        assert_eq!(seen, [0, 1, 2]);
        assert_eq!(s, NodeSplit::per_class(&classes, 1, 7).unwrap());
        assert_eq!(s.labeled.len() + s.unlabeled.len(), classes.len());
        let e = NodeSplit::per_class(&classes, 2, 7).unwrap_err().to_string();
        assert!(e.contains("class 2 has 2 node(s)"), "{e}");
    }
}
