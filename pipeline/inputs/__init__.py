"""Inputs: what the auditor hands over. The exam plan (schedule.csv), the site's typed
settings (site.toml), which file is which camera and time, and the join of both into
per-session spans of files."""
