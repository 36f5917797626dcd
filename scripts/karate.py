#!/usr/bin/env python3
"""Writes data/karate_edges.csv and data/karate_nodes.csv: Zachary's karate club, as networkx ships it.

Run by hand (the files are committed and compiled into ftheta; CI has no Python):

    pip install networkx          # 3.6.1 wrote the committed files
    python scripts/karate.py

Source: W. W. Zachary, "An Information Flow Model for Conflict and Fission in Small Groups",
Journal of Anthropological Research 33 (1977) 452-473: 34 members of a university karate club,
78 pairs who interacted outside the club, each weighted by the number of contexts in which they
did (Zachary's matrix C), and the club each member joined after the split (Table 3, 'Club After
Split From Data'). networkx's `karate_club_graph()` holds that matrix and that column in its
source; its numbering is 0-based, the paper's 1-based: the files use the paper's (member 1 is the
instructor, "Mr. Hi"; member 34 the club's administrator, whose side networkx calls "Officer").
"""

import csv
import os

import networkx as nx

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")


def main():
    g = nx.karate_club_graph()
    assert g.number_of_nodes() == 34 and g.number_of_edges() == 78
    with open(os.path.join(DATA, "karate_nodes.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["node", "club"])
        for n in sorted(g.nodes):
            w.writerow([n + 1, g.nodes[n]["club"]])
    with open(os.path.join(DATA, "karate_edges.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["source", "target", "weight"])
        for a, b, d in sorted((min(a, b), max(a, b), d) for a, b, d in g.edges(data=True)):
            w.writerow([a + 1, b + 1, d["weight"]])
    print(f"networkx {nx.__version__}: 34 members, 78 friendships written to {os.path.normpath(DATA)}")


if __name__ == "__main__":
    main()
