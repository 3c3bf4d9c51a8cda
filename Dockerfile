# syntax=docker/dockerfile:1
#
# One image for every Fulcrum process: `fulcrum start` (an LB node), `fulcrum prober`,
# `fulcrum demo-backends` and `fulcrum api`. docker-compose.yml runs the cluster (D-4);
#   docker build -t fulcrum .
#   docker run --rm -p 8080:8080 fulcrum quickstart     # what `npm start` does, in a box

# Node 24 LTS: the runtime package.json pins for development and CI.
ARG NODE_IMAGE=node:24-bookworm-slim

# build: compile the services and every package they reference (tsc -b).
FROM ${NODE_IMAGE} AS build
WORKDIR /src
# Manifests before sources, so the dependency layer is rebuilt only when one of them
# changes. npm ci wants every workspace the root package.json lists, test and loadtest too.
COPY package.json package-lock.json tsconfig.base.json tsconfig.json ./
COPY packages/model/package.json packages/model/
COPY packages/log/package.json packages/log/
COPY packages/scheduling/package.json packages/scheduling/
COPY packages/state/package.json packages/state/
COPY packages/coordinator/package.json packages/coordinator/
COPY packages/data-plane/package.json packages/data-plane/
COPY packages/control-api/package.json packages/control-api/
COPY services/health-prober/package.json services/health-prober/
COPY services/lb-node/package.json services/lb-node/
COPY test/package.json test/
COPY loadtest/package.json loadtest/
# --ignore-scripts: the root `prepare` would run tsc before the sources are here; the one
# native dependency (msgpackr-extract) ships prebuilt and is optional anyway.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY packages packages
COPY services services
RUN npx tsc -b services/lb-node services/health-prober
# What the runtime needs of each workspace: its manifest and compiled sources (no tests),
# and the console's static files (served as they are).
RUN mkdir -p /out \
 && for p in packages/* services/*; do \
      mkdir -p "/out/$p/dist" && cp "$p/package.json" "/out/$p/" && cp -R "$p/dist/src" "/out/$p/dist/"; \
    done \
 && cp -R services/lb-node/bin /out/services/lb-node/ \
 && cp -R packages/control-api/console /out/packages/control-api/

# deps: production dependencies of the two services only (no typescript, mocha, autocannon).
FROM ${NODE_IMAGE} AS deps
WORKDIR /src
COPY --from=build /src/package.json /src/package-lock.json ./
COPY --from=build /out ./
COPY --from=build /src/test/package.json test/
COPY --from=build /src/loadtest/package.json loadtest/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
      --workspace=@fulcrum/lb-node --workspace=@fulcrum/health-prober --include-workspace-root=false

# runtime: slim Node 24, non-root.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /opt/fulcrum
COPY --from=build /src/package.json ./
COPY --from=deps /src/node_modules node_modules
COPY --from=build /out ./
COPY examples examples
COPY scripts/healthcheck.mjs scripts/
# The working directory is where `fulcrum start` keeps its default ./.fulcrum data dir, so
# the non-root user must own it; in cluster mode the state lives in Redis instead.
RUN mkdir -p /var/lib/fulcrum && chown node:node /var/lib/fulcrum
WORKDIR /var/lib/fulcrum
USER node
# Listeners (the quickstart's 8080) and the admin API (bind it with --admin-host 0.0.0.0
# and --token-file, API-5).
EXPOSE 8080 9090
ENTRYPOINT ["node", "/opt/fulcrum/services/lb-node/bin/fulcrum.js"]
CMD ["--help"]
