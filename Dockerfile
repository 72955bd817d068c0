FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml requirements.lock README.md ./
COPY pcf ./pcf
COPY resources ./resources
COPY jobs ./jobs
COPY imports ./imports
COPY manage.py Procfile ./
RUN pip install --no-cache-dir -c requirements.lock . \
    && useradd --create-home pcf \
    && mkdir -p /var/lib/pcf-metrics && chown pcf:pcf /var/lib/pcf-metrics
USER pcf
EXPOSE 8000
CMD ["gunicorn", "pcf.asgi:application", "-k", "uvicorn_worker.UvicornWorker", "-c", "python:pcf.gunicorn", "-b", "0.0.0.0:8000", "-w", "2"]
