"""Bosch BME280 (temperature, pressure, humidity) on I2C through smbus2.

Each read triggers one measurement in forced mode (the chip sleeps in between) and applies
the datasheet's integer compensation to the raw values with the chip's own calibration.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from device_drivers.base import DriverUnavailable, NotWritable, Sample

CHIP_ID = 0x60
_REG_ID, _REG_CTRL_HUM, _REG_STATUS, _REG_CTRL_MEAS, _REG_DATA = 0xD0, 0xF2, 0xF3, 0xF4, 0xF7
_CALIB_A, _CALIB_A_LEN, _CALIB_B, _CALIB_B_LEN = 0x88, 26, 0xE1, 7
_OVERSAMPLING = {1: 1, 2: 2, 4: 3, 8: 4, 16: 5}
_MEASURE_WAIT_S = 0.005
_MEASURE_TIMEOUT_S = 1.0


class Bus(Protocol):
    """The part of smbus2's SMBus this driver uses."""

    def read_byte_data(self, i2c_addr: int, register: int) -> int: ...
    def write_byte_data(self, i2c_addr: int, register: int, value: int) -> None: ...
    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]: ...
    def close(self) -> None: ...


def _u16(b: bytes, i: int) -> int:
    return b[i] | b[i + 1] << 8


def _s16(b: bytes, i: int) -> int:
    value = _u16(b, i)
    return value - 65536 if value > 32767 else value


def _s8(value: int) -> int:
    return value - 256 if value > 127 else value


def compensate(calib_a: bytes, calib_b: bytes, raw: bytes) -> tuple[float, float, float]:
    """Temperature (°C), pressure (hPa) and relative humidity (%) from register bytes.

    Args:
        calib_a: the 26 bytes from 0x88 (dig_T1..dig_P9, then dig_H1 at 0xA1).
        calib_b: the 7 bytes from 0xE1 (dig_H2..dig_H6).
        raw: the 8 data bytes from 0xF7 (pressure, temperature, humidity).
    """
    t1, t2, t3 = _u16(calib_a, 0), _s16(calib_a, 2), _s16(calib_a, 4)
    p = [_u16(calib_a, 6)] + [_s16(calib_a, 8 + 2 * i) for i in range(8)]
    h1 = calib_a[25]
    h2, h3 = _s16(calib_b, 0), calib_b[2]
    h4 = (_s8(calib_b[3]) << 4) | (calib_b[4] & 0x0F)
    h5 = (_s8(calib_b[5]) << 4) | (calib_b[4] >> 4)
    h6 = _s8(calib_b[6])
    adc_p = (raw[0] << 12) | (raw[1] << 4) | (raw[2] >> 4)
    adc_t = (raw[3] << 12) | (raw[4] << 4) | (raw[5] >> 4)
    adc_h = (raw[6] << 8) | raw[7]

    # Temperature (datasheet 4.2.3, 32-bit integer version); t_fine feeds the other two.
    var1 = (((adc_t >> 3) - (t1 << 1)) * t2) >> 11
    var2 = (((((adc_t >> 4) - t1) * ((adc_t >> 4) - t1)) >> 12) * t3) >> 14
    t_fine = var1 + var2
    temperature = ((t_fine * 5 + 128) >> 8) / 100

    # Pressure (64-bit integer version), Pa in Q24.8.
    v1 = t_fine - 128000
    v2 = v1 * v1 * p[5]
    v2 += (v1 * p[4]) << 17
    v2 += p[3] << 35
    v1 = ((v1 * v1 * p[2]) >> 8) + ((v1 * p[1]) << 12)
    v1 = ((1 << 47) + v1) * p[0] >> 33
    if v1 == 0:
        pressure = 0.0
    else:
        pa = 1048576 - adc_p
        pa = (((pa << 31) - v2) * 3125) // v1
        v1 = (p[8] * (pa >> 13) * (pa >> 13)) >> 25
        v2 = (p[7] * pa) >> 19
        pa = ((pa + v1 + v2) >> 8) + (p[6] << 4)
        pressure = pa / 256 / 100

    # Humidity (32-bit integer version), %RH in Q22.10.
    h = t_fine - 76800
    h = ((((adc_h << 14) - (h4 << 20) - (h5 * h)) + 16384) >> 15) * (
        ((((((h * h6) >> 10) * (((h * h3) >> 11) + 32768)) >> 10) + 2097152) * h2 + 8192) >> 14
    )
    h -= ((((h >> 15) * (h >> 15)) >> 7) * h1) >> 4
    h = min(max(h, 0), 419430400)
    humidity = (h >> 12) / 1024
    return temperature, pressure, humidity


class Bme280Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bus: int = Field(default=1, ge=0, description="I2C bus number: /dev/i2c-<bus>")
    address: Literal[0x76, 0x77] = 0x76
    oversampling: Literal[1, 2, 4, 8, 16] = 1


class Bme280Driver:
    """Polled; fields: temperature (°C), pressure (hPa), humidity (%RH)."""

    Options = Bme280Options
    streaming = False

    def __init__(self, options: Bme280Options, bus_factory: Any = None) -> None:
        self._options = options
        self._bus_factory = bus_factory
        self._bus: Bus | None = None
        self._calib: tuple[bytes, bytes] = (b"", b"")

    def _open(self) -> None:
        o = self._options
        factory = self._bus_factory
        if factory is None:
            from smbus2 import SMBus  # noqa: PLC0415 - only needed on hardware

            factory = SMBus
        try:
            bus: Bus = factory(o.bus)
            chip = bus.read_byte_data(o.address, _REG_ID)
        except OSError as exc:
            raise DriverUnavailable(f"I2C bus {o.bus} address {o.address:#x}: {exc}") from None
        if chip != CHIP_ID:
            bus.close()
            raise DriverUnavailable(f"no BME280 at {o.address:#x} on bus {o.bus} (chip id {chip:#x})")
        calib_a = bytes(bus.read_i2c_block_data(o.address, _CALIB_A, _CALIB_A_LEN))
        calib_b = bytes(bus.read_i2c_block_data(o.address, _CALIB_B, _CALIB_B_LEN))
        self._bus, self._calib = bus, (calib_a, calib_b)

    async def open(self) -> None:
        await asyncio.to_thread(self._open)

    def _measure(self) -> list[Sample]:
        bus, o = self._bus, self._options
        if bus is None:
            raise DriverUnavailable("BME280 is not open")
        osrs = _OVERSAMPLING[o.oversampling]
        try:
            bus.write_byte_data(o.address, _REG_CTRL_HUM, osrs)
            bus.write_byte_data(o.address, _REG_CTRL_MEAS, (osrs << 5) | (osrs << 2) | 0b01)  # forced mode
            deadline = time.monotonic() + _MEASURE_TIMEOUT_S
            while bus.read_byte_data(o.address, _REG_STATUS) & 0x08:
                if time.monotonic() > deadline:
                    raise DriverUnavailable("BME280 measurement did not finish")
                time.sleep(_MEASURE_WAIT_S)
            raw = bytes(bus.read_i2c_block_data(o.address, _REG_DATA, 8))
        except OSError as exc:
            raise DriverUnavailable(f"BME280 at {o.address:#x}: {exc}") from None
        temperature, pressure, humidity = compensate(*self._calib, raw)
        return [
            Sample("temperature", round(temperature, 2)),
            Sample("pressure", round(pressure, 2)),
            Sample("humidity", round(humidity, 2)),
        ]

    async def read(self) -> list[Sample]:
        return await asyncio.to_thread(self._measure)

    async def write(self, value: Any) -> None:
        raise NotWritable("a BME280 cannot be written")

    async def close(self) -> None:
        bus, self._bus = self._bus, None
        if bus is not None:
            await asyncio.to_thread(bus.close)
