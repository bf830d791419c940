"""The app platform on the hub: packages, placement and deployments."""
