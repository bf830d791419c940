import { useTitle } from "../../components/controls";

export function Admin() {
  useTitle("Admin");
  return <h1>Admin</h1>;
}
