// The nodes API's answers as docs/api.md ("Edge nodes and enrollment") and contracts/nodes.py describe them.

export type NodeHealth = "healthy" | "suspect" | "dead";

export interface SensorInfo {
  name: string;
  driver: string;
  type: string | null;
  unit: string | null;
  location: string | null;
  labels: Record<string, string>;
  enabled: boolean;
  interval_s: number | null;
  state: "ok" | "error" | "disabled" | "starting";
  error: string | null;
}

export interface SpoolInfo {
  depth: number;
  oldest_age_s: number | null;
  dropped: number;
  bytes_used: number;
}

export interface InstanceLoad {
  deployment: string;
  replica: number;
  cpu_pct: number | null;
  rss_mb: number | null;
}

export interface Heartbeat {
  ts: number;
  agent_version: string;
  uptime_s: number;
  cpu_temp: number | null;
  load1: number | null;
  mem_used_pct: number | null;
  disk_used_pct: number | null;
  spool: SpoolInfo;
  sensors: SensorInfo[];
  apps: InstanceLoad[];
}

export interface Node {
  id: string;
  name: string;
  tenant: string;
  status: "online" | "offline";
  last_seen: string | null;
  heartbeat_at: string | null;
  heartbeat: Heartbeat | null;
  health: NodeHealth;
}

export interface LogEntry {
  ts: string;
  level: string;
  logger: string;
  message: string;
}

export interface NodeLogs {
  node_id: string;
  lines: LogEntry[];
}

export interface TokenInfo {
  id: string;
  tenant: string;
  expires: string;
  uses_left: number;
  labels: Record<string, string>;
  created_by: string;
  created: string;
}

export interface TokenCreated extends TokenInfo {
  token: string;
}
