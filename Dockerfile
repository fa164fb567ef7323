# watchfloor worker / console / tools image.
FROM python:3.11-slim-bookworm
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 WATCHFLOOR_RUN_DIR=/var/run/watchfloor
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY detectors ./detectors
COPY streams ./streams
COPY config ./config
RUN pip install '.[prod]' && useradd --system --home /app watchfloor && mkdir -p /var/run/watchfloor /data \
    && chown watchfloor /var/run/watchfloor /data
USER watchfloor
ENTRYPOINT ["watchfloor"]
CMD ["worker"]
