import { useTitle } from "../../components/controls";

export function Devices() {
  useTitle("Devices");
  return <h1>Devices</h1>;
}
