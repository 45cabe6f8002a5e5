# One image for every TrackMint service; the command picks the service:
#   docker run trackmint serve ingest|processor|query   (or: migrate)
# ingest listens on 50051 (gRPC) and 8080 (HTTP bridge, browser snippet), query on 8000.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY proto ./proto
COPY pyproject.toml README.md ./
COPY config ./config
COPY storage ./storage
COPY messaging ./messaging
COPY ingest ./ingest
COPY processor ./processor
COPY query ./query
COPY cli ./cli
# The HTTP bridge serves the browser snippet from its source in sdk/js, found next to the code: hence an
# editable install from /app rather than a copy in site-packages.
COPY sdk/js ./sdk/js
RUN pip install ./proto -e . && useradd --system --no-create-home trackmint
USER trackmint
ENTRYPOINT ["trackmint"]
CMD ["serve", "query"]
