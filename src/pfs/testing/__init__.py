"""Helpers for testing PFS and its plugins: a real server process, the plugin contract suite."""
