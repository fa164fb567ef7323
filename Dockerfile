# watchfloor image: worker, console, topic setup, camera publisher and simulator (one image,
# the subcommand picks the part). Build: `docker build -t watchfloor .`; run: `docker run watchfloor --help`.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    WATCHFLOOR_RUN_DIR=/var/lib/watchfloor/run \
    WATCHFLOOR_SNAPSHOT_DIR=/var/lib/watchfloor/snapshots \
    WATCHFLOOR_CONFIG=/app/config/demo.yaml

WORKDIR /app

# Dependencies first, from pyproject's pins, so a code change does
# not reinstall them. Every pinned dependency ships manylinux wheels for cp311: no compiler here.
COPY pyproject.toml setup.py README.md ./
RUN python -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
print("\n".join(p["dependencies"]))' > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt && rm /tmp/requirements.txt

COPY schemas ./schemas
COPY detectors ./detectors
COPY streams ./streams
COPY config ./config
# Why editable (`-e`, no deps: they are installed above): the code finds config/ and the console's
# static files relative to the source tree, which a wheel install does not carry yet. The result is
# the same install, with /app as the package location.
# gcc only for this step: the ANPR hot path has four small C extensions (setup.py).
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install --no-deps -e . \
    && apt-get purge -y gcc libc6-dev && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/watchfloor --shell /usr/sbin/nologin watchfloor \
    && mkdir -p /var/lib/watchfloor/run /var/lib/watchfloor/snapshots /videos \
    && chown -R watchfloor /var/lib/watchfloor \
    && watchfloor --help >/dev/null

# An empty named volume mounted on these directories starts with their ownership, so the
# non-root user can write snapshots and table data there.
USER watchfloor
EXPOSE 6066 8080

ENTRYPOINT ["watchfloor"]
CMD ["worker", "--web-port", "6066"]
