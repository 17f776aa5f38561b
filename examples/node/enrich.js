// Publishes one EnrichmentRequested as raw JSON and waits for its EnrichmentCompleted.
//
//   npm ci && AMQP_URL=amqp://user:password@localhost:5672/ node enrich.js
//
// The relay must be running on the same broker (and virtual host, the URL's path). Exit code 0 once the
// completion arrives, 1 when it does not within TIMEOUT_SECONDS (default 60).
'use strict';
const { randomUUID } = require('node:crypto');
const amqp = require('amqplib');

// The exchange names are part of the relay's contract and never change (docs/messages.md, docs/asyncapi.yaml).
const REQUESTS = 'EnrichmentRelay.Contracts:EnrichmentRequested';
const COMPLETIONS = 'EnrichmentRelay.Contracts:EnrichmentCompleted';

async function main() {
  const url = process.env.AMQP_URL ?? 'amqp://guest:guest@localhost:5672/';
  const timeoutSeconds = Number(process.env.TIMEOUT_SECONDS ?? 60);
  const requestId = randomUUID();

  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createConfirmChannel();
    // Declared as the relay declares them (durable fanout), so this works whichever side starts first.
    await channel.assertExchange(REQUESTS, 'fanout', { durable: true });
    await channel.assertExchange(COMPLETIONS, 'fanout', { durable: true });

    // Subscribe before publishing, so the completion cannot be missed. A real subscriber uses a durable
    // queue of its own; this one lives as long as the connection.
    const { queue } = await channel.assertQueue('', { exclusive: true });
    await channel.bindQueue(queue, COMPLETIONS, '');
    const completed = new Promise((resolve) => {
      channel.consume(queue, (delivery) => {
        // The relay publishes with MassTransit: the event is the envelope's "message".
        const event = JSON.parse(delivery.content.toString('utf8')).message;
        if (event.requestId === requestId) resolve(event);
      }, { noAck: true });
    });

    channel.on('return', () => {
      console.error('Nothing is bound to the request exchange yet: start the relay (it declares its queue) and try again.');
      process.exit(1);
    });
    const request = {
      requestId, // your idempotency key: the same id twice is one enrichment, one charge, one completion
      lead: { firstName: 'Jane', lastName: 'Doe', companyName: 'Acme', companyDomain: 'acme.com' },
      fields: ['email', 'phone'],
      correlationData: { example: 'node' },
    };
    channel.publish(REQUESTS, '', Buffer.from(JSON.stringify(request)),
      { contentType: 'application/json', persistent: true, mandatory: true, messageId: requestId });
    await channel.waitForConfirms();
    console.log(`published EnrichmentRequested ${requestId}`);

    const timeout = new Promise((resolve) => setTimeout(resolve, timeoutSeconds * 1000, null));
    const event = await Promise.race([completed, timeout]);
    if (!event) {
      console.error(`no EnrichmentCompleted for ${requestId} within ${timeoutSeconds} s`);
      return 1;
    }
    console.log(`completed ${event.requestId}: outcome=${event.outcome} provider=${event.provider} ` +
      `emails=${JSON.stringify(event.emails)} phones=${JSON.stringify(event.phones)} detail=${event.detail ?? ''}`);
    return 0;
  } finally {
    await connection.close();
  }
}

main().then((code) => process.exit(code), (error) => {
  console.error(error.message);
  process.exit(1);
});
