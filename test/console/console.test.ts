import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { transferIdFor, workflowIdFor } from '../../domain/ids';
import { recordTransfer } from '../../domain/transfers/records';
import { customer, FINANCE, getWallet, postDeposit, startApp, uniqueKey } from '../api/helpers';
import { authHeaders, tokenFor, type TestCaller } from '../support/auth';
import { launchChromium } from '../support/chromium';
import { ownDatabase, testConfig, uniqueTaskQueue } from '../support/env';
import { SwitchableAccounting, startTransferWorker, type RunningWorker } from '../support/transfer-worker';
import { createWalletAs, transferAs } from '../security/fixtures';
import { query } from '../support/sql';

/** Screenshots of every page, for review (git-ignored). */
const SHOTS = path.resolve(__dirname, '../../test-results/console');

/**
 * The finance console in a real browser (playwright-core driving Chromium; test/support/chromium.ts
 * says how it is found): the real API listening on a port, a real worker whose accounting system the
 * test takes down to park transfers (a budget of one attempt: they park at once), in a database of
 * its own (the reconciliation run checks all of it). One browser for the file, a context per person.
 */
describe('finance console in a browser', () => {
  const database = ownDatabase('console');
  const env = {
    ...database.overrides,
    TEMPORAL_TASK_QUEUE: uniqueTaskQueue('console'),
    TRANSFER_STEP_MAX_ATTEMPTS: '1',
    TEMPORAL_UI_URL: 'http://127.0.0.1:8233',
  };
  const fiona: TestCaller = { sub: 'fiona', roles: ['finance'] };
  const ada: TestCaller = { sub: 'ada', roles: ['admin'] };
  const otto: TestCaller = { sub: 'otto', roles: ['ops'] };
  const alice = customer(uniqueKey('alice'));
  const bob = customer(uniqueKey('bob'));
  let app: FastifyInstance;
  let worker: RunningWorker;
  let accounting: SwitchableAccounting;
  let browser: Browser;
  let base: string;
  const wallets = { A: '', B: '' };
  const contexts: BrowserContext[] = [];
  /** what went wrong inside the pages (script errors, CSP violations): must stay empty */
  const pageErrors: string[] = [];

  beforeAll(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    const [, launched] = await Promise.all([database.create(), launchChromium()]);
    browser = launched;
    worker = await startTransferWorker(testConfig(env), {
      accounting: (book) => (accounting = new SwitchableAccounting(book)),
    });
    app = await startApp(env);
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    wallets.A = (await createWalletAs(app, alice)).id;
    wallets.B = (await createWalletAs(app, bob)).id;
    expect((await postDeposit(app, wallets.A, { amount: 100_000 })).statusCode).toBe(201);
  });

  afterEach(async () => {
    if (accounting) accounting.available = true;
    await Promise.all(contexts.splice(0).map((c) => c.close()));
    expect(pageErrors.splice(0)).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await worker?.stop();
    await database.drop();
  });

  /** A transfer parked by an accounting outage (the outage goes on until the test heals it). */
  async function parkedTransfer(amount: number): Promise<string> {
    accounting.available = false;
    const res = await transferAs(
      app,
      alice,
      { fromWalletId: wallets.A, toWalletId: wallets.B, amount },
      uniqueKey('park'),
      { prefer: 'wait=30' },
    );
    expect([res.statusCode, res.json<{ status: string }>().status]).toEqual([200, 'NEEDS_ATTENTION']);
    return res.json<{ id: string }>().id;
  }

  /** A browser tab signed in as `who` through the development link (npm run token -- --console). */
  async function signIn(who: TestCaller, route = ''): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(`${who.sub}: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !/status of 40[39]/.test(msg.text())) pageErrors.push(`${who.sub}: ${msg.text()}`);
    });
    await page.goto(`${base}/console/#token=${tokenFor(who)}`);
    await page.locator('#who:not([hidden])').waitFor();
    if (route) await page.goto(`${base}/console/${route}`);
    return page;
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  const text = async (page: Page, selector: string) => ((await page.locator(selector).textContent()) ?? '').trim();
  const decisionsOf = async (transferId: string) => {
    const res = await app.inject({
      method: 'GET',
      url: '/v1/audit',
      query: { target: transferId },
      headers: authHeaders(FINANCE),
    });
    return res.json<{ items: Array<{ action: string; actor: string; reason: string }> }>().items;
  };

  it('shows a transfer parked by an accounting outage with its reason; finance retries it once the outage heals, and it completes', async () => {
    const id = await parkedTransfer(300);
    const page = await signIn(fiona);

    // the token left the URL for this tab's sessionStorage
    expect(page.url()).toBe(`${base}/console/#/parked`);
    expect(await page.evaluate('[sessionStorage.length, localStorage.length]')).toEqual([1, 0]);
    expect(await text(page, '#who-text')).toBe('Signed in as fiona (finance)');

    const row = page.locator(`#parked tr[data-transfer-id="${id}"]`);
    await row.waitFor();
    const cells = await row.locator('td').allTextContents();
    expect(cells.slice(1, 2)).toEqual(['3.00 EUR']);
    expect(cells[4]).toBe('accounting');
    expect(cells[5]).toContain('accounting system unavailable');
    expect(cells[7]).toMatch(/^\d+ d \d+ h$/); // the default deadline: 72 h

    // the filters go to the API (currency, failed step)
    await page.fill('#filter-currency', 'usd');
    await page.click('#filters button[type=submit]');
    await page.locator('#parked-count', { hasText: 'No parked transfers' }).waitFor();
    await page.fill('#filter-currency', 'eur');
    await page.selectOption('#filter-step', 'accounting');
    await page.click('#filters button[type=submit]');
    await row.waitFor();
    expect(page.url()).toBe(`${base}/console/#/parked?currency=EUR&step=accounting`);
    // every field has a label
    expect(
      await page.evaluate(
        `[...document.querySelectorAll('input, select, textarea')].every((el) => el.labels.length > 0)`,
      ),
    ).toBe(true);
    await shot(page, 'parked-transfers');

    await row.locator('a').click();
    await page.locator('#transfer-status', { hasText: 'NEEDS_ATTENTION' }).waitFor();
    expect(await text(page, '#failure')).toContain('accounting system unavailable');
    expect(await page.getAttribute('#temporal-link', 'href')).toBe(
      `http://127.0.0.1:8233/namespaces/default/workflows/transfer-${id}`,
    );
    await shot(page, 'transfer-parked');

    accounting.available = true;
    const decisions: string[] = [];
    const keys: Array<string | undefined> = [];
    page.on('request', (r) => {
      if (r.method() !== 'POST') return;
      decisions.push(r.url());
      keys.push(r.headers()['idempotency-key']);
    });

    // keyboard: Enter opens the dialog with the focus in the reason; Escape backs out, nothing is sent
    await page.focus('#retry');
    await page.keyboard.press('Enter');
    await page.locator('#confirm[open]').waitFor();
    expect(await page.evaluate('document.activeElement.id')).toBe('confirm-reason');
    await page.keyboard.press('Escape');
    await page.locator('#confirm:not([open])').waitFor({ state: 'attached' });

    // a reason is required
    await page.click('#retry');
    await page.click('#confirm-ok');
    expect(await text(page, '#confirm-error')).toContain('Give a reason');
    expect(decisions).toEqual([]);

    // a double click sends one decision
    await page.fill('#confirm-reason', 'accounting restored (INC-42)');
    await page.dblclick('#confirm-ok');
    await page.locator('#outcome', { hasText: 'Retry applied' }).waitFor();
    await page.locator('#transfer-status', { hasText: 'COMPLETED' }).waitFor({ timeout: 20_000 });
    await page.locator('#audit tr[data-action="transfer.retry"]').waitFor();
    expect(decisions).toEqual([`${base}/v1/transfers/${id}/retry`]);
    expect(keys).toEqual([expect.stringMatching(/^console-[0-9a-f]{32}$/)]);
    expect(await page.locator('#retry').count()).toBe(0);
    expect(await text(page, '#audit')).toContain('accounting restored (INC-42)');
    expect((await decisionsOf(id)).map((a) => [a.action, a.actor, a.reason])).toEqual([
      ['transfer.retry', 'fiona', 'accounting restored (INC-42)'],
    ]);
    await shot(page, 'transfer-completed');
  });

  it('applies exactly one decision when two people decide the same transfer at once; the other sees the refusal', async () => {
    const id = await parkedTransfer(200);
    accounting.available = true;
    const [first, second] = await Promise.all([signIn(fiona, `#/transfer/${id}`), signIn(ada, `#/transfer/${id}`)]);
    for (const [page, action] of [
      [first, 'retry'],
      [second, 'cancel'],
    ] as const) {
      await page.locator('#transfer-status', { hasText: 'NEEDS_ATTENTION' }).waitFor();
      await page.click(`#${action}`);
      await page.fill('#confirm-reason', `${action} from the race test`);
    }
    await Promise.all([first.click('#confirm-ok'), second.click('#confirm-ok')]);
    const outcomes = await Promise.all(
      [first, second].map(async (page) => {
        await page.locator('#outcome:not([hidden])').waitFor();
        return text(page, '#outcome');
      }),
    );
    const applied = outcomes.filter((o) => / applied: /.test(o));
    const refused = outcomes.filter((o) => /^Refused: /.test(o));
    expect([applied.length, refused.length]).toEqual([1, 1]);
    expect(refused[0]).toContain('Nothing was changed by your request');

    const rows = await decisionsOf(id);
    expect(rows).toHaveLength(1);
    const loser = refused[0] === outcomes[0] ? first : second;
    await loser.locator('#audit tr[data-action]').first().waitFor();
    await shot(loser, 'decision-refused');
    // the winner's decision took effect
    const expected = rows[0]!.action === 'transfer.retry' ? 'COMPLETED' : 'CANCELLED';
    await loser.locator('#transfer-status', { hasText: expected }).waitFor({ timeout: 20_000 });
  });

  it('cancels a parked transfer with a reason: CANCELLED, the held funds released, the audit row on the page', async () => {
    const id = await parkedTransfer(400);
    expect((await getWallet(app, wallets.A)).held).toBe(400);
    accounting.available = true; // the reversal leaves its tombstone in the book
    const page = await signIn(fiona, `#/transfer/${id}`);
    await page.locator('#transfer-status', { hasText: 'NEEDS_ATTENTION' }).waitFor();
    await page.click('#cancel');
    expect(await text(page, '#confirm-text')).toContain('4.00 EUR');
    await page.fill('#confirm-reason', 'customer withdrew the order');
    await page.click('#confirm-ok');
    await page.locator('#outcome', { hasText: 'Cancel applied: the transfer is now CANCELLED' }).waitFor();
    await page.locator('#transfer-status', { hasText: 'CANCELLED' }).waitFor();
    const audit = page.locator('#audit tr[data-action="transfer.cancel"]');
    await audit.waitFor();
    expect(await audit.textContent()).toContain('customer withdrew the order');
    expect(await audit.textContent()).toContain('fiona (finance)');
    expect(await text(page, '#failure')).toContain('CANCELLED_BY_FINANCE');
    expect(await getWallet(app, wallets.A)).toMatchObject({ held: 0 });
    await shot(page, 'transfer-cancelled');
  });

  it('re-sends a decision whose answer was lost with the same key, and shows its outcome, not a refusal', async () => {
    const id = await parkedTransfer(500);
    accounting.available = true;
    const page = await signIn(fiona, `#/transfer/${id}`);
    await page.locator('#transfer-status', { hasText: 'NEEDS_ATTENTION' }).waitFor();
    // the first decision reaches the API and is applied, but its answer is lost on the way back (a 503
    // from a proxy in between); the ones after it pass untouched
    const sent: Array<string | undefined> = [];
    let lost = 0;
    await page.route(`**/v1/transfers/${id}/cancel`, async (route) => {
      sent.push(route.request().headers()['idempotency-key']);
      const answer = await route.fetch();
      if (lost++ > 0) return route.fulfill({ response: answer });
      return route.fulfill({
        status: 503,
        contentType: 'application/problem+json',
        body: JSON.stringify({ code: 'SERVICE_UNAVAILABLE', detail: 'lost' }),
      });
    });
    await page.click('#cancel');
    await page.fill('#confirm-reason', 'answer lost on the way');
    await page.click('#confirm-ok');
    await page
      .locator('#outcome', { hasText: 'Cancel applied: the transfer is now CANCELLED' })
      .waitFor({ timeout: 20_000 });
    expect(sent).toHaveLength(2);
    expect(sent[1]).toBe(sent[0]);
    expect((await decisionsOf(id)).map((a) => a.action)).toEqual(['transfer.cancel']);
    // the browser logs the 503 made up above; nothing else may have gone wrong in the page
    expect(pageErrors.splice(0)).toEqual([expect.stringContaining('status of 503')]);
  });

  it('refuses a customer; shows ops everything read-only, without decision or start buttons', async () => {
    const customerPage = await signIn(alice);
    await customerPage.locator('#refusal').waitFor();
    expect(await text(customerPage, '#refusal')).toContain('for finance, ops and admin staff');
    expect(await text(customerPage, '#refusal')).toContain('with the role customer');
    expect(await customerPage.locator('#nav').isHidden()).toBe(true);
    // the API is the authority: the same token, called by hand from the page, is refused
    // (page scripts are strings: this project's TypeScript has no DOM types)
    const status = await customerPage.evaluate(`(async () => {
      const token = sessionStorage.getItem('wallet-console.token');
      return (await fetch('/v1/reconciliation/runs', { headers: { authorization: 'Bearer ' + token } })).status;
    })()`);
    expect(status).toBe(403);
    await shot(customerPage, 'refused-customer');
    // signing out forgets the token
    await customerPage.click('#sign-out');
    await customerPage.locator('main .notice', { hasText: 'You are signed out.' }).waitFor();
    expect(await customerPage.evaluate('sessionStorage.length')).toBe(0);

    const id = await parkedTransfer(100);
    const ops = await signIn(otto);
    await ops.locator(`#parked tr[data-transfer-id="${id}"]`).waitFor();
    expect(await text(ops, 'main')).toContain('read-only access (ops)');
    await ops.click(`#parked tr[data-transfer-id="${id}"] a`);
    await ops.locator('#transfer-status', { hasText: 'NEEDS_ATTENTION' }).waitFor();
    await ops.locator('#read-only').waitFor();
    expect(await ops.locator('#retry, #cancel').count()).toBe(0);
    await shot(ops, 'ops-transfer-read-only');
    await ops.click('#nav a[data-section="reconciliation"]');
    await ops.locator('h1', { hasText: 'Reconciliation' }).waitFor();
    await ops.locator('#read-only').waitFor();
    expect(await ops.locator('#start-run').count()).toBe(0);

    // without a token, the page explains how to sign in
    const context = await browser.newContext();
    contexts.push(context);
    const anonymous = await context.newPage();
    await anonymous.goto(`${base}/console/`);
    await anonymous.locator('h1', { hasText: 'Sign in' }).waitFor();
    expect(await text(anonymous, 'main')).toContain('npm run -s token -- --sub fiona --role finance --console');
    await shot(anonymous, 'sign-in');
    // an expired sign-in link opened in the same tab (only the fragment changes: the page reloads itself
    // with the new token): told so, and the token is dropped
    await anonymous.goto(`${base}/console/#token=${tokenFor({ ...fiona, ttlSeconds: -120 })}`);
    await anonymous.locator('main .notice', { hasText: 'no longer valid' }).waitFor();
    expect(await anonymous.evaluate('sessionStorage.length')).toBe(0);
  });

  it('starts a reconciliation run from the page and shows its result, with the discrepancy it found and repaired', async () => {
    // a transfer recorded whose saga never started (the API died in between), five minutes ago
    const key = uniqueKey('lost');
    const lostId = transferIdFor(alice.sub, key);
    await recordTransfer(app.db, {
      id: lostId,
      callerId: alice.sub,
      idempotencyKey: key,
      requestHash: 'lost-request',
      fromWalletId: wallets.A,
      toWalletId: wallets.B,
      amount: 50n,
      currency: 'EUR',
      workflowId: workflowIdFor(lostId),
    });
    await query(app.db, `UPDATE transfers SET created_at = now() - interval '5 minutes' WHERE id = $1`, [lostId]);

    const page = await signIn(fiona, '#/reconciliation');
    await page.locator('#start-run').waitFor();
    await page.click('#start-run');
    await page.fill('#confirm-reason', 'month-end close check');
    await page.click('#confirm-ok');
    await page.waitForURL(/#\/reconciliation\/[0-9a-f-]{36}$/);
    const runId = page.url().split('/').pop()!;
    await page.locator('#run-status', { hasText: 'succeeded' }).waitFor({ timeout: 30_000 });
    const run = (
      await app.inject({ method: 'GET', url: `/v1/reconciliation/runs/${runId}`, headers: authHeaders(FINANCE) })
    ).json<{
      discrepancies: number;
      requestedBy: string;
    }>();
    expect(run).toMatchObject({ discrepancies: 1, requestedBy: 'fiona' });
    expect(await text(page, '#run-result')).toBe('1: transfer_without_workflow 1');
    expect(await text(page, '#run-facts')).toContain('manual, by fiona');
    const found = await page.locator('#discrepancies tbody tr').allTextContents();
    expect(found).toHaveLength(1);
    expect(found[0]).toContain('transfer_without_workflow');
    expect(found[0]).toContain(lostId);
    expect(found[0]).toContain('saga started under its workflow id');
    await shot(page, 'reconciliation-run');

    await page.click('.crumbs a');
    const row = page.locator(`#runs tr[data-run-id="${runId}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain('manual (fiona)');
    expect(await row.textContent()).toContain('succeeded');
    expect(await row.textContent()).toContain('transfer_without_workflow 1');
    await shot(page, 'reconciliation-runs');
    // the repair started the lost transfer's saga: it completes (the books end consistent)
    const deadline = Date.now() + 20_000;
    let status = '';
    while (Date.now() < deadline && status !== 'COMPLETED') {
      const res = await app.inject({ method: 'GET', url: `/v1/transfers/${lostId}`, headers: authHeaders(FINANCE) });
      status = res.json<{ status: string }>().status;
      if (status !== 'COMPLETED') await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe('COMPLETED');
  });
});
