import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DLQ_RETENTION_SECONDS, type QueueSettings } from '../shared/config/queue-settings';

export interface WorkQueueProps {
  queueName: string;
  dlqName: string;
  settings: QueueSettings;
  key: IKey;
  removalPolicy: RemovalPolicy;
  /** A FIFO pair (names end in .fifo); deduplication ids come from the sender, never from the content. */
  fifo?: boolean;
}

/**
 * A standard queue and its dead-letter queue, both KMS-encrypted with the CMK and SSL-only (messages carry PHI).
 * Retry, visibility and retention come from shared/config/queue-settings so local and AWS redrive alike.
 */
export class WorkQueue extends Construct {
  readonly queue: Queue;
  readonly dlq: Queue;
  readonly settings: QueueSettings;

  constructor(scope: Construct, id: string, props: WorkQueueProps) {
    super(scope, id);
    this.settings = props.settings;
    const encrypted = {
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: props.key,
      // Reusing a data key for 5 min keeps KMS calls (and cost) per message near zero.
      dataKeyReuse: Duration.minutes(5),
      enforceSSL: true,
      removalPolicy: props.removalPolicy,
      ...(props.fifo ? { fifo: true, contentBasedDeduplication: false } : {}),
    };
    this.dlq = new Queue(this, 'Dlq', {
      ...encrypted,
      queueName: props.dlqName,
      retentionPeriod: Duration.seconds(DLQ_RETENTION_SECONDS),
    });
    this.queue = new Queue(this, 'Queue', {
      ...encrypted,
      queueName: props.queueName,
      retentionPeriod: Duration.seconds(props.settings.retentionPeriodSeconds),
      visibilityTimeout: Duration.seconds(props.settings.visibilityTimeoutSeconds),
      deadLetterQueue: { queue: this.dlq, maxReceiveCount: props.settings.maxReceiveCount },
    });
  }
}
