"""Checks: one class per check, one module per check, found and validated by the registry.

:mod:`pipeline.checks.base` holds the typed core (``Setting``, ``KindSpec``, ``Candidate``,
``Check``), :mod:`pipeline.checks.registry` the discovery and lookups, and
:mod:`pipeline.checks.runner` runs them over files, sessions and the batch. Every other
module here declares checks; adding one is adding a module.
"""
