"""Representational comparison: RDMs, RSA, CKA, noise ceilings and inference."""
