# One image for every service of the federation; the compose file picks the module to run.
# Production images install neither the `embedded` nor the `dev` extra.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY contracts ./contracts
COPY servicekit ./servicekit
COPY index_service ./index_service
COPY gateway ./gateway
COPY processors ./processors
COPY compose ./compose
RUN pip install --no-cache-dir -c constraints.txt . \
    && useradd --system --no-create-home studio
USER studio
# Every service listens on 0.0.0.0 inside its container; the compose file sets host and port.
CMD ["python", "-m", "gateway"]
