"""MQTT broker adapters and what the rest of the hub needs from a broker."""
