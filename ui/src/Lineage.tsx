import cytoscape from "cytoscape";
import dagre from "cytoscape-dagre";
import { useEffect, useRef, useState } from "react";
import { Link, useNavigate } from "react-router-dom";
import { useQuery } from "urql";
import { graphql } from "./gql";
import { pageOf } from "./paths";
import { Status } from "./Status";

cytoscape.use(dagre);

const LineageQuery = graphql(`
  query Lineage($path: String!, $direction: LineageDirection!, $depth: Int!) {
    artifactVersion(path: $path) {
      id
      lineage(direction: $direction, maxDepth: $depth, maxNodes: 300) {
        truncated
        nodes {
          id
          depth
          node {
            __typename
            ... on Run {
              name
              project {
                name
              }
            }
            ... on ArtifactVersion {
              version
              path
              collection {
                name
              }
            }
          }
        }
        edges {
          from
          to
        }
        affectedVersions {
          id
          path
          aliases
          source {
            id
          }
        }
      }
    }
  }
`);

type Direction = "UPSTREAM" | "DOWNSTREAM";

/** The lineage around a version as a picture: runs and logged versions, upstream or
 * downstream, to a chosen depth; pan and zoom. Versions linked into a registry are highlighted,
 * and a click on one opens its registry version; downstream, those registry versions (the
 * impact) are listed too. */
export function Lineage({ path }: { path: string }) {
  const [direction, setDirection] = useState<Direction>("UPSTREAM");
  const [depth, setDepth] = useState(3);
  const [{ data, fetching, error }] = useQuery({
    query: LineageQuery,
    variables: { path, direction, depth },
  });
  const container = useRef<HTMLDivElement>(null);
  const navigate = useNavigate();
  const graph = data?.artifactVersion?.lineage;
  const startId = data?.artifactVersion?.id;

  useEffect(() => {
    if (!graph || !container.current) return;
    // The registry version each logged version of the graph is linked as (its content's), to
    // highlight it and to go to on a click.
    const registered = new Map<string, string>();
    for (const version of graph.affectedVersions) {
      const page = pageOf(version.path);
      if (version.source && page && !registered.has(version.source.id)) {
        registered.set(version.source.id, page);
      }
    }
    const elements: cytoscape.ElementDefinition[] = graph.nodes.map((item) => {
      const node = item.node;
      const isRun = node.__typename === "Run";
      const label = isRun
        ? `run ${node.project.name}/${node.name}`
        : `${node.collection.name}:${node.version}`;
      const classes = [isRun ? "run" : "version"];
      if (item.id === startId) classes.push("start");
      if (!isRun && registered.has(item.id)) classes.push("impact");
      const target = isRun ? null : (pageOf(node.path) ?? registered.get(item.id) ?? null);
      return { data: { id: item.id, label, target }, classes: classes.join(" ") };
    });
    for (const edge of graph.edges) {
      elements.push({ data: { id: `${edge.from}->${edge.to}`, source: edge.from, target: edge.to } });
    }
    const drawn = cytoscape({
      container: container.current,
      elements,
      layout: { name: "dagre", rankDir: "LR", nodeSep: 20, rankSep: 60 } as cytoscape.LayoutOptions,
      style: [
        {
          selector: "node",
          style: {
            label: "data(label)",
            "font-size": 11,
            "text-valign": "center",
            "text-halign": "center",
            width: "label",
            height: 26,
            padding: "8px",
            shape: "round-rectangle",
            "background-color": "#dfe8f5",
            "border-width": 1,
            "border-color": "#8da2c0",
          },
        },
        { selector: "node.run", style: { shape: "ellipse", "background-color": "#eee9f7" } },
        { selector: "node.impact", style: { "background-color": "#fde2c4", "border-color": "#d08a2c" } },
        { selector: "node.start", style: { "border-width": 3, "border-color": "#1d2430" } },
        {
          selector: "edge",
          style: {
            width: 1.5,
            "curve-style": "bezier",
            "target-arrow-shape": "triangle",
            "line-color": "#8da2c0",
            "target-arrow-color": "#8da2c0",
          },
        },
      ],
    });
    drawn.on("tap", "node", (event) => {
      const target = event.target.data("target") as string | null;
      if (target) navigate(target);
    });
    // What was drawn, readable without looking at the canvas (tests, assistive tools).
    const drawnNodes = elements.filter((e) => !e.data.source);
    container.current.dataset.nodes = JSON.stringify(drawnNodes.map((e) => e.data.label));
    container.current.dataset.registered = JSON.stringify(
      drawnNodes.filter((e) => e.classes?.includes("impact")).map((e) => e.data.label),
    );
    // Where each node sits on the canvas now, so a test can click the node itself.
    const box = container.current;
    const recordPositions = () => {
      const positions: Record<string, { x: number; y: number }> = {};
      drawn.nodes().forEach((node) => {
        positions[node.data("label") as string] = node.renderedPosition();
      });
      box.dataset.positions = JSON.stringify(positions);
    };
    drawn.ready(recordPositions);
    drawn.on("viewport", recordPositions);
    return () => drawn.destroy();
  }, [graph, startId, navigate]);

  return (
    <section className="lineage">
      <div className="lineage-controls">
        <label>
          <input
            type="radio"
            checked={direction === "UPSTREAM"}
            onChange={() => setDirection("UPSTREAM")}
          />
          Where it came from
        </label>
        <label>
          <input
            type="radio"
            checked={direction === "DOWNSTREAM"}
            onChange={() => setDirection("DOWNSTREAM")}
          />
          What depends on it
        </label>
        <label>
          Depth{" "}
          <input
            aria-label="Depth"
            type="number"
            min={1}
            max={20}
            value={depth}
            onChange={(e) => setDepth(Math.max(1, Math.min(20, Number(e.target.value) || 1)))}
          />
        </label>
        {graph?.truncated && <span className="warning">Cut short: more lies beyond this depth.</span>}
        <span className="legend">
          <span className="swatch registered" /> in a registry (click to open)
        </span>
      </div>
      <Status fetching={fetching && !data} error={error} />
      <div ref={container} className="lineage-graph" data-testid="lineage-graph" />
      {direction === "DOWNSTREAM" && graph && graph.affectedVersions.length > 0 && (
        <div className="impact">
          <h3>Registry versions that depend on it</h3>
          <ul>
            {graph.affectedVersions.map((version) => (
              <li key={version.id}>
                {pageOf(version.path) ? (
                  <Link to={pageOf(version.path)!}>{version.path}</Link>
                ) : (
                  version.path
                )}
                {version.aliases.length > 0 && ` (${version.aliases.join(", ")})`}
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}
