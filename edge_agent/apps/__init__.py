"""The app machinery of the agent: imported only when the hub gives the node instances to run."""
