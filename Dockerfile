# A worker image: the package plus the samples, running the demo against HOTMESH_DSN.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml ./
COPY hotmesh_temporal ./hotmesh_temporal
RUN pip install .
COPY samples ./samples

CMD ["python", "-m", "samples.demo"]
