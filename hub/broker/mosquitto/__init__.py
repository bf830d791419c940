"""Mosquitto as the hub's broker: managed as a child process or external, with dynamic security.

Mosquitto checks device credentials and ACLs itself, from accounts the hub keeps in step with
its registry; the hub reads what devices send through one MQTT link per process.
"""
