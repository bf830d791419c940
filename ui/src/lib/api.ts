// The API's shapes, from the types generated from the hub's OpenAPI document (api-schema.d.ts, `make api-types`).
// Feature code names them here or through Schemas; never re-declared by hand.
import type { components } from "./api-schema";

export type Schemas = components["schemas"];

// Device profiles, alarm rules, notification channels and alarms (docs/alarms.md).
export type Alarm = Schemas["Alarm"];
export type AlarmChange = Schemas["AlarmChange"];
export type AlarmPage = Schemas["AlarmPage"];
export type AlarmState = Schemas["AlarmState"];
export type AlarmAck = Schemas["AlarmAck"];
export type Severity = Schemas["Severity"];
export type Rule = Schemas["Rule"];
export type RuleCreate = Schemas["RuleCreate"];
export type RulePatch = Schemas["RulePatch"];
export type RuleList = Schemas["RuleList"];
export type RuleKind = Schemas["RuleKind"];
export type RuleSource = Schemas["Source"];
export type Operator = Schemas["Operator"];
export type ClearCondition = Schemas["ClearCondition"];
export type Channel = Schemas["Channel"];
export type ChannelCreate = Schemas["ChannelCreate"];
export type ChannelCreated = Schemas["ChannelCreated"];
export type ChannelPatch = Schemas["ChannelPatch"];
export type ChannelList = Schemas["ChannelList"];
export type ChannelKind = Schemas["ChannelKind"];
export type ChannelTarget = ChannelCreate["target"];
export type Deliveries = NonNullable<Channel["deliveries"]>;
export type Profile = Schemas["Profile"];
export type ProfileCreate = Schemas["ProfileCreate"];
export type ProfilePatch = Schemas["ProfilePatch"];
export type ProfileList = Schemas["ProfileList"];
export type KeySpec = Schemas["KeySpec"];
export type ValueType = Schemas["ValueType"];

// Identity: users and where they come from, tenants, API keys and the audit trail (docs/api.md).
export type Role = Schemas["Role"];
export type User = Schemas["User"];
export type UserCreate = Schemas["UserCreate"];
export type UserUpdate = Schemas["UserUpdate"];
export type UserList = Schemas["UserList"];
export type UserSource = User["source"];
export type Tenant = Schemas["Tenant"];
export type TenantList = Schemas["TenantList"];
export type TenantUpdate = Schemas["TenantUpdate"];
export type ApiKey = Schemas["ApiKey"];
export type ApiKeyCreate = Schemas["ApiKeyCreate"];
export type ApiKeyCreated = Schemas["ApiKeyCreated"];
export type ApiKeyList = Schemas["ApiKeyList"];
export type AuditRecord = Schemas["AuditRecord"];
export type AuditList = Schemas["AuditList"];
export type AuditActor = Schemas["Actor"];
export type ActorKind = Schemas["ActorKind"];
