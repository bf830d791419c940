// Every page of the portal. Paths under /apps/ belong to the apps' links (served by the hub, not the portal),
// so the portal's own app pages live under /applications.
import type React from "react";
import { createBrowserRouter } from "react-router";
import { Layout } from "./lib/Layout";
import { NotFound, RouteError } from "./lib/RouteError";
import { Devices } from "./devices/Devices";
import { Nodes } from "./nodes/Nodes";
import { Overview } from "./overview/Overview";
import { SignIn } from "./signin/SignIn";

// Pages most visits do not need (the charts' library, the app platform, administration) load when first opened.
const page = <K extends string>(load: () => Promise<Record<K, React.ComponentType>>, name: K) => async () => ({
  Component: (await load())[name],
});

export const router = createBrowserRouter([
  { path: "/signin", element: <SignIn />, errorElement: <RouteError /> },
  {
    path: "/",
    element: <Layout />,
    errorElement: <RouteError />,
    children: [
      { index: true, element: <Overview /> },
      { path: "devices", element: <Devices /> },
      { path: "devices/:deviceId", lazy: page(() => import("./devices/DevicePage"), "DevicePage") },
      { path: "nodes", element: <Nodes /> },
      { path: "nodes/:nodeId", lazy: page(() => import("./nodes/NodePage"), "NodePage") },
      { path: "applications", lazy: page(() => import("./apps/Applications"), "Applications") },
      { path: "applications/:appName", lazy: page(() => import("./apps/ApplicationPage"), "ApplicationPage") },
      { path: "deployments/:deploymentId", lazy: page(() => import("./apps/DeploymentPage"), "DeploymentPage") },
      { path: "alarms", lazy: page(() => import("./alarms/Alarms"), "Alarms") },
      { path: "alarms/rules", lazy: page(() => import("./alarms/Rules"), "Rules") },
      { path: "alarms/channels", lazy: page(() => import("./alarms/Channels"), "Channels") },
      { path: "alarms/:alarmId", lazy: page(() => import("./alarms/AlarmPage"), "AlarmPage") },
      { path: "profiles", lazy: page(() => import("./profiles/Profiles"), "Profiles") },
      { path: "admin", lazy: page(() => import("./admin/Admin"), "Admin") },
      { path: "admin/audit", lazy: page(() => import("./audit/Audit"), "Audit") },
      { path: "account/api-keys", lazy: page(() => import("./apikeys/ApiKeys"), "ApiKeys") },
      { path: "*", element: <NotFound /> },
    ],
  },
]);
