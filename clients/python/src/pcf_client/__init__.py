"""Python client for the PCF batch and bulk resource API (see README.md)."""

from __future__ import annotations

__version__ = "0.1.0"
