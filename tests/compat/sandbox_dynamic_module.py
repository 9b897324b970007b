"""Imported from workflow code during an activation, for the dynamic-import warning
comparison (test_sandbox_parity.py); nothing imports it at module level."""

VALUE = "loaded"
