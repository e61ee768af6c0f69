# strata's `migrate` as a container: a static (musl) binary on a distroless
# base with no shell and no libc, run as a non-root user.
#
#   docker build -t strata .
#   docker run --rm -v "$PWD:/work" -e APP_DATABASE_URL=… strata up
#
# The working directory /work holds migrate.toml and the migrations folder
# (mounted as above, or copied in by an image built FROM this one). The
# build stage runs the same command CI runs (tests/support/static.sh), so
# what CI tests is what the image ships.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN bash tests/support/static.sh build

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/target/x86_64-unknown-linux-musl/release/migrate /usr/local/bin/migrate
WORKDIR /work
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/migrate"]
CMD ["status"]
