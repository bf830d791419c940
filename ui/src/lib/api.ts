// The API's shapes, from the types generated from the hub's OpenAPI document (api-schema.d.ts, `make api-types`).
// Feature code names them here or through Schemas; never re-declared by hand.
import type { components } from "./api-schema";

export type Schemas = components["schemas"];
