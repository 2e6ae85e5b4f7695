#!/bin/sh
# One database and one login role per PostgreSQL processor; only the owner may connect.
set -eu
for pair in "book_compiler:${BOOK_COMPILER_DB_PASSWORD}" "pitch_builder:${PITCH_BUILDER_DB_PASSWORD}"; do
  name="${pair%%:*}"
  password="${pair#*:}"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
CREATE ROLE "$name" LOGIN PASSWORD '$password';
CREATE DATABASE "$name" OWNER "$name";
REVOKE ALL ON DATABASE "$name" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE "$name" TO "$name";
SQL
done
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -c 'REVOKE CONNECT ON DATABASE postgres FROM PUBLIC' -c 'REVOKE CONNECT ON DATABASE template1 FROM PUBLIC'
