"""Device profiles: what a kind of device sends, kept by tenants and checked by ingest."""
