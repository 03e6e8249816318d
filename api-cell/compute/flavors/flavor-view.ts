import type { Request, Response } from 'express'
import type { Selectable } from 'kysely'
import type { FlavorsTable } from '../../db/compute-schema.js'
import type { Microversion } from '../microversion.js'
import { atLeast } from '../microversion.js'
import { linkBase } from '../request-scope.js'
import { links } from '../servers/views.js'

/**
 * Nova's full flavor representation (show, detail, create, update). `extraSpecs` is shown from
 * 2.61 when given: Tempest's schemas reject the key below 2.61 and `description` below 2.55.
 */
export function flavorView(
  f: Selectable<FlavorsTable>,
  mv: Microversion,
  req: Request,
  res: Response,
  extraSpecs?: Readonly<Record<string, string>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: f.flavorid,
    name: f.name,
    ram: f.memory_mb,
    disk: f.root_gb,
    vcpus: f.vcpus,
    swap: f.swap === 0 && !atLeast(mv, '2.75') ? '' : f.swap,
    'OS-FLV-EXT-DATA:ephemeral': f.ephemeral_gb,
    'OS-FLV-DISABLED:disabled': f.disabled === 1,
    'os-flavor-access:is_public': f.is_public === 1,
    rxtx_factor: f.rxtx_factor,
    links: links(linkBase(req, res), 'flavors', f.flavorid),
  }
  if (atLeast(mv, '2.55')) out['description'] = f.description
  if (atLeast(mv, '2.61') && extraSpecs !== undefined) out['extra_specs'] = extraSpecs
  return out
}

/** `GET /flavors` entry: id, name, links (and description from 2.55). */
export function flavorSummary(f: Selectable<FlavorsTable>, mv: Microversion, req: Request, res: Response): Record<string, unknown> {
  return {
    id: f.flavorid,
    name: f.name,
    links: links(linkBase(req, res), 'flavors', f.flavorid),
    ...(atLeast(mv, '2.55') ? { description: f.description } : {}),
  }
}
