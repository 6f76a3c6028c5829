import type { ResolvedSampleOptions } from './sample-options.js';
import { SeededRandom } from './seeded-random.js';
import type { SupportEvent } from './support-event.js';
import { generateTicketEvents, openingTime, type TicketEvent } from './ticket-lifecycle.js';

const DAY = 86_400_000;
/** Ticket numbers start here so ids look like a desk that has been running for a while. */
const FIRST_TICKET = 100_001;

export interface SampleDay {
  /** `YYYY-MM-DD`, UTC. */
  date: string;
  /** Events whose timestamp falls on this day, in time order. */
  events: SupportEvent[];
}

/**
 * The sample's events, day by day. Tickets open on every day of the window (fewer at weekends) and live on
 * for weeks; events after the window's end are not written yet, so late tickets are still open, as in any
 * extract of a live desk. Event ids number all events in time order from 1.
 */
export function generateSampleEvents(options: ResolvedSampleOptions): SampleDay[] {
  const random = new SeededRandom(options.seed);
  const end = options.start + options.days * DAY;
  const pending: { event: TicketEvent; ticket: number; seq: number }[] = [];
  let ticket = FIRST_TICKET;
  for (let d = 0; d < options.days; d += 1) {
    const dayStart = options.start + d * DAY;
    const weekday = new Date(dayStart).getUTCDay();
    const mean = options.ticketsPerDay * (weekday === 0 || weekday === 6 ? 0.25 : 1);
    const count = Math.max(0, Math.round(mean * (0.7 + 0.6 * random.next())));
    const openings: number[] = [];
    for (let i = 0; i < count; i += 1) openings.push(openingTime(random, dayStart));
    openings.sort((a, b) => a - b);
    for (const openedAt of openings) {
      const events = generateTicketEvents(random, `TCK-${ticket}`, openedAt);
      events.forEach((event, seq) => {
        if (event.timestamp < end) pending.push({ event, ticket, seq });
      });
      ticket += 1;
    }
  }
  pending.sort((a, b) => a.event.timestamp - b.event.timestamp || a.ticket - b.ticket || a.seq - b.seq);

  const days: SampleDay[] = [];
  for (let d = 0; d < options.days; d += 1) {
    days.push({ date: new Date(options.start + d * DAY).toISOString().slice(0, 10), events: [] });
  }
  pending.forEach(({ event }, i) => {
    const index = Math.floor((event.timestamp - options.start) / DAY);
    days[index]!.events.push({ event_id: i + 1, ...event });
  });
  return days;
}
