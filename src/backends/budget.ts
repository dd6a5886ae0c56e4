import { badInput } from '../errors.js';

/**
 * How many provider calls one GraphQL request may make. Retries of one call do not count; calls
 * de-duplicated within the request count once. Past the limit the field that needed the call
 * fails with BAD_USER_INPUT, so one document cannot turn into thousands of upstream requests.
 */
export class UpstreamBudget {
  private used = 0;

  constructor(readonly limit: number) {}

  spend(provider: string): void {
    if (this.used >= this.limit) {
      throw badInput(
        'query',
        `This request needs more than ${this.limit} calls to ${provider} and the other providers; ask for fewer fields, users or pages per request`,
      );
    }
    this.used += 1;
  }

  get spent(): number {
    return this.used;
  }
}
