/** Why an RDAP lookup failed: its own module so that code which only handles failures need not load the
 * RDAP client (and its response schemas). */
export type RdapErrorKind =
  | 'timeout' // no complete answer within the per-request timeout
  | 'network' // connection refused/reset, DNS failure
  | 'http' // an HTTP error status other than 404/429
  | 'rate-limited' // 429 (after retries)
  | 'not-found' // 404: no registry holds the address
  | 'too-large' // the body exceeds the size cap
  | 'invalid' // not JSON, or not an RDAP IP network object
  | 'redirect' // too many redirects, or a redirect without a usable Location
  | 'aborted' // the caller's signal (budget, shutdown)
  | 'bad-address'; // not an IP address

export class RdapError extends Error {
  override readonly name = 'RdapError';
  constructor(
    readonly kind: RdapErrorKind,
    message: string,
    readonly status: number | null = null,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
  }
  /** Worth trying again later (the negative cache keeps these for a short time only). */
  get transient(): boolean {
    return this.kind === 'timeout' || this.kind === 'network' || this.kind === 'rate-limited' || this.kind === 'http';
  }
}
