import { z } from 'zod';

/**
 * Memobase payloads (../shared/upstreams/README.md §1.2-§1.4, server `models/response.py`).
 * Lenient where the upstream model is: `event_data` and all of its fields are nullable, `gists`
 * and `similarity` are ignored, `updated_at` falls back to `created_at`.
 */

/** `BaseResponse`: every answer, success or application error, is this envelope (§1.2). */
export const Envelope = z.object({
  data: z.unknown().optional(),
  errno: z.number().int(),
  errmsg: z.string().nullish(),
});

const ProfileDelta = z.object({
  content: z.string(),
  // Holds `topic` and `sub_topic` by convention only (§1.3: `attributes: object|null`).
  attributes: z.record(z.string(), z.unknown()).nullish(),
});

const EventTag = z.object({ tag: z.string(), value: z.string() });

const EventData = z.object({
  profile_delta: z.array(ProfileDelta).nullish(),
  event_tip: z.string().nullish(),
  event_tags: z.array(EventTag).nullish(),
});

/** A timestamp as Python serialises it, kept to the microsecond so keyset order matches upstream's. */
const Timestamp = z.string().transform((value, ctx) => {
  const micros = toMicros(value);
  if (micros === undefined) {
    ctx.addIssue({ code: 'custom', message: 'not an ISO 8601 date-time' });
    return z.NEVER;
  }
  return micros;
});

const UserEventData = z.object({
  id: z.string().min(1),
  event_data: EventData.nullish(),
  created_at: Timestamp,
  updated_at: Timestamp.nullish(),
});

/** `UserEventsData`, the `data` of a successful list (§1.3). */
export const UserEventsData = z.object({
  events: z.array(UserEventData),
});

export type MemobaseUserEvent = z.output<typeof UserEventData>;

const ISO_DATE_TIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(:\d{2})?(?:[.,](\d+))?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * Microseconds since the epoch of an ISO 8601 date-time. Python writes six fraction digits (or
 * none when they are zero), `Z` or `+00:00`, and no zone at all for a naive datetime: Memobase
 * stores UTC, so a missing zone is read as UTC.
 */
export function toMicros(value: string): number | undefined {
  const m = ISO_DATE_TIME.exec(value.trim());
  if (!m) return undefined;
  const [, date, hoursMinutes, seconds = ':00', fraction = '', zoneRaw = 'Z'] = m;
  let zone = zoneRaw.toUpperCase();
  if (zone !== 'Z') {
    const digits = zone.slice(1).replace(':', '').padEnd(4, '0');
    zone = `${zone[0]}${digits.slice(0, 2)}:${digits.slice(2, 4)}`;
  }
  const ms = Date.parse(`${date}T${hoursMinutes}${seconds}${zone}`);
  if (Number.isNaN(ms)) return undefined;
  return ms * 1000 + Number(fraction.padEnd(6, '0').slice(0, 6));
}

/** The canonical form of a microsecond timestamp: UTC, six fraction digits. */
export function fromMicros(micros: number): string {
  const seconds = Math.floor(micros / 1_000_000);
  return `${new Date(seconds * 1000).toISOString().slice(0, 19)}.${String(micros - seconds * 1_000_000).padStart(6, '0')}Z`;
}
