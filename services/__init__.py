"""gRPC servicers: thin adapters between the braindecode.v1 wire contract and the library."""
