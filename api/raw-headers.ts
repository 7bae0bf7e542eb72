/**
 * The values of every field line named `name` in a request as it was received (Node's rawHeaders:
 * name, value, name, value, … in arrival order), compared case-insensitively. Node's `headers` object
 * hides repetitions: it joins most repeated fields into one value ("a, b") and keeps only the first of
 * a few (Host among them), so only this list tells how many lines a client sent.
 */
export function rawHeaderValues(rawHeaders: readonly string[], name: string): string[] {
  const wanted = name.toLowerCase();
  const values: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === wanted) values.push(rawHeaders[i + 1]!);
  }
  return values;
}
