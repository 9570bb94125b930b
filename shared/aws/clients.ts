import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/**
 * One client of each kind per container, created on first use and reused by every invocation.
 * Endpoints come from the standard AWS_ENDPOINT_URL_* variables, which the local platform sets.
 */
let ddb: DynamoDBDocumentClient | undefined;
let sqs: SQSClient | undefined;
let secrets: SecretsManagerClient | undefined;

export function documentClient(): DynamoDBDocumentClient {
  ddb ??= DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  return ddb;
}

export function sqsClient(): SQSClient {
  // useQueueUrlAsEndpoint: false keeps requests on the configured endpoint; the local SQS emulator's
  // queue URLs use a host name that does not resolve. Real AWS is unaffected.
  sqs ??= new SQSClient({ useQueueUrlAsEndpoint: false });
  return sqs;
}

export function secretsClient(): SecretsManagerClient {
  secrets ??= new SecretsManagerClient({});
  return secrets;
}
