import fp from 'fastify-plugin';
import { ApiError } from '../errors';
import { rawHeaderValues } from '../raw-headers';

/** RFC 9110 §7.2 Host = uri-host [ ":" port ]: an IP literal, or reg-name / IPv4 characters (empty is allowed). */
const HOST_VALUE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::[0-9]*)?$/;

/**
 * RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without Host, and to any request with
 * more than one Host line or an invalid Host value. Node keeps the first of two Host lines silently,
 * and its own check of a missing Host (requireHostHeader, turned off in api/app.ts) answers a bare 400
 * before Fastify sees the request; here the refusal is a problem document with the request id and the
 * security headers, like every other answer. HTTP/1.0 has no Host requirement, so a 1.0 request
 * without one is served (old probes and tools send none).
 */
export default fp(
  async (app) => {
    app.addHook('onRequest', async (request) => {
      const hosts = rawHeaderValues(request.raw.rawHeaders, 'host');
      if (hosts.length > 1) throw new ApiError('BAD_REQUEST', 'send exactly one Host header');
      const [host] = hosts;
      if (host === undefined) {
        if (request.raw.httpVersion === '1.0') return;
        throw new ApiError('BAD_REQUEST', 'an HTTP/1.1 request needs a Host header');
      }
      if (!HOST_VALUE.test(host)) throw new ApiError('BAD_REQUEST', 'the Host header is not a valid host[:port]');
    });
  },
  { name: 'host-header', fastify: '5.x' },
);
