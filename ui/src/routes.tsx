// Every page of the portal. Paths under /apps/ belong to the apps' links (served by the hub, not the portal),
// so the portal's own app pages live under /applications.
import { createBrowserRouter } from "react-router";
import { Layout } from "./components/Layout";
import { NotFound, RouteError } from "./components/RouteError";
import { Admin } from "./pages/admin/Admin";
import { ApplicationPage } from "./pages/apps/ApplicationPage";
import { Applications } from "./pages/apps/Applications";
import { DeploymentPage } from "./pages/apps/DeploymentPage";
import { DevicePage } from "./pages/devices/DevicePage";
import { Devices } from "./pages/devices/Devices";
import { NodePage } from "./pages/nodes/NodePage";
import { Nodes } from "./pages/nodes/Nodes";
import { Overview } from "./pages/Overview";
import { SignIn } from "./pages/SignIn";

export const router = createBrowserRouter([
  { path: "/signin", element: <SignIn />, errorElement: <RouteError /> },
  {
    path: "/",
    element: <Layout />,
    errorElement: <RouteError />,
    children: [
      { index: true, element: <Overview /> },
      { path: "devices", element: <Devices /> },
      { path: "devices/:deviceId", element: <DevicePage /> },
      { path: "nodes", element: <Nodes /> },
      { path: "nodes/:nodeId", element: <NodePage /> },
      { path: "applications", element: <Applications /> },
      { path: "applications/:appName", element: <ApplicationPage /> },
      { path: "deployments/:deploymentId", element: <DeploymentPage /> },
      { path: "admin", element: <Admin /> },
      { path: "*", element: <NotFound /> },
    ],
  },
]);
