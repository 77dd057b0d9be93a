"""The credit ledger (placeholder while the core is written)."""
