import { useTitle } from "../components/controls";

export function Overview() {
  useTitle("Overview");
  return <h1>Overview</h1>;
}
