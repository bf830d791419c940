import { useTitle } from "../../components/controls";

export function NodePage() {
  useTitle("NodePage");
  return <h1>NodePage</h1>;
}
