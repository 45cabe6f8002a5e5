"""The read side of TrackMint: GraphQL over the events and rollups in PostgreSQL.

`query.app.create_app` builds the Starlette application, `query.server.serve`
runs it under uvicorn.
"""
