import { mkdirSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { BrowserContext, Page } from 'playwright-core'
import { chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Federation } from '../../bin/embedded.js'
import type { FederationConfig } from '../../shared/config/federation.js'
import { embeddedConfig, removeDir, startFederation } from '../helpers/embedded.js'
import type { Session } from '../helpers/os-client.js'
import { call, endpoint, login, waitForStatus } from '../helpers/os-client.js'
import type { ProjectUser } from '../helpers/project-user.js'
import { createProjectUser } from '../helpers/project-user.js'

/** Debian's chromium, headless, isolated from the machine (no network of its own, no sync, a fresh profile). */
const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]
/** Where screenshots of the main views go: `DASHBOARD_SCREENSHOTS_DIR=docs` refreshes the README's. */
const SHOTS = resolve(process.env['DASHBOARD_SCREENSHOTS_DIR'] ?? mkdtempSync(join(tmpdir(), 'dashboard-shots-')))
const LEAF = 'api!region-one!dc1'
const WAIT = { timeout: 20_000 }

/**
 * The operator dashboard in a real browser (Debian's chromium driven by playwright-core) against an
 * embedded federation: it logs in through the identity API, reads the tree live, disables a cell,
 * shows a server booted through the API, and hides disable from a non-admin whom the API refuses too.
 */
describe('operator dashboard in headless chromium', () => {
  let cfg: FederationConfig
  let fed: Federation
  let admin: Session
  let viewer: ProjectUser
  let context: BrowserContext
  let base: string
  const profile = mkdtempSync(join(tmpdir(), 'dashboard-chromium-'))

  /** The tree row of one cell (its head: name, state badge, reason). */
  const cellHead = (page: Page, path: string) => page.locator(`li[data-path="${path}"] > .cell-head`)

  /** Logs in through the form, by keyboard only (labels, tab order and Enter must work). */
  const logIn = async (page: Page, user: string, password: string, project: string): Promise<void> => {
    await page.goto(`${base}/dashboard/`)
    await page.getByLabel('User name').focus()
    await page.keyboard.type(user)
    await page.keyboard.press('Tab')
    await page.keyboard.type(password)
    await page.keyboard.press('Tab')
    await page.keyboard.type(project)
    await page.keyboard.press('Enter')
    await page.getByRole('button', { name: 'Log out' }).waitFor(WAIT)
  }

  beforeAll(async () => {
    process.env['FEDERATION_REPORT_INTERVAL_MS'] = '200'
    cfg = embeddedConfig()
    delete process.env['FEDERATION_REPORT_INTERVAL_MS']
    fed = await startFederation(cfg)
    base = fed.api.urls.compute
    admin = await login(fed.api.urls.identity, 'admin', 'secret-admin-pw', 'admin')
    viewer = await createProjectUser(fed.api.urls.identity, admin, 'dashboard-viewer')
    mkdirSync(SHOTS, { recursive: true })
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 900 } })
  })

  afterAll(async () => {
    await context?.close()
    await fed?.stop()
    removeDir(cfg.stateDir)
    removeDir(profile)
  })

  it('serves the built page with a strict content security policy and no third-party origin', async () => {
    const res = await fetch(`${base}/dashboard/`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'")
    const html = await res.text()
    expect(html).toMatch(/<script type="module"[^>]* src="\/dashboard\/assets\/[^"]+\.js"/)
    expect(html).not.toMatch(/https?:\/\//)
  })

  it('logs in, shows the live tree with states and capacity, and disables then enables a cell with a reason', async () => {
    const page = await context.newPage()
    await logIn(page, 'admin', 'secret-admin-pw', 'admin')
    for (const path of ['api!region-one', LEAF, 'api!region-one!dc2', 'api!region-two']) {
      await cellHead(page, path).locator('.badge', { hasText: 'up' }).waitFor(WAIT)
    }
    const leaf = page.locator(`li[data-path="${LEAF}"]`)
    await expect(leaf.locator(':scope > .facts').textContent()).resolves.toMatch(/Hosts up\s*4 \/ 4/)
    const meters = leaf.locator(':scope > .bars [role="meter"]')
    expect(await meters.count()).toBe(3)
    expect(await meters.first().getAttribute('aria-valuetext')).toMatch(/GiB taken \(\d+%\)/)

    await leaf.locator('a.cell-name').first().click()
    await page.getByRole('heading', { name: `Cell ${LEAF}` }).waitFor(WAIT)
    await page.getByRole('table', { name: 'Compute hosts' }).waitFor(WAIT)
    await page.getByText(/pending, lag/).waitFor(WAIT)
    await page.getByLabel('Reason for disabling').fill('dashboard e2e: power work')
    await page.getByRole('button', { name: 'Disable cell' }).click()
    await page.getByRole('button', { name: 'Enable cell' }).waitFor(WAIT)
    const shown = await call(admin, 'GET', `${base}/cell-admin/v1/cells/${LEAF}`)
    expect(shown.body.cell).toMatchObject({ state: 'disabled', disabled_reason: 'dashboard e2e: power work' })

    await page.getByRole('link', { name: 'Cell tree' }).first().click()
    await cellHead(page, LEAF).locator('.badge', { hasText: 'disabled' }).waitFor(WAIT)
    await expect(cellHead(page, LEAF).textContent()).resolves.toContain('power work')
    await page.screenshot({ path: join(SHOTS, 'dashboard-tree.png'), fullPage: true })

    await page.goto(`${base}/dashboard/#/cell/${LEAF}`)
    await page.getByRole('button', { name: 'Enable cell' }).click()
    await page.getByRole('button', { name: 'Disable cell' }).waitFor(WAIT)
    expect((await call(admin, 'GET', `${base}/cell-admin/v1/cells/${LEAF}`)).body.cell.state).toBe('up')

    // Live: the tree, left open, follows a change made elsewhere (here through the API) without a reload.
    await page.getByRole('link', { name: 'Cell tree' }).first().click()
    await cellHead(page, LEAF).locator('.badge', { hasText: 'up' }).waitFor(WAIT)
    const reloads: string[] = []
    page.on('framenavigated', (f) => reloads.push(f.url()))
    expect((await call(admin, 'POST', `${base}/cell-admin/v1/cells/${LEAF}/disable`, { reason: 'changed elsewhere' })).status).toBe(200)
    await cellHead(page, LEAF).getByText('disabled: changed elsewhere').waitFor(WAIT)
    expect((await call(admin, 'POST', `${base}/cell-admin/v1/cells/${LEAF}/enable`, {})).status).toBe(200)
    await cellHead(page, LEAF).locator('.badge', { hasText: 'up' }).waitFor(WAIT)
    expect(reloads).toEqual([])
    await page.close()
  })

  it('shows a server booted through the API in the federation-wide list, with its cell path and host, and in its cell page builds', async () => {
    const page = await context.newPage()
    await logIn(page, 'admin', 'secret-admin-pw', 'admin')
    await page.getByRole('link', { name: 'Servers' }).click()
    await page.getByRole('heading', { name: 'Servers' }).waitFor(WAIT)
    const compute = endpoint(admin, 'compute', 'federation')
    const imageRef = (await call(admin, 'GET', `${endpoint(admin, 'image', 'region-one')}/v2/images?name=cirros`)).body.images[0].id
    const booted = await call(admin, 'POST', `${compute}/servers`, { server: { name: 'dashboard-e2e-vm', imageRef, flavorRef: '1' } })
    expect(booted.status).toBe(202)
    const server = await waitForStatus(admin, compute, booted.body.server.id, 'ACTIVE')
    const row = page.locator(`tr[data-uuid="${server.id}"]`)
    await row.locator('.badge', { hasText: 'ACTIVE' }).waitFor(WAIT)
    const text = (await row.textContent()) ?? ''
    expect(text).toContain('dashboard-e2e-vm')
    expect(text).toContain(server['OS-EXT-SRV-ATTR:host'])
    expect(text).toMatch(/api!region-(one|two)/)

    await page.getByLabel('Name contains').fill('no-such-server-name')
    await page.getByRole('button', { name: 'Search' }).click()
    await page.getByText('no servers').waitFor(WAIT)
    await page.getByLabel('Name contains').fill('dashboard-e2e')
    await page.getByRole('button', { name: 'Search' }).click()
    await row.waitFor(WAIT)
    await page.screenshot({ path: join(SHOTS, 'dashboard-servers.png'), fullPage: true })

    const cellPath = ((await row.locator('td').nth(1).textContent()) ?? '').trim()
    expect(cellPath).toMatch(/^api!region-(one!dc[12]|two)$/)
    await page.goto(`${base}/dashboard/#/cell/${cellPath}`)
    await page.getByRole('table', { name: /Recent builds/ }).getByText(server.id).waitFor(WAIT)
    await page.screenshot({ path: join(SHOTS, 'dashboard-cell.png'), fullPage: true })

    await page.getByRole('link', { name: 'Where does it fit' }).click()
    await page.getByLabel('Flavor').selectOption('m1.small')
    const fitRow = page.locator('tr', { has: page.getByRole('link', { name: LEAF, exact: true }) })
    await fitRow.first().waitFor(WAIT)
    expect(Number((await fitRow.first().locator('td').nth(1).textContent()) ?? 'NaN')).toBeGreaterThan(0)
    await page.screenshot({ path: join(SHOTS, 'dashboard-fit.png'), fullPage: true })
    await page.close()
  })

  it('gives a non-admin no disable button, and the admin API refuses the disable too', async () => {
    const page = await context.newPage()
    await logIn(page, 'dashboard-viewer', 'pw-dashboard-viewer', 'dashboard-viewer')
    await page.getByRole('alert').filter({ hasText: /Policy doesn't allow cells:list.*needs the admin role/ }).waitFor(WAIT)
    await page.goto(`${base}/dashboard/#/cell/${LEAF}`)
    await page.getByRole('alert').filter({ hasText: /cells:show/ }).waitFor(WAIT)
    expect(await page.getByRole('button', { name: /Disable cell|Enable cell/ }).count()).toBe(0)
    expect(await page.getByLabel('Reason for disabling').count()).toBe(0)

    const refused = await call(viewer.session, 'POST', `${base}/cell-admin/v1/cells/${LEAF}/disable`, { reason: 'not mine to disable' })
    expect(refused.status).toBe(403)
    expect(refused.body.error.message).toContain('cells:disable')
    expect((await call(admin, 'GET', `${base}/cell-admin/v1/cells/${LEAF}`)).body.cell).toMatchObject({ state: 'up', disabled_reason: null })

    await page.getByRole('link', { name: 'Servers' }).click()
    await page.getByText("Your project's servers").waitFor(WAIT)
    await page.close()
  })
})
