import { useTitle } from "../../components/controls";

export function DeploymentPage() {
  useTitle("DeploymentPage");
  return <h1>DeploymentPage</h1>;
}
