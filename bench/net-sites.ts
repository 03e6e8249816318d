import type { ChildProcess } from 'node:child_process'
import { execFileSync, spawn } from 'node:child_process'
import { join } from 'node:path'
import { packageRoot } from '../shared/paths.js'
import type { RelayRoute } from './site-relay.js'

const root = packageRoot()

/**
 * Network namespaces for rehearsing separate sites (needs root and iproute2): one namespace per
 * site, veth pairs between them with their own addresses, an added delay on every inter-site link
 * (`tc netem` where the kernel has it, otherwise the relay's delay), and a way to cut a link.
 * Everything is named with a random tag and removed by {@link NetSites.destroy}, even half built.
 */
export interface NetSites {
  /** Namespace name of each site. */
  readonly ns: Readonly<Record<string, string>>
  /** How the inter-site delay is made: `netem` or `relay` (kernel without sch_netem). */
  readonly delayBy: 'netem' | 'relay'
  /** `ip netns exec`s `argv` in the site's namespace; the child is killed by destroy(). */
  spawnIn(site: string, argv: readonly string[], env?: NodeJS.ProcessEnv): ChildProcess
  /** Starts a site-relay (bench/site-relay.ts) in the site's namespace (`undefined`: the root one). */
  relay(site: string | undefined, routes: readonly RelayRoute[]): Promise<ChildProcess>
  /** Adds `address` (`/32`) to the loopback of the site's namespace (a local relay listens there). */
  addLocalAddress(site: string, address: string): void
  /** Takes the link between the hub and `site` down (`false`) or up again (`true`). */
  setLink(site: string, up: boolean): void
  destroy(): Promise<void>
}

const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })

/** A star of sites: `hub` linked to each of `spokes`. Link i is 10.<b>.<i+1>.0/30: hub .1, spoke .2. */
export interface StarLayout {
  readonly hub: string
  readonly spokes: readonly string[]
  /** One-way delay on each inter-site link, in ms, each direction. */
  readonly oneWayDelayMs: number
}

/** Address of `site` on its link to the hub (the hub's own on the link to `spoke`, with `hubSide`). */
export function starAddress(layout: StarLayout, spoke: string, hubSide = false): string {
  const i = layout.spokes.indexOf(spoke)
  if (i < 0) throw new Error(`no spoke ${spoke}`)
  return `10.231.${i + 1}.${hubSide ? 1 : 2}`
}

/**
 * Builds the namespaces and links of `layout`. Fails with a clear message when `ip netns` cannot
 * be used (not root, no iproute2): the rehearsal must not pass by skipping.
 */
export async function createStar(layout: StarLayout): Promise<NetSites> {
  const tag = Math.random().toString(36).slice(2, 7)
  const ns: Record<string, string> = {}
  const children: ChildProcess[] = []
  const made: string[] = []
  const destroy = async (): Promise<void> => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM')
    await new Promise((r) => setTimeout(r, 1000))
    // Whatever still runs in our namespaces (supervisors' children included) goes now.
    for (const name of made) {
      const pids = (() => {
        try {
          return ip('netns', 'pids', name).split('\n').filter((p) => p.trim() !== '')
        } catch {
          return []
        }
      })()
      for (const p of pids) {
        try {
          process.kill(Number(p), 'SIGKILL')
        } catch {
          // gone already
        }
      }
    }
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
    await new Promise((r) => setTimeout(r, 300))
    // Deleting a namespace deletes the veth ends in it, and so their peers.
    for (const name of made) {
      try {
        ip('netns', 'del', name)
      } catch {
        // already gone
      }
    }
  }
  try {
    for (const site of [layout.hub, ...layout.spokes]) {
      const name = `fedsite-${tag}-${site}`
      try {
        ip('netns', 'add', name)
      } catch (err) {
        throw new Error(`the separate-sites rehearsal needs network namespaces (run as root with iproute2): ip netns add failed: ${String(err)}`, { cause: err })
      }
      made.push(name)
      ns[site] = name
      ip('-n', name, 'link', 'set', 'lo', 'up')
    }
    const hubNs = ns[layout.hub] as string
    let delayBy: 'netem' | 'relay' = 'netem'
    layout.spokes.forEach((spoke, i) => {
      const spokeNs = ns[spoke] as string
      const [h, s] = [`fs${tag}h${i}`, `fs${tag}s${i}`]
      ip('link', 'add', h, 'type', 'veth', 'peer', 'name', s)
      ip('link', 'set', h, 'netns', hubNs)
      ip('link', 'set', s, 'netns', spokeNs)
      ip('-n', hubNs, 'addr', 'add', `${starAddress(layout, spoke, true)}/30`, 'dev', h)
      ip('-n', spokeNs, 'addr', 'add', `${starAddress(layout, spoke)}/30`, 'dev', s)
      ip('-n', hubNs, 'link', 'set', h, 'up')
      ip('-n', spokeNs, 'link', 'set', s, 'up')
      if (delayBy === 'netem') {
        try {
          for (const [n, dev] of [[hubNs, h], [spokeNs, s]] as const) {
            execFileSync('ip', ['netns', 'exec', n, 'tc', 'qdisc', 'add', 'dev', dev, 'root', 'netem', 'delay', `${layout.oneWayDelayMs}ms`], { stdio: 'pipe' })
          }
        } catch (err) {
          // Kernels built without sch_netem ("Specified qdisc kind is unknown"): the relay delays.
          if (!String((err as { stderr?: unknown }).stderr ?? err).includes('qdisc kind is unknown')) throw err
          delayBy = 'relay'
        }
      }
    })
    const linkOf = (site: string): string => `fs${tag}h${layout.spokes.indexOf(site)}`
    return {
      ns,
      delayBy,
      spawnIn: (site, argv, env) => {
        const c = spawn('ip', ['netns', 'exec', ns[site] as string, ...argv], { env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
        children.push(c)
        return c
      },
      relay: async (site, routes) => {
        const argv = [process.execPath, join(root, 'dist', 'bench', 'site-relay.js'), JSON.stringify(routes)]
        const c = site === undefined ? spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn('ip', ['netns', 'exec', ns[site] as string, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] })
        children.push(c)
        let out = ''
        await new Promise<void>((ok, fail) => {
          c.stdout?.on('data', (b: Buffer) => {
            out += b.toString()
            if (out.includes('ready')) ok()
          })
          c.stderr?.on('data', (b: Buffer) => (out += b.toString()))
          c.once('exit', (code) => fail(new Error(`site relay in ${site ?? 'the root namespace'} exited (${String(code)}): ${out}`)))
        })
        return c
      },
      addLocalAddress: (site, address) => {
        ip('-n', ns[site] as string, 'addr', 'add', `${address}/32`, 'dev', 'lo')
      },
      setLink: (site, up) => {
        ip('-n', hubNs, 'link', 'set', linkOf(site), up ? 'up' : 'down')
      },
      destroy,
    }
  } catch (err) {
    await destroy()
    throw err
  }
}
