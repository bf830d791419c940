"""Platform events: recorded by the hub's components, stored, followed live and posted to webhooks."""
