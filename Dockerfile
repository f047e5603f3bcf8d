# Berth's container image: one static binary on an empty base.
#
# With a registry (the build stage pulls rust:1.95-bookworm):
#   docker build -t berth .
# Without one: `cargo xtask image` builds the binary on this machine and then only the
# runtime stage below (FROM scratch pulls nothing); CI builds it that way.
#
# Run (see deploy/compose.yaml):
#   docker run -d -p 8080:8080 -v /var/run/docker.sock:/var/run/docker.sock \
#     -v berth-data:/data -e BERTH_ADMIN_PASSWORD_FILE=/run/secrets/berth berth
# It runs as root so it can use the Docker socket; to run it as another user, give
# that user the socket's group: --user 10001:10001 --group-add "$(stat -c %g
# /var/run/docker.sock)" and a /data it may write.

FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo xtask image --rootfs-only && cp -a target/image/rootfs /out

# The runtime stage: `cargo xtask image` builds from here on, with its own rootfs/
# in place of the build stage's /out (usr/local/bin/berth, the CA bundle, /tmp, /data).
FROM scratch
COPY --from=build /out/ /
ENV BERTH_LISTEN=0.0.0.0:8080 \
    BERTH_DATA_DIR=/data \
    BERTH_LOG_FORMAT=json \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
VOLUME /data
EXPOSE 8080
# No shell and no curl in here: Berth asks itself (over HTTPS with tls_cert).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD ["/usr/local/bin/berth", "healthcheck"]
# SIGTERM: requests get 4.5 s, then the store closes; `docker stop` waits 10 s.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/berth"]
CMD ["serve"]
