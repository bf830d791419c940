// The nodes API's answers as docs/api.md ("Edge nodes and enrollment") and contracts/nodes.py describe them.
import type { Schemas } from "../lib/api";


export type NodeHealth = Node["health"];

export type SensorInfo = Schemas["SensorInfo"];

export type SpoolInfo = Schemas["SpoolInfo"];

export type InstanceLoad = Schemas["InstanceLoad"];

export type Heartbeat = Schemas["Heartbeat"];

export type Node = Schemas["Node"];

export type LogEntry = Schemas["LogEntry"];

export type NodeLogs = Schemas["NodeLogs"];

export type TokenInfo = Schemas["TokenInfo"];

export type TokenCreated = Schemas["TokenCreated"];
