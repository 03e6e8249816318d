/**
 * The Neutron extensions this service implements, as `GET /v2.0/extensions` lists them. Clients
 * decide what to send and show from this list (openstackclient checks e.g. `binding`, `provider`,
 * `external-net`, `quotas`, `security-group`), so it names only what is served: no `router`.
 */
const UPDATED = '2026-12-07T00:00:00-00:00'

const EXTENSIONS: readonly { readonly alias: string; readonly name: string; readonly description: string }[] = [
  { alias: 'network', name: 'Neutron L2 network', description: 'Networks.' },
  { alias: 'subnet', name: 'Neutron L3 subnet', description: 'Subnets.' },
  { alias: 'port', name: 'Neutron L2 port', description: 'Ports.' },
  { alias: 'binding', name: 'Port Binding', description: 'Expose port bindings of a virtual port to external application' },
  { alias: 'provider', name: 'Provider Network', description: 'Expose mapping of virtual networks to physical networks' },
  { alias: 'external-net', name: 'Neutron external network', description: 'Adds external network attribute to network resource.' },
  { alias: 'quotas', name: 'Quota management support', description: 'Expose functions for quotas management per tenant' },
  { alias: 'quota_details', name: 'Quota details management support', description: 'Expose functions for quotas usage statistics per project' },
  { alias: 'security-group', name: 'security-group', description: 'The security groups extension.' },
  { alias: 'port-security', name: 'Port Security', description: 'Provides port security' },
  { alias: 'net-mtu', name: 'Network MTU', description: 'Provides MTU attribute for a network resource.' },
  { alias: 'network_availability_zone', name: 'Network Availability Zone', description: 'Availability zone support for network.' },
  { alias: 'standard-attr-description', name: 'standard-attr-description', description: 'Extension to add descriptions to standard attributes' },
  { alias: 'standard-attr-timestamp', name: 'Resource timestamps', description: 'Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes.' },
  { alias: 'standard-attr-revisions', name: 'Resource revision numbers', description: 'This extension will display the revision number of neutron resources.' },
  { alias: 'pagination', name: 'Pagination support', description: 'Extension that indicates that pagination is enabled.' },
  { alias: 'sorting', name: 'Sorting support', description: 'Extension that indicates that sorting is enabled.' },
  { alias: 'project-id', name: 'project_id field enabled', description: 'Extension that indicates that project_id field is enabled.' },
  { alias: 'allowed-address-pairs', name: 'Allowed Address Pairs', description: 'Provides allowed address pairs' },
]

/** One extension as Neutron renders it. */
export function renderExtension(e: (typeof EXTENSIONS)[number]): Record<string, unknown> {
  return { alias: e.alias, name: e.name, description: e.description, updated: UPDATED, links: [] }
}

/** Every extension served. */
export function extensionList(): Record<string, unknown>[] {
  return EXTENSIONS.map(renderExtension)
}

/** One extension by alias, or undefined. */
export function extensionByAlias(alias: string): Record<string, unknown> | undefined {
  const e = EXTENSIONS.find((x) => x.alias === alias)
  return e === undefined ? undefined : renderExtension(e)
}
