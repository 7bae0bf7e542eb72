import { KeyObject } from 'node:crypto';
import { createRemoteJWKSet, errors } from 'jose';

/** The identity provider's key set could not be fetched: the API answers 503, not 401. */
export class JwksUnavailableError extends Error {
  override readonly name = 'JwksUnavailableError';
}

/** A token names a key (`kid`/`alg`) the key set does not have, even after a refresh: the token is refused (401). */
export class UnknownSigningKeyError extends Error {
  override readonly name = 'UnknownSigningKeyError';
}

export interface JwksOptions {
  /** How long a fetched key set is used before it is fetched again. */
  cacheSeconds?: number;
  /** An unknown `kid` triggers a refetch at most this often (key rotation, without a fetch per bad token). */
  minRefetchSeconds?: number;
  timeoutMs?: number;
}

/** The JOSE header fields that pick a key: `kid`, and `alg` (which key type it must be). */
export interface SigningKeyHeader {
  kid?: string;
  alg?: string;
}

/** jose's answers that mean "this token's header matches no usable key": the token's fault. */
const NO_KEY_ERRORS = [errors.JWKSNoMatchingKey, errors.JWKSMultipleMatchingKeys, errors.JOSENotSupported];

/**
 * Public keys from a JWKS endpoint (RFC 7517), as PEM for @fastify/jwt (fast-jwt takes PEM, not key
 * objects). jose's createRemoteJWKSet does the fetching: lazily, with a timeout, cached for
 * `cacheSeconds`, one fetch in flight at a time, and refetched when a token names a key not seen yet
 * (the provider rotated its keys), at most once per `minRefetchSeconds`.
 */
export class JwksKeySource {
  private readonly keySet: ReturnType<typeof createRemoteJWKSet>;
  private readonly pems = new WeakMap<KeyObject, string>();

  constructor(
    private readonly url: string,
    opts: JwksOptions = {},
  ) {
    this.keySet = createRemoteJWKSet(new URL(url), {
      cacheMaxAge: (opts.cacheSeconds ?? 600) * 1000,
      cooldownDuration: (opts.minRefetchSeconds ?? 30) * 1000,
      timeoutDuration: opts.timeoutMs ?? 3000,
    });
  }

  /** The PEM public key for the token's header (a key set with a single key of the type may be used without a `kid`). */
  async keyFor(header: SigningKeyHeader): Promise<string> {
    let key: unknown;
    try {
      key = await this.keySet({ kid: header.kid, alg: header.alg ?? '' });
    } catch (err) {
      if (NO_KEY_ERRORS.some((type) => err instanceof type)) {
        throw new UnknownSigningKeyError(
          `no signing key ${header.kid ?? '(without kid)'} for ${header.alg ?? '(no alg)'} in the key set`,
        );
      }
      // the endpoint did not answer in time, answered an error or something that is not a key set
      throw new JwksUnavailableError(`JWKS ${this.url} unavailable: ${(err as Error).message}`, { cause: err });
    }
    // jose's Node build yields KeyObjects for asymmetric keys; a JWKS never serves a usable secret
    if (!(key instanceof KeyObject) || key.type !== 'public')
      throw new UnknownSigningKeyError('the key set offers no public key for this token');
    let pem = this.pems.get(key);
    if (pem === undefined) {
      pem = key.export({ format: 'pem', type: 'spki' }).toString();
      this.pems.set(key, pem);
    }
    return pem;
  }
}
