//! Graph files: each malformed node table or edge list is an error naming its file and line.

mod common;

use common::TempDir;
use ftheta_data::graph::{parse_edge_list, parse_node_table};
use ftheta_data::{read_edge_list, read_node_table, CsvOptions, NodeOptions, NodeSplit};

fn opts() -> NodeOptions {
    NodeOptions { csv: CsvOptions::default().target("label").classification(true), ..Default::default() }
}

const NODES: &str = "node,x,label\na,1.0,red\nb,2.0,blue\nc,3.0,red\nd,4.0,blue\n";

fn edges_err(text: &str) -> String {
    let nodes = parse_node_table("nodes.csv", NODES.as_bytes(), &opts()).unwrap();
    parse_edge_list("edges.csv", text.as_bytes(), &nodes).expect_err("the edge list is malformed").to_string()
}

#[test]
fn a_named_graph_reads_its_edges_weights_and_features() {
    let dir = TempDir::new("graph");
    let np = dir.write("nodes.csv", NODES.as_bytes());
    let ep = dir.write("edges.csv", b"source,target,weight,kind\na,b,2,x\nc,b,0.5,y\nd,d,3,z\n");
    let nodes = read_node_table(&np, &opts()).unwrap();
    assert_eq!(nodes.names, ["a", "b", "c", "d"]);
    assert_eq!(nodes.table.feature_names, ["x"], "the name column is no feature");
    assert_eq!(nodes.table.class_indices().unwrap(), [1, 0, 1, 0]);
    let g = read_edge_list(&ep, &nodes).unwrap();
    assert_eq!(g.edges, [(0, 1, 2.0), (2, 1, 0.5), (3, 3, 3.0)]);
    assert_eq!(g.n_edges(), 2);
    assert_eq!(g.adjacency(), [(0, 1, 2.0), (1, 0, 2.0), (2, 1, 0.5), (1, 2, 0.5), (3, 3, 3.0)]);
    assert_eq!(g.degrees(), [1, 2, 1, 0]);
}

#[test]
fn a_table_without_a_name_column_numbers_its_rows_and_one_without_features_gets_identity() {
    let nodes = parse_node_table(
        "n.csv",
        b"label\n0\n1\n1\n",
        &NodeOptions { csv: CsvOptions::default().target("label").classification(true), ..Default::default() },
    )
    .unwrap();
    assert!(!nodes.named);
    assert_eq!(nodes.names, ["0", "1", "2"]);
    assert_eq!(nodes.table.features, [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
    let g = parse_edge_list("e.csv", b"source,target\n0,2\n1,2\n", &nodes).unwrap();
    assert_eq!(g.edges, [(0, 2, 1.0), (1, 2, 1.0)]);
    assert!(!g.weighted);
    let e = parse_edge_list("e.csv", b"source,target\n0,2\n1,3\n", &nodes).unwrap_err().to_string();
    assert_eq!(
        e,
        "e.csv line 3, column target: unknown node '3': n.csv has no such node (it has no node/id/name column, so \
         nodes are its row numbers 0 to 2)"
    );
}

#[test]
fn an_unknown_node_names_file_line_and_column() {
    assert_eq!(
        edges_err("source,target\na,b\nb,c\nzz,a\n"),
        "edges.csv line 4, column source: unknown node 'zz': nodes.csv has no such node (its column of names has 4 nodes)"
    );
}

#[test]
fn a_duplicate_edge_in_either_direction_names_both_lines() {
    let e = edges_err("source,target\na,b\nb,c\nb,a\n");
    assert!(e.starts_with("edges.csv line 4: the edge b–a was already given on line 2"), "{e}");
    assert!(e.contains("undirected"), "{e}");
    assert!(edges_err("source,target\na,b\na,b\n")
        .starts_with("edges.csv line 3: the edge a–b was already given on line 2"));
}

#[test]
fn a_self_loop_is_allowed_once() {
    assert_eq!(
        edges_err("source,target\nc,c\na,b\nc,c\n"),
        "edges.csv line 4: the self-loop of node 'c' was already given on line 2"
    );
}

#[test]
fn bad_weights_headers_and_names() {
    assert_eq!(
        edges_err("source,target,weight\na,b,1\nb,c,-2\n"),
        "edges.csv line 3: column weight: '-2' is not a number above 0 (an edge's weight must be)"
    );
    assert!(edges_err("source,target,weight\na,b,0\n").contains("'0' is not a number above 0"));
    assert!(edges_err("from,to\na,b\n").starts_with("edges.csv line 1: an edge list needs columns source and target"));
    assert_eq!(edges_err(""), "edges.csv is empty");
    let e = parse_node_table("nodes.csv", b"node,label\na,0\nb,1\na,1\n", &opts()).unwrap_err().to_string();
    assert_eq!(e, "nodes.csv line 4: node 'a' was already given on line 2");
    let e = parse_node_table("nodes.csv", b"node,label\na,0\n,1\n", &opts()).unwrap_err().to_string();
    assert!(e.starts_with("nodes.csv line 3, column node: the cell is empty"), "{e}");
}

#[test]
fn a_mask_column_marks_the_labelled_nodes_and_is_no_feature() {
    let o = NodeOptions { labeled_column: Some("seen".into()), ..opts() };
    let nodes = parse_node_table("m.csv", b"id,x,seen,label\na,1,1,0\nb,2,0,1\nc,3,true,1\n", &o).unwrap();
    assert_eq!(nodes.table.feature_names, ["x"]);
    assert_eq!(nodes.labeled.as_deref(), Some(&[true, false, true][..]));
    let s = NodeSplit::from_mask(nodes.labeled.as_ref().unwrap());
    assert_eq!((s.labeled, s.unlabeled), (vec![0, 2], vec![1]));
    let e = parse_node_table("m.csv", b"id,x,seen,label\na,1,1,0\nb,2,maybe,1\n", &o).unwrap_err().to_string();
    assert_eq!(e, "m.csv line 3: column seen: 'maybe' is not 1/0, true/false or yes/no");
    let o = NodeOptions { labeled_column: Some("nope".into()), ..opts() };
    let e = parse_node_table("m.csv", b"id,x,label\na,1,0\n", &o).unwrap_err().to_string();
    assert!(e.contains("no column 'nope' (given as labeled)"), "{e}");
}
