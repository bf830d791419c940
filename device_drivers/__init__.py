"""Sensor and actuator drivers behind one ``Driver`` interface (serial, GPIO, I2C, 1-Wire, simulated).

Drivers know nothing of MQTT; the edge agent composes them. They arrive with the edge-agent work.
"""
