"""Moving a hub's store from SQLite to MongoDB (``fieldhub store migrate``)."""
