# One image for every TrackMint service; the command picks the service:
#   docker run trackmint serve ingest|processor|query|alerting|destinations   (or: migrate)
# ingest listens on 50051 (gRPC) and 8080 (HTTP bridge, browser snippet), query on 8000 (GraphQL, exports,
# the web UI); every other service's /healthz, /readyz and /metrics on its TRACKMINT_<SERVICE>_OPS_PORT.

# The web UI, built in a Node image; only its static files go into the runtime image.
FROM node:20-slim AS webui
WORKDIR /webui
COPY webui/package.json webui/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY webui ./
RUN npm run build

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY proto ./proto
COPY pyproject.toml README.md ./
# Every package of pyproject.toml's [tool.setuptools.packages.find] (tests/deploy checks the two agree).
COPY config ./config
COPY storage ./storage
COPY messaging ./messaging
COPY observability ./observability
COPY webhooks ./webhooks
COPY ingest ./ingest
COPY processor ./processor
COPY query ./query
COPY alerting ./alerting
COPY destinations ./destinations
COPY cli ./cli
# The HTTP bridge serves the browser snippet from its source in sdk/js, found next to the code, and the query
# service the web UI from webui/dist: hence an editable install from /app rather than a copy in site-packages.
COPY sdk/js ./sdk/js
COPY --from=webui /webui/dist ./webui/dist
RUN pip install ./proto -e . && useradd --system --no-create-home trackmint
USER trackmint
ENTRYPOINT ["trackmint"]
CMD ["serve", "query"]
