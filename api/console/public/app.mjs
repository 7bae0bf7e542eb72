/* global document, window, location, history */
/**
 * The finance console: parked transfers (list, one transfer, retry / cancel), reconciliation runs.
 * Plain ES modules, no framework and no build: the views are functions that fetch from the /v1 API
 * and build the DOM with dom.mjs. Routes live in the fragment: #/parked, #/transfer/<id>,
 * #/reconciliation, #/reconciliation/<id>.
 *
 * The API decides everything: the page reads the caller's roles from GET /v1/me only to choose
 * what to show (a refusal for customers, no buttons for ops); each call is authorized again.
 */
import { adoptTokenFromUrl, call, callOnce, hasToken, newIdempotencyKey, signOut, withQuery } from './api.mjs';
import { facts, h, replace, table } from './dom.mjs';
import { dateTime, money, shortId, timeLeft } from './format.mjs';

const STAFF = ['ops', 'finance', 'admin'];
const DECIDERS = ['finance', 'admin'];
const PARKABLE_STEPS = ['reserve', 'accounting', 'ledger', 'debit', 'credit'];
/** The steps of a transfer inside one shard, and of one between shards (its ledger step is a debit and a credit). */
const STEPS = ['reserve', 'accounting', 'ledger', 'notify'];
const CROSS_SHARD_STEPS = ['reserve', 'accounting', 'debit', 'credit', 'notify'];
/** A transfer in one of these is still moving: its view refreshes itself. */
const MOVING = ['PENDING', 'RESERVED', 'ACCOUNTED', 'DEBITED', 'POSTED', 'COMPENSATING'];

/** Between shards, once the debit is posted the transfer only goes forward: finance may retry it, not cancel it. */
function debitPosted(t) {
  return t.failure?.step === 'credit' || t.steps.debit === 'done';
}
const POLL_MS = 1000;
const PAGE_SIZE = 20;

const main = document.getElementById('main');
const announcer = document.getElementById('announcer');

const session = { me: null, canDecide: false, canStartRun: false, ready: false };
/** Bumped on every navigation: a view's late answers and timers check it and stand down. */
let viewSeq = 0;
/** The outcome of the last action, shown on the view it belongs to (survives the re-render). */
let lastOutcome = null;

// ------------------------------------------------------------------ start

boot();

async function boot() {
  adoptTokenFromUrl();
  window.addEventListener('hashchange', () => {
    // a sign-in link opened in a tab already showing the console: only the fragment changed
    if (location.hash.startsWith('#token=')) {
      adoptTokenFromUrl();
      location.reload();
      return;
    }
    if (session.ready) route();
  });
  document.getElementById('sign-out').addEventListener('click', () => {
    signOut();
    session.ready = false;
    viewSeq += 1; // late answers of the current view stand down
    history.replaceState(null, '', `${location.pathname}${location.search}`);
    showSignIn('You are signed out.');
  });
  const me = await call('GET', '/v1/me');
  if (!me.ok) return showProblem('The console could not start', me);
  session.me = me.data;
  session.canDecide = me.data.roles.some((r) => DECIDERS.includes(r));
  session.canStartRun = session.canDecide;
  replace(document.getElementById('who-text'), `Signed in as ${me.data.sub} (${me.data.roles.join(', ')})`);
  document.getElementById('who').hidden = false;
  if (!me.data.roles.some((r) => STAFF.includes(r))) return showRefusal(me.data);
  document.getElementById('nav').hidden = false;
  session.ready = true;
  route();
}

function route() {
  const seq = ++viewSeq;
  const [path, queryText] = location.hash.replace(/^#/, '').split('?');
  const query = new URLSearchParams(queryText ?? '');
  const parts = (path || '/parked').split('/').filter(Boolean);
  const section = parts[0] === 'reconciliation' ? 'reconciliation' : 'parked';
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.dataset.section === section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (parts[0] === 'transfer' && parts[1]) return transferView(seq, parts[1]);
  if (parts[0] === 'reconciliation' && parts[1]) return runView(seq, parts[1]);
  if (parts[0] === 'reconciliation') return runsView(seq);
  return parkedView(seq, { currency: query.get('currency') ?? '', failedStep: query.get('step') ?? '' });
}

const current = (seq) => seq === viewSeq;

/** Puts a view on the page and moves focus to its heading (keyboard and screen-reader users land there). */
function show(...children) {
  replace(main, ...children);
  focusHeading();
}

function focusHeading() {
  const heading = main.querySelector('h1');
  if (heading) {
    heading.setAttribute('tabindex', '-1');
    heading.focus({ preventScroll: true });
  }
}

function announce(text) {
  announcer.textContent = '';
  // a changed text is what screen readers announce: clear first, then set on the next frame
  window.requestAnimationFrame(() => (announcer.textContent = text));
}

// ------------------------------------------------------------------ sign-in, refusal, errors

function showSignIn(note) {
  document.getElementById('nav').hidden = true;
  document.getElementById('who').hidden = true;
  show(
    h('h1', {}, 'Sign in'),
    note ? h('p', { class: 'notice', role: 'alert' }, note) : null,
    h('p', {}, 'The console calls the wallet API with your bearer token, like any API client.'),
    h(
      'ul',
      {},
      h(
        'li',
        {},
        'In production the console sits behind the identity provider, which signs you in and adds your token.',
      ),
      h(
        'li',
        {},
        'In development, print a sign-in link and open it: ',
        h('code', {}, 'npm run -s token -- --sub fiona --role finance --console'),
      ),
    ),
  );
}

function showRefusal(me) {
  show(
    h('h1', {}, 'Not available with your role'),
    h(
      'div',
      { class: 'refusal', role: 'alert', id: 'refusal' },
      h(
        'p',
        {},
        `The finance console is for finance, ops and admin staff. You are signed in as ${me.sub} with the role ${me.roles.join(', ')}.`,
      ),
      h('p', {}, 'Ask for the finance role if you need to decide parked transfers, or sign out.'),
    ),
  );
}

/** A readable refusal or failure from an API answer (problem+json: detail, code, request id). */
function problemText(res) {
  const p = res.problem ?? {};
  if (res.status === 403) return `Refused: your role may not do this (${p.detail ?? 'forbidden'}).`;
  if (res.status === 404) return `Not found: ${p.detail ?? 'no such object'}.`;
  if (res.status === 429) return `Too many requests: ${p.detail ?? 'retry later'}.`;
  return `${p.detail ?? 'The request failed'}${p.code ? ` (${p.code}` : ''}${p.requestId ? `, request ${p.requestId}` : ''}${p.code ? ')' : ''}`;
}

function showProblem(title, res) {
  if (res.status === 401) {
    // expired or refused: forget the token (a new sign-in link brings another)
    const had = hasToken();
    signOut();
    session.ready = false;
    return showSignIn(had ? `Your sign-in is no longer valid: ${res.problem?.detail ?? 'unauthenticated'}.` : null);
  }
  show(h('h1', {}, title), h('p', { class: 'notice error', role: 'alert' }, problemText(res)));
}

// ------------------------------------------------------------------ shared pieces

function statusBadge(status, attrs = {}) {
  return h('span', { class: `badge status-${String(status).toLowerCase()}`, ...attrs }, status);
}

function wallet(id) {
  return h('code', { title: id }, shortId(id));
}

function time(iso) {
  return iso ? h('time', { datetime: iso }, dateTime(iso)) : '—';
}

function temporalLink(workflowId) {
  const base = session.me?.temporalUiWorkflowsUrl;
  if (!base) return null;
  return h(
    'a',
    {
      href: `${base}/${encodeURIComponent(workflowId)}`,
      target: '_blank',
      rel: 'noopener noreferrer',
      id: 'temporal-link',
    },
    'Open the workflow in the Temporal UI',
    h('span', { class: 'visually-hidden' }, ' (opens in a new tab)'),
  );
}

function outcomeFor(key) {
  const o = lastOutcome && lastOutcome.key === key ? lastOutcome : null;
  return h('p', { id: 'outcome', class: `outcome ${o ? o.kind : ''}`, hidden: !o }, o ? o.text : '');
}

function setOutcome(key, kind, text) {
  lastOutcome = { key, kind, text };
  announce(text);
}

// ------------------------------------------------------------------ the confirmation dialog

const dialog = document.getElementById('confirm');
const dialogForm = document.getElementById('confirm-form');
const reasonField = document.getElementById('confirm-reason');
const reasonError = document.getElementById('confirm-error');
/** The pending confirmation's resolver; cleared once answered, so a second click answers nothing. */
let settle = null;

dialogForm.addEventListener('submit', (event) => {
  event.preventDefault();
  if (!settle) return;
  const reason = reasonField.value.trim();
  if (reason === '') {
    reasonError.textContent = 'Give a reason: it is recorded with the decision.';
    reasonError.hidden = false;
    reasonField.setAttribute('aria-invalid', 'true');
    reasonField.focus();
    return;
  }
  const done = settle;
  settle = null;
  dialog.close();
  done(reason);
});
document.getElementById('confirm-back').addEventListener('click', () => dialog.close());
dialog.addEventListener('close', () => {
  if (settle) {
    const done = settle;
    settle = null;
    done(null);
  }
});

/** Asks for confirmation and a reason; resolves to the reason, or null when the user backs out. */
function confirmWithReason({ title, text, confirmLabel, danger = false }) {
  if (dialog.open || settle) return Promise.resolve(null); // one question at a time
  replace(document.getElementById('confirm-title'), title);
  replace(document.getElementById('confirm-text'), text);
  const ok = document.getElementById('confirm-ok');
  replace(ok, confirmLabel);
  ok.className = danger ? 'danger' : 'primary';
  reasonField.value = '';
  reasonField.removeAttribute('aria-invalid');
  reasonError.hidden = true;
  return new Promise((resolve) => {
    settle = resolve;
    dialog.showModal();
    reasonField.focus();
  });
}

// ------------------------------------------------------------------ parked transfers

async function parkedView(seq, filters) {
  show(h('h1', {}, 'Parked transfers'), h('p', {}, 'Loading…'));
  const form = h(
    'form',
    { class: 'filters', id: 'filters', role: 'search', 'aria-label': 'Filter parked transfers' },
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'filter-currency' }, 'Currency'),
      h('input', {
        id: 'filter-currency',
        name: 'currency',
        value: filters.currency,
        maxlength: 3,
        size: 5,
        autocomplete: 'off',
        spellcheck: 'false',
        pattern: '[A-Za-z]{3}',
        title: 'a three-letter ISO 4217 code, e.g. EUR',
        placeholder: 'any',
      }),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'filter-step' }, 'Failed step'),
      h(
        'select',
        { id: 'filter-step', name: 'step' },
        h('option', { value: '' }, 'any'),
        PARKABLE_STEPS.map((s) => h('option', { value: s, selected: s === filters.failedStep }, s)),
      ),
    ),
    h('button', { type: 'submit' }, 'Apply filters'),
    filters.currency || filters.failedStep ? h('a', { href: '#/parked' }, 'Clear filters') : null,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!form.reportValidity()) return;
    const data = new FormData(form);
    const q = new URLSearchParams();
    const currency = String(data.get('currency') ?? '')
      .trim()
      .toUpperCase();
    if (currency) q.set('currency', currency);
    if (data.get('step')) q.set('step', String(data.get('step')));
    const text = q.toString();
    location.hash = text ? `#/parked?${text}` : '#/parked';
  });

  const rows = h('tbody', {});
  const more = h('button', { type: 'button', id: 'load-more', hidden: true }, 'Load more');
  const count = h('p', { class: 'count', id: 'parked-count' });
  const list = h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { id: 'parked' },
      h('caption', {}, 'Transfers waiting for a decision, newest first'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Transfer', 'Amount', 'From', 'To', 'Failed step', 'Reason', 'Parked since', 'Time left'].map((t) =>
            h('th', { scope: 'col' }, t),
          ),
        ),
      ),
      rows,
    ),
  );
  let shown = 0;
  let cursor = null;

  async function load() {
    more.disabled = true;
    const res = await call(
      'GET',
      withQuery('/v1/transfers', {
        status: 'NEEDS_ATTENTION',
        currency: filters.currency.toUpperCase(),
        failedStep: filters.failedStep,
        limit: PAGE_SIZE,
        cursor,
      }),
    );
    if (!current(seq)) return false;
    if (!res.ok) {
      if (res.status === 401) showProblem('Parked transfers', res);
      else replace(count, h('span', { class: 'notice error', role: 'alert' }, problemText(res)));
      return false;
    }
    for (const t of res.data.items) rows.append(parkedRow(t));
    shown += res.data.items.length;
    cursor = res.data.nextCursor;
    more.hidden = !cursor;
    more.disabled = false;
    replace(
      count,
      shown === 0
        ? 'No parked transfers: nothing is waiting for a decision.'
        : `${shown}${cursor ? '+' : ''} parked transfer(s) shown.`,
    );
    return true;
  }
  more.addEventListener('click', () => void load());

  const intro = h(
    'p',
    {},
    'A transfer is parked when a step spent its retry budget: its funds stay held until someone decides or its deadline cancels it. ',
    session.canDecide
      ? 'Open one to retry or cancel it.'
      : 'You have read-only access (ops): deciding needs the finance or admin role.',
  );
  if (await load()) show(h('h1', {}, 'Parked transfers'), intro, form, count, list, more);
}

function parkedRow(t) {
  const step = t.parked?.step ?? t.failure?.step ?? '—';
  return h(
    'tr',
    { dataset: { transferId: t.id } },
    h('td', {}, h('a', { href: `#/transfer/${t.id}`, 'aria-label': `Transfer ${t.id}` }, shortId(t.id))),
    h('td', { class: 'num' }, money(t.amount, t.currency)),
    h('td', {}, wallet(t.fromWalletId)),
    h('td', {}, wallet(t.toWalletId)),
    h('td', {}, step),
    h('td', { class: 'reason' }, t.failure?.reason ?? '—'),
    h('td', {}, time(t.parked?.since ?? t.updatedAt)),
    h(
      'td',
      {},
      t.parked
        ? h(
            'time',
            { datetime: t.parked.deadline, title: `deadline ${dateTime(t.parked.deadline)}` },
            timeLeft(t.parked.deadline),
          )
        : '—',
    ),
  );
}

// ------------------------------------------------------------------ one transfer

async function transferView(seq, id, polls = 0) {
  if (polls === 0) show(h('h1', {}, `Transfer ${shortId(id)}`), h('p', {}, 'Loading…'));
  const [res, audit] = await Promise.all([
    call('GET', `/v1/transfers/${encodeURIComponent(id)}`),
    call('GET', withQuery('/v1/audit', { target: id, limit: 100 })),
  ]);
  if (!current(seq)) return;
  if (!res.ok) return showProblem(`Transfer ${shortId(id)}`, res);
  const t = res.data;
  const focusedId = main.contains(document.activeElement) ? document.activeElement.id : '';
  const view = [
    h('p', { class: 'crumbs' }, h('a', { href: '#/parked' }, '← Parked transfers')),
    h('h1', {}, `Transfer ${shortId(t.id)}`),
    facts(
      [
        ['Status', statusBadge(t.status, { id: 'transfer-status' })],
        ['Amount', money(t.amount, t.currency)],
        ['From wallet', h('code', {}, t.fromWalletId)],
        ['To wallet', h('code', {}, t.toWalletId)],
        ['Description', t.description],
        ['Transfer id', h('code', {}, t.id)],
        ['Created', time(t.createdAt)],
        ['Last change', time(t.updatedAt)],
        ['Finished', t.finishedAt ? time(t.finishedAt) : null],
        ['Workflow', h('span', {}, h('code', {}, t.workflowId), ' ', temporalLink(t.workflowId))],
      ],
      { id: 'transfer-facts' },
    ),
    t.parked
      ? h(
          'section',
          { 'aria-labelledby': 'parked-title', class: 'panel attention' },
          h('h2', { id: 'parked-title' }, 'Waiting for a decision'),
          facts([
            ['Stuck at', t.parked.step ?? '—'],
            ['Parked since', time(t.parked.since)],
            [
              'Deadline',
              h(
                'span',
                {},
                time(t.parked.deadline),
                ` (${timeLeft(t.parked.deadline)} left; then it is cancelled automatically)`,
              ),
            ],
          ]),
        )
      : null,
    decideSection(seq, t),
    t.failure
      ? h(
          'section',
          { 'aria-labelledby': 'failure-title' },
          h('h2', { id: 'failure-title' }, 'Failure'),
          facts(
            [
              ['Step', t.failure.step ?? '—'],
              ['Code', h('code', {}, t.failure.code)],
              ['Reason', t.failure.reason],
            ],
            { id: 'failure' },
          ),
        )
      : null,
    h(
      'section',
      { 'aria-labelledby': 'steps-title' },
      h('h2', { id: 'steps-title' }, 'Saga steps'),
      table(
        'Each step of the saga and its state',
        ['Step', 'State'],
        (t.steps.debit || t.steps.credit ? CROSS_SHARD_STEPS : STEPS).map((s) =>
          h('tr', {}, h('td', {}, s), h('td', {}, t.steps[s] ?? '—')),
        ),
        { id: 'steps', class: 'narrow' },
      ),
    ),
    auditSection(audit),
  ];
  replace(main, ...view);
  // first render: focus the heading; a refresh puts the focus back where it was
  if (polls === 0) focusHeading();
  else if (focusedId) document.getElementById(focusedId)?.focus({ preventScroll: true });
  // moving: follow it to its end; just decided (by anyone): follow until the decision shows (a refused
  // caller's answer may come while the winner's decision is still being applied)
  const following = follow.id === t.id && Date.now() < follow.until;
  if ((MOVING.includes(t.status) || following) && polls < 120) later(seq, () => transferView(seq, id, polls + 1));
}

/** Runs `fn` in POLL_MS unless the view has changed; waits while the dialog is open (no re-render under it). */
function later(seq, fn) {
  window.setTimeout(() => {
    if (!current(seq)) return;
    if (dialog.open) later(seq, fn);
    else void fn();
  }, POLL_MS);
}

/** In flight: a decision has been sent and not answered; nothing else is sent meanwhile. */
let deciding = false;
/** The transfer just decided from this page and until when its view keeps refreshing. */
let follow = { id: '', until: 0 };
const FOLLOW_MS = 20_000;

function decideSection(seq, t) {
  const parked = t.status === 'NEEDS_ATTENTION';
  const outcome = outcomeFor(`transfer:${t.id}`);
  if (!session.canDecide) {
    return h(
      'section',
      { 'aria-labelledby': 'decide-title' },
      h('h2', { id: 'decide-title' }, 'Decision'),
      h(
        'p',
        { class: 'notice', id: 'read-only' },
        'Read-only: retrying or cancelling a transfer needs the finance or admin role.',
      ),
      outcome,
    );
  }
  if (!parked) {
    return h(
      'section',
      { 'aria-labelledby': 'decide-title' },
      h('h2', { id: 'decide-title' }, 'Decision'),
      h('p', {}, `Nothing to decide: the transfer is ${t.status}.`),
      outcome,
    );
  }
  const retry = h('button', { type: 'button', id: 'retry', class: 'primary', disabled: deciding }, 'Retry…');
  // the API refuses it too (409 TRANSFER_NOT_CANCELLABLE): the button is not offered
  const cancellable = !debitPosted(t);
  const cancel = cancellable
    ? h('button', { type: 'button', id: 'cancel', class: 'danger', disabled: deciding }, 'Cancel transfer…')
    : null;
  const run = async (kind) => {
    if (deciding) return;
    const reason = await confirmWithReason(
      kind === 'retry'
        ? {
            title: 'Retry this transfer?',
            text: `The ${t.parked?.step ?? 'failed'} step runs again with a fresh retry budget. Fix its cause first (e.g. the accounting system is back).`,
            confirmLabel: 'Retry the transfer',
          }
        : {
            title: 'Cancel this transfer?',
            text: `The held ${money(t.amount, t.currency)} is released and any booking reversed. This cannot be undone.`,
            confirmLabel: 'Cancel the transfer',
            danger: true,
          },
    );
    if (reason === null || deciding || !current(seq)) return;
    deciding = true;
    retry.disabled = true;
    replace(retry, kind === 'retry' ? 'Retrying…' : 'Retry…');
    if (cancel) {
      cancel.disabled = true;
      replace(cancel, kind === 'cancel' ? 'Cancelling…' : 'Cancel transfer…');
    }
    try {
      // one key per confirmed decision: a re-send after a lost answer gets that decision's outcome, not a refusal
      const res = await callOnce(
        'POST',
        `/v1/transfers/${encodeURIComponent(t.id)}/${kind}`,
        { reason },
        newIdempotencyKey(),
      );
      const what = kind === 'retry' ? 'Retry' : 'Cancel';
      if (res.ok && res.status === 200)
        setOutcome(`transfer:${t.id}`, 'ok', `${what} applied: the transfer is now ${res.data.status}.`);
      else if (res.ok)
        setOutcome(
          `transfer:${t.id}`,
          'ok',
          `${what} accepted: the saga is still applying it (the transfer is ${res.data.status}).`,
        );
      else if (res.status === 409)
        setOutcome(
          `transfer:${t.id}`,
          'refused',
          `Refused: ${res.problem.detail ?? 'the transfer is not waiting for a decision'}. Nothing was changed by your request.`,
        );
      else if (res.status === 503) setOutcome(`transfer:${t.id}`, 'refused', `Not confirmed: ${res.problem.detail}`);
      else setOutcome(`transfer:${t.id}`, 'refused', problemText(res));
    } finally {
      deciding = false;
      follow = { id: t.id, until: Date.now() + FOLLOW_MS };
    }
    if (current(seq)) void transferView(seq, t.id, 1);
  };
  retry.addEventListener('click', () => void run('retry'));
  cancel?.addEventListener('click', () => void run('cancel'));
  return h(
    'section',
    { 'aria-labelledby': 'decide-title', class: 'panel' },
    h('h2', { id: 'decide-title' }, 'Decide'),
    h(
      'p',
      {},
      cancellable
        ? 'Retry runs the failed step again; Cancel releases the held funds. Both ask for a reason and are recorded in the audit trail. If someone else decides first, yours is refused and nothing changes.'
        : 'The debit is posted: the money has left the sender, so this transfer can only go forward and cannot be cancelled. Retry runs the credit again once the receiving side is back; it asks for a reason and is recorded in the audit trail.',
    ),
    h('div', { class: 'actions' }, retry, cancel),
    outcome,
  );
}

function auditSection(audit) {
  const title = h('h2', { id: 'audit-title' }, 'Finance decisions and audit trail');
  if (!audit.ok)
    return h(
      'section',
      { 'aria-labelledby': 'audit-title' },
      title,
      h('p', { class: 'notice error' }, problemText(audit)),
    );
  const rows = audit.data.items.map((a) =>
    h(
      'tr',
      { dataset: { action: a.action } },
      h('td', {}, time(a.createdAt)),
      h('td', {}, h('code', {}, a.action)),
      h('td', {}, `${a.actor} (${a.roles.join(', ')})`),
      h('td', { class: 'reason' }, a.reason ?? '—'),
      h('td', {}, h('code', { title: a.requestId }, shortId(a.requestId))),
    ),
  );
  return h(
    'section',
    { 'aria-labelledby': 'audit-title' },
    title,
    rows.length === 0
      ? h('p', { id: 'audit-empty' }, 'No decisions yet.')
      : table('Audit rows for this transfer, newest first', ['When', 'Action', 'Who', 'Reason', 'Request'], rows, {
          id: 'audit',
        }),
  );
}

// ------------------------------------------------------------------ reconciliation

function discrepancyText(run) {
  if (run.status === 'running') return 'running…';
  if (run.discrepancies === 0) return 'none: the books agree';
  return `${run.discrepancies}: ${Object.entries(run.discrepancyCounts)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ')}`;
}

async function runsView(seq) {
  show(h('h1', {}, 'Reconciliation'), h('p', {}, 'Loading…'));
  const res = await call('GET', withQuery('/v1/reconciliation/runs', { limit: PAGE_SIZE }));
  if (!current(seq)) return;
  if (!res.ok) return showProblem('Reconciliation', res);
  let start = null;
  if (session.canStartRun) {
    start = h('button', { type: 'button', id: 'start-run', class: 'primary' }, 'Start a run now…');
    start.addEventListener('click', async () => {
      if (start.disabled) return;
      const reason = await confirmWithReason({
        title: 'Start a reconciliation run?',
        text: 'It checks the ledger, the accounting book, the sagas and the audit trail against each other, like the scheduled runs.',
        confirmLabel: 'Start the run',
      });
      if (reason === null || start.disabled || !current(seq)) return;
      start.disabled = true;
      replace(start, 'Starting…');
      const started = await call('POST', '/v1/reconciliation/runs', { reason });
      if (started.ok) {
        setOutcome(
          `run:${started.data.id}`,
          'ok',
          `Run started (${shortId(started.data.id)}); its result appears when it finishes.`,
        );
        location.hash = `#/reconciliation/${started.data.id}`;
        return;
      }
      setOutcome('runs', 'refused', problemText(started));
      if (current(seq)) void runsView(++viewSeq);
    });
  }
  const rows = res.data.items.map((run) =>
    h(
      'tr',
      { dataset: { runId: run.id } },
      h('td', {}, h('a', { href: `#/reconciliation/${run.id}`, 'aria-label': `Run ${run.id}` }, time(run.startedAt))),
      h('td', {}, run.trigger === 'manual' ? `manual (${run.requestedBy ?? '?'})` : 'schedule'),
      h('td', {}, statusBadge(run.status)),
      h('td', {}, discrepancyText(run)),
      h('td', { class: 'num' }, String(run.repaired)),
      h('td', {}, time(run.finishedAt)),
    ),
  );
  show(
    h('h1', {}, 'Reconciliation'),
    h(
      'p',
      {},
      'Every few minutes a run checks that the ledger, the accounting book, the sagas and the audit trail agree.',
    ),
    start
      ? h('div', { class: 'actions' }, start)
      : h('p', { class: 'notice', id: 'read-only' }, 'Read-only: starting a run needs the finance or admin role.'),
    outcomeFor('runs'),
    rows.length === 0
      ? h('p', {}, 'No runs yet.')
      : table(
          'Latest runs, newest first',
          ['Started', 'Trigger', 'Status', 'Discrepancies', 'Repaired', 'Finished'],
          rows,
          { id: 'runs' },
        ),
  );
}

async function runView(seq, id, polls = 0) {
  if (polls === 0) show(h('h1', {}, `Reconciliation run ${shortId(id)}`), h('p', {}, 'Loading…'));
  const res = await call('GET', `/v1/reconciliation/runs/${encodeURIComponent(id)}`);
  if (!current(seq)) return;
  if (!res.ok) return showProblem(`Reconciliation run ${shortId(id)}`, res);
  const run = res.data;
  const found = run.found.map((d) =>
    h(
      'tr',
      {},
      h('td', {}, h('code', {}, d.kind)),
      h('td', {}, h('code', {}, d.subject)),
      h('td', {}, d.detail),
      h('td', {}, d.repaired ?? '—'),
    ),
  );
  replace(
    main,
    h('p', { class: 'crumbs' }, h('a', { href: '#/reconciliation' }, '← Reconciliation runs')),
    h('h1', {}, `Reconciliation run ${shortId(run.id)}`),
    outcomeFor(`run:${run.id}`),
    facts(
      [
        ['Status', statusBadge(run.status, { id: 'run-status' })],
        ['Result', h('span', { id: 'run-result' }, discrepancyText(run))],
        ['Trigger', run.trigger === 'manual' ? `manual, by ${run.requestedBy ?? '?'}` : 'schedule'],
        ['Started', time(run.startedAt)],
        ['Finished', run.finishedAt ? time(run.finishedAt) : null],
        ['Failure', run.failure],
        ['Repaired', String(run.repaired)],
        ['Workflow', h('span', {}, h('code', {}, run.workflowId), ' ', temporalLink(run.workflowId))],
      ],
      { id: 'run-facts' },
    ),
    h(
      'section',
      { 'aria-labelledby': 'checked-title' },
      h('h2', { id: 'checked-title' }, 'Rows checked'),
      table(
        'Rows each check looked at',
        ['Check', 'Rows'],
        Object.entries(run.checked).map(([k, n]) => h('tr', {}, h('td', {}, k), h('td', { class: 'num' }, String(n)))),
        { class: 'narrow' },
      ),
    ),
    h(
      'section',
      { 'aria-labelledby': 'found-title' },
      h('h2', { id: 'found-title' }, 'Discrepancies'),
      found.length === 0
        ? h(
            'p',
            { id: 'no-discrepancies' },
            run.status === 'running' ? 'The run is still checking…' : 'None: the books agree.',
          )
        : table(`Discrepancies found (the first ${found.length})`, ['Kind', 'About', 'Detail', 'Repaired'], found, {
            id: 'discrepancies',
          }),
    ),
  );
  if (polls === 0) focusHeading();
  if (run.status === 'running' && polls < 300) later(seq, () => runView(seq, id, polls + 1));
  else if (polls > 0 && run.status !== 'running')
    announce(`The run ${run.status}: discrepancies ${discrepancyText(run)}.`);
}
