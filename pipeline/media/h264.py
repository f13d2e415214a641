"""H.264 bitstream pieces the clip cutter needs to splice x264's head onto copied packets:
the camera's SPS/PPS out of an ``avcC`` record, and Annex B turned into length-prefixed NALs."""

from __future__ import annotations


def avcc_parameter_sets(extradata: bytes | None) -> tuple[list[bytes], int] | None:
    """SPS and PPS NAL units and the NAL length size from an ``avcC`` record."""
    if not extradata or len(extradata) < 7 or extradata[0] != 1:
        return None
    size = (extradata[4] & 3) + 1
    sets: list[bytes] = []
    i = 6
    try:
        for count_at in ("sps", "pps"):
            count = (extradata[5] & 0x1F) if count_at == "sps" else extradata[i - 1]
            for _ in range(count):
                n = int.from_bytes(extradata[i : i + 2], "big")
                sets.append(bytes(extradata[i + 2 : i + 2 + n]))
                i += 2 + n
            if count_at == "sps":
                i += 1  # the PPS count byte
    except IndexError:
        return None
    return (sets, size) if len(sets) >= 2 else None


def annexb_to_length_prefixed(data: bytes, size: int) -> bytes:
    """x264 writes Annex B (start codes); an ``avc1`` track wants length-prefixed NAL units."""
    nals, i, n = [], 0, len(data)
    starts = []
    while i + 3 <= n:
        if data[i] == 0 and data[i + 1] == 0 and data[i + 2] == 1:
            starts.append(i + 3)
            i += 3
        else:
            i += 1
    for k, s in enumerate(starts):
        e = starts[k + 1] - 3 if k + 1 < len(starts) else n
        nal = data[s:e].rstrip(b"\x00") if k + 1 < len(starts) else data[s:e]
        nals.append(nal)
    return b"".join(len(x).to_bytes(size, "big") + x for x in nals if x)
