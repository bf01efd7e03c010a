# The two commands: `make run` (the whole pipeline, embedded) and `make test`.
GO ?= go

.PHONY: run test build bench jaeger receiver clean

## run: every role in one process on the embedded default (NATS embedded,
## state in-process); deliveries to 127.0.0.0/8 allowed for local receivers.
run:
	DELIVERY_ALLOWED_CIDRS=$${DELIVERY_ALLOWED_CIDRS-127.0.0.0/8} $(GO) run ./cmd/webhookd

## test: starts what the tests need (Redis, pinned nats-server, Jaeger), then vet + race tests.
test:
	./scripts/test.sh

## build: all binaries into bin/
build:
	$(GO) build -o bin/ ./cmd/...
	$(GO) build -o bin/nats-server github.com/nats-io/nats-server/v2

## receiver: a demo endpoint that prints and verifies deliveries
receiver:
	$(GO) run ./cmd/receiver $(ARGS)

## bench: the end-to-end benchmark (see docs/benchmarks.md)
bench:
	$(GO) run ./cmd/bench $(ARGS)

## jaeger: a real Jaeger (all-in-one, memory storage) on loopback
jaeger:
	./scripts/jaeger.sh run

clean:
	rm -rf bin data
