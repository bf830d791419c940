"""BME280 decoding on recorded register bytes, against the datasheet's floating-point formulas."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_drivers.base import DriverUnavailable
from device_drivers.bme280 import Bme280Driver, Bme280Options, compensate

# The datasheet's worked example (dig_T*, dig_P*, adc_T, adc_P) and typical humidity trimming.
T = (27504, 26435, -1000)
P = (36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000)
H = (75, 362, 0, 313, 50, 30)


def calibration(t: tuple[int, ...] = T, p: tuple[int, ...] = P, h: tuple[int, ...] = H) -> tuple[bytes, bytes]:
    a = struct.pack("<Hhh", *t) + struct.pack("<H8h", *p) + bytes([0, h[0]])
    h4, h5 = h[3], h[4]
    b = struct.pack("<hB", h[1], h[2]) + bytes([(h4 >> 4) & 0xFF, (h4 & 0x0F) | ((h5 & 0x0F) << 4), (h5 >> 4) & 0xFF])
    return a, b + struct.pack("<b", h[5])


def raw(adc_p: int, adc_t: int, adc_h: int) -> bytes:
    def twenty(v: int) -> bytes:
        return bytes([v >> 12, (v >> 4) & 0xFF, (v & 0x0F) << 4])

    return twenty(adc_p) + twenty(adc_t) + struct.pack(">H", adc_h)


def reference(adc_p: int, adc_t: int, adc_h: int) -> tuple[float, float, float]:
    """The datasheet's double-precision compensation, written independently of the driver."""
    t1, t2, t3 = T
    p1, p2, p3, p4, p5, p6, p7, p8, p9 = P
    h1, h2, h3, h4, h5, h6 = H
    var1 = (adc_t / 16384.0 - t1 / 1024.0) * t2
    var2 = (adc_t / 131072.0 - t1 / 8192.0) ** 2 * t3
    t_fine = var1 + var2
    v1 = t_fine / 2.0 - 64000.0
    v2 = v1 * v1 * p6 / 32768.0 + v1 * p5 * 2.0
    v2 = v2 / 4.0 + p4 * 65536.0
    v1 = (p3 * v1 * v1 / 524288.0 + p2 * v1) / 524288.0
    v1 = (1.0 + v1 / 32768.0) * p1
    pa = (1048576.0 - adc_p - v2 / 4096.0) * 6250.0 / v1
    pa += (p9 * pa * pa / 2147483648.0 + pa * p8 / 32768.0 + p7) / 16.0
    vh = t_fine - 76800.0
    vh = (adc_h - (h4 * 64.0 + h5 / 16384.0 * vh)) * (
        h2 / 65536.0 * (1.0 + h6 / 67108864.0 * vh * (1.0 + h3 / 67108864.0 * vh))
    )
    vh *= 1.0 - h1 * vh / 524288.0
    return t_fine / 5120.0, pa / 100, min(max(vh, 0.0), 100.0)


def test_the_datasheet_example() -> None:
    temperature, pressure, _ = compensate(*calibration(), raw(415148, 519888, 30000))
    assert temperature == 25.08
    assert pressure == pytest.approx(1006.53, abs=0.01)


@given(st.integers(250_000, 650_000), st.integers(400_000, 600_000), st.integers(10_000, 50_000))
def test_integer_decoding_matches_the_floating_point_formulas(adc_p: int, adc_t: int, adc_h: int) -> None:
    got = compensate(*calibration(), raw(adc_p, adc_t, adc_h))
    want = reference(adc_p, adc_t, adc_h)
    assert got[0] == pytest.approx(want[0], abs=0.01)
    assert got[1] == pytest.approx(want[1], abs=0.05)
    assert got[2] == pytest.approx(want[2], abs=0.1)


class FakeBus:
    """A stand-in for smbus2.SMBus holding recorded registers (no I2C bus exists here)."""

    def __init__(self, chip_id: int = 0x60) -> None:
        a, b = calibration()
        self.registers = {0xD0: chip_id, 0xF3: 0}
        self.registers.update({0x88 + i: v for i, v in enumerate(a)})
        self.registers.update({0xE1 + i: v for i, v in enumerate(b)})
        self.registers.update({0xF7 + i: v for i, v in enumerate(raw(415148, 519888, 30000))})
        self.writes: list[tuple[int, int]] = []
        self.closed = False

    def read_byte_data(self, addr: int, register: int) -> int:
        return self.registers[register]

    def write_byte_data(self, addr: int, register: int, value: int) -> None:
        self.writes.append((register, value))

    def read_i2c_block_data(self, addr: int, register: int, length: int) -> list[int]:
        return [self.registers[register + i] for i in range(length)]

    def close(self) -> None:
        self.closed = True


async def test_driver_measures_in_forced_mode_through_the_bus() -> None:
    bus = FakeBus()
    driver = Bme280Driver(Bme280Options(oversampling=2), bus_factory=lambda _n: bus)
    await driver.open()
    fields = {s.field: s.value for s in await driver.read()}
    assert fields["temperature"] == 25.08 and fields["pressure"] == pytest.approx(1006.53, abs=0.01)
    assert 0 <= fields["humidity"] <= 100  # type: ignore[operator]
    assert bus.writes == [(0xF2, 2), (0xF4, (2 << 5) | (2 << 2) | 1)]
    await driver.close()
    assert bus.closed


async def test_another_chip_is_refused() -> None:
    driver = Bme280Driver(Bme280Options(), bus_factory=lambda _n: FakeBus(chip_id=0x58))
    with pytest.raises(DriverUnavailable, match="no BME280 at 0x76 on bus 1 \\(chip id 0x58\\)"):
        await driver.open()
