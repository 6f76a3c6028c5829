import { WeightedChoice, type SeededRandom } from './seeded-random.js';
import { ACTIVITIES, type SupportEvent } from './support-event.js';
import {
  AGENTS,
  AUTO_CLOSER,
  CUSTOMERS,
  DISPATCHERS,
  HOURLY_RATE_CENTS,
  PRODUCTS,
  SERIOUSNESS,
  WORKGROUPS,
  type Agent,
} from './vocabulary.js';

const MINUTE = 60_000;
const DAY = 86_400_000;

// Customers follow a long tail: the first ones in the list open most tickets.
const CUSTOMER_CHOICE = new WeightedChoice(CUSTOMERS.map((c, i) => [c, 1 / (i + 1)] as const));
const PRODUCT_CHOICE = new WeightedChoice(PRODUCTS.map((p, i) => [p, 1 / (i + 2)] as const));
const SERIOUSNESS_CHOICE = new WeightedChoice<string>([
  [SERIOUSNESS[0], 0.05],
  [SERIOUSNESS[1], 0.2],
  [SERIOUSNESS[2], 0.55],
  [SERIOUSNESS[3], 0.2],
]);
// Working hours carry nearly all activity, with dips at lunch, as in a real help desk (UTC).
const HOUR_CHOICE = new WeightedChoice([
  [7, 7],
  [8, 11],
  [9, 10],
  [10, 10],
  [11, 5],
  [12, 5],
  [13, 9],
  [14, 9],
  [15, 9],
  [16, 5],
  [17, 1],
] as const);
const AGENTS_BY_SECTION = new Map(
  Object.entries(WORKGROUPS).map(([section, groups]) => [section, AGENTS.filter((a) => groups.includes(a.workgroup))]),
);

/** An event before `event_id` is known: ids are given once all tickets are merged in time order. */
export type TicketEvent = Omit<SupportEvent, 'event_id'>;

/**
 * One ticket's lifecycle, shaped like the real helpdesk log: (Insert ticket) → Assign seriousness
 * (sometimes re-assigned) → Take in charge ticket → (Wait → Take in charge again, Require upgrade,
 * Create SW anomaly) → Resolve ticket (sometimes twice, sometimes reopened) → Closed about 15 or 30 days
 * later by the automatic closer. Events are in time order; `openedAt` is the first event's time.
 */
export function generateTicketEvents(random: SeededRandom, ticketId: string, openedAt: number): TicketEvent[] {
  const customer = CUSTOMER_CHOICE.pick(random);
  const product = PRODUCT_CHOICE.pick(random);
  const reporter = `${random.pick(customer.reporters)}@example.com`;
  const rate = HOURLY_RATE_CENTS[customer.serviceLevel] ?? 0;
  const section = product.section;
  const sectionAgents = AGENTS_BY_SECTION.get(section) ?? AGENTS;

  let seriousness = SERIOUSNESS_CHOICE.pick(random);
  let priority = priorityOf(random, seriousness);
  let workgroup: string | null = null;
  let t = openedAt;
  const events: TicketEvent[] = [];

  const emit = (activity: string, resource: string | null, billableCents: number | null): void => {
    events.push({
      ticket_id: ticketId,
      activity,
      resource,
      timestamp: t,
      seriousness,
      priority,
      customer: customer.name,
      reporter_email: reporter,
      product: product.name,
      service_level: customer.serviceLevel,
      support_section: section,
      workgroup,
      duration_days: Math.round(((t - openedAt) / DAY) * 1000) / 1000,
      billable_cents: billableCents,
    });
  };
  const advance = (sameDayChance: number, maxDays: number): void => {
    t = later(random, t, random.chance(sameDayChance) ? 0 : 1 + random.geometric(0.8, maxDays - 1));
  };
  const work = (maxQuarters: number): number => Math.round((random.int(1, maxQuarters) * rate) / 4);

  if (random.chance(0.03)) {
    // Came in through the customer portal: no agent, the dispatch desk assigns it a few minutes later.
    emit(ACTIVITIES.insert, null, null);
    t += random.int(1, 30) * MINUTE + random.int(0, 59) * 1000;
  }
  emit(ACTIVITIES.assign, random.pick(DISPATCHERS), null);
  for (let i = random.geometric(0.09, 3); i > 0; i -= 1) {
    advance(0.7, 3);
    seriousness = SERIOUSNESS_CHOICE.pick(random);
    priority = priorityOf(random, seriousness);
    emit(ACTIVITIES.assign, random.pick(DISPATCHERS), null);
  }

  let agent: Agent | undefined;
  if (random.chance(0.05)) {
    // Trivial tickets are resolved by the dispatch desk without being taken in charge.
    advance(0.6, 5);
  } else {
    agent = random.pick(sectionAgents);
    workgroup = agent.workgroup;
    advance(0.55, 20);
    emit(ACTIVITIES.take, agent.name, work(4));
    for (let round = 0; round < 4; round += 1) {
      const r = random.next();
      if (r < 0.2) {
        advance(0.8, 2);
        emit(ACTIVITIES.wait, agent.name, null);
        advance(0.1, 10);
        if (!random.chance(0.55)) break;
        if (random.chance(0.3)) {
          // Re-assignment: another agent, possibly another workgroup of the same section.
          agent = random.pick(sectionAgents);
          workgroup = agent.workgroup;
        }
        emit(ACTIVITIES.take, agent.name, work(4));
      } else if (r < 0.22) {
        advance(0.8, 2);
        emit(ACTIVITIES.upgrade, agent.name, 25_000);
        break;
      } else if (r < 0.235) {
        advance(0.8, 2);
        emit(ACTIVITIES.anomaly, agent.name, null);
        break;
      } else {
        break;
      }
    }
    advance(0.5, 25);
  }

  const resolver = agent?.name ?? random.pick(DISPATCHERS);
  emit(ACTIVITIES.resolve, resolver, work(32));
  if (random.chance(0.04)) {
    advance(0.7, 3);
    emit(ACTIVITIES.resolve, resolver, work(8));
  }
  if (random.chance(0.03)) {
    // Reopened by the customer before the automatic close.
    advance(0.3, 10);
    emit(ACTIVITIES.take, resolver, work(4));
    advance(0.5, 10);
    emit(ACTIVITIES.resolve, resolver, work(16));
  }
  if (random.chance(0.97)) {
    // Most tickets close automatically 15 or 30 days after resolution; the rest whenever the customer confirms.
    const r = random.next();
    const days = r < 0.6 ? 15 : r < 0.8 ? 30 : random.int(1, 45);
    t = later(random, t, days);
    emit(ACTIVITIES.closed, AUTO_CLOSER, null);
  }
  return events;
}

/** A ticket's opening time on a given day: a working hour, second precision. */
export function openingTime(random: SeededRandom, dayStart: number): number {
  return dayStart + HOUR_CHOICE.pick(random) * 60 * MINUTE + random.int(0, 3599) * 1000;
}

/** Priority 1 (highest) to 4 follows seriousness, with some disagreement as in real desks. */
function priorityOf(random: SeededRandom, seriousness: string): number {
  const base = Math.max(1, SERIOUSNESS.indexOf(seriousness as (typeof SERIOUSNESS)[number]) + 1);
  if (!random.chance(0.15)) return base;
  return Math.min(4, Math.max(1, base + (random.chance(0.5) ? 1 : -1)));
}

/**
 * A time after `from`: the same day (minutes later) when `days` is 0, else a working hour `days` days later,
 * moved off the weekend. Always at least one second after `from`, whole seconds.
 */
function later(random: SeededRandom, from: number, days: number): number {
  if (days === 0) return from + random.int(1, 180) * MINUTE + random.int(0, 59) * 1000;
  let dayStart = Math.floor(from / DAY) * DAY + days * DAY;
  // 1970-01-01 was a Thursday (4); Sunday is 0.
  const weekday = (((Math.floor(dayStart / DAY) + 4) % 7) + 7) % 7;
  if (weekday === 6) dayStart += 2 * DAY;
  else if (weekday === 0) dayStart += DAY;
  return Math.max(from + 1000, openingTime(random, dayStart));
}
