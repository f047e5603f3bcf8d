# Berth container image. Build: docker build -t berth .
# Run:   docker run -d -p 8080:8080 -v /var/run/docker.sock:/var/run/docker.sock \
#          -v berth-data:/data -e BERTH_ADMIN_PASSWORD=... berth
# (The image is on the roadmap; this file is kept buildable but is not built by CI,
# which has no registry to pull base images from.)

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo xtask dist

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/berth /usr/local/bin/berth
ENV BERTH_LISTEN=0.0.0.0:8080 \
    BERTH_DATA_DIR=/data \
    BERTH_LOG_FORMAT=json
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD ["/usr/local/bin/berth", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/berth"]
CMD ["serve"]
