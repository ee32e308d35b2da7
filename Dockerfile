# Watchtower on Apache Airflow 3: the one image every Airflow service of docker-compose.yml runs
# (api-server, scheduler, dag-processor, triggerer, Celery workers, init).
#
#   docker compose build            # or: docker build -t watchtower-airflow .
#
# Based on Airflow's official image; Watchtower is installed with its airflow extra on top,
# keeping the image's Airflow version pinned so pip cannot move it.
# The Airflow version the test suite runs (tests/dags).
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11
FROM ${AIRFLOW_IMAGE}

USER root
# fonts-wqy-microhei: the digests' charts carry Chinese labels.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-microhei \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*

USER airflow
WORKDIR /opt/watchtower
COPY --chown=airflow:root pyproject.toml README.md ./
COPY --chown=airflow:root watchtower ./watchtower
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" ".[airflow]"

# Declarations the package reads at run time (docker-compose.yml mounts the working copies
# over these, so a change in the repository needs no rebuild).
COPY --chown=airflow:root features ./features
COPY --chown=airflow:root models ./models
COPY --chown=airflow:root expectations ./expectations
COPY --chown=airflow:root dags /opt/airflow/dags

ENV WATCHTOWER_CONFIG_DIR=/opt/watchtower \
    WATCHTOWER_HOME=/opt/watchtower/var \
    WATCHTOWER_LANDING_DIR=/opt/watchtower/landing
WORKDIR /opt/airflow
