/**
 * One raw support-ticket event as the sample generator writes it. Field names are the `source` names of
 * `datasets/support_events.yaml`; their order is the CSV column order.
 */
export interface SupportEvent {
  event_id: number;
  ticket_id: string;
  activity: string;
  /** Null when the ticket came in through the customer portal (no agent involved). */
  resource: string | null;
  /** Milliseconds since the epoch, UTC, whole seconds. */
  timestamp: number;
  seriousness: string;
  priority: number;
  customer: string;
  reporter_email: string;
  product: string;
  service_level: string;
  support_section: string;
  /** Null until a workgroup takes the ticket in charge. */
  workgroup: string | null;
  /** Days since the ticket was opened, 3 decimals. */
  duration_days: number;
  /** EUR with 2 decimals, as integer cents to keep the arithmetic exact; null where billing does not apply. */
  billable_cents: number | null;
}

export const SUPPORT_EVENT_FIELDS = [
  'event_id',
  'ticket_id',
  'activity',
  'resource',
  'timestamp',
  'seriousness',
  'priority',
  'customer',
  'reporter_email',
  'product',
  'service_level',
  'support_section',
  'workgroup',
  'duration_days',
  'billable_amount',
] as const;

export type SupportEventField = (typeof SUPPORT_EVENT_FIELDS)[number];

/** The activities of a ticket's lifecycle, as the real helpdesk log names them. */
export const ACTIVITIES = {
  insert: 'Insert ticket',
  assign: 'Assign seriousness',
  take: 'Take in charge ticket',
  wait: 'Wait',
  upgrade: 'Require upgrade',
  anomaly: 'Create SW anomaly',
  resolve: 'Resolve ticket',
  closed: 'Closed',
} as const;
