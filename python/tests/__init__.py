"""Amphora Python client tests (`node scripts/test.mjs python` adds them up into "N passed, N failed")."""
