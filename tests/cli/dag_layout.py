#!/usr/bin/env python3
"""dag_layout.py DIR: in every graph of DIR/dags.json that Graphviz's dot drew, each
communication node joining several GPUs lies inside the bounding box of the clusters of the
GPUs it joins (rule 5 of ../shared/spec/dag.md: it stands between them, not at the far side of
the picture). Read from the SVG the user opens, so what is checked is what is seen; graphs drawn
by shardrt's own layered renderer (too large for dot, or no Graphviz) are skipped, saying so.

Exit 0 if every such node is in place, 1 naming each one that is not (and how far out), 2 if a
file cannot be read."""
import json
import os
import re
import sys
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"
# shardrt's DOT writes one node statement a line: its id first, then kind and gpus.
COMM_NODE = re.compile(r'^\s*"([^"]+)" \[shape=ellipse, kind="comm", [^\n]*?\bgpus="([0-9,]+)"')
GPU_CLUSTER = re.compile(r"^cluster_gpu([0-9]+)$")


def boxes_and_centres(svg_path):
    """GPU index -> (x0, y0, x1, y1) of its cluster; node id -> (x, y) of its ellipse."""
    clusters, centres = {}, {}
    for g in ET.parse(svg_path).iter(SVG + "g"):
        title = g.find(SVG + "title")
        if title is None or title.text is None:
            continue
        if g.get("class") == "cluster":
            match = GPU_CLUSTER.match(title.text)
            polygon = g.find(SVG + "polygon")
            if match and polygon is not None:
                points = [tuple(map(float, p.split(","))) for p in polygon.get("points").split()]
                xs, ys = [p[0] for p in points], [p[1] for p in points]
                clusters[int(match.group(1))] = (min(xs), min(ys), max(xs), max(ys))
        elif g.get("class") == "node":
            ellipse = g.find(SVG + "ellipse")
            if ellipse is not None:
                centres[title.text] = (float(ellipse.get("cx")), float(ellipse.get("cy")))
    return clusters, centres


def check_graph(directory, entry):
    """The misplaced nodes of one graph, as lines; None when dot did not draw it."""
    if entry["renderer"] != "dot":
        print(f"dag_layout: {entry['name']}: skipped, drawn by {entry['renderer']}")
        return None
    with open(os.path.join(directory, entry["dot"]), encoding="utf-8") as f:
        joins = {m.group(1): [int(g) for g in m.group(2).split(",")]
                 for m in map(COMM_NODE.match, f) if m}
    clusters, centres = boxes_and_centres(os.path.join(directory, entry["svg"]))
    misplaced = []
    for node, gpus in sorted(joins.items()):
        if node not in centres or any(g not in clusters for g in gpus):
            misplaced.append(f"{node}: not found in the SVG with the clusters of GPUs {gpus}")
            continue
        x, y = centres[node]
        x0 = min(clusters[g][0] for g in gpus)
        y0 = min(clusters[g][1] for g in gpus)
        x1 = max(clusters[g][2] for g in gpus)
        y1 = max(clusters[g][3] for g in gpus)
        dx, dy = max(x0 - x, 0.0, x - x1), max(y0 - y, 0.0, y - y1)
        if dx > 0 or dy > 0:
            misplaced.append(f"{node} (GPUs {','.join(map(str, gpus))}) lies {dx:.0f} pt across "
                             f"and {dy:.0f} pt down outside the box of its GPUs' clusters")
    print(f"dag_layout: {entry['name']}: {len(joins) - len(misplaced)} of {len(joins)} "
          "multi-GPU communication nodes between the clusters they join")
    return misplaced


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    directory = sys.argv[1]
    try:
        with open(os.path.join(directory, "dags.json"), encoding="utf-8") as f:
            entries = json.load(f)["dags"]
        results = [check_graph(directory, entry) for entry in entries]
    except (OSError, ValueError, KeyError, ET.ParseError) as e:
        print(f"dag_layout: cannot read {directory}: {e}")
        return 2
    misplaced = [line for lines in results if lines for line in lines]
    for line in misplaced:
        print(f"dag_layout: FAIL: {line}")
    return 1 if misplaced else 0


if __name__ == "__main__":
    sys.exit(main())
