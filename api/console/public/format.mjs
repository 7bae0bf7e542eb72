/** How the console writes amounts, times and ids. Deterministic: UTC times, no locale guessing. */

const exponents = new Map();

/** Minor units of a currency (EUR 2, JPY 0, BHD 3), as the browser's ISO 4217 data knows it. */
function exponentOf(currency) {
  if (!exponents.has(currency)) {
    let digits = 2;
    try {
      digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits;
    } catch {
      // an unknown code: keep 2
    }
    exponents.set(currency, digits);
  }
  return exponents.get(currency);
}

/** 1250, 'EUR' → '12.50 EUR' (integer arithmetic: no floating-point rounding of money). */
export function money(minor, currency) {
  const digits = exponentOf(currency);
  const value = BigInt(minor);
  const negative = value < 0n;
  const abs = negative ? -value : value;
  const scale = 10n ** BigInt(digits);
  const whole = (abs / scale).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const fraction = digits > 0 ? `.${(abs % scale).toString().padStart(digits, '0')}` : '';
  return `${negative ? '-' : ''}${whole}${fraction} ${currency}`;
}

/** '2025-01-15T09:30:00.000Z' → '2025-01-15 09:30:00 UTC'. */
export function dateTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** Time from now until `iso`: '2 d 23 h', '4 h 12 min', '35 min', 'under a minute', or 'overdue'. */
export function timeLeft(iso, now = Date.now()) {
  const ms = new Date(iso).getTime() - now;
  if (Number.isNaN(ms)) return '';
  if (ms <= 0) return 'overdue';
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return 'under a minute';
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const mins = minutes % 60;
  if (days > 0) return `${days} d ${hours} h`;
  if (hours > 0) return `${hours} h ${mins} min`;
  return `${mins} min`;
}

/** The first block of a UUID: enough to tell rows apart on screen (the full id is in the title). */
export function shortId(id) {
  return String(id).split('-')[0];
}
