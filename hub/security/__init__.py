"""Secrets, password hashing and device authentication."""
