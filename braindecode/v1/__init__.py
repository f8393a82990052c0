"""Generated gRPC stubs for the braindecode.v1 wire contract (scripts/generate_stubs.py)."""
