"""The MongoDB backend: every store interface on one MongoDB database (PyMongo's async client)."""
