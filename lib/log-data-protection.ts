import type { RemovalPolicy } from 'aws-cdk-lib';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { DataIdentifier, DataProtectionPolicy, LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/**
 * Health and identity identifiers CloudWatch Logs masks at ingestion. A backstop only: the code logs ids,
 * outcomes and counts, never record fields. Name and Address are left out on purpose: their detectors match
 * ordinary operational text and would mask what an engineer on call needs to read.
 */
export const MASKED_IDENTIFIERS: readonly DataIdentifier[] = [
  DataIdentifier.HEALTHINSURANCECLAIMNUMBER_US,
  DataIdentifier.MEDICAREBENEFICIARYNUMBER_US,
  DataIdentifier.NATIONALPROVIDERID_US,
  DataIdentifier.NATIONALDRUGCODE_US,
  DataIdentifier.DRUGENFORCEMENTAGENCYNUMBER_US,
  DataIdentifier.HEALTHCAREPROCEDURECODE_US,
  DataIdentifier.SSN_US,
  DataIdentifier.PHONENUMBER_US,
  DataIdentifier.EMAILADDRESS,
];

export interface LogDataProtectionProps {
  stage: string;
  key: IKey;
  logRetention: RetentionDays;
  removalPolicy: RemovalPolicy;
}

/**
 * The data protection policy attached to every log group of the stack, with an audit log group that records
 * where a finding was masked (the finding's location, not the masked value).
 */
export class LogDataProtection extends Construct {
  readonly policy: DataProtectionPolicy;
  readonly auditLogGroup: LogGroup;

  constructor(scope: Construct, id: string, props: LogDataProtectionProps) {
    super(scope, id);
    this.auditLogGroup = new LogGroup(this, 'AuditLogGroup', {
      logGroupName: `/drchrono-sync/${props.stage}/log-data-protection-audit`,
      encryptionKey: props.key,
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    this.policy = new DataProtectionPolicy({
      name: `drchrono-sync-${props.stage}-phi`,
      description: 'Mask health and identity identifiers that should never reach a log',
      identifiers: [...MASKED_IDENTIFIERS],
      logGroupAuditDestination: this.auditLogGroup,
    });
  }
}
