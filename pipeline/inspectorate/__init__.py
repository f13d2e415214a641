"""Outputs for the inspectorate: the problem list (问题清单) per evidence folder, grouped by the
campaign's checklist items, and roll-ups across many evidence folders (centres, months)."""
