# One image for every TrackMint service; the command picks the service:
#   docker run trackmint serve ingest|processor|query   (or: migrate)
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
RUN pip install ./proto . && useradd --system --no-create-home trackmint
USER trackmint
ENTRYPOINT ["trackmint"]
CMD ["serve", "query"]
