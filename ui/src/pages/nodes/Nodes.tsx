import { useTitle } from "../../components/controls";

export function Nodes() {
  useTitle("Nodes");
  return <h1>Nodes</h1>;
}
