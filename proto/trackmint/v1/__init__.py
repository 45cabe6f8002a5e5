"""TrackMint wire contract, version 1: generated protobuf and gRPC modules."""
