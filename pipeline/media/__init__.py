"""Media: what touches the recordings' bytes. The packet-level probe, decode-once sampling and
the one open-and-seek path, the sampled frames, and clip cutting at the bitstream level."""
