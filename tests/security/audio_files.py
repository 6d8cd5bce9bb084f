"""Hand-made FLAC files for the audio-bomb tests: a few bytes per 65,535 samples (CONSTANT subframes).

A FLAC frame whose only subframe is CONSTANT says "65,535 samples of this value" in about a dozen bytes,
so a file of a few kilobytes decodes to hours of audio. STREAMINFO's total sample count is what the file
*claims*; the frames are what it *holds*: the two are set separately to make liars.
"""
from __future__ import annotations

import struct

BLOCK = 65_535  # samples per frame (FLAC's largest block)


def _crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def _utf8_number(value: int) -> bytes:
    """FLAC's frame number coding (UTF-8's scheme, extended to 36 bits)."""
    if value < 0x80:
        return bytes([value])
    for length, first_mask in ((2, 0xC0), (3, 0xE0), (4, 0xF0), (5, 0xF8), (6, 0xFC)):
        if value < 1 << (5 * length + 1):
            out = []
            for _ in range(length - 1):
                out.append(0x80 | (value & 0x3F))
                value >>= 6
            return bytes([first_mask | value] + out[::-1])
    raise ValueError("frame number too large")


def _frame(number: int, value: int) -> bytes:
    header = bytes([0xFF, 0xF8, 0x70, 0x08]) + _utf8_number(number) + struct.pack(">H", BLOCK - 1)
    header += bytes([_crc8(header)])
    body = header + bytes([0x00]) + struct.pack(">h", value)  # CONSTANT subframe, 16-bit sample
    return body + struct.pack(">H", _crc16(body))


def flac_bomb(*, holds_seconds: float, claims_seconds: float | None, sample_rate: int = 8_000) -> bytes:
    """A mono 16-bit FLAC holding `holds_seconds` of constant audio whose header claims `claims_seconds`
    (None: "unknown", a total of 0 as encoders write when they cannot seek back)."""
    frames = max(1, int(holds_seconds * sample_rate) // BLOCK)
    claimed = 0 if claims_seconds is None else int(claims_seconds * sample_rate)
    info = struct.pack(">HH", BLOCK, BLOCK) + b"\x00\x00\x00" + b"\x00\x00\x00"
    packed = (sample_rate << 44) | (0 << 41) | (15 << 36) | claimed  # 20-bit rate, channels-1, bps-1, 36-bit total
    info += packed.to_bytes(8, "big") + bytes(16)
    stream = b"fLaC" + bytes([0x80]) + len(info).to_bytes(3, "big") + info
    return stream + b"".join(_frame(n, 1000 if n % 2 else -1000) for n in range(frames))
