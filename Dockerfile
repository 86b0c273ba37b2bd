# Airflow image of the word2vec_embeddings project: the official Airflow 3.3.2 image (Python 3.11,
# the version constraints.txt was frozen on) plus this project's pinned requirements and code.
# Built by docker-compose.yaml (`docker-compose build`); every Airflow service runs this image.
FROM apache/airflow:3.3.2-python3.11

# The base image's user is `airflow` (uid 50000, primary group 0). Installing as that user keeps the
# packages in its user site, as https://airflow.apache.org/docs/docker-stack/build.html asks.
USER airflow

COPY --chown=airflow:0 requirements.txt constraints.txt /opt/airflow/
RUN pip install --no-cache-dir -r /opt/airflow/requirements.txt -c /opt/airflow/constraints.txt

# The project's code, so the image runs on its own (e.g. a worker on another host). docker-compose.yaml
# also bind-mounts ./dags, ./plugins and ./include over these for local development.
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 include/ /opt/airflow/include/

# `from include.x import ...` needs /opt/airflow on sys.path; Airflow itself puts dags/ and plugins/
# there (the DAG file does `from word2vec_operators import ...`).
ENV PYTHONPATH=/opt/airflow \
    EMBEDDINGS_DATA_DIR=/opt/airflow/data \
    KERAS_BACKEND=tensorflow \
    TF_CPP_MIN_LOG_LEVEL=2

# Mount points of the named volumes in docker-compose.yaml. A new named volume copies the owner and
# mode of these folders, so any AIRFLOW_UID in group 0 (the image's rule) can write there.
RUN mkdir -p /opt/airflow/data /opt/airflow/auth \
    && chmod 0775 /opt/airflow/data \
    && chmod 0770 /opt/airflow/auth
