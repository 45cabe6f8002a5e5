"""The NATS side of the contract between services: names, stream definitions, connection."""
