import { useTitle } from "../../components/controls";

export function ApplicationPage() {
  useTitle("ApplicationPage");
  return <h1>ApplicationPage</h1>;
}
