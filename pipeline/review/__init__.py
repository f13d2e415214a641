"""Review: clips and thumbnails per finding, the static HTML report and the local review app.

Everything here reads the evidence folder (DESIGN.md) and writes next to it; nothing here
changes a finding.
"""
