"""Publishes one EnrichmentRequested as raw JSON and waits for its EnrichmentCompleted.

    apt-get install python3-pika      # or: pip install pika
    AMQP_URL=amqp://user:password@localhost:5672/ python3 enrich.py

The relay must be running on the same broker (and virtual host, the URL's path). Exit code 0 once the
completion arrives, 1 when nothing arrives for TIMEOUT_SECONDS (default 60).
"""
import json
import os
import sys
import uuid

import pika

# The exchange names are part of the relay's contract and never change (docs/messages.md, docs/asyncapi.yaml).
REQUESTS = "EnrichmentRelay.Contracts:EnrichmentRequested"
COMPLETIONS = "EnrichmentRelay.Contracts:EnrichmentCompleted"


def main() -> int:
    url = os.environ.get("AMQP_URL", "amqp://guest:guest@localhost:5672/")
    timeout_seconds = float(os.environ.get("TIMEOUT_SECONDS", "60"))
    request_id = str(uuid.uuid4())

    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        # Declared as the relay declares them (durable fanout), so this works whichever side starts first.
        channel.exchange_declare(REQUESTS, exchange_type="fanout", durable=True)
        channel.exchange_declare(COMPLETIONS, exchange_type="fanout", durable=True)

        # Subscribe before publishing, so the completion cannot be missed. A real subscriber uses a durable
        # queue of its own; this one lives as long as the connection.
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(queue, COMPLETIONS)

        request = {
            "requestId": request_id,  # your idempotency key: the same id twice is one enrichment, one charge, one completion
            "lead": {"firstName": "Jane", "lastName": "Doe", "companyName": "Acme", "companyDomain": "acme.com"},
            "fields": ["email", "phone"],
            "correlationData": {"example": "python"},
        }
        try:
            channel.basic_publish(REQUESTS, "", json.dumps(request).encode("utf-8"), mandatory=True,
                                  properties=pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                                                  message_id=request_id))
        except pika.exceptions.UnroutableError:
            print("Nothing is bound to the request exchange yet: start the relay (it declares its queue) and try again.",
                  file=sys.stderr)
            return 1
        print(f"published EnrichmentRequested {request_id}", flush=True)

        for method, _properties, body in channel.consume(queue, auto_ack=True, inactivity_timeout=timeout_seconds):
            if method is None:  # nothing arrived for timeout_seconds
                print(f"no EnrichmentCompleted for {request_id} within {timeout_seconds:.0f} s", file=sys.stderr)
                return 1
            # The relay publishes with MassTransit: the event is the envelope's "message".
            event = json.loads(body)["message"]
            if event["requestId"] == request_id:
                print(f"completed {event['requestId']}: outcome={event['outcome']} provider={event.get('provider')} "
                      f"emails={json.dumps(event['emails'])} phones={json.dumps(event['phones'])} detail={event.get('detail') or ''}")
                return 0
        return 1
    finally:
        connection.close()


if __name__ == "__main__":
    sys.exit(main())
