"""Drivers by name: a sensor in the agent's config names its driver and gives its options.

Modules are imported only when a sensor uses them, so a missing optional library (or a
missing device file on a laptop) affects only the sensors that need it.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from device_drivers.base import Driver, DriverConfigError

#: name -> "module:Class"; each class has ``Options`` (a pydantic model) and ``from_options``.
DRIVERS: dict[str, str] = {
    "bme280": "device_drivers.bme280:Bme280Driver",
    "gpio_in": "device_drivers.gpio:GpioInDriver",
    "gpio_out": "device_drivers.gpio:GpioOutDriver",
    "onewire": "device_drivers.onewire:OneWireDriver",
    "serial": "device_drivers.serial_line:SerialDriver",
    "simulated": "device_drivers.simulated:SimulatedDriver",
    "system": "device_drivers.system:SystemDriver",
}


class DriverClass(Protocol):
    Options: type[BaseModel]

    def __call__(self, options: Any) -> Driver: ...


def describe(exc: ValidationError, name: str) -> str:
    """``name: key: problem; key: problem`` for an operator."""
    problems = [f"{'.'.join(str(p) for p in e['loc']) or 'options'}: {e['msg']}" for e in exc.errors()]
    return f"{name}: " + "; ".join(problems)


def create_driver(name: str, options: Mapping[str, Any]) -> Driver:
    """Build (not open) the driver ``name`` with validated ``options``.

    Raises:
        DriverConfigError: unknown driver, missing library, or options naming each wrong key.
    """
    target = DRIVERS.get(name)
    if target is None:
        raise DriverConfigError(f"unknown driver {name!r}; known: {', '.join(sorted(DRIVERS))}")
    module_name, class_name = target.split(":")
    try:
        cls: DriverClass = getattr(import_module(module_name), class_name)
    except ImportError as exc:
        raise DriverConfigError(f"{name}: cannot load its library ({exc.name or exc})") from None
    try:
        parsed = cls.Options.model_validate(dict(options))
    except ValidationError as exc:
        raise DriverConfigError(describe(exc, name)) from None
    return cls(parsed)
