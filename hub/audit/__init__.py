"""The audit trail: every change and every sign-in, recorded, kept for a while and written to the streams."""
