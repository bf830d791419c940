import { useTitle } from "../../components/controls";

export function DevicePage() {
  useTitle("DevicePage");
  return <h1>DevicePage</h1>;
}
