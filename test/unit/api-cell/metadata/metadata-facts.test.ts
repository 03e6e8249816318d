import { describe, expect, it } from 'vitest'
import type { InstanceLocator, Located } from '../../../../api-cell/compute/servers/locator.js'
import { MetadataFacts } from '../../../../api-cell/metadata/metadata-facts.js'
import type { MetadataServer } from '../../../../api-cell/metadata/metadata-server.js'
import { startMetadataServer } from '../../../../api-cell/metadata/metadata-server.js'
import { recordFromSpec } from '../../../../shared/cell-link/build-spec.js'
import { CellUnreachableError, NotFoundError } from '../../../../shared/errors.js'
import { createLogger } from '../../../../shared/logging.js'
import type { NetworkInfo } from '../../../../shared/network/network-info.js'
import { buildSpecFixture } from '../../../helpers/build-spec.js'

const spec = buildSpecFixture({ userData: Buffer.from('hello').toString('base64'), metadata: { a: 'b' } })
const record = { ...recordFromSpec(spec), cellPath: 'api!region-one!dc1', availabilityZone: 'nova' }

/** A locator that answers from `answers` in turn, counting the reads. */
function locator(answers: Array<Located | Error>): { locator: InstanceLocator; reads: () => number } {
  let n = 0
  return {
    locator: {
      get: () => {
        const a = answers[Math.min(n, answers.length - 1)]
        n += 1
        return a instanceof Error ? Promise.reject(a) : Promise.resolve(a)
      },
    } as unknown as InstanceLocator,
    reads: () => n,
  }
}
const located = (unknown = false): Located => ({ record, mapping: {} as Located['mapping'], unknown })

describe('metadata facts', () => {
  it('reads an instance once per cache period, with its region and its interfaces', async () => {
    const l = locator([located()])
    const ports: NetworkInfo = []
    const facts = new MetadataFacts({ db: undefined as never, locator: l.locator, interfaces: { interfacesOf: () => Promise.resolve(new Map([[record.uuid, ports]])) }, ttlMs: 60_000 })
    const first = await facts.of(record.uuid)
    await facts.of(record.uuid)
    expect(l.reads()).toBe(1)
    expect(first?.region).toBe('region-one')
    expect(first?.facts).toMatchObject({ uuid: record.uuid, userData: spec.userData, metadata: { a: 'b' }, availabilityZone: 'nova', keyName: null, networkInfo: ports })
  })

  it('reads again once the period is over', async () => {
    const l = locator([located()])
    const facts = new MetadataFacts({ db: undefined as never, locator: l.locator, ttlMs: 0 })
    await facts.of(record.uuid)
    await facts.of(record.uuid)
    expect(l.reads()).toBe(2)
  })

  it('an unknown instance is undefined; a cell that cannot answer is an error, not kept', async () => {
    expect(await new MetadataFacts({ db: undefined as never, locator: locator([new NotFoundError('gone')]).locator }).of(record.uuid)).toBeUndefined()
    const l = locator([located(true), located()])
    const facts = new MetadataFacts({ db: undefined as never, locator: l.locator, ttlMs: 60_000 })
    await expect(facts.of(record.uuid)).rejects.toBeInstanceOf(CellUnreachableError)
    expect((await facts.of(record.uuid))?.facts.uuid).toBe(record.uuid)
    expect(l.reads()).toBe(2)
  })

  it('the listener answers 500 when the cell cannot answer, never stale or other data', async () => {
    const facts = new MetadataFacts({ db: undefined as never, locator: locator([located(true)]).locator })
    let server: MetadataServer | undefined
    try {
      server = await startMetadataServer({
        region: 'region-one', host: '127.0.0.1', port: 0, facts, log: createLogger('test'),
        addresses: { instanceByAddress: () => Promise.resolve({ instanceUuid: record.uuid, projectId: record.projectId }) },
      })
      const res = await fetch(`http://127.0.0.1:${server.port}/openstack/latest/meta_data.json`)
      expect(res.status).toBe(500)
      expect(await res.text()).not.toContain(record.uuid)
    } finally {
      await server?.close()
    }
  })
})
