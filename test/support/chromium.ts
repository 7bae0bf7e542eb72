import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';

/**
 * The Chromium the console's browser tests drive (playwright-core ships no browser): CHROMIUM_PATH
 * if set, else Debian's /usr/bin/chromium, else the first chromium / chromium-browser / google-chrome
 * on the PATH. `npm test` (scripts/ensure-deps.sh, section 6) installs Debian's `chromium` when none is found.
 */
export function findChromium(): string {
  const onPath = (name: string) =>
    (process.env.PATH ?? '')
      .split(path.delimiter)
      .filter(Boolean)
      .map((dir) => path.join(dir, name));
  const candidates = [
    process.env.CHROMIUM_PATH,
    '/usr/bin/chromium',
    ...['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome'].flatMap(onPath),
  ].filter((c): c is string => Boolean(c));
  for (const file of candidates) {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // not there, or not executable: the next one
    }
  }
  throw new Error(
    "no Chromium for the finance console browser tests: run `bash scripts/ensure-deps.sh` (installs Debian's chromium) or set CHROMIUM_PATH",
  );
}

/** Headless Chromium; without the sandbox when running as root (containers, CI), which Chromium requires. */
export function launchChromium(): Promise<Browser> {
  const root = process.getuid?.() === 0;
  return chromium.launch({
    executablePath: findChromium(),
    headless: true,
    args: [...(root ? ['--no-sandbox'] : []), '--disable-dev-shm-usage', '--disable-gpu'],
  });
}
