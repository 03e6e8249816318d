import fc from 'fast-check'

/**
 * fast-check arbitraries for hostile API input: names that reach `Object.prototype`, control
 * characters, malformed percent-encoding, over-long strings, wrong types, huge arrays and deep nesting.
 */

/** Keys that reach `Object.prototype` through a bare lookup or an `in` check. */
export const PROTO_KEYS = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__', 'prototype'] as const

/** Field names OpenStack bodies and queries use, so that hostile values land on real fields. */
const FIELDS = [
  'name', 'id', 'imageRef', 'flavorRef', 'metadata', 'tags', 'accessIPv4', 'accessIPv6', 'min_count', 'max_count', 'networks',
  'key_name', 'user_data', 'description', 'availability_zone', 'security_groups', 'policies', 'policy', 'rules', 'ram', 'vcpus',
  'disk', 'swap', 'is_public', 'public_key', 'type', 'user_id', 'password', 'domain_id', 'enabled', 'default_project_id',
  'visibility', 'container_format', 'disk_format', 'min_disk', 'min_ram', 'protected', 'instances', 'cores', 'force', 'status',
  'sort_key', 'sort_dir', 'sort', 'limit', 'marker', 'all_tenants', 'changes-since', 'host', 'image', 'flavor', 'tenant',
  'op', 'path', 'value', 'identity', 'methods', 'scope', 'project', 'user', 'domain', 'extra_specs', 'quota_set', 'binary',
  'signature', 'expires', 'tag', 'member_status', 'size_min', 'size_max', 'os_hidden', 'project_id', 'tenant_id', 'domain_id',
  'reservation_id', 'changes-before', 'deleted', 'detailed', 'hypervisor_hostname', 'with_servers', 'usage', 'user_id',
] as const

/** Top-level body keys of the APIs (resource wrappers and server actions). */
const BODY_ROOTS = [
  'server', 'flavor', 'keypair', 'server_group', 'quota_set', 'quota_class_set', 'metadata', 'meta', 'extra_specs', 'project',
  'user', 'role', 'auth', 'rebuild', 'reboot', 'lock', 'os-start', 'os-stop', 'os-resetState', 'forceDelete', 'addTenantAccess',
  'removeTenantAccess', 'aggregate', 'service', 'os:scheduler_hints',
] as const

/** Strings built to hurt: control characters, bad escapes, regex bombs, Unicode oddities, very long ones. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '', ' ', '\u0000', 'a\u0000b', '\u001b[31m', '\u007f', '\ud800', '\uffff', '%', '%ff', '%zz', '%00', '../..', '..%2f..',
    '(a+)+$', '(', '[', '\\', '*', '(?=a)', '(a)\\1', 'a{1000}{1000}', 'NaN', 'Infinity', '-1', '0', '1e309', '9'.repeat(40),
    'null', 'true', 'True', '{}', '[]', "' OR 1=1 --", '<script>', '\r\n', 'é', '🙂', ...PROTO_KEYS,
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom(300, 1000, 70_000).map((n) => 'a'.repeat(n)),
)

/** A JSON value with hostile leaves, prototype-ish and real field names as keys, up to `depth` deep. */
export const hostileJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileString,
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.constantFrom(...FIELDS), fc.constantFrom(...PROTO_KEYS), hostileString), tie('value'), { maxKeys: 5 }),
    fc.constantFrom(2000, 20_000).map((n) => Array.from({ length: n }, (_, i) => i)),
    fc.constant(Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, 'v']))),
  ),
})).value

/** A request body as text: mostly `{"<root>": <hostile>}`, sometimes broken JSON or deep nesting. */
export const hostileBody: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.tuple(fc.constantFrom(...BODY_ROOTS), hostileJson).map(([k, v]) => JSON.stringify({ [k]: v })), weight: 6 },
  { arbitrary: hostileJson.map((v) => JSON.stringify(v) ?? 'null'), weight: 2 },
  { arbitrary: fc.constantFrom('{', '{"a":', '[1,]', 'nul', '\u0000', '{"a":"\\ud800"}', '{"__proto__":{"x":1}}'), weight: 1 },
  { arbitrary: fc.constantFrom(40, 200, 20_000).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`), weight: 1 },
)

/** A path segment: hostile text, percent-encoded or not (so some are malformed escapes). */
export const hostileSegment: fc.Arbitrary<string> = fc.oneof(
  hostileString.map((s) => encodeURIComponent(safeForUri(s))),
  fc.constantFrom('%ff', '%zz', '%', '%e0%80', '%ed%a0%80', '%00', '%2e%2e', 'a%2fb', ...PROTO_KEYS),
)

/** A query string of 0-4 hostile pairs on real parameter names, prototype names or junk. */
export const hostileQuery: fc.Arbitrary<string> = fc
  .array(
    fc.tuple(fc.oneof(fc.constantFrom(...FIELDS), fc.constantFrom(...PROTO_KEYS), hostileSegment), fc.oneof(hostileSegment, fc.constantFrom('%ff', '(a%2B)%2B%24'))),
    { maxLength: 4 },
  )
  .map((pairs) => pairs.map(([k, v]) => `${k.length === 0 ? 'x' : k}=${v}`).join('&'))

/** Tokens that are not ours: empty-ish, garbage, over-long, token-shaped. */
export const hostileToken: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('x', 'gAAAAA', 'null', '%ff', 'a'.repeat(8000)),
  fc.string({ maxLength: 60 }).map((s) => s.replace(/[^\x21-\x7e]/g, 'x') || 'x'),
)

/** Header values fetch accepts (visible ASCII and spaces). */
const printable = fc.string({ maxLength: 30 }).map((s) => s.replace(/[^\x20-\x7e]/g, '').trim())

/** Headers the APIs read (microversions, content types), with hostile but transmittable values. */
export const hostileHeaders: fc.Arbitrary<Record<string, string>> = fc.record(
  {
    'openstack-api-version': fc.oneof(fc.constantFrom('compute 2.1', 'compute 2.100', 'compute latest', 'compute 2.', 'compute 2.9999999999', 'image 2.1'), printable),
    'x-openstack-nova-api-version': fc.oneof(fc.constantFrom('2.1', '2.95', '3.0', 'latest', '-1'), printable),
    'content-type': fc.constantFrom('application/json', 'application/openstack-images-v2.1-json-patch', 'application/octet-stream', 'text/plain', 'application/json; charset=latin1', ''),
  },
  { requiredKeys: ['content-type'] },
)

/** A lone surrogate cannot be percent-encoded: swap it for U+FFFD. */
function safeForUri(s: string): string {
  return s.replace(/[\ud800-\udfff]/g, '\ufffd')
}
