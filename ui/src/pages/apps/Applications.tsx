import { useTitle } from "../../components/controls";

export function Applications() {
  useTitle("Applications");
  return <h1>Applications</h1>;
}
