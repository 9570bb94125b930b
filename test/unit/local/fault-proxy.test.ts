import { createServer, type Server } from 'node:http';
import { DynamoDBClient, ProvisionedThroughputExceededException, PutItemCommand, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { AwsFaults, startFaultProxy, type FaultProxy } from '../../../local/emulators/fault-proxy';
import { listen, type ListeningServer } from '../../../local/http/listen';

// An upstream that answers every AWS JSON call with an empty success, and counts what reached it.
let upstream: ListeningServer;
let reached: string[];
let faults: AwsFaults;
let ddbProxy: FaultProxy;
let sqsProxy: FaultProxy;
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

beforeEach(async () => {
  reached = [];
  const server: Server = createServer((req, res) => {
    reached.push(String(req.headers['x-amz-target']));
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(String(req.headers['x-amz-target']).startsWith('AmazonSQS') ? '{"MessageId":"m-1","MD5OfMessageBody":"99914b932bd37a50b983c5e7c90ae93b"}' : '{}');
    });
  });
  upstream = await listen(server, 0, '127.0.0.1');
  faults = new AwsFaults();
  ddbProxy = await startFaultProxy({ service: 'dynamodb', target: upstream.url, faults });
  sqsProxy = await startFaultProxy({ service: 'sqs', target: upstream.url, faults });
});

afterEach(async () => {
  await Promise.all([ddbProxy.close(), sqsProxy.close(), upstream.close()]);
});

const ddb = () => new DynamoDBClient({ endpoint: ddbProxy.url, region: 'us-east-1', credentials, maxAttempts: 1 });
const put = (table: string) => new PutItemCommand({ TableName: table, Item: { pk: { S: 'a' } } });

test('an armed DynamoDB fault fails the next matching calls with the typed AWS exception, then passes calls through', async () => {
  faults.add({ service: 'dynamodb', operations: ['PutItem'], resource: 'records', kind: 'throughput', count: 2 });
  const client = ddb();
  await expect(client.send(put('records'))).rejects.toBeInstanceOf(ProvisionedThroughputExceededException);
  await expect(client.send(put('other'))).resolves.toBeDefined();
  await expect(client.send(put('records'))).rejects.toBeInstanceOf(ProvisionedThroughputExceededException);
  await expect(client.send(put('records'))).resolves.toBeDefined();
  expect(reached).toEqual(['DynamoDB_20120810.PutItem', 'DynamoDB_20120810.PutItem']);
  expect(faults.list()).toEqual([]);
  expect(faults.injected).toEqual({ 'dynamodb.PutItem.throughput': 2 });
  client.destroy();
});

test('a table named inside a transaction matches the fault', async () => {
  faults.add({ service: 'dynamodb', operations: ['TransactWriteItems'], resource: 'records', kind: 'throttle' });
  const client = ddb();
  const tx = new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: 'records', Item: { pk: { S: 'a' } } } }] });
  await expect(client.send(tx)).rejects.toMatchObject({ name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
  client.destroy();
});

test('a fault with bodyContains fails only requests naming that text (one team\'s items), leaving other teams\' alone', async () => {
  faults.add({ service: 'dynamodb', operations: ['PutItem'], resource: 'log', bodyContains: 'team-a', kind: 'throughput', count: 1 });
  const client = ddb();
  const putFor = (pk: string) => new PutItemCommand({ TableName: 'log', Item: { pk: { S: pk } } });
  await expect(client.send(putFor('team-b'))).resolves.toBeDefined();
  await expect(client.send(putFor('team-a'))).rejects.toBeInstanceOf(ProvisionedThroughputExceededException);
  await expect(client.send(putFor('team-a'))).resolves.toBeDefined();
  client.destroy();
});

test('an SQS fault on one queue fails SendMessage to it with a 5xx and leaves other queues alone', async () => {
  faults.add({ service: 'sqs', operations: ['SendMessage'], resource: 'ingest', kind: '503' });
  const sqs = new SQSClient({ endpoint: sqsProxy.url, region: 'us-east-1', credentials, maxAttempts: 1, useQueueUrlAsEndpoint: false });
  const send = (queue: string) => sqs.send(new SendMessageCommand({ QueueUrl: `http://sqs.local/000000000000/${queue}`, MessageBody: '{}' }));
  await expect(send('other')).resolves.toBeDefined();
  await expect(send('ingest')).rejects.toMatchObject({ $metadata: { httpStatusCode: 503 } });
  await expect(send('ingest')).resolves.toBeDefined();
  sqs.destroy();
});

test('a malformed rule is refused', () => {
  expect(() => faults.add({ service: 'dynamodb', operations: [], kind: 'throttle' })).toThrow();
  expect(() => faults.add({ service: 'sqs', operations: ['SendMessage'], kind: 'teapot' as never })).toThrow();
});
