"""Log lines of the nodes, their apps and the hub: ingest, search, live tail, retention and archive."""
